"""Tools: a name, an argument model (:mod:`bastion.datamodel`; also the JSON schema), and the gate.

A tool declares, from its parsed arguments, what it needs — :meth:`Tool.requests` returns
:class:`~bastion.policy.Request` items (a path to read or write, a command line, a URL, an
MCP call, a delegation). :meth:`Tool.run` is the one gate every call goes through: the policy
authorises the whole list once (decides, settles approvals, records), and only then
:meth:`Tool.execute` runs, handed a :class:`Granted` with the resolved, authorised targets.
A tool never calls the policy itself; a tool that declares nothing is handed nothing.

A tool returns a :class:`ToolResult`; expected failures (policy denials, missing files, bad
arguments) are results with ``is_error`` set, so they go back to the model — never exceptions
out of the loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, final

from bastion.datamodel import ConfigDict, Model, ValidationError
from bastion.policy import Authorization, Policy, Request, is_within

if TYPE_CHECKING:
    from bastion.providers import ToolSpec


class ToolArgs(Model):
    model_config = ConfigDict(extra="forbid")


ArgsT = TypeVar("ArgsT", bound=ToolArgs)


@dataclass
class ToolResult:
    """What a tool returns to the model, and the facts kept for history and audit."""

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


class Refused(Exception):
    """A tool's own refusal (bad request shape, missing file); the message goes to the model."""


@dataclass
class Granted:
    """What the gate hands a tool: the resolved targets it was authorised for, nothing else.

    ``path(name)`` is the canonical path of an authorised path request; ``target(name)`` the
    string of a command/URL/call request. ``readable(p)`` answers, without asking anyone,
    whether an entry met while walking an authorised folder may be shown (a pure policy
    decision: "allow", or an "ask" inside a folder this very call was approved for).
    ``show(p)`` is the form of a path for messages.
    """

    tool: str
    targets: dict[str, Path | str] = field(default_factory=dict)
    authorization: Authorization | None = None
    _readable: Callable[[Path], bool] = field(default=lambda _p: False, repr=False)
    _show: Callable[[Path], str] = field(default=str, repr=False)
    _verdict: Callable[[str], str] = field(default=lambda _t: "deny", repr=False)

    def path(self, name: str = "path") -> Path:
        value = self.targets.get(name)
        if not isinstance(value, Path):
            raise Refused(f"{self.tool}: no authorised path {name!r} (the tool did not request it)")
        return value

    def target(self, name: str) -> str:
        value = self.targets.get(name)
        if not isinstance(value, str):
            raise Refused(f"{self.tool}: no authorised target {name!r} (the tool did not "
                          "request it)")
        return value

    def readable(self, path: Path) -> bool:
        return self._readable(path)

    def verdict(self, target: str) -> str:
        """The pure verdict for this tool on another target of the same kind (a redirect
        hop): "allow" | "ask" | "deny", asking no one."""
        return self._verdict(target)

    def show(self, path: Path) -> str:
        return self._show(path)


def authorize(tool: Tool[Any], args: Any, ctx: ToolContext) -> Granted | ToolResult:
    """The one gate: ``tool``'s declared requests authorised by the policy, once."""
    try:
        requests = tool.requests(args, ctx)
    except Refused as exc:
        return ToolResult(str(exc), is_error=True)
    policy = ctx.policy
    auth = policy.authorize(tool.name, requests)
    if not auth.allowed:
        return tool.denied(auth)
    roots = [p for p in auth.targets.values() if isinstance(p, Path)]
    approved = auth.record.verdict == "ask"

    def readable(path: Path) -> bool:
        verdict = policy.decide("read_file", path, access="read").verdict
        if verdict != "ask" or not approved:
            return verdict == "allow"
        real = policy.canonical(path)
        return any(is_within(real, r) for r in roots)

    fallback = next((r.fallback for r in requests if r.access is None), None)

    def verdict(target: str) -> str:
        return policy.decide(tool.name, target, fallback=fallback).verdict

    return Granted(tool.name, dict(auth.targets), auth, readable, policy.show, verdict)


class Tool(ABC, Generic[ArgsT]):
    name: ClassVar[str]
    description: ClassVar[str]
    Args: type[ArgsT]
    #: read-only tools change nothing on disk or elsewhere; only they exist in restricted mode
    read_only: ClassVar[bool] = True

    def spec(self) -> ToolSpec:
        from bastion.providers import ToolSpec  # (``bastion exec`` runs a tool, offers none)

        schema = self.Args.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        return ToolSpec(self.name, self.description, schema)

    def parse(self, arguments: dict[str, Any]) -> ArgsT:
        return self.Args.model_validate(arguments)

    def requests(self, args: ArgsT, ctx: ToolContext) -> list[Request]:
        """What this call needs, from its parsed arguments. Nothing declared: nothing handed."""
        return []

    def denied(self, auth: Authorization) -> ToolResult:
        """The result the model gets when the gate refuses the call."""
        return ToolResult(auth.message(), is_error=True,
                          details={"denied": True, "rule": auth.record.rule})

    @final
    def run(self, args: ArgsT, ctx: ToolContext) -> ToolResult:
        """The gate, then :meth:`execute` with what it authorised. Subclasses never override."""
        granted = authorize(self, args, ctx)
        if isinstance(granted, ToolResult):
            return granted
        try:
            return self.execute(args, ctx, granted)
        except Refused as exc:
            return ToolResult(str(exc), is_error=True)

    @abstractmethod
    def execute(self, args: ArgsT, ctx: ToolContext, granted: Granted) -> ToolResult:
        """Do the work, touching only what ``granted`` holds."""


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
