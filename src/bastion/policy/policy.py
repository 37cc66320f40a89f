"""The policy decision point consulted by every tool call.

Evaluation of one file request (first step that answers wins):

1. invalid path → deny (``path-syntax``)
2. deny-read defaults and ``permissions.denyRead`` → deny, for reading *and* writing
3. writes to protected paths (``.bastion/``, ``.git/hooks``, shell rc files, …) → deny
4. a write through a symlink inside a grant that resolves outside every grant → deny
5. restricted mode: every write → deny
6. user rules: deny → ask → allow, first match wins (strict mode ignores allow rules for writes)
7. grants: the most specific grant holding the path decides — reads proceed; writes proceed
   in a write grant (ask in strict mode) and are denied in a read-only grant
8. outside every grant → ask

"ask" is then settled: an earlier "this session" approval, ``--approve auto`` (allow),
``--approve never`` (deny), no terminal (deny), or the approver (a terminal prompt). Nothing
turns a deny into an allow. Every settled decision is passed to the ``on_decision`` hooks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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
from .patterns import PathPattern
from .rules import FILE_TOOLS, WRITE_TOOLS, Rule, Verdict, access_of

Mode = Literal["standard", "strict", "restricted"]
ApproveMode = Literal["ask", "auto", "never"]
Access = Literal["read", "write"]
Preview = str | Callable[[], str | None] | None

SCAN_LIMIT = 50_000


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

    def __post_init__(self) -> None:
        self.workspace = Path(os.path.realpath(self.workspace))
        self.home = Path(os.path.realpath(self.home or os.path.expanduser("~")))
        self.bastion_home = Path(os.path.realpath(self.bastion_home or _env_bastion_home()))
        if self.grants is None:
            self.grants = [Grant(self.workspace, "write", "default (workspace)")]
        self.grants = [Grant(Path(os.path.realpath(g.path)), g.access, g.source)
                       for g in self.grants]
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

    # ------------------------------------------------------------------ hooks and calls
    def add_hook(self, hook: DecisionHook) -> None:
        """Called with every settled :class:`DecisionRecord` (the audit log connects here)."""
        self._hooks.append(hook)

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
        kind = access or access_of(tool)
        if kind == "other" and tool not in FILE_TOOLS:
            return self._decide_other(tool, str(target), fallback)
        try:
            path = canonical(target, self.workspace)
        except ValueError as exc:
            return Decision("deny", "path-syntax", f"invalid path: {exc}")
        return self._decide_path(tool, path, self._lexical(target), "write" if kind == "write"
                                 else "read")

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
              preview: Preview = None, fallback: Verdict | None = None) -> DecisionRecord:
        """Decide, settle an "ask" (approvals), record, and return the outcome (no raise)."""
        decision = self.decide(tool, target, access=access, fallback=fallback)
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
        for hook in self._hooks:
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
        self.rules.append(Rule.parse(rule_text, "allow", "user settings (always)",
                                     self.workspace, self.home))

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
        seen = 0
        complete = True
        for root in {g.path for g in grants}:
            for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
                base = Path(dirpath)
                keep = []
                for name in dirnames:
                    p = base / name
                    if self.is_hidden(p):
                        hidden.append(p)
                    elif name == ".git":
                        protected += [p / "hooks", p / "config"]
                    else:
                        if protected_match(p) and any(is_within(p, w) for w in writable):
                            protected.append(p)
                        keep.append(name)
                dirnames[:] = keep
                for name in filenames:
                    p = base / name
                    if self.is_hidden(p):
                        hidden.append(p)
                    elif protected_match(p) and any(is_within(p, w) for w in writable):
                        protected.append(p)
                seen += len(filenames) + len(dirnames)
                if seen > scan_limit:
                    complete = False
                    break
        return SandboxView(read_only, writable, tuple(dict.fromkeys(protected)),
                           tuple(dict.fromkeys(hidden)), complete)
