"""The Anthropic provider against respx-served replies in the documented Messages format."""

from __future__ import annotations

import json

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


def message(content: list[dict[str, object]], stop: str) -> dict[str, object]:
    return {"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-test",
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5}}


def provider(settings: Settings) -> AnthropicProvider:
    endpoint = EndpointProviderSettings(endpoint="https://api.anthropic.com", model="claude-test")
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
    respx.post(URL).mock(return_value=httpx.Response(
        200, json=message([{"type": "text", "text": "Two files."}], "end_turn")))
    streamed: list[str] = []
    reply = provider(settings).complete(ModelRequest(CONVERSATION[:2]), on_text=streamed.append)
    assert reply.content == "Two files." and reply.tool_calls == []
    assert reply.finish_reason == "stop" and streamed == ["Two files."]


@respx.mock
def test_tool_use_reply_and_request_shape(settings: Settings) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=message([
        {"type": "text", "text": "Reading."},
        {"type": "tool_use", "id": "toolu_3", "name": "list_dir", "input": {"path": "docs"}},
    ], "tool_use")))
    reply = provider(settings).complete(ModelRequest(CONVERSATION, [LIST_DIR], "required"))
    (call,) = reply.tool_calls
    assert (call.id, call.name, call.arguments) == ("toolu_3", "list_dir", {"path": "docs"})
    assert reply.content == "Reading." and reply.finish_reason == "tool_calls"

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
