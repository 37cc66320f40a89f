"""The policy decision point consulted, through the gate, by every tool call.

:class:`Policy` holds one session's grants, rules, mode and approval settings. Its jobs live
in one module each: path decisions (:mod:`.pathcheck`), commands and other targets
(:mod:`.commands`), the gate's authorisation and approvals (:mod:`.approvals`), "always"
amendments (:mod:`.amend`) and the sandbox view (:mod:`.view`); grants in :mod:`.grants`.

A policy made by :meth:`Policy.narrowed` also asks its parent and takes the stricter verdict,
so a narrowed policy can never allow what its parent would not.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

from .amend import Amendments
from .approval import Approver
from .approvals import Approvals, stricter
from .commands import CommandDecisions
from .decision import Decision, DecisionHook, PolicyDenied
from .defaults import PROTECTED_NAMES, PROTECTED_SEQUENCES, deny_read_patterns, git_dirs_of
from .grants import Access, Grant, grant_for, intersect_grants, merge_grants
from .pathcheck import PathDecisions
from .paths import canonical, display_path
from .patterns import PathPattern
from .rules import FILE_TOOLS, READ_TOOLS, Rule, Verdict, access_of
from .view import SandboxView, SandboxViews, env_bastion_home

Mode = Literal["standard", "strict", "restricted"]
ApproveMode = Literal["ask", "auto", "never"]
_MODE_RANK: dict[str, int] = {"standard": 0, "strict": 1, "restricted": 2}

__all__ = ["ApproveMode", "Grant", "Mode", "Policy", "SandboxView", "stricter"]


@dataclass
class Policy(PathDecisions, CommandDecisions, Approvals, Amendments, SandboxViews):
    """Grants, rules, mode and approvals for one session. ``Policy(workspace)`` = defaults."""

    workspace: Path
    grants: list[Grant] | None = None
    rules: list[Rule] = field(default_factory=list)
    mode: Mode = "standard"
    approve: ApproveMode = "ask"
    deny_read: list[str] = field(default_factory=list)
    home: Path | None = None
    bastion_home: Path | None = None
    approver: Approver | None = None
    #: may an approver be asked? None: if there is a terminal (the CLI). Default False, so a
    #: library user never gets a prompt it did not ask for.
    interactive: bool | None = False
    on_decision: DecisionHook | None = None
    session_id: str | None = None
    #: where "always" answers are written (the user's settings.json)
    user_settings_path: Path | None = None
    #: notes for ``policy explain`` (e.g. project rules ignored until trusted)
    notes: list[str] = field(default_factory=list)
    #: tool allowlist (names or globs such as ``mcp__github__*``); None: every tool
    tools: frozenset[str] | None = None

    def __post_init__(self) -> None:
        self.workspace = Path(os.path.realpath(self.workspace))
        self.home = Path(os.path.realpath(self.home or os.path.expanduser("~")))
        self.bastion_home = Path(os.path.realpath(self.bastion_home or env_bastion_home()))
        if self.grants is None:
            self.grants = [Grant(self.workspace, "write", "default (workspace)")]
        self.grants = merge_grants(self.grants)  # one grant per folder, the lesser access
        self._deny_patterns: list[PathPattern] = deny_read_patterns(
            self.workspace, self.home, self.bastion_home, self.deny_read)
        self._git_dirs: list[Path] = []
        for g in self.grants:
            if g.access == "write":
                self._git_dirs += git_dirs_of(g.path)
        self._hooks: list[DecisionHook] = [self.on_decision] if self.on_decision else []
        self._session_approvals: list[tuple[str, str, Path | str]] = []
        self._call_id: str | None = None
        self._call_tool: str | None = None
        self._call_args: dict[str, Any] = {}
        #: set by :meth:`narrowed`: every decision is also the parent's, the stricter wins
        self._parent: Policy | None = None

    # ------------------------------------------------------------------ hooks and calls
    def add_hook(self, hook: DecisionHook) -> None:
        """Called with every settled :class:`DecisionRecord` (the audit log connects here)."""
        self._hooks.append(hook)

    def hooks(self) -> list[DecisionHook]:
        """Every hook a settled decision goes to: this policy's, then its parents'."""
        return [*self._hooks, *(self._parent.hooks() if self._parent else [])]

    def begin_call(self, call_id: str | None, tool: str, arguments: dict[str, Any]) -> None:
        """The agent loop announces each tool call so prompts and records can name it."""
        self._call_id, self._call_tool, self._call_args = call_id, tool, dict(arguments)

    # ------------------------------------------------------------------ pure decisions
    def canonical(self, raw: str | Path) -> Path:
        try:
            return canonical(raw, self.workspace)
        except ValueError as exc:
            raise PolicyDenied(f"invalid path {str(raw)!r}: {exc}", "path-syntax") from None

    def _lexical(self, raw: str | Path) -> Path:
        text = os.path.expanduser(os.fspath(raw))
        return Path(os.path.normpath(text if os.path.isabs(text) else self.workspace / text))

    def grant_for(self, path: Path) -> Grant | None:
        """The most specific grant containing ``path`` (see :func:`.grants.grant_for`)."""
        return grant_for(self.grants or [], path)

    def decide(self, tool: str, target: str | Path, *, access: Access | None = None,
               fallback: Verdict | None = None) -> Decision:
        """The verdict for ``tool`` on ``target`` without asking anyone (pure, no side effects).

        ``target`` is a path (string or Path) for file tools, otherwise the tool's target
        string (command line, URL). ``fallback`` is the verdict for a non-file tool that no
        rule matches (default: by mode).
        """
        own = self._decide_own(tool, target, access, fallback)
        if self._parent is None or own.verdict == "deny":
            return own
        return stricter(own, self._parent.decide(tool, target, access=access, fallback=fallback))

    def _decide_own(self, tool: str, target: str | Path, access: Access | None,
                    fallback: Verdict | None) -> Decision:
        if self.tools is not None and not self._tool_listed(tool):
            return Decision("deny", f"tools:{tool}",
                            f"the tool {tool} is not among this agent's tools")
        return self._decide_core(tool, target, access, fallback)

    def _decide_core(self, tool: str, target: str | Path, access: Access | None,
                     fallback: Verdict | None) -> Decision:
        kind = access or access_of(tool)
        if tool == "run_command" and kind == "other":
            return self._decide_command(str(target), fallback)
        if kind == "other" and tool not in FILE_TOOLS:
            return self._decide_other(tool, str(target), fallback)
        try:
            path = canonical(target, self.workspace)
        except ValueError as exc:
            return Decision("deny", "path-syntax", f"invalid path: {exc}")
        return self._decide_path(tool, path, self._lexical(target), "write" if kind == "write"
                                 else "read")

    def _tool_listed(self, tool: str) -> bool:
        listed = self.tools or frozenset()
        # reads are checked as "read_file" whichever read tool asks: any read tool will do
        names = READ_TOOLS if tool in READ_TOOLS else frozenset({tool})
        return any(n == t or fnmatchcase(n, t) for n in names for t in listed)

    # ------------------------------------------------------------------ narrowing
    def narrowed(self, *, grants: Iterable[Grant] | None = None, rules: Iterable[Rule] = (),
                 tools: Iterable[str] | None = None, mode: Mode | None = None,
                 deny_read: Iterable[str] = (), notes: Iterable[str] = ()) -> Policy:
        """A policy that can only do less than this one (for an agent or a team member).

        ``grants`` are intersected with this policy's (a folder outside them is dropped,
        write where this one only reads becomes read); ``rules`` and ``deny_read`` are added;
        ``tools`` restricts the tools (glob names); ``mode`` applies only when stricter. The
        result keeps the workspace, approver, ``--approve``, session id, this policy's hooks
        (live: hooks added here later are called too) and the session's approvals (shared).
        Every decision is also this policy's decision, and the stricter of the two wins, so
        nothing a narrowed policy allows is denied or asked here.
        """
        held = list(self.grants or [])
        mine = held if grants is None else intersect_grants(held, list(grants))
        stricter_mode: Mode = self.mode
        if mode is not None and _MODE_RANK[mode] > _MODE_RANK[self.mode]:
            stricter_mode = mode
        child = Policy(self.workspace, grants=mine, rules=[*self.rules, *rules],
                       mode=stricter_mode, approve=self.approve,
                       deny_read=[*self.deny_read, *deny_read], home=self.home,
                       bastion_home=self.bastion_home, approver=self.approver,
                       interactive=self.interactive, session_id=self.session_id,
                       user_settings_path=self.user_settings_path,
                       notes=[*self.notes, *notes],
                       tools=None if tools is None else frozenset(tools))
        child._parent = self
        child._session_approvals = self._session_approvals
        # git dirs named by .git files are protected here whether or not this grant survived
        child._git_dirs = list(dict.fromkeys([*self._git_dirs, *child._git_dirs]))
        return child

    # ------------------------------------------------------------------ descriptions
    def show(self, path: Path) -> str:
        return display_path(path, self.workspace)

    def is_hidden(self, path: Path) -> bool:
        return any(p.matches(path) for p in self._deny_patterns)

    def explain(self) -> list[str]:
        lines = [f"workspace: {self.workspace}", f"mode: {self.mode}",
                 f"approve: {self.approve}", "grants:"]
        lines += [f"  {g.access:5} {g.path}  ({g.source})" for g in self.grants or []]
        lines.append("rules (evaluated deny → ask → allow, first match wins):")
        for verdict in ("deny", "ask", "allow"):
            lines += [f"  {r.verdict:5} {r.text}  ({r.source})" for r in self.rules
                      if r.verdict == verdict]
        if not self.rules:
            lines.append("  (none)")
        lines.append("never readable or writable: " + ", ".join(p.source for p in self._deny_patterns))
        lines.append("read-only even inside writable folders (even when missing): "
                     + ", ".join(["/".join(s) + "/" for s in PROTECTED_SEQUENCES]
                                 + sorted(PROTECTED_NAMES)))
        lines += [f"protected git dir: {d}" for d in self._git_dirs]
        lines += [f"note: {n}" for n in self.notes]
        return lines

