"""What every provider speaks: OpenAI-style chat messages in, text and tool calls out.

Messages are plain dicts in the OpenAI chat format (``role``, ``content``, ``tool_calls``,
``tool_call_id``) because that is what most providers receive on the wire; providers with a
different wire format (Anthropic, llama.cpp grammars) convert at their edge.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from bastion.errors import BastionError

Message = dict[str, Any]
TextCallback = Callable[[str], None]


class ProviderError(BastionError):
    """The model could not be asked: unreachable, unauthorised, rate-limited, malformed reply."""


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the model sees it: name, description, JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]

    def openai_format(self) -> dict[str, Any]:
        return {"type": "function", "function": {
            "name": self.name, "description": self.description, "parameters": self.parameters}}


@dataclass
class ToolCall:
    """One tool call the model asked for."""

    id: str
    name: str
    arguments: dict[str, Any]
    #: set when the model produced arguments that are not a JSON object
    invalid_arguments: str | None = None

    def openai_format(self) -> dict[str, Any]:
        raw = self.invalid_arguments if self.invalid_arguments is not None else json.dumps(
            self.arguments)
        return {"id": self.id, "type": "function",
                "function": {"name": self.name, "arguments": raw}}


#: tool arguments deeper or larger than this are refused before anything walks them (the
#: history, the privacy filter, validation): no tool takes more than a few levels, and a
#: 900-deep list from the model used to end the run with an internal RecursionError
MAX_ARGUMENT_DEPTH = 32
MAX_ARGUMENT_VALUES = 20_000


def argument_shape_problem(arguments: Any) -> str | None:
    """Why ``arguments`` cannot be taken (too deep, too many values), else None. Iterative."""
    stack: list[tuple[Any, int]] = [(arguments, 1)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if seen > MAX_ARGUMENT_VALUES:
            return f"more than {MAX_ARGUMENT_VALUES} values"
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, (list, tuple)):
            children = value
        else:
            continue
        if depth > MAX_ARGUMENT_DEPTH:
            return f"nested deeper than {MAX_ARGUMENT_DEPTH} levels"
        stack.extend((child, depth + 1) for child in children)
    return None


def bounded_call(call: ToolCall) -> ToolCall:
    """``call`` itself, or — when its arguments are too deep or too large — the same call with
    no arguments and the reason, which the dispatcher answers as invalid arguments."""
    problem = argument_shape_problem(call.arguments)
    if problem is None:
        return call
    return ToolCall(call.id, call.name, {}, invalid_arguments=f"(arguments {problem})")


@dataclass
class ModelRequest:
    """What is sent to the model: messages, tools and sampling options."""

    messages: list[Message]
    tools: list[ToolSpec] = field(default_factory=list)
    tool_choice: Literal["auto", "required", "none"] = "auto"
    max_tokens: int | None = None
    temperature: float | None = None


@dataclass
class ModelReply:
    """What the model answered: text and tool calls."""

    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None


class Provider(ABC):
    """A model. ``complete`` is called with already privacy-filtered messages."""

    name: str = "provider"
    model: str = ""

    @abstractmethod
    def complete(self, request: ModelRequest, on_text: TextCallback | None = None) -> ModelReply:
        """Answer one turn; stream text through ``on_text`` when given."""

    def close(self) -> None:  # noqa: B027 — optional hook
        """Release resources (model weights, HTTP clients)."""


def parse_arguments(call_id: str, name: str, raw: str | dict[str, Any] | None) -> ToolCall:
    """Build a ToolCall, keeping malformed argument text so the loop can report it."""
    if isinstance(raw, dict):
        return ToolCall(call_id, name, raw)
    try:
        value = json.loads(raw or "{}")
    except (json.JSONDecodeError, RecursionError):
        return ToolCall(call_id, name, {}, invalid_arguments=(raw or "")[:2000])
    if not isinstance(value, dict):
        return ToolCall(call_id, name, {}, invalid_arguments=raw or "")
    return ToolCall(call_id, name, value)
