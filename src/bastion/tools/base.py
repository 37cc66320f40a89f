"""Tools: a name, a pydantic argument model (which is also the JSON schema), and ``run``.

A tool returns a :class:`ToolResult`; expected failures (policy denials, missing files, bad
arguments) are results with ``is_error`` set, so they go back to the model — never exceptions
out of the loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from bastion.policy import Policy
from bastion.providers.base import ToolSpec


class ToolArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


ArgsT = TypeVar("ArgsT", bound=ToolArgs)


@dataclass
class ToolResult:
    content: str
    is_error: bool = False
    #: structured facts for the history and audit (paths touched, hashes, exit codes)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolContext:
    """What a tool may use: the workspace and the policy that guards it."""

    workspace: Path
    policy: Policy
    session_id: str | None = None
    tool_call_id: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)


class Tool(ABC, Generic[ArgsT]):
    name: ClassVar[str]
    description: ClassVar[str]
    Args: type[ArgsT]
    #: read-only tools change nothing on disk or elsewhere; only they exist in restricted mode
    read_only: ClassVar[bool] = True

    def spec(self) -> ToolSpec:
        schema = self.Args.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        return ToolSpec(self.name, self.description, schema)

    def parse(self, arguments: dict[str, Any]) -> ArgsT:
        return self.Args.model_validate(arguments)

    @abstractmethod
    def run(self, args: ArgsT, ctx: ToolContext) -> ToolResult: ...


def describe_validation_error(tool: str, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(arguments)"
        problems.append(f"{where}: {err['msg']}")
    return f"invalid arguments for {tool}: " + "; ".join(problems)


class ToolRegistry:
    """The tools offered to the model in one session."""

    def __init__(self, tools: list[Tool[Any]] | None = None) -> None:
        self._tools: dict[str, Tool[Any]] = {}
        for tool in tools or []:
            self.register(tool)

    def register(self, tool: Tool[Any]) -> None:
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} registered twice")
        self._tools[tool.name] = tool

    def get(self, name: str) -> Tool[Any] | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return list(self._tools)

    def specs(self) -> list[ToolSpec]:
        return [t.spec() for t in self._tools.values()]

    def only(self, names: list[str]) -> ToolRegistry:
        return ToolRegistry([t for n, t in self._tools.items() if n in names])
