"""The embedded SmolLM2 model really loads and completes a grammar-constrained tool turn."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bastion.config.models import EmbeddedProviderSettings
from bastion.providers import ModelRequest, ProviderError, ToolSpec
from bastion.providers.embedded import (
    EmbeddedProvider,
    _AnswerStreamer,
    parse_reply,
    render_messages,
    reply_schema,
    sanitize_schema,
)

LIST_DIR = ToolSpec("list_dir", "List the files in a directory of the workspace", {
    "type": "object",
    "properties": {"path": {"type": "string", "default": ".",
                            "description": "Directory to list", "maxLength": 4096}},
    "additionalProperties": False,
})
READ_FILE = ToolSpec("read_file", "Read a text file", {
    "type": "object",
    "properties": {
        "path": {"type": "string"},
        "offset": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}],
                   "default": None},
    },
    "required": ["path"],
    "additionalProperties": False,
})


@pytest.fixture(scope="module")
def provider(gguf_path: Path) -> EmbeddedProvider:
    p = EmbeddedProvider(EmbeddedProviderSettings(contextSize=4096, maxTokens=64))
    yield p
    p.close()


@pytest.mark.model
def test_tool_call_then_final_answer(provider: EmbeddedProvider) -> None:
    messages = [
        {"role": "system", "content": "You are Bastion, an assistant working on files."},
        {"role": "user", "content": "Which files are in the workspace?"},
    ]
    reply = provider.complete(ModelRequest(messages, [LIST_DIR], "required"))
    (call,) = reply.tool_calls
    assert call.name == "list_dir"
    assert call.invalid_arguments is None
    assert set(call.arguments) <= {"path"}
    assert isinstance(call.arguments.get("path", "."), str)

    messages += [
        {"role": "assistant", "content": "", "tool_calls": [call.openai_format()]},
        {"role": "tool", "tool_call_id": call.id, "content": "notes.txt\nhello.py\nREADME.md"},
    ]
    streamed: list[str] = []
    final = provider.complete(ModelRequest(messages, [LIST_DIR], "none"), on_text=streamed.append)
    assert final.tool_calls == []
    assert final.content.strip()
    assert "".join(streamed).strip() == final.content


@pytest.mark.model
def test_auto_choice_gives_a_valid_call_or_an_answer(provider: EmbeddedProvider) -> None:
    messages = [{"role": "user", "content": "Read the file notes.txt for me."}]
    reply = provider.complete(ModelRequest(messages, [LIST_DIR, READ_FILE], "auto"))
    assert reply.tool_calls or reply.content
    for call in reply.tool_calls:
        assert call.name in ("list_dir", "read_file") and call.invalid_arguments is None
        if call.name == "read_file":  # the grammar forces the required argument
            assert isinstance(call.arguments["path"], str)


@pytest.mark.model
def test_plain_chat_streams(provider: EmbeddedProvider) -> None:
    streamed: list[str] = []
    reply = provider.complete(ModelRequest([{"role": "user", "content": "Say hello."}],
                                           max_tokens=24), on_text=streamed.append)
    assert reply.content and len(streamed) > 1
    assert "".join(streamed).strip() == reply.content


@pytest.mark.model
def test_loading_prints_nothing_to_stdout(gguf_path: Path) -> None:
    code = ("from bastion.config.models import EmbeddedProviderSettings as S\n"
            "from bastion.providers.embedded import EmbeddedProvider as E\n"
            "from bastion.providers import ModelRequest as R\n"
            "E(S(contextSize=1024)).complete(R([{'role':'user','content':'hi'}], max_tokens=4))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert result.stdout == b""


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    provider = EmbeddedProvider(EmbeddedProviderSettings(modelPath=str(tmp_path / "no.gguf")))
    with pytest.raises(ProviderError, match="modelPath"):
        provider.complete(ModelRequest([{"role": "user", "content": "hi"}]))


def test_schema_is_sanitised_and_tightened() -> None:
    schema = sanitize_schema(LIST_DIR.parameters | {"additionalProperties": True})
    assert "maxLength" not in json.dumps(schema)  # would blow up llama.cpp's grammar
    assert schema["additionalProperties"] is True  # an explicit choice is kept
    assert sanitize_schema({"type": "object", "properties": {}})["additionalProperties"] is False


def test_path_arguments_are_constrained_to_relative_names() -> None:
    import re

    schema = sanitize_schema({"type": "object", "properties": {
        "path": {"type": "string"}, "pattern": {"type": "string"}}})
    path_re = re.compile(schema["properties"]["path"]["pattern"])
    assert "pattern" not in schema["properties"]["pattern"]  # only path-like arguments
    for ok in ("README.md", "src/tally.py", ".", "./notes.txt"):
        assert path_re.match(ok)
    for bad in ("/etc/passwd", "~/x", "/Users/someone/project/README.md", ""):
        assert not path_re.match(bad)
    from llama_cpp import LlamaGrammar

    LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)  # compiles


def test_reply_schema_honours_tool_choice() -> None:
    required = reply_schema([LIST_DIR, READ_FILE], "required")
    assert [a["properties"]["tool"]["const"] for a in required["oneOf"]] == ["list_dir",
                                                                            "read_file"]
    assert reply_schema([LIST_DIR], "none")["required"] == ["answer"]
    auto = reply_schema([LIST_DIR], "auto")
    assert len(auto["oneOf"]) == 2 and auto["oneOf"][1]["required"] == ["answer"]


def test_unparseable_output_becomes_an_answer() -> None:
    assert parse_reply("not json at all", [LIST_DIR]).content == "not json at all"
    unknown = parse_reply('{"tool": "rm_rf", "arguments": {}}', [LIST_DIR])
    assert unknown.tool_calls == []
    cut = _AnswerStreamer(None)
    for piece in ['{"ans', 'wer": "Three files: a', '\\n', 'b \\u00e9', '\\ud83d\\ude00 and']:
        cut.feed(piece)
    reply = parse_reply(cut.raw, [LIST_DIR], cut)
    assert reply.content == "Three files: a\nb é😀 and" and reply.finish_reason == "length"


def test_tool_results_render_as_user_turns() -> None:
    call = {"id": "c1", "type": "function",
            "function": {"name": "list_dir", "arguments": '{"path": "."}'}}
    turns = render_messages([
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "a.txt"},
    ], [LIST_DIR], "auto", constrained=True)
    assert [t["role"] for t in turns] == ["system", "user", "assistant", "user"]
    assert "list_dir" in turns[0]["content"]
    assert json.loads(turns[2]["content"]) == {"tool": "list_dir", "arguments": {"path": "."}}
    assert turns[3]["content"] == "Result of list_dir:\na.txt"
