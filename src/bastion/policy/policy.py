"""The policy decision point consulted by every tool call.

Evaluation of one file request (first step that answers wins):

1. invalid path → deny (``path-syntax``)
2. deny-read defaults and ``permissions.denyRead`` → deny, for reading *and* writing
3. writes to protected paths (``.bastion/``, ``.git/hooks``, ``.git`` itself, shell rc files,
   …) → deny; so is replacing, moving or deleting a folder that holds a protected path, a
   secret or a granted folder
4. a write through a symlink inside a grant that resolves outside every grant → deny
5. restricted mode: every write → deny
6. user rules: deny → ask → allow, first match wins (strict mode ignores allow rules for writes)
7. grants: the most specific grant holding the path decides — reads proceed; writes proceed
   in a write grant (ask in strict mode) and are denied in a read-only grant
8. outside every grant → ask

``run_command`` is decided per simple command (:mod:`bastion.policy.shell`): deny rules are
checked against every segment (and, as before, the whole line); a command that cannot be fully
analysed is at most asked; redirection targets are decided like writes (``<`` like reads);
"allow" needs every segment allowed by a rule. A rule ``Bash(git status:*)`` therefore never
allows ``git status && rm -rf ~``.

A policy made by :meth:`Policy.narrowed` also asks its parent and takes the stricter verdict,
so a narrowed policy can never allow what its parent would not.

"ask" is then settled: an earlier "this session" approval, ``--approve auto`` (allow),
``--approve never`` (deny), no terminal (deny), or the approver (a terminal prompt). Nothing
turns a deny into an allow. Every settled decision is passed to the ``on_decision`` hooks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from . import shell
from .approval import ApprovalRequest, Approver, terminal_approver, terminal_available
from .decision import Decision, DecisionHook, DecisionRecord, PolicyDenied
from .defaults import (
    PROTECTED_NAMES,
    PROTECTED_SEQUENCES,
    deny_read_paths,
    deny_read_patterns,
    git_dirs_of,
    protected_match,
    protected_paths,
)
from .paths import canonical, display_path, is_within
from .patterns import PathPattern, ScanMatcher
from .rules import FILE_TOOLS, READ_TOOLS, WRITE_TOOLS, Rule, Verdict, access_of
from .viewscan import ViewScan

Mode = Literal["standard", "strict", "restricted"]
ApproveMode = Literal["ask", "auto", "never"]
Access = Literal["read", "write"]
Preview = str | Callable[[], str | None] | None

SCAN_LIMIT = 50_000
#: entries looked at when a folder is about to be moved, replaced or deleted
CONTAINS_SCAN_LIMIT = 20_000
_VERDICT_RANK: dict[str, int] = {"allow": 0, "ask": 1, "deny": 2}
_MODE_RANK: dict[str, int] = {"standard": 0, "strict": 1, "restricted": 2}
_ACCESS_RANK: dict[str, int] = {"read": 0, "write": 1}


def stricter(a: Decision, b: Decision) -> Decision:
    """The stricter of two decisions (deny > ask > allow); ``a`` on a tie."""
    return b if _VERDICT_RANK[b.verdict] > _VERDICT_RANK[a.verdict] else a


@dataclass(frozen=True)
class Grant:
    path: Path
    access: Access
    source: str


@dataclass
class SandboxView:
    """The file-system view a sandbox must enforce to agree with :class:`Policy`.

    Unpacks as ``(read_only_roots, writable_roots, protected_paths, hidden_paths)``:
    bind ``read_only_roots`` read-only, ``writable_roots`` read-write, then ``protected_paths``
    read-only on top (mask the missing ones so they cannot be created) and hide
    ``hidden_paths`` (empty tmpfs for directories, an empty file for files). ``complete`` is
    False when the scan for nested secrets/protected paths hit its limit — fail closed then.
    """

    read_only_roots: tuple[Path, ...]
    writable_roots: tuple[Path, ...]
    protected_paths: tuple[Path, ...]
    hidden_paths: tuple[Path, ...]
    complete: bool = True
    protected_names: frozenset[str] = PROTECTED_NAMES
    protected_sequences: tuple[tuple[str, ...], ...] = PROTECTED_SEQUENCES

    def __iter__(self) -> Iterator[tuple[Path, ...]]:
        return iter((self.read_only_roots, self.writable_roots, self.protected_paths,
                     self.hidden_paths))


def _env_bastion_home() -> Path:
    env = os.environ.get("BASTION_HOME")
    if env:
        return Path(os.path.realpath(os.path.expanduser(env)))
    import platformdirs

    return Path(os.path.realpath(platformdirs.user_data_dir("bastion")))


@dataclass
class Policy:
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
        self.bastion_home = Path(os.path.realpath(self.bastion_home or _env_bastion_home()))
        if self.grants is None:
            self.grants = [Grant(self.workspace, "write", "default (workspace)")]
        # one grant per folder; the same folder granted twice gets the lesser access
        merged: dict[Path, Grant] = {}
        for g in self.grants:
            path = Path(os.path.realpath(g.path))
            seen = merged.get(path)
            if seen is None:
                merged[path] = Grant(path, g.access, g.source)
            elif _ACCESS_RANK[g.access] < _ACCESS_RANK[seen.access]:
                merged[path] = Grant(path, g.access, f"{g.source}; over {seen.source}")
        self.grants = list(merged.values())
        self._deny_patterns: list[PathPattern] = deny_read_patterns(
            self.workspace, self.home, self.bastion_home, self.deny_read)
        self._git_dirs: list[Path] = []
        for g in self.grants:
            if g.access == "write":
                self._git_dirs += git_dirs_of(g.path)
        self._hooks: list[DecisionHook] = [self.on_decision] if self.on_decision else []
        self._session_approvals: list[tuple[str, Access | str, Path | str]] = []
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
        """The most specific grant containing ``path``."""
        best: Grant | None = None
        for g in self.grants or []:
            if is_within(path, g.path) and (best is None or len(g.path.parts) > len(best.path.parts)):
                best = g
        return best

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

    def _decide_path(self, tool: str, path: Path, lexical: Path, access: Access) -> Decision:
        shown = self.show(path)
        for pat in self._deny_patterns:
            if pat.matches(path) or pat.matches(lexical):
                return Decision("deny", f"deny-read:{pat.source}",
                                f"{shown} may hold secrets ({pat.source} is never readable or "
                                "writable by the agent)")
        if access == "write":
            hit = protected_match(path) or protected_match(lexical)
            if hit is None and any(is_within(path, d) for d in self._git_dirs):
                hit = "git dir"
            if hit is not None:
                return Decision("deny", f"protected:{hit}",
                                f"{shown} is protected ({hit}): agent configuration, git hooks "
                                "and config, editor/CI settings and shell start-up files are "
                                "read-only for the agent, even inside a writable folder")
            held = self._folder_holds(path)
            if held is not None:
                return held
        if lexical != path and self.grant_for(lexical) is not None and self.grant_for(path) is None:
            return Decision("deny", "symlink-escape",
                            f"{self.show(lexical)} goes through a symlink that leads outside the "
                            f"workspace and every granted folder (to {path})")
        if access == "write" and self.mode == "restricted":
            return Decision("deny", "mode:restricted", "restricted mode allows no changes")
        for verdict in ("deny", "ask", "allow"):
            for rule in self.rules:
                if rule.verdict != verdict or not rule.matches(tool, path):
                    continue
                if verdict == "allow" and access == "write" and self.mode == "strict":
                    continue  # strict mode: every mutating call asks
                return Decision(rule.verdict, rule.describe(), f"rule {rule.text} ({rule.source})")
        grant = self.grant_for(path)
        if grant is None:
            return Decision("ask", "outside-grants",
                            f"{shown} is outside the workspace and every granted folder")
        if access == "read":
            return Decision("allow", f"grant:{grant.access}:{grant.path}",
                            f"inside the granted folder {grant.path}")
        if grant.access == "read":
            return Decision("deny", f"grant:read:{grant.path}",
                            f"{shown} is in a read-only folder ({grant.path}, {grant.source})")
        if self.mode == "strict":
            return Decision("ask", "mode:strict", "strict mode asks before every change")
        return Decision("allow", f"grant:write:{grant.path}",
                        f"inside the writable folder {grant.path}")

    def _folder_holds(self, path: Path) -> Decision | None:
        """Deny replacing, moving or deleting a real folder that holds something protected.

        Renaming a folder renames everything in it: ``mv sub x`` takes ``sub/.git/hooks``
        along and would free ``sub/.git`` for a directory of the agent's choosing.
        """
        if not os.path.isdir(path) or os.path.islink(path):
            return None
        shown = self.show(path)

        def deny(what: str, rule: str) -> Decision:
            return Decision("deny", f"protected:{rule}",
                            f"{shown} is a folder holding {what}; it cannot be replaced, moved "
                            "or deleted by the agent")

        for g in self.grants or []:
            if is_within(g.path, path):
                return deny(f"the granted folder {g.path}", "grant-root")
        for d in self._git_dirs:
            if is_within(d, path):
                return deny(f"the git directory {d}", "git dir")
        seen = 0
        for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
            for name in [*dirnames, *filenames]:
                p = Path(dirpath) / name
                hit = protected_match(p)
                if hit is not None:
                    return deny(f"{self.show(p)} ({hit})", f"contains {hit}")
                if self.is_hidden(p):
                    return deny(f"{self.show(p)}, which may hold secrets", "contains secret")
            seen += len(dirnames) + len(filenames)
            if seen > CONTAINS_SCAN_LIMIT:
                return deny(f"more than {CONTAINS_SCAN_LIMIT} entries (too many to check)",
                            "scan-limit")
        return None

    def _command_rule(self, verdict: str, segment: list[str]) -> Rule | None:
        """The first ``verdict`` rule for run_command that matches one simple command."""
        for rule in self.rules:
            if rule.verdict == verdict and rule.applies_to("run_command") and (
                    rule.specifier is None or shell.match_command_rule(rule.specifier, segment)):
                return rule
        return None

    def _line_rule(self, verdict: str, line: str) -> Rule | None:
        """The first ``verdict`` rule whose glob matches the whole line (deny and ask only:
        a rule written for whole lines keeps tightening; it never allows)."""
        for rule in self.rules:
            if rule.verdict == verdict and rule.matches("run_command", line):
                return rule
        return None

    def _decide_command(self, command: str, fallback: Verdict | None) -> Decision:
        """A command line: every simple command in it and every redirection (see module doc)."""
        analysis = shell.analyse(command)

        def by_rule(rule: Rule, what: str) -> Decision:
            return Decision(rule.verdict, rule.describe(),
                            f"rule {rule.text} ({rule.source}) matches {what!r}")

        rule = self._line_rule("deny", command)
        if rule is not None:
            return by_rule(rule, command)
        for seg in analysis.segments:
            rule = self._command_rule("deny", seg)
            if rule is not None:
                return by_rule(rule, " ".join(seg))
        asks: list[Decision] = []
        targets = [("write_file", t) for t in analysis.redirect_targets] + \
                  [("read_file", t) for t in analysis.read_targets]
        for tool, target in targets:
            d = self._decide_core(tool, target, None, None)
            if d.verdict == "deny":
                return Decision("deny", d.rule, f"redirection {target}: {d.reason}")
            if d.verdict == "ask":
                asks.append(Decision("ask", d.rule, f"redirection {target}: {d.reason}"))
        if self.mode == "restricted":
            return Decision("deny", "mode:restricted", "restricted mode runs no commands")
        if analysis.unanalysable is not None:
            return Decision("ask", "unanalysable",
                            f"the command cannot be fully analysed ({analysis.unanalysable}); "
                            "no rule can allow it")
        if asks:
            return asks[0]
        rule = self._line_rule("ask", command)
        if rule is not None:
            return by_rule(rule, command)
        for seg in analysis.segments:
            rule = self._command_rule("ask", seg)
            if rule is not None:
                return by_rule(rule, " ".join(seg))
        if self.mode == "strict":
            return Decision("ask", "mode:strict", "strict mode asks before every action")
        allowed_by: list[str] = []
        for seg in analysis.segments:
            rule = self._command_rule("allow", seg)
            if rule is not None:
                allowed_by.append(rule.describe())
            elif (fallback or "ask") == "allow":
                allowed_by.append("default")
            else:
                return Decision(fallback or "ask", "default",
                                f"no rule allows {' '.join(seg)!r}")
        return Decision("allow", ", ".join(dict.fromkeys(allowed_by)),
                        "every part of the command is allowed")

    def _decide_other(self, tool: str, target: str, fallback: Verdict | None) -> Decision:
        for verdict in ("deny", "ask", "allow"):
            for rule in self.rules:
                if rule.verdict == verdict and rule.matches(tool, target):
                    if verdict == "allow" and self.mode == "strict":
                        continue
                    return Decision(rule.verdict, rule.describe(),
                                    f"rule {rule.text} ({rule.source})")
        if self.mode == "restricted":
            return Decision("deny", "mode:restricted", "restricted mode allows only reading")
        if self.mode == "strict":
            return Decision("ask", "mode:strict", "strict mode asks before every action")
        return Decision(fallback or "allow", "default", "no rule matched")

    # ------------------------------------------------------------------ settled decisions
    def check(self, tool: str, target: str | Path, *, access: Access | None = None,
              preview: Preview = None, fallback: Verdict | None = None,
              decision: Decision | None = None) -> DecisionRecord:
        """Decide, settle an "ask" (approvals), record, and return the outcome (no raise).

        ``decision`` is a verdict the caller worked out itself (e.g. a stricter check of its
        own); it can only tighten: the stricter of it and the policy's own decision is settled.
        """
        own = self.decide(tool, target, access=access, fallback=fallback)
        decision = own if decision is None else stricter(own, decision)
        kind = access or access_of(tool)
        subject: Path | str
        if kind in ("read", "write") or tool in FILE_TOOLS:
            subject = canonical(target, self.workspace) if decision.rule != "path-syntax" \
                else Path("/")
            shown = self.show(subject)
        else:
            subject, shown = str(target), str(target)
        outcome, settled = decision.verdict, "policy"
        if decision.verdict == "ask":
            outcome, settled = self._settle(tool, str(kind), subject, shown, decision, preview)
        record = DecisionRecord(tool=tool, target=shown, access=str(kind),
                                verdict=decision.verdict, rule=decision.rule,
                                reason=decision.reason, outcome=outcome, settled_by=settled,
                                session_id=self.session_id, tool_call_id=self._call_id)
        for hook in self.hooks():
            hook(record)
        return record

    def _approved_for_session(self, family: str, subject: Path | str) -> bool:
        for fam, _access, approved in self._session_approvals:
            if fam != family:
                continue
            if isinstance(approved, Path) and isinstance(subject, Path):
                if is_within(subject, approved):
                    return True
            elif approved == subject:
                return True
        return False

    def _settle(self, tool: str, access: str, subject: Path | str, shown: str,
                decision: Decision, preview: Preview) -> tuple[Verdict, str]:
        family = "write" if tool in WRITE_TOOLS else ("read" if access == "read" else tool)
        if self._approved_for_session(family, subject):
            return "allow", "approval:session"
        if self.approve == "auto":
            return "allow", "approve:auto"
        if self.approve == "never":
            return "deny", "approve:never"
        interactive = terminal_available() if self.interactive is None else self.interactive
        if not interactive:
            return "deny", "no-tty"
        text = preview() if callable(preview) else preview
        req = ApprovalRequest(tool=tool, target=shown, access=access, rule=decision.rule,
                              reason=decision.reason, arguments=self._call_args, preview=text,
                              always_rule=self._always_rule(tool, family, subject))
        answer = (self.approver or terminal_approver())(req)
        if answer in ("session", "always"):
            self._session_approvals.append((family, access, subject))
        if answer == "always" and req.always_rule:
            self._persist_allow(req.always_rule)
        return ("deny" if answer == "deny" else "allow"), f"user:{answer}"

    def _always_rule(self, tool: str, family: str, subject: Path | str) -> str | None:
        if self.user_settings_path is None:
            return None
        if isinstance(subject, Path):
            name = "Write" if family == "write" else "Read"
            return f"{name}(//{str(subject).lstrip('/')})"
        return f"{tool}({subject})"

    def _persist_allow(self, rule_text: str) -> None:
        from bastion.config import read_settings_json, write_settings_json

        assert self.user_settings_path is not None
        data = read_settings_json(self.user_settings_path)
        perms = data.setdefault("permissions", {})
        allow = perms.setdefault("allow", [])
        if rule_text not in allow:
            allow.append(rule_text)
            write_settings_json(self.user_settings_path, data)
        rule = Rule.parse(rule_text, "allow", "user settings (always)", self.workspace,
                          self.home)
        policy: Policy | None = self
        while policy is not None:  # the user's answer holds for the whole session
            policy.rules.append(rule)
            policy = policy._parent

    def _require(self, tool: str, raw: str, access: Access, preview: Preview) -> Path:
        record = self.check(tool, raw, access=access, preview=preview)
        if record.verdict == "deny" and record.rule == "path-syntax":
            raise PolicyDenied(f"invalid path {raw!r}: {record.reason}", record.rule)
        path = self.canonical(raw)
        if record.outcome == "allow":
            return path
        verb = "reading" if access == "read" else "changing"
        if record.verdict == "ask":
            why = {"no-tty": "it needs approval and there is no terminal to ask",
                   "approve:never": "it needs approval and --approve never is set"}.get(
                record.settled_by, "the user declined")
            raise PolicyDenied(
                f"{verb} {raw!r} denied: {record.reason}; {why}", record.rule,
                hint="grant the folder in permissions.folders, add an allow rule, "
                     "or run with --approve auto")
        raise PolicyDenied(f"{verb} {raw!r} denied: {record.reason}", record.rule)

    def resolve_read(self, raw: str) -> Path:
        """The canonical path for reading ``raw``, or :class:`PolicyDenied` saying why."""
        return self._require("read_file", raw, "read", None)

    def resolve_write(self, raw: str, tool: str = "write_file", preview: Preview = None) -> Path:
        """The canonical path for changing ``raw`` with ``tool``, or :class:`PolicyDenied`.

        ``preview`` (text or a callable producing it) is shown in an approval prompt.
        """
        return self._require(tool, raw, "write", preview)

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
        mine = held if grants is None else _intersect_grants(held, list(grants))
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

    def sandbox_view(self, scan_limit: int = SCAN_LIMIT) -> SandboxView:
        """The grants and protections compiled for an OS sandbox (see :class:`SandboxView`)."""
        grants = self.grants or []
        writable = tuple(g.path for g in grants
                         if g.access == "write" and self.mode != "restricted")
        read_only = tuple(g.path for g in grants if g.path not in writable)
        protected: list[Path] = []
        for root in writable:
            protected += protected_paths(root)
        hidden: list[Path] = [p for p in deny_read_paths(self.home or Path.home(),
                                                         self.bastion_home or _env_bastion_home())]
        # literal absolute denyRead entries (BASTION_HOME, user additions) hide as they are
        hidden += [Path(os.path.realpath("/" + p.source.lstrip("/"))) for p in self._deny_patterns
                   if p.source.startswith("/") and not any(c in p.source for c in "*?[")]
        # One walk per grant root (nested grants are walked again; duplicates dropped below).
        scan = ViewScan(_scan_matcher(tuple(self._deny_patterns)), writable, scan_limit)
        for root in dict.fromkeys(g.path for g in grants):
            scan.scan(root, self.is_hidden(root))
        protected += scan.protected
        hidden += scan.hidden
        complete = scan.complete
        return SandboxView(read_only, writable, tuple(dict.fromkeys(protected)),
                           tuple(dict.fromkeys(hidden)), complete)


@lru_cache(maxsize=64)
def _scan_matcher(patterns: tuple[PathPattern, ...]) -> ScanMatcher:
    """The deny patterns compiled for :class:`ViewScan` (policies share equal pattern lists)."""
    return ScanMatcher(patterns)


def _intersect_grants(held: list[Grant], wanted: list[Grant]) -> list[Grant]:
    """Grants giving, at every path, the lesser access of ``held`` and ``wanted``.

    Candidate roots are the wanted grants inside a held one and the held grants inside a
    wanted one; each gets the lesser of the two accesses in force there. The most specific
    candidate holding a path is then also the most specific grant of each side, so the
    result is the exact intersection.
    """

    def access_at(grants: list[Grant], path: Path) -> Grant | None:
        best: Grant | None = None
        for g in grants:
            if is_within(path, g.path) and (best is None or
                                            len(g.path.parts) > len(best.path.parts)):
                best = g
        return best

    wanted = [Grant(Path(os.path.realpath(g.path)), g.access, g.source) for g in wanted]
    out: dict[Path, Grant] = {}
    for g in [*wanted, *held]:
        h, w = access_at(held, g.path), access_at(wanted, g.path)
        if h is None or w is None or g.path in out:
            continue
        access: Access = w.access if _ACCESS_RANK[w.access] < _ACCESS_RANK[h.access] else h.access
        source = w.source if access == w.access else f"{w.source}; narrowed to {h.access} " \
            f"({h.source})"
        out[g.path] = Grant(g.path, access, source)
    return list(out.values())
