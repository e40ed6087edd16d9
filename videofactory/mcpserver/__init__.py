"""The factory as MCP tools: ``videofactory mcp`` serves them to an agent (Claude or any MCP
client) over stdio, or over streamable HTTP on 127.0.0.1.

``tools`` does the work (the same functions the commands call, printing nothing), ``server``
describes the tools to the client on the official ``mcp`` SDK and turns the factory's errors
into tool errors, ``pictures`` makes a shot's picture. Importing this package imports none of
them (nor the SDK): ``videofactory --help`` stays quick.
"""
