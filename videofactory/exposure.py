"""Listening beyond this machine: refused unless someone says they mean it.

ComfyUI has no authentication: anyone who reaches its port can queue work on the GPU, read
every file in its output/input/temp folders (``/view``) and upload new ones. So does the
simulator, which answers the same routes. A server is therefore started on a non-loopback
address (``0.0.0.0``, ``::``, a LAN address, a host name) only with an explicit yes:
``--i-know-this-is-exposed`` (``videofactory sim``, ``python -m videofactory.sim``,
``videofactory farm up``) or ``launcher.i_know_this_is_exposed: true`` in a farm file, and
even then with a warning. The farm launcher hands its yes to the servers it starts through
the environment (``VIDEOFACTORY_I_KNOW_THIS_IS_EXPOSED=1``): ComfyUI ignores it, and a
simulator standing in for ComfyUI does not refuse what the farm file allowed.

No token: ComfyUI cannot check one, so the farm's clients do not send one; to reach a farm from
another machine, keep 127.0.0.1 and use an SSH tunnel, or a reverse proxy that authenticates.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping

__all__ = [
    "EXPOSED_ENV",
    "EXPOSED_FLAG",
    "EXPOSED_SETTING",
    "exposed_addresses",
    "exposed_allowed",
    "exposure_refusal",
    "exposure_warning",
]

#: The command-line flag that says yes.
EXPOSED_FLAG = "--i-know-this-is-exposed"
#: The farm file's ``launcher:`` setting that says yes.
EXPOSED_SETTING = "i_know_this_is_exposed"
#: The environment variable that says yes (set by the launcher for the servers it starts).
EXPOSED_ENV = "VIDEOFACTORY_I_KNOW_THIS_IS_EXPOSED"

_RISK = (
    "ComfyUI has no authentication: anyone who can reach the port can queue work on the GPU "
    "and read and upload files in its folders"
)


def _loopback(host: str) -> bool:
    host = host.strip().strip("[]").split("%")[0]
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a host name: it may resolve to anything
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def exposed_addresses(listen: str) -> list[str]:
    """The addresses of a ``--listen`` value (comma separated) that are not loopback.

    An empty value counts as every address, as it does for the server.
    """
    parts = [p.strip() for p in listen.split(",")]
    if not any(parts):
        return ["(every address)"]
    return [p for p in parts if p and not _loopback(p)]


def exposed_allowed(flag: bool = False, env: Mapping[str, str] | None = None) -> bool:
    """Whether listening beyond this machine was allowed: the flag, or the launcher's variable."""
    value = (os.environ if env is None else env).get(EXPOSED_ENV, "")
    return flag or value.strip().lower() in ("1", "true", "yes")


def exposure_warning(listen: str) -> str:
    """One line: what listening on ``listen`` opens."""
    where = ", ".join(exposed_addresses(listen))
    return f"listening on {where} opens the server to the network; {_RISK}"


def exposure_refusal(listen: str, how: str = f"pass {EXPOSED_FLAG}") -> str:
    """One line: why ``listen`` is refused and how to go on (``how``: pass the flag, or set
    the farm file's setting)."""
    where = ", ".join(exposed_addresses(listen))
    return (
        f"listen address {listen} opens the server to the network ({where}), and {_RISK}; "
        "keep 127.0.0.1 (the default; reach it from elsewhere through an SSH tunnel), "
        f"or {how} if you mean it"
    )
