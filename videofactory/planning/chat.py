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
from urllib.parse import urlsplit

import httpx

from videofactory.config import LLM_KEY_ENV, LLMConfig
from videofactory.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ConfigError,
    ProtocolError,
)

__all__ = [
    "AnthropicChat",
    "ChatAPI",
    "OpenAIChat",
    "Reply",
    "chat_api",
    "host_of",
    "list_models",
    "reach",
]

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
        data = _call(self.client, "POST", self.url, self.config.timeout_s, json=body,
                     headers=headers)  # fmt: skip
        assert data is not None  # no status is "absent" here
        return data


def _call(
    client: httpx.Client,
    method: str,
    url: str,
    timeout_s: float,
    *,
    absent: tuple[int, ...] = (),
    **kw: Any,
) -> dict[str, Any] | None:
    """One request to the LLM's server: its JSON object (None for an HTTP status in
    ``absent``), or the failure as a FactoryError."""
    where = f"the LLM at {url}"
    try:
        response = client.request(method, url, **kw)
    except httpx.TimeoutException as exc:
        raise BackendTimeout(
            f"{where} did not answer within {timeout_s:g} s; raise llm.timeout_s for slow models "
            "(llm.probe_timeout_s for the first check)",
            url=url,
        ) from exc
    except httpx.HTTPError as exc:
        raise BackendUnavailable(
            f"cannot reach {where} ({exc}); is the server running? (set --llm-url, "
            "VIDEOFACTORY_LLM_URL or llm.endpoint)",
            url=url,
        ) from exc
    try:
        data = response.json()
    except (ValueError, RecursionError):
        data = None
    if response.status_code in absent:
        return None
    if response.status_code >= 400:
        raise _http_error(response.status_code, _message(data, response.text), where, url)
    if not isinstance(data, dict):
        raise ProtocolError(
            f"{where} answered HTTP {response.status_code} with something that is not a JSON "
            f"object ({response.text[:80]!r}); is the endpoint right?",
            url=url,
        )
    return data


def _v1(endpoint: str, tail: str) -> str:
    """``{endpoint}/v1/{tail}``, whether or not the endpoint already ends in ``/v1`` or names
    a chat path (``…/v1/chat/completions``, ``…/v1/messages``)."""
    base = endpoint.rstrip("/")
    for suffix in ("/chat/completions", "/messages"):
        base = base.removesuffix(suffix)
    return f"{base}/{tail}" if base.endswith("/v1") else f"{base}/v1/{tail}"


def list_models(config: LLMConfig, client: httpx.Client) -> list[str] | None:
    """The models the server offers (``GET /v1/models``: OpenAI, Ollama, vLLM, llama.cpp
    server, LM Studio and Anthropic all answer ``{"data": [{"id": ...}, ...]}``), in the
    server's order; None when the server has no such list (HTTP 404 or 405). It is the cheap
    check that the server is up (and, with Anthropic, that the key is good) before a long
    planning request.

    Raises:
        ConfigError: the key was refused (or Anthropic's API has none).
        BackendUnavailable, BackendTimeout, ProtocolError: the server is not there or not an
            LLM's API.
    """
    url = _v1(config.endpoint, "models")
    timeout = client.timeout.read or config.probe_timeout_s
    data = _call(client, "GET", url, timeout, absent=(404, 405), headers=_headers(config))
    if data is None:
        return None
    models = data.get("data")
    if not isinstance(models, list):
        raise ProtocolError(
            f"the LLM at {url} answered without a model list ('data'); is it an OpenAI-compatible "
            "or Anthropic endpoint?",
            url=url,
        )
    return [str(m["id"]) for m in models if isinstance(m, dict) and m.get("id")]


def reach(config: LLMConfig, client: httpx.Client) -> LLMConfig:
    """The settings once the server has answered the cheap check (``list_models``), with the
    model filled in when none was named: the first one the server lists.

    Raises:
        ConfigError: no model named and the server lists none; a refused key.
        BackendUnavailable, BackendTimeout, ProtocolError: see ``list_models``.
    """
    models = list_models(config, client)
    if config.model:
        return config
    if not models:
        raise ConfigError(
            f"the LLM at {_v1(config.endpoint, 'models')} "
            + ("lists no models" if models is not None else "has no model list")
            + "; pass --llm-model, set VIDEOFACTORY_LLM_MODEL or give 'model:' in the farm "
            "file's 'llm:' section (for Ollama: ollama pull llama3.1, then --llm-model llama3.1)"
        )
    return config.model_copy(update={"model": models[0]})


def host_of(endpoint: str) -> str:
    """The host (and port) of an endpoint, without any user or password in it."""
    netloc = urlsplit(endpoint).netloc
    return netloc.rsplit("@", 1)[-1] or endpoint


def _headers(config: LLMConfig) -> dict[str, str]:
    """The authentication headers of the config's API."""
    if config.kind == "anthropic":
        if not config.api_key:
            raise ConfigError(
                f"Anthropic's API needs a key: set ANTHROPIC_API_KEY or {LLM_KEY_ENV} (or the "
                "variable llm.api_key_env names)"
            )
        return {"x-api-key": config.api_key, "anthropic-version": ANTHROPIC_VERSION}
    return {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}


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
        return _v1(self.config.endpoint, "chat/completions")

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
        choice = _choice(self._post(body, _headers(self.config)), self.url)
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
        return _v1(self.config.endpoint, "messages")

    def ask(self, system: str, user: str, schema: dict[str, Any]) -> Reply:
        """Send the request with the schema as the input schema of a tool the model must call."""
        _headers(self.config)  # no key: say so before anything is sent
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
        data = self._post(body, _headers(self.config))
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
