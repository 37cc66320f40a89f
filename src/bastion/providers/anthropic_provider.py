"""Anthropic's Messages API through the official ``anthropic`` SDK.

Conversion at the edge: OpenAI-format messages become Anthropic's (system text separate,
assistant ``tool_use`` blocks, tool results as user ``tool_result`` blocks, consecutive
same-role turns merged), and the reply comes back as a :class:`ModelReply`.

Not streamed: the request is made in one piece and the text is passed to ``on_text`` once the
reply is complete.

The SDK only accepts an ``httpx2.Client``, while the egress gateway builds ``httpx`` clients.
:class:`_GatewayBridge` is an ``httpx2`` transport that forwards every request through the
gateway's client, so Anthropic traffic gets the same policy, TLS rules and audit as the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import httpx2

from bastion.config import Settings
from bastion.config.models import EndpointProviderSettings
from bastion.net import build_http_client

from .base import (
    Message,
    ModelReply,
    ModelRequest,
    Provider,
    ProviderError,
    TextCallback,
    ToolCall,
    ToolSpec,
)
from .openai_compat import describe_sdk_error

DEFAULT_ENDPOINT = "https://api.anthropic.com"
MAX_RETRIES = 1
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls",
           "max_tokens": "length"}
_CHOICE = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}


class _ResponseStream(httpx2.SyncByteStream):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        try:
            # raw bytes: httpx2 applies the Content-Encoding itself, from the copied headers
            yield from self._response.iter_raw()
        except httpx.TimeoutException as exc:
            raise httpx2.ReadTimeout(str(exc)) from exc
        except httpx.TransportError as exc:
            raise httpx2.ReadError(str(exc)) from exc

    def close(self) -> None:
        self._response.close()


class _GatewayBridge(httpx2.BaseTransport):
    """Sends httpx2 requests through the egress gateway's httpx client."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        outgoing = self._client.build_request(
            request.method, str(request.url), headers=list(request.headers.multi_items()),
            content=request.read())
        # Translate transport failures so the SDK reports them as connection errors/timeouts.
        try:
            response = self._client.send(outgoing, stream=True)
        except httpx.TimeoutException as exc:
            raise httpx2.ConnectTimeout(str(exc), request=request) from exc
        except httpx.TransportError as exc:
            raise httpx2.ConnectError(str(exc), request=request) from exc
        return httpx2.Response(response.status_code,
                               headers=list(response.headers.multi_items()),
                               stream=_ResponseStream(response), request=request)

    def close(self) -> None:
        self._client.close()


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def _tool_input(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw or "{}")
    except (json.JSONDecodeError, TypeError):
        value = None
    # Anthropic requires an object; keep malformed text visible instead of dropping it.
    return value if isinstance(value, dict) else {"invalid_arguments": str(raw)}


def convert_messages(messages: list[Message]) -> tuple[str, list[dict[str, Any]]]:
    """OpenAI chat messages → (system text, Anthropic messages)."""
    system: list[str] = []
    out: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if out and out[-1]["role"] == role:  # the API requires alternating roles
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for message in messages:
        role = message.get("role")
        text = _text_of(message.get("content"))
        if role == "system":
            if text:
                system.append(text)
        elif role == "assistant":
            blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
            for call in message.get("tool_calls") or []:
                function = call.get("function", {})
                blocks.append({"type": "tool_use", "id": call.get("id", ""),
                               "name": function.get("name", ""),
                               "input": _tool_input(function.get("arguments"))})
            add("assistant", blocks)
        elif role == "tool":
            add("user", [{"type": "tool_result", "tool_use_id": message.get("tool_call_id", ""),
                          "content": text}])
        else:
            add("user", [{"type": "text", "text": text or "(empty)"}])
    if not out or out[0]["role"] != "user":
        # The API requires the conversation to open with a user turn.
        out.insert(0, {"role": "user", "content": [{"type": "text", "text": "(continue)"}]})
    return "\n\n".join(system), out


def convert_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [{"name": t.name, "description": t.description,
             "input_schema": t.parameters or {"type": "object", "properties": {}}}
            for t in tools]


def convert_reply(response: Any) -> ModelReply:
    """An Anthropic ``Message`` → ModelReply; a body of the wrong shape is a ProviderError."""
    blocks = getattr(response, "content", None)
    if not isinstance(blocks, list):
        raise ProviderError("anthropic: malformed response (no content blocks)")
    text: list[str] = []
    calls: list[ToolCall] = []
    for block in blocks:
        kind = getattr(block, "type", None)
        if kind == "text":
            text.append(getattr(block, "text", "") or "")
        elif kind == "tool_use":
            calls.append(ToolCall(getattr(block, "id", "") or f"call_{len(calls) + 1}",
                                  getattr(block, "name", ""), _tool_input(block.input)))
    stop = getattr(response, "stop_reason", None)
    return ModelReply("".join(text), calls, _FINISH.get(stop or "", stop))


class AnthropicProvider(Provider):
    name = "anthropic"

    def __init__(self, endpoint: EndpointProviderSettings, settings: Settings, *,
                 model: str | None = None, api_key: str | None = None,
                 offline: bool | None = None) -> None:
        self.endpoint = endpoint
        self.model = model or endpoint.model or ""
        if not self.model:
            raise ProviderError("anthropic: no model configured; set providers.anthropic.model "
                                "or pass --model")
        if not api_key:
            raise ProviderError("anthropic: no API key; store one with `bastion keys set "
                                "anthropic` or set ANTHROPIC_API_KEY")
        self.base_url = endpoint.endpoint or DEFAULT_ENDPOINT
        gateway = build_http_client(settings, offline=offline or None,
                                    timeout=endpoint.timeout_s, purpose="provider:anthropic",
                                    region=endpoint.region, endpoints=[self.base_url])
        self._http = httpx2.Client(transport=_GatewayBridge(gateway),
                                   timeout=endpoint.timeout_s, trust_env=False)
        self._client = anthropic.Anthropic(api_key=api_key, base_url=self.base_url,
                                           http_client=self._http, max_retries=MAX_RETRIES,
                                           timeout=endpoint.timeout_s)

    def close(self) -> None:
        self._http.close()

    def request_params(self, request: ModelRequest) -> dict[str, Any]:
        system, messages = convert_messages(request.messages)
        params: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": request.max_tokens or self.endpoint.max_tokens,
        }
        if system:
            params["system"] = system
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.tools:
            params["tools"] = convert_tools(request.tools)
            params["tool_choice"] = _CHOICE[request.tool_choice]
        return params

    def complete(self, request: ModelRequest, on_text: TextCallback | None = None) -> ModelReply:
        try:
            response = self._client.messages.create(**self.request_params(request))
            reply = convert_reply(response)
        except anthropic.AnthropicError as exc:
            raise ProviderError(describe_sdk_error(
                self.name, self.base_url, exc, anthropic,
                "`bastion keys set anthropic` or ANTHROPIC_API_KEY")) from None
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ProviderError(f"anthropic: malformed response from {self.base_url} "
                                f"({type(exc).__name__}: {exc})") from None
        if on_text is not None and reply.content:
            on_text(reply.content)
        return reply
