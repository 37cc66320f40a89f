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
    name: str
    description: str
    parameters: dict[str, Any]

    def openai_format(self) -> dict[str, Any]:
        return {"type": "function", "function": {
            "name": self.name, "description": self.description, "parameters": self.parameters}}


@dataclass
class ToolCall:
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


@dataclass
class ModelRequest:
    messages: list[Message]
    tools: list[ToolSpec] = field(default_factory=list)
    tool_choice: Literal["auto", "required", "none"] = "auto"
    max_tokens: int | None = None
    temperature: float | None = None


@dataclass
class ModelReply:
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
    except json.JSONDecodeError:
        return ToolCall(call_id, name, {}, invalid_arguments=raw or "")
    if not isinstance(value, dict):
        return ToolCall(call_id, name, {}, invalid_arguments=raw or "")
    return ToolCall(call_id, name, value)
