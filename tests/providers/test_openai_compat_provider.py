"""The OpenAI-compatible provider against a real llama.cpp server on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from bastion.config import Settings
from bastion.config.models import EndpointProviderSettings
from bastion.providers import ModelRequest, ProviderError, ToolSpec
from bastion.providers.openai_compat import OpenAICompatibleProvider


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


LIST_DIR = ToolSpec("list_dir", "List the files in a directory", {
    "type": "object",
    # an enum keeps the tiny model's argument short, so the test stays fast
    "properties": {"path": {"type": "string", "enum": [".", "src", "docs"]}},
    "required": ["path"],
})


@pytest.fixture(scope="module")
def server_url(gguf_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path),
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
             "--chat_format", "chatml-function-calling"],
            stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited early:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server not ready in 90 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def make(url: str, settings: Settings, **kw: object) -> OpenAICompatibleProvider:
    endpoint = EndpointProviderSettings(endpoint=url, model="smollm2", timeout_s=60)
    return OpenAICompatibleProvider("local", endpoint, settings, **kw)  # type: ignore[arg-type]


@pytest.mark.model
def test_plain_completion_streams(server_url: str, settings: Settings) -> None:
    provider = make(server_url, settings)
    streamed: list[str] = []
    reply = provider.complete(ModelRequest([{"role": "user", "content": "Say hello."}],
                                           max_tokens=16), on_text=streamed.append)
    provider.close()
    assert reply.content and reply.tool_calls == []
    assert len(streamed) > 1 and "".join(streamed) == reply.content
    assert reply.finish_reason in ("stop", "length")


@pytest.mark.model
def test_plain_completion_without_streaming(server_url: str, settings: Settings) -> None:
    provider = make(server_url, settings, stream=False)
    reply = provider.complete(ModelRequest([{"role": "user", "content": "Say hello."}],
                                           max_tokens=8))
    assert reply.content


@pytest.mark.model
def test_required_tool_call_through_the_server(server_url: str, settings: Settings) -> None:
    provider = make(server_url, settings)
    messages = [{"role": "user", "content": "List the files in the current directory."}]
    reply = provider.complete(ModelRequest(messages, [LIST_DIR], "required", max_tokens=40))
    (call,) = reply.tool_calls
    assert call.name == "list_dir"  # the server repeats the name in every chunk
    assert call.invalid_arguments is None
    assert call.arguments["path"] in (".", "src", "docs")
    assert call.id


@pytest.mark.model
def test_server_refusing_to_stream_auto_tools_falls_back(server_url: str,
                                                        settings: Settings) -> None:
    provider = make(server_url, settings)
    messages = [{"role": "user", "content": "List the files in the src directory."}]
    reply = provider.complete(ModelRequest(messages, [LIST_DIR], "auto", max_tokens=40))
    assert reply.tool_calls or reply.content
    for call in reply.tool_calls:
        assert call.name == "list_dir"


# -- OpenAI's documented wire format, served by respx (nothing leaves the process) -----------

def _sse(*events: dict[str, object]) -> str:
    import json

    return "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"


def _chunk(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
            "model": "gpt-test", "choices": [{"index": 0, "delta": delta,
                                              "finish_reason": finish}]}


OPENAI = "https://api.openai.com/v1"


@respx.mock
def test_streamed_tool_call_deltas_are_accumulated(settings: Settings) -> None:
    body = _sse(
        _chunk({"role": "assistant", "content": None}),
        _chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                "function": {"name": "read_file", "arguments": ""}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"pa'}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'th": "a.txt"}'}}]}),
        _chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                                "function": {"name": "list_dir", "arguments": "{}"}}]}),
        _chunk({}, "tool_calls"),
    )
    route = respx.post(f"{OPENAI}/chat/completions").mock(return_value=httpx.Response(
        200, text=body, headers={"content-type": "text/event-stream"}))
    endpoint = EndpointProviderSettings(endpoint=OPENAI, model="gpt-test")
    provider = OpenAICompatibleProvider("openai", endpoint, settings, api_key="sk-test")
    reply = provider.complete(ModelRequest([{"role": "user", "content": "hi"}], [LIST_DIR]))
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [
        ("call_a", "read_file", {"path": "a.txt"}), ("call_b", "list_dir", {})]
    assert reply.finish_reason == "tool_calls"
    sent = route.calls.last.request
    assert sent.headers["authorization"] == "Bearer sk-test"
    import json

    payload = json.loads(sent.content)
    assert payload["tools"][0]["function"]["name"] == "list_dir"
    assert payload["stream"] is True


def test_openai_without_key_names_the_fix(settings: Settings) -> None:
    endpoint = EndpointProviderSettings(endpoint=OPENAI, model="gpt-test")
    with pytest.raises(ProviderError, match="bastion keys set openai") as info:
        OpenAICompatibleProvider("openai", endpoint, settings)
    assert "OPENAI_API_KEY" in str(info.value)
