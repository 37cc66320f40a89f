"""The Anthropic provider against respx-served replies in the documented Messages format.

The provider always streams, so replies are served as the documented server-sent event
sequence: message_start, content_block_start / content_block_delta / content_block_stop per
block, message_delta, message_stop (with ping events mixed in).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import respx

from bastion.config import Settings
from bastion.config.models import EndpointProviderSettings
from bastion.providers import ModelRequest, ProviderError, ToolSpec
from bastion.providers.anthropic_provider import AnthropicProvider, convert_messages

URL = "https://api.anthropic.com/v1/messages"
LIST_DIR = ToolSpec("list_dir", "List a directory", {
    "type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]})
SSE = {"content-type": "text/event-stream", "cache-control": "no-cache"}

Event = tuple[str, dict[str, object]]


def event_bytes(name: str, data: dict[str, object]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def sse_body(events: list[Event]) -> bytes:
    return b"".join(event_bytes(name, data) for name, data in events)


def message_start() -> Event:
    return ("message_start", {"type": "message_start", "message": {
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1}}})


def text_start(index: int) -> Event:
    return ("content_block_start", {"type": "content_block_start", "index": index,
                                    "content_block": {"type": "text", "text": ""}})


def text_delta(index: int, text: str) -> Event:
    return ("content_block_delta", {"type": "content_block_delta", "index": index,
                                    "delta": {"type": "text_delta", "text": text}})


def tool_start(index: int, call_id: str, name: str) -> Event:
    return ("content_block_start", {"type": "content_block_start", "index": index,
                                    "content_block": {"type": "tool_use", "id": call_id,
                                                      "name": name, "input": {}}})


def json_delta(index: int, partial: str) -> Event:
    return ("content_block_delta", {"type": "content_block_delta", "index": index,
                                    "delta": {"type": "input_json_delta", "partial_json": partial}})


def block_stop(index: int) -> Event:
    return ("content_block_stop", {"type": "content_block_stop", "index": index})


PING: Event = ("ping", {"type": "ping"})


def message_end(stop: str) -> list[Event]:
    return [("message_delta", {"type": "message_delta",
                               "delta": {"stop_reason": stop, "stop_sequence": None},
                               "usage": {"output_tokens": 15}}),
            ("message_stop", {"type": "message_stop"})]


def text_reply(*parts: str) -> list[Event]:
    return [message_start(), text_start(0), PING,
            *(text_delta(0, part) for part in parts), block_stop(0), *message_end("end_turn")]


def streamed(events: list[Event]) -> httpx.Response:
    return httpx.Response(200, headers=SSE, content=sse_body(events))


def provider(settings: Settings, url: str = "https://api.anthropic.com") -> AnthropicProvider:
    endpoint = EndpointProviderSettings(endpoint=url, model="claude-test", timeout_s=10)
    return AnthropicProvider(endpoint, settings, api_key="sk-ant-test")


CONVERSATION = [
    {"role": "system", "content": "You are Bastion."},
    {"role": "user", "content": "What is in the workspace?"},
    {"role": "assistant", "content": "Let me look.", "tool_calls": [
        {"id": "toolu_1", "type": "function",
         "function": {"name": "list_dir", "arguments": '{"path": "."}'}},
        {"id": "toolu_2", "type": "function",
         "function": {"name": "list_dir", "arguments": '{"path": "src"}'}}]},
    {"role": "tool", "tool_call_id": "toolu_1", "content": "a.txt\nsrc/"},
    {"role": "tool", "tool_call_id": "toolu_2", "content": "main.py"},
    {"role": "user", "content": "And?"},
]


@respx.mock
def test_text_reply(settings: Settings) -> None:
    route = respx.post(URL).mock(return_value=streamed(text_reply("Two ", "files", ".")))
    deltas: list[str] = []
    reply = provider(settings).complete(ModelRequest(CONVERSATION[:2]), on_text=deltas.append)
    assert reply.content == "Two files." and reply.tool_calls == []
    assert reply.finish_reason == "stop" and deltas == ["Two ", "files", "."]
    assert json.loads(route.calls.last.request.content)["stream"] is True


# The documented example stream: text, then a tool_use block whose input arrives as
# input_json_delta fragments that only make sense once joined.
DOCUMENTED_TOOL_STREAM: list[Event] = [
    message_start(), text_start(0), PING,
    text_delta(0, "Okay, let me"), text_delta(0, " read that folder."), block_stop(0),
    tool_start(1, "toolu_3", "list_dir"),
    json_delta(1, ""), json_delta(1, '{"pa'), json_delta(1, 'th": "do'), json_delta(1, 'cs"}'),
    block_stop(1), *message_end("tool_use"),
]


@respx.mock
def test_documented_event_stream_with_text_and_tool_use(settings: Settings) -> None:
    respx.post(URL).mock(return_value=streamed(DOCUMENTED_TOOL_STREAM))
    deltas: list[str] = []
    reply = provider(settings).complete(ModelRequest(CONVERSATION, [LIST_DIR]),
                                        on_text=deltas.append)
    assert deltas == ["Okay, let me", " read that folder."]
    assert reply.content == "Okay, let me read that folder."
    (call,) = reply.tool_calls
    assert (call.id, call.name, call.arguments) == ("toolu_3", "list_dir", {"path": "docs"})
    assert call.invalid_arguments is None and reply.finish_reason == "tool_calls"


@respx.mock
def test_stream_split_at_arbitrary_byte_boundaries(settings: Settings) -> None:
    body = sse_body(DOCUMENTED_TOOL_STREAM)

    def pieces() -> Iterator[bytes]:
        for i in range(0, len(body), 7):  # splits events, lines and JSON mid-token
            yield body[i:i + 7]

    respx.post(URL).mock(return_value=httpx.Response(200, headers=SSE, content=pieces()))
    reply = provider(settings).complete(ModelRequest(CONVERSATION, [LIST_DIR]))
    assert reply.content == "Okay, let me read that folder."
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("list_dir", {"path": "docs"})]


@respx.mock
def test_several_tool_calls_and_tool_without_arguments(settings: Settings) -> None:
    events = [message_start(),
              tool_start(0, "toolu_a", "list_dir"), json_delta(0, '{"path": "."}'), block_stop(0),
              tool_start(1, "toolu_b", "git_status"), block_stop(1), *message_end("tool_use")]
    respx.post(URL).mock(return_value=streamed(events))
    reply = provider(settings).complete(ModelRequest(CONVERSATION, [LIST_DIR]))
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [
        ("toolu_a", "list_dir", {"path": "."}), ("toolu_b", "git_status", {})]
    assert reply.content == ""


@respx.mock
def test_malformed_tool_json_is_kept_for_the_loop(settings: Settings) -> None:
    events = [message_start(), tool_start(0, "toolu_x", "list_dir"),
              json_delta(0, '{"path": '), block_stop(0), *message_end("max_tokens")]
    respx.post(URL).mock(return_value=streamed(events))
    reply = provider(settings).complete(ModelRequest(CONVERSATION, [LIST_DIR]))
    (call,) = reply.tool_calls
    assert call.arguments == {} and call.invalid_arguments == '{"path": '
    assert reply.finish_reason == "length"


@respx.mock
def test_error_event_mid_stream(settings: Settings) -> None:
    events = [message_start(), text_start(0), text_delta(0, "Partial"),
              ("error", {"type": "error",
                         "error": {"type": "overloaded_error", "message": "Overloaded"}})]
    respx.post(URL).mock(return_value=streamed(events))
    deltas: list[str] = []
    with pytest.raises(ProviderError) as info:
        provider(settings).complete(ModelRequest(CONVERSATION[:2]), on_text=deltas.append)
    text = str(info.value)
    assert "overloaded_error" in text and "Overloaded" in text and "(200)" not in text
    assert "\n" not in text and deltas == ["Partial"]


@respx.mock
def test_stream_cut_short_is_an_error(settings: Settings) -> None:
    events = text_reply("Half an ans")[:-2]  # no message_delta / message_stop
    respx.post(URL).mock(return_value=streamed(events))
    with pytest.raises(ProviderError, match=r"malformed.*before message_stop"):
        provider(settings).complete(ModelRequest(CONVERSATION[:2]))


@pytest.mark.parametrize(("status", "error_type", "expected"), [
    (401, "authentication_error", "authentication failed (401)"),
    (429, "rate_limit_error", "rate limited (429)"),
    (500, "api_error", "server error (500)"),
])
@respx.mock
def test_status_error_on_the_streaming_path(settings: Settings, status: int, error_type: str,
                                             expected: str) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(status, json={
        "type": "error", "error": {"type": error_type, "message": "nope"}}))
    with pytest.raises(ProviderError, match=re.escape(expected)):
        provider(settings).complete(ModelRequest(CONVERSATION[:2]))
    assert json.loads(route.calls.last.request.content)["stream"] is True


def test_events_reach_on_text_before_the_reply_ends(settings: Settings) -> None:
    """Through the real gateway bridge and a socket: the first delta must arrive while the
    server is still holding back the rest, i.e. nothing on the way buffers the body."""
    first_seen = threading.Event()
    seen_before_tail: list[bool] = []
    head = sse_body([message_start(), text_start(0), text_delta(0, "early")])
    tail = sse_body([text_delta(0, " late"), block_stop(0), *message_end("end_turn")])

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for piece in (head, tail):
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.flush()
                if piece is head:
                    # hold the rest until the client has seen "early"; a buffering hop on
                    # the way would only hand it over once the body is complete
                    seen_before_tail.append(first_seen.wait(3))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    deltas: list[str] = []

    def on_text(text: str) -> None:
        deltas.append(text)
        first_seen.set()

    try:
        client = provider(settings, f"http://127.0.0.1:{server.server_address[1]}")
        reply = client.complete(ModelRequest(CONVERSATION[:2]), on_text=on_text)
        client.close()
    finally:
        server.shutdown()
        server.server_close()
    assert reply.content == "early late" and deltas == ["early", " late"]
    assert seen_before_tail == [True]


@respx.mock
def test_tool_use_request_shape(settings: Settings) -> None:
    route = respx.post(URL).mock(return_value=streamed(DOCUMENTED_TOOL_STREAM))
    provider(settings).complete(ModelRequest(CONVERSATION, [LIST_DIR], "required"))
    sent = route.calls.last.request
    # the SDK sends the key as x-api-key or as a bearer token, depending on its version
    assert "sk-ant-test" in (sent.headers.get("x-api-key", "") + sent.headers.get(
        "authorization", ""))
    assert "anthropic-version" in sent.headers
    body = json.loads(sent.content)
    assert body["system"] == "You are Bastion."
    assert body["model"] == "claude-test" and body["max_tokens"] == 1024
    assert body["tools"] == [{"name": "list_dir", "description": "List a directory",
                              "input_schema": LIST_DIR.parameters}]
    assert body["tool_choice"] == {"type": "any"}
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assistant = body["messages"][1]["content"]
    assert assistant[0] == {"type": "text", "text": "Let me look."}
    assert assistant[1] == {"type": "tool_use", "id": "toolu_1", "name": "list_dir",
                            "input": {"path": "."}}
    # both tool results and the next user text merge into one user turn
    results = body["messages"][2]["content"]
    assert results[0] == {"type": "tool_result", "tool_use_id": "toolu_1",
                          "content": "a.txt\nsrc/"}
    assert results[1]["tool_use_id"] == "toolu_2"
    assert results[2] == {"type": "text", "text": "And?"}


def test_conversation_must_open_with_a_user_turn() -> None:
    system, messages = convert_messages([{"role": "assistant", "content": "hi"}])
    assert system == "" and messages[0]["role"] == "user"


def test_missing_key_names_the_fix(settings: Settings) -> None:
    endpoint = EndpointProviderSettings(model="claude-test")
    with pytest.raises(ProviderError, match="bastion keys set anthropic"):
        AnthropicProvider(endpoint, settings)
