"""OpenAI and any OpenAI-compatible endpoint (Ollama, LM Studio, llama.cpp server, vLLM).

The official ``openai`` SDK does the wire format; its HTTP client comes from ``bastion.net``
so every byte goes through the egress gateway. Replies are streamed, and tool-call deltas
(which arrive as fragments keyed by ``index``) are accumulated into whole calls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, cast

import openai

from bastion.config import EndpointProviderSettings, Settings
from bastion.errors import BastionError
from bastion.net import build_http_client

from .base import (
    ModelReply,
    ModelRequest,
    Provider,
    ProviderError,
    TextCallback,
    ToolCall,
    parse_arguments,
)

#: ``local`` servers rarely check keys, but the SDK insists on a non-empty one.
LOCAL_DUMMY_KEY = "bastion-local-no-key"
MAX_RETRIES = 1


def _detail(exc: Exception) -> str:
    """The server's own explanation, shortened; bodies can be whole HTML error pages."""
    body = getattr(exc, "body", None)
    message = None
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else str(error)
    text = " ".join(str(message or getattr(exc, "message", "") or exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


def _policy_refusal(exc: BaseException) -> BaseException | None:
    """The gateway's own refusal (offline mode, allowlist), if that is what failed."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, BastionError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def describe_sdk_error(name: str, base_url: str, exc: Exception, sdk: ModuleType,
                       key_hint: str) -> str:
    """One line per failure kind, saying what to do about it.

    ``sdk`` is the ``openai`` or ``anthropic`` module: both SDKs name their exception classes
    alike, so one mapping serves both.
    """
    if isinstance(exc, sdk.APIConnectionError):
        refusal = _policy_refusal(exc)
        if refusal is not None:
            return f"{name}: blocked by Bastion's network policy: {refusal}"
        if isinstance(exc, sdk.APITimeoutError):
            return f"{name}: {base_url} did not answer in time (timeout)"
        cause = exc.__cause__ or exc.__context__
        reason = f" ({cause})" if cause is not None and str(cause) else ""
        return f"{name}: cannot reach {base_url}{reason} — is the server running and the " \
               "endpoint right?"
    if isinstance(exc, sdk.AuthenticationError):
        return f"{name}: authentication failed (401) — check the API key ({key_hint})"
    if isinstance(exc, sdk.PermissionDeniedError):
        return f"{name}: permission denied (403) — the key may lack access: {_detail(exc)}"
    if isinstance(exc, sdk.RateLimitError):
        return f"{name}: rate limited (429) — wait and retry, or check your quota: " \
               f"{_detail(exc)}"
    if isinstance(exc, sdk.NotFoundError):
        return f"{name}: not found (404) — check the endpoint {base_url} and the model name: " \
               f"{_detail(exc)}"
    if isinstance(exc, sdk.APIStatusError):
        status = exc.status_code
        if status >= 500:
            return f"{name}: server error ({status}) at {base_url} — try again later: " \
                   f"{_detail(exc)}"
        return f"{name}: request rejected ({status}): {_detail(exc)}"
    return f"{name}: malformed response from {base_url}: {_detail(exc)}"


def lenient_arguments(raw: str | None) -> str | dict[str, Any] | None:
    """Accept raw control characters inside JSON strings (grammar-constrained servers emit
    them); anything still unparseable stays text so the loop can report it."""
    try:
        value = json.loads(raw or "{}", strict=False)
    except (json.JSONDecodeError, RecursionError):
        return raw
    return value if isinstance(value, dict) else raw


class _EmptyStream(Exception):
    """The server accepted a streaming request and closed it without a single chunk."""


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class OpenAICompatibleProvider(Provider):
    def __init__(self, name: str, endpoint: EndpointProviderSettings, settings: Settings, *,
                 model: str | None = None, api_key: str | None = None,
                 offline: bool | None = None, stream: bool = True) -> None:
        self.name = name
        self.endpoint = endpoint
        self.model = model or endpoint.model or ""
        self.stream = stream
        if not self.model:
            raise ProviderError(f"{name}: no model configured; set providers.{name}.model or "
                                "pass --model")
        if not api_key:
            if name == "openai":
                raise ProviderError(
                    "openai: no API key; store one with `bastion keys set openai` or set "
                    "OPENAI_API_KEY")
            api_key = LOCAL_DUMMY_KEY
        base_url = endpoint.endpoint or ("https://api.openai.com/v1" if name == "openai"
                                         else "http://localhost:1234/v1")
        # endpoints=: the user configured this URL for this provider, so the gateway lets it
        # through (loopback included) without a separate allowlist entry.
        self._http = build_http_client(settings, offline=offline or None,
                                       timeout=endpoint.timeout_s, purpose=f"provider:{name}",
                                       region=endpoint.region, endpoints=[base_url])
        # The SDK is typed for httpx2 clients but documents and checks for httpx ones too.
        self._client = openai.OpenAI(api_key=api_key, base_url=base_url,
                                     http_client=cast(Any, self._http),
                                     max_retries=MAX_RETRIES, timeout=endpoint.timeout_s)
        self.base_url = base_url
        self._key_hint = ("`bastion keys set openai` or OPENAI_API_KEY" if name == "openai"
                          else f"`bastion keys set {name}`, or the key the server expects")

    def close(self) -> None:
        self._http.close()

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "max_tokens": request.max_tokens or self.endpoint.max_tokens,
        }
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.tools:
            params["tools"] = [t.openai_format() for t in request.tools]
            params["tool_choice"] = request.tool_choice
            if request.tool_choice == "required" and len(request.tools) == 1:
                # Same meaning, and understood by servers that lack "required" (llama.cpp).
                params["tool_choice"] = {"type": "function",
                                         "function": {"name": request.tools[0].name}}
        return params

    def complete(self, request: ModelRequest, on_text: TextCallback | None = None) -> ModelReply:
        try:
            if not self.stream:
                return self._complete_once(request, on_text)
            try:
                return self._complete_stream(request, on_text)
            except _EmptyStream:
                if not request.tools:
                    raise ProviderError(f"{self.name}: malformed response from "
                                        f"{self.base_url} (empty stream)") from None
                # Some servers (llama.cpp with tools and "auto") refuse to stream tool
                # choices and just close the stream; nothing was emitted, so asking again
                # without streaming is safe.
                return self._complete_once(request, on_text)
        except openai.OpenAIError as exc:
            raise ProviderError(describe_sdk_error(self.name, self.base_url, exc, openai,
                                                   self._key_hint)) from None
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, IndexError) as exc:
            # the SDK hands through whatever JSON arrived; a body of the wrong shape ends here
            raise ProviderError(f"{self.name}: malformed response from {self.base_url} "
                                f"({type(exc).__name__}: {exc})") from None

    def _complete_once(self, request: ModelRequest, on_text: TextCallback | None) -> ModelReply:
        response = self._client.chat.completions.create(**self._params(request))
        if not getattr(response, "choices", None):
            raise ProviderError(f"{self.name}: malformed response from {self.base_url} "
                                "(no choices)")
        choice = response.choices[0]
        content = choice.message.content or ""
        calls = [parse_arguments(c.id or f"call_{i}", c.function.name,
                                 lenient_arguments(c.function.arguments))
                 for i, c in enumerate(choice.message.tool_calls or [], start=1)
                 if getattr(c, "function", None) is not None]
        if on_text is not None and content:
            on_text(content)
        return ModelReply(content, calls, choice.finish_reason)

    def _complete_stream(self, request: ModelRequest, on_text: TextCallback | None
                         ) -> ModelReply:
        stream = self._client.chat.completions.create(stream=True, **self._params(request))
        text: list[str] = []
        partial: dict[int, _PartialCall] = {}
        finish: str | None = None
        saw_chunk = False
        with stream:
            for chunk in stream:
                saw_chunk = True
                if not chunk.choices:
                    continue  # e.g. a trailing usage-only chunk
                choice = chunk.choices[0]
                delta = choice.delta
                if delta is not None and delta.content:
                    text.append(delta.content)
                    if on_text is not None:
                        on_text(delta.content)
                for tc in (delta.tool_calls if delta is not None else None) or []:
                    slot = partial.setdefault(tc.index, _PartialCall())
                    if tc.id:
                        slot.id = tc.id
                    if tc.function is not None:
                        # OpenAI sends the name once; llama.cpp's server repeats it in every
                        # chunk. Only a different fragment extends it.
                        if tc.function.name and tc.function.name != slot.name:
                            slot.name += tc.function.name
                        if tc.function.arguments:
                            slot.arguments.append(tc.function.arguments)
                if choice.finish_reason:
                    finish = choice.finish_reason
        if not saw_chunk:
            raise _EmptyStream
        calls: list[ToolCall] = []
        for index in sorted(partial):
            slot = partial[index]
            calls.append(parse_arguments(slot.id or f"call_{index + 1}", slot.name,
                                         lenient_arguments("".join(slot.arguments))))
        return ModelReply("".join(text), calls, finish)
