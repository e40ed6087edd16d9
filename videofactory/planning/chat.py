"""Two chat APIs, one small interface: ask for a JSON object, and ask again with a repair note.

``OpenAIChat`` speaks ``POST /v1/chat/completions`` (OpenAI, Ollama, vLLM, llama.cpp server,
LM Studio), asking for JSON through ``response_format`` (a JSON schema, or JSON mode).
``AnthropicChat`` speaks Anthropic's ``POST /v1/messages`` and asks for the object as the input
of a forced tool call, the way Anthropic recommends for structured output. Both keep the
conversation, so that a repair request shows the model its own answer and what was wrong.

Transport and HTTP failures are mapped to ``FactoryError``s that say what to fix.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import httpx

from videofactory.config import LLM_KEY_ENV, LLMConfig
from videofactory.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ConfigError,
    ProtocolError,
)

__all__ = ["AnthropicChat", "ChatAPI", "OpenAIChat", "Reply", "chat_api"]

#: Anthropic's API version header (the Messages API has been stable under it since 2023).
ANTHROPIC_VERSION = "2023-06-01"
#: The tool an Anthropic model is made to call with the shot list as its input.
TOOL_NAME = "submit_shot_list"


@dataclass(frozen=True)
class Reply:
    """One answer: its text (or the tool input, as data) and whether it was cut short."""

    text: str
    data: Any = None
    truncated: bool = False


class ChatAPI(ABC):
    """A conversation with one model that answers with a JSON object."""

    def __init__(self, config: LLMConfig, client: httpx.Client) -> None:
        self.config = config
        self.client = client

    @abstractmethod
    def ask(self, system: str, user: str, schema: dict[str, Any]) -> Reply:
        """Start the conversation: instructions, request, and the schema of the answer."""

    @abstractmethod
    def repair(self, note: str) -> Reply:
        """Ask again after the last answer, quoting what was wrong with it."""

    @property
    @abstractmethod
    def url(self) -> str:
        """The URL requests go to."""

    def _post(self, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        """POST JSON and return the parsed answer, mapping every failure."""
        where = f"the LLM at {self.url}"
        try:
            response = self.client.post(self.url, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise BackendTimeout(
                f"{where} did not answer within {self.config.timeout_s:g} s; raise llm.timeout_s "
                "for slow models",
                url=self.url,
            ) from exc
        except httpx.HTTPError as exc:
            raise BackendUnavailable(
                f"cannot reach {where} ({exc}); is the server running? (set --llm-url, "
                "VIDEOFACTORY_LLM_URL or llm.endpoint)",
                url=self.url,
            ) from exc
        try:
            data = response.json()
        except (ValueError, RecursionError):
            data = None
        if response.status_code >= 400:
            raise _http_error(response.status_code, _message(data, response.text), where, self.url)
        if not isinstance(data, dict):
            raise ProtocolError(
                f"{where} answered HTTP {response.status_code} with something that is not a JSON "
                f"object ({response.text[:80]!r}); is the endpoint right?",
                url=self.url,
            )
        return data


def _message(data: Any, text: str) -> str:
    """The error message of an OpenAI-, Anthropic- or Ollama-style error body."""
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
        if data.get("message"):
            return str(data["message"])
    return " ".join(text.split())[:300] or "(empty body)"


def _http_error(status: int, message: str, where: str, url: str) -> Exception:
    if status in (401, 403):
        return ConfigError(
            f"{where} refused the API key (HTTP {status}: {message}); put a valid key in "
            f"{LLM_KEY_ENV} (or the variable llm.api_key_env names)"
        )
    if status == 404:
        return ConfigError(
            f"{where}: HTTP 404 ({message}); check the endpoint (e.g. http://localhost:11434/v1) "
            "and the model name"
        )
    if status in (400, 422):
        return ConfigError(
            f"{where} refused the request (HTTP {status}: {message}); if it does not support "
            "JSON schemas, set llm.json_mode to 'object' or 'none'"
        )
    if status == 429 or status >= 500:
        return BackendUnavailable(f"{where} failed (HTTP {status}: {message})", url=url)
    return BackendError(f"{where} answered HTTP {status}: {message}", url=url)


def _choice(data: dict[str, Any], url: str) -> dict[str, Any]:
    try:
        choice = data["choices"][0]
        assert isinstance(choice, dict) and isinstance(choice["message"], dict)
    except (KeyError, IndexError, TypeError, AssertionError) as exc:
        raise ProtocolError(
            f"the LLM at {url} answered without choices[0].message; is it a chat completions "
            "endpoint?",
            url=url,
        ) from exc
    return choice


class OpenAIChat(ChatAPI):
    """``POST {endpoint}/v1/chat/completions``."""

    @property
    def url(self) -> str:
        """``…/v1/chat/completions`` (``/v1`` is added when the endpoint lacks it)."""
        base = self.config.endpoint
        if base.endswith("/chat/completions"):
            return base
        return f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"

    def ask(self, system: str, user: str, schema: dict[str, Any]) -> Reply:
        """Send the instructions and the request; JSON is asked for per ``json_mode``."""
        self._messages: list[dict[str, Any]] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        formats: dict[str, dict[str, Any] | None] = {
            "schema": {
                "type": "json_schema",
                "json_schema": {"name": "shot_list", "schema": schema, "strict": False},
            },
            "object": {"type": "json_object"},
            "none": None,
        }
        self._format = formats[self.config.json_mode]
        return self._send()

    def repair(self, note: str) -> Reply:
        """Show the model its last answer and the problems, and ask for a corrected one."""
        self._messages.append({"role": "user", "content": note})
        return self._send()

    def _send(self) -> Reply:
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": self._messages,
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }
        if self._format is not None:
            body["response_format"] = self._format
        headers = {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
        choice = _choice(self._post(body, headers), self.url)
        content = choice["message"].get("content") or ""
        if not isinstance(content, str):
            content = json.dumps(content)
        self._messages.append({"role": "assistant", "content": content})
        return Reply(text=content, truncated=choice.get("finish_reason") == "length")


class AnthropicChat(ChatAPI):
    """``POST {endpoint}/v1/messages`` with a forced tool call carrying the shot list."""

    @property
    def url(self) -> str:
        """``…/v1/messages``."""
        base = self.config.endpoint
        if base.endswith("/messages"):
            return base
        return f"{base}/messages" if base.endswith("/v1") else f"{base}/v1/messages"

    def ask(self, system: str, user: str, schema: dict[str, Any]) -> Reply:
        """Send the request with the schema as the input schema of a tool the model must call."""
        if not self.config.api_key:
            raise ConfigError(
                "Anthropic's API needs a key: set ANTHROPIC_API_KEY or "
                f"{LLM_KEY_ENV} (or the variable llm.api_key_env names)"
            )
        self._system = system
        self._schema = schema
        self._messages: list[dict[str, Any]] = [{"role": "user", "content": user}]
        self._tool_id: str | None = None
        return self._send()

    def repair(self, note: str) -> Reply:
        """Answer the tool call with an error result that lists the problems."""
        if self._tool_id:
            content: Any = [
                {"type": "tool_result", "tool_use_id": self._tool_id, "is_error": True,
                 "content": note}
            ]  # fmt: skip
        else:
            content = note
        self._messages.append({"role": "user", "content": content})
        return self._send()

    def _send(self) -> Reply:
        body = {
            "model": self.config.model,
            "max_tokens": self.config.max_tokens,
            "temperature": min(self.config.temperature, 1.0),  # Anthropic's range is 0..1
            "system": self._system,
            "messages": self._messages,
            "tools": [
                {
                    "name": TOOL_NAME,
                    "description": "Submit the finished shot list.",
                    "input_schema": self._schema,
                }
            ],
            "tool_choice": {"type": "tool", "name": TOOL_NAME},
        }
        headers = {"x-api-key": self.config.api_key or "", "anthropic-version": ANTHROPIC_VERSION}
        data = self._post(body, headers)
        blocks = data.get("content")
        if not isinstance(blocks, list):
            raise ProtocolError(
                f"the LLM at {self.url} answered without a content list; is it Anthropic's "
                "Messages API?",
                url=self.url,
            )
        self._messages.append({"role": "assistant", "content": blocks})
        truncated = data.get("stop_reason") == "max_tokens"
        for block in blocks:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                self._tool_id = str(block.get("id") or "")
                return Reply(json.dumps(block.get("input")), block.get("input"), truncated)
        self._tool_id = None
        text = "".join(
            b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text"
        )
        return Reply(text=text, truncated=truncated)


def chat_api(config: LLMConfig, client: httpx.Client) -> ChatAPI:
    """The adapter for ``config.kind``."""
    return (
        AnthropicChat(config, client) if config.kind == "anthropic" else OpenAIChat(config, client)
    )
