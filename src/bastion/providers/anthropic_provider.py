"""Anthropic's Messages API through the official ``anthropic`` SDK.

Conversion at the edge: OpenAI-format messages become Anthropic's (system text separate,
assistant ``tool_use`` blocks, tool results as user ``tool_result`` blocks, consecutive
same-role turns merged), and the reply comes back as a :class:`ModelReply`.

Streamed: the reply arrives as server-sent events; each text delta goes to ``on_text`` as it
arrives, and ``tool_use`` blocks are assembled from their ``input_json_delta`` fragments. A reply
counts only once ``message_stop`` arrives; an ``error`` event or a dropped connection mid-stream
becomes a :class:`ProviderError` like any other failure.

The SDK only accepts an ``httpx2.Client``, while the egress gateway builds ``httpx`` clients.
:class:`_GatewayBridge` is an ``httpx2`` transport that forwards every request through the
gateway's client, so Anthropic traffic gets the same policy, TLS rules and audit as the rest.
Response bodies are passed through chunk by chunk as they come off the wire, never buffered,
so events reach the SDK as the server sends them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx
import httpx2

from bastion.config import EndpointProviderSettings, Settings
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
    parse_arguments,
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
    except (json.JSONDecodeError, TypeError, RecursionError):
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


@dataclass
class _Block:
    """One content block while it streams in."""

    kind: str
    id: str = ""
    name: str = ""
    text: list[str] = field(default_factory=list)
    start_input: Any = None
    json_parts: list[str] = field(default_factory=list)


class _Incomplete(Exception):
    """The event stream broke the documented sequence (missing or out-of-order events)."""


def assemble_stream(events: Iterable[Any], on_text: TextCallback | None = None) -> ModelReply:
    """Raw Messages stream events → ModelReply, passing each text delta to ``on_text``.

    Follows the documented sequence: ``message_start``, then per content block
    ``content_block_start`` / ``content_block_delta``… / ``content_block_stop``, then
    ``message_delta`` (stop reason) and ``message_stop``. Unknown event and delta types
    (``ping``, thinking, citations, future additions) are skipped.
    """
    blocks: dict[int, _Block] = {}
    started = stopped = False
    stop: str | None = None
    for event in events:
        kind = getattr(event, "type", None)
        if kind == "message_start":
            started = True
            continue
        if not started:
            raise _Incomplete(f"{kind or 'an event'} before message_start")
        if kind == "content_block_start":
            block = event.content_block
            blocks[event.index] = _Block(getattr(block, "type", "") or "",
                                         id=getattr(block, "id", "") or "",
                                         name=getattr(block, "name", "") or "",
                                         start_input=getattr(block, "input", None))
            initial = getattr(block, "text", None) if blocks[event.index].kind == "text" else None
            if initial:
                blocks[event.index].text.append(initial)
                if on_text is not None:
                    on_text(initial)
        elif kind == "content_block_delta":
            slot = blocks.get(event.index)
            if slot is None:
                raise _Incomplete(f"delta for block {event.index} before its content_block_start")
            delta = event.delta
            delta_kind = getattr(delta, "type", None)
            if delta_kind == "text_delta" and slot.kind == "text":
                text = delta.text or ""
                if text:
                    slot.text.append(text)
                    if on_text is not None:
                        on_text(text)
            elif delta_kind == "input_json_delta" and slot.kind == "tool_use":
                slot.json_parts.append(delta.partial_json or "")
        elif kind == "message_delta":
            stop = getattr(event.delta, "stop_reason", None) or stop
        elif kind == "message_stop":
            stopped = True
    if not started:
        raise _Incomplete("no message_start event")
    if not stopped:
        raise _Incomplete("the stream ended before message_stop")
    text_parts: list[str] = []
    calls: list[ToolCall] = []
    for index in sorted(blocks):
        slot = blocks[index]
        if slot.kind == "text":
            text_parts.extend(slot.text)
        elif slot.kind == "tool_use":
            raw = "".join(slot.json_parts)
            arguments: str | dict[str, Any] | None = raw
            if not raw.strip() and isinstance(slot.start_input, dict):
                arguments = slot.start_input  # no deltas: the start block carried the input
            calls.append(parse_arguments(slot.id or f"call_{len(calls) + 1}", slot.name,
                                         arguments))
    return ModelReply("".join(text_parts), calls, _FINISH.get(stop or "", stop))


def _describe_error(base_url: str, exc: anthropic.AnthropicError) -> str:
    """``describe_sdk_error``, except for an ``error`` event inside a 200 stream, which the SDK
    raises with the stream's status (200) and would otherwise read as "request rejected (200)"."""
    status = getattr(exc, "status_code", None)
    if isinstance(exc, anthropic.APIStatusError) and status is not None and status < 400:
        body = exc.body
        error = body.get("error", body) if isinstance(body, dict) else None
        kind = error.get("type") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        detail = " ".join(str(message or exc.message or exc).split())[:200]
        return (f"anthropic: the server reported an error mid-reply ({kind or 'error'}) — "
                f"try again later: {detail}")
    return describe_sdk_error("anthropic", base_url, exc, anthropic,
                              "`bastion keys set anthropic` or ANTHROPIC_API_KEY")


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
            stream = self._client.messages.create(stream=True, **self.request_params(request))
            with stream:
                return assemble_stream(stream, on_text)
        except anthropic.AnthropicError as exc:
            raise ProviderError(_describe_error(self.base_url, exc)) from None
        except httpx2.TimeoutException:
            # raised while reading the body: the SDK only translates failures before the
            # first byte, so a stall or drop mid-stream arrives here untranslated
            raise ProviderError(f"anthropic: {self.base_url} stopped answering mid-reply "
                                "(timeout)") from None
        except httpx2.TransportError as exc:
            raise ProviderError(f"anthropic: connection to {self.base_url} lost mid-reply "
                                f"({str(exc) or type(exc).__name__})") from None
        except _Incomplete as exc:
            raise ProviderError(f"anthropic: malformed response from {self.base_url} "
                                f"({exc})") from None
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ProviderError(f"anthropic: malformed response from {self.base_url} "
                                f"({type(exc).__name__}: {exc})") from None
