"""``run_command(command, timeout_s?)``: a shell command, decided, sandboxed and journaled.

The same :class:`CommandRunner` serves ``bastion exec``, so the agent and the user's own
commands run under exactly the same sandbox. Steps: the gate decides the command line (per
simple command and redirection, :mod:`bastion.policy.commands`) → snapshot the write grants
(pre-images) →
run under bubblewrap → snapshot again and diff → undo anything the command created in a
protected or secret location → record the change set in the journal → report.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from bastion.config import SandboxSettings
from bastion.datamodel import Field
from bastion.errors import BastionError
from bastion.fsutil import remove_tree
from bastion.journal import (
    ChangeRecord,
    MemoryBlobStore,
    Skipped,
    Snapshot,
    SnapshotCache,
    begin_intent,
    diff_snapshots,
    end_intent,
    revert,
    take_snapshot,
    to_file_changes,
)
from bastion.policy import Authorization, DecisionRecord, Request, Verdict
from bastion.sandbox import (
    CommandResult,
    SandboxUnavailable,
    build_env,
    compile_spec,
    run_sandboxed,
    run_unsandboxed,
)

from .base import Granted, Tool, ToolArgs, ToolContext, ToolResult
from .secretfiles import SecretFiles, unrestorable_paths


@dataclass
class CommandOutcome:
    """Everything about one command: the decision, the result, the changes."""

    command: str
    verdict: Verdict = "deny"
    outcome: Verdict = "deny"
    rule: str | None = None
    reason: str = ""
    result: CommandResult | None = None
    changes: list[ChangeRecord] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    op_id: str | None = None
    error: str | None = None
    #: files hidden from the command because they hold secrets
    hidden_secret_files: list[str] = field(default_factory=list)
    #: unattended: paths the journal cannot keep, read-only for the command
    read_only_unjournaled: list[str] = field(default_factory=list)

    @property
    def ran(self) -> bool:
        return self.result is not None


class CommandRunner:
    """Runs commands for one session; keeps the snapshot cache between commands."""

    def __init__(self, policy: Any, settings: SandboxSettings, *, journal: Any = None,
                 session_id: str | None = None) -> None:
        self.policy = policy
        self.settings = settings
        self.journal = journal
        self.session_id = session_id
        self.blobs: Any = journal.blobs if journal is not None else MemoryBlobStore()
        self.cache = SnapshotCache()
        self.secret_files = SecretFiles(getattr(journal, "db", None))

    # ------------------------------------------------------------ running
    def run(self, command: str | list[str], timeout_s: float | None = None, *,
            tool_call_id: str | None = None, authorized: bool | DecisionRecord = False,
            tool: str = "run_command") -> CommandOutcome:
        """Run and journal a command the gate authorised (``authorized`` is its record), the
        user typed (``True``: ``bastion exec``), or — for direct library use — that the gate
        authorises now."""
        text = command if isinstance(command, str) else " ".join(command)
        out = CommandOutcome(command=text)
        if authorized is True:
            out.verdict = out.outcome = "allow"
            out.rule, out.reason = "user", "run by the user (bastion exec)"
        else:
            record = authorized if isinstance(authorized, DecisionRecord) else \
                self.policy.authorize(tool, command_requests(text)).record
            out.verdict, out.rule, out.reason = record.verdict, record.rule, record.reason
            out.outcome = record.outcome
            if out.outcome != "allow":
                why = f"; {record.why_not_approved()}" if record.verdict == "ask" else ""
                out.error = f"command denied: {record.reason}{why}"
                return out
        limit = min(timeout_s or self.default_timeout(tool), self.settings.max_timeout_s)
        try:
            return self._execute(command, out, limit, tool_call_id, tool)
        except SandboxUnavailable as exc:
            out.error = exc.message + (f" ({exc.hint})" if exc.hint else "")
            return out

    def default_timeout(self, tool: str) -> float:
        """The wall clock when none is asked for: short when nobody is watching
        (``--approve auto|never``, no terminal to ask, ``bastion exec``)."""
        default = self.settings.default_timeout_s
        if tool == "exec" or _unattended(self.policy):
            return min(default, self.settings.unattended_timeout_s)
        return default

    def _view(self) -> Any:
        return self.policy.sandbox_view() if hasattr(self.policy, "sandbox_view") else None

    def _roots(self, view: Any = None) -> list[Path]:
        view = view if view is not None else self._view()
        return list(view.writable_roots) if view is not None else [Path(self.policy.workspace)]

    def _execute(self, command: str | list[str], out: CommandOutcome, timeout_s: float,
                 tool_call_id: str | None, tool: str) -> CommandOutcome:
        # one scan of the granted folders per command: it feeds both the snapshot roots and the
        # sandbox spec (it used to run twice, and dominates the cost in a large workspace)
        view = self._view()
        roots = self._roots(view)
        lock = _workspace_lock(Path(self.policy.workspace), timeout_s)
        if lock is None:
            out.error = ("another session's command is still running in this workspace; "
                         "nothing was run (try again when it has finished)")
            return out
        try:
            return self._execute_locked(command, out, timeout_s, tool_call_id, tool, view, roots)
        finally:
            os.close(lock)

    def _execute_locked(self, command: str | list[str], out: CommandOutcome, timeout_s: float,
                        tool_call_id: str | None, tool: str, view: Any,
                        roots: list[Path]) -> CommandOutcome:
        mark = self.journal.max_seq() if self.journal is not None else 0
        before = take_snapshot(roots, self.blobs, cache=self.cache)
        summary = f"{tool}: {out.command[:100]}"
        intent = None if self.journal is None else begin_intent(
            self.journal, before, session_id=self.session_id, tool_call_id=tool_call_id,
            tool=tool, summary=summary)  # a SIGKILL from here on is recovered at start-up
        try:
            if self.settings.mode == "none":
                env = build_env(os.environ, workspace=Path(self.policy.workspace))
                out.result = run_unsandboxed(command, Path(self.policy.workspace), env,
                                             timeout_s, self.settings.output_limit)
            else:
                view = self._hide_secret_files(view, before, out)
                view = self._guard_unrestorable(view, before, out)
                spec = compile_spec(self.policy, self.settings, hardlinks=before.hardlinks,
                                    view=view)
                out.result = run_sandboxed(command, spec, timeout_s, self.settings.output_limit)
        except KeyboardInterrupt:  # Ctrl-C, SIGTERM, SIGHUP: the command's tree is dead by now
            self._journal_interrupted(roots, before, out, tool_call_id, tool)
            if intent is not None:
                end_intent(self.journal, intent)
            raise
        after = take_snapshot(roots, self.blobs, cache=self.cache)
        stripped = strip_setid(diff_snapshots(before, after))
        if stripped:  # journaled without the bits, so undo/redo never brings them back
            after = take_snapshot(roots, self.blobs, cache=self.cache)
        out.changes = diff_snapshots(before, after)
        out.skipped = after.skipped
        undone = self._undo_violations(out.changes, before, after)
        out.violations = stripped + undone
        if undone:
            after = take_snapshot(roots, self.blobs, cache=self.cache)
            out.changes = diff_snapshots(before, after)
        if self.journal is not None:  # what other sessions did meanwhile is theirs, not ours
            out.changes = _not_theirs(out.changes, self.journal.others_since(mark,
                                                                             self.session_id))
        _audit(out, tool)
        if out.changes and self.journal is not None:
            skipped_note = f"; not journaled: {len(after.skipped)}" if after.skipped else ""
            out.op_id = self.journal.record_change_set(
                self.session_id, tool_call_id, tool, to_file_changes(out.changes),
                summary=f"{summary}{skipped_note}")
        if intent is not None:
            end_intent(self.journal, intent)
        return out

    def _hide_secret_files(self, view: Any, before: Snapshot, out: CommandOutcome) -> Any:
        """Files in the grants that hold secrets are masked for this command (see
        :mod:`bastion.tools.secretfiles`); ``out.hidden_secret_files`` names them."""
        if view is None or not self.settings.hide_secret_files:
            return view
        found = self.secret_files.find(before.entries)
        if not found:
            return view
        out.hidden_secret_files = found
        return dataclasses.replace(view, hidden_paths=(*view.hidden_paths, *map(Path, found)))

    def _guard_unrestorable(self, view: Any, before: Snapshot, out: CommandOutcome) -> Any:
        """Unattended, what the journal cannot keep (``.git``, virtual environments,
        ``node_modules``, files over the size limit, special files) is read-only for the
        command: nobody is there to accept a change that undo could not reverse. Names in
        ``sandbox.unattendedWritableUnjournaled`` (regenerated caches) stay writable."""
        if view is None or not before.skipped or not _unattended(self.policy):
            return view
        paths = unrestorable_paths(before.skipped,
                                   frozenset(self.settings.unattended_writable_unjournaled))
        if not paths:
            return view
        out.read_only_unjournaled = paths
        return dataclasses.replace(view,
                                   protected_paths=(*view.protected_paths, *map(Path, paths)))

    def _journal_interrupted(self, roots: list[Path], before: Snapshot, out: CommandOutcome,
                             tool_call_id: str | None, tool: str) -> None:
        """What an interrupted command changed is journaled (undoable) before unwinding."""
        changes = diff_snapshots(before, take_snapshot(roots, self.blobs, cache=self.cache))
        if changes and self.journal is not None:
            self.journal.record_change_set(
                self.session_id, tool_call_id, tool, to_file_changes(changes),
                summary=f"{tool} (interrupted): {out.command[:100]}")

    def _undo_violations(self, changes: list[ChangeRecord], before: Snapshot,
                         after: Snapshot) -> list[str]:
        """Protected or secret paths the command created at a depth the sandbox could not
        cover in advance (e.g. ``sub/.git/hooks``) are removed again: policy says no."""
        from bastion.policy import protected_match

        is_hidden = getattr(self.policy, "is_hidden", lambda p: False)
        bad = [c for c in changes if c.action == "created"
               and (protected_match(Path(c.path)) or is_hidden(Path(c.path)))]
        revert(bad, self.blobs)
        violations = [f"{c.path}: created in a protected location; removed" for c in bad]
        old = {s.path for s in before.skipped}
        for s in after.skipped:  # a new skipped tree such as a fresh .git directory
            p = Path(s.path)
            if s.path not in old and p.is_dir() and not p.is_symlink() and \
                    protected_match(p / "config"):
                with contextlib.suppress(OSError):
                    remove_tree(p)  # made by the command: any depth
                violations.append(f"{s.path}: created in a protected location; removed")
        return violations


def _workspace_lock(workspace: Path, timeout_s: float) -> int | None:
    """One command at a time per workspace (across sessions and processes), so no command's
    snapshot diff ever holds another command's changes. None when the wait timed out."""
    from bastion.fsutil import acquire_lock
    from bastion.home import bastion_home

    folder = bastion_home() / "locks"
    folder.mkdir(mode=0o700, exist_ok=True)
    name = hashlib.sha256(os.fsencode(str(workspace))).hexdigest()[:24]
    return acquire_lock(folder / f"ws-{name}.lock", shared=False, timeout_s=timeout_s)


def _not_theirs(changes: list[ChangeRecord],
                theirs: dict[str, tuple[str, str | None]]) -> list[ChangeRecord]:
    """Drop the changes another session's journaled operation made (same path, same state)."""
    def made_by_them(c: ChangeRecord) -> bool:
        if c.path not in theirs:
            return False
        kind, digest = theirs[c.path]
        if c.action == "deleted":
            return kind == "missing"
        return kind == c.kind and (c.kind == "dir" or digest == c.after_sha)
    return [c for c in changes if not made_by_them(c)]


def _unattended(policy: Any) -> bool:
    if getattr(policy, "approve", "ask") != "ask":
        return True
    interactive = getattr(policy, "interactive", False)
    if interactive is None:
        from bastion.policy import terminal_available

        return not terminal_available()
    return not interactive


def strip_setid(changes: list[ChangeRecord]) -> list[str]:
    """Clear set-uid/set-gid bits on what the command created or changed (before it is
    journaled, so undo/redo never brings them back); one line per file."""
    notes = []
    for c in changes:
        if c.action == "deleted" or c.kind != "file" or not (c.after_mode or 0) & 0o6000:
            continue
        with contextlib.suppress(OSError):
            st = os.lstat(c.path)
            if st.st_mode & 0o6000 and not os.path.islink(c.path):
                os.chmod(c.path, st.st_mode & 0o1777, follow_symlinks=False)
                notes.append(f"{c.path}: set-uid/set-gid bit removed")
    return notes


def command_requests(command: str) -> list[Request]:
    """What a command line needs from the gate: the line itself (decided per simple command
    and redirection; no rule match → ask)."""
    return [Request(command, None, tool="run_command", name="command", preview=command,
                    fallback="ask")]


def _audit(out: CommandOutcome, tool: str) -> None:
    try:
        from bastion import audit
    except ImportError:
        return
    r = out.result
    assert r is not None
    audit.record("command", "run", {
        "tool": tool, "command": out.command[:2000], "exit_code": r.exit_code,
        "sandboxed": r.sandboxed, "timed_out": r.timed_out,
        "stopped": getattr(r, "stopped", None),
        "changed_files": [c.path for c in out.changes][:200],
        "not_journaled": [s.path for s in out.skipped][:50], "violations": out.violations,
    })


def format_outcome(out: CommandOutcome, limit: int = 32_000) -> str:
    if out.error and out.result is None:
        return out.error
    r = out.result
    assert r is not None
    lines = [f"exit code: {r.exit_code}"]
    if r.timed_out and not r.limit_notes:
        lines.append(f"timed out after {r.duration:.1f}s; the command and all its processes "
                     "were killed")
    lines += r.limit_notes
    if not r.sandboxed:
        lines.append("WARNING: ran without a sandbox (sandbox.mode = none)")
    half = max(1000, limit // 2)
    for name, text in (("stdout", r.stdout), ("stderr", r.stderr)):
        if text:
            shown = text if len(text) <= half else text[:half] + f"\n[... {len(text) - half} " \
                "more characters cut]"
            lines.append(f"{name}:\n{shown.rstrip()}")
    if r.truncated:
        lines.append("(output was cut at the output limit)")
    if out.changes:
        lines.append("changed: " + ", ".join(f"{c.action} {c.path}" for c in out.changes[:20])
                     + (f" (+{len(out.changes) - 20} more)" if len(out.changes) > 20 else ""))
    if out.skipped:
        lines.append("not journaled: " + ", ".join(s.path for s in out.skipped[:5])
                     + (f" (+{len(out.skipped) - 5} more)" if len(out.skipped) > 5 else ""))
    lines += out.violations
    if out.read_only_unjournaled:
        names = out.read_only_unjournaled
        lines.append("read-only for this unattended command because undo could not restore "
                     "them: " + ", ".join(names[:10])
                     + (f" (+{len(names) - 10} more)" if len(names) > 10 else ""))
    if out.hidden_secret_files:
        names = out.hidden_secret_files
        lines.append("hidden from the command because they hold secrets (read_file shows them "
                     "with the secrets redacted): " + ", ".join(names[:10])
                     + (f" (+{len(names) - 10} more)" if len(names) > 10 else ""))
    return "\n".join(lines)


class RunCommandArgs(ToolArgs):
    command: str = Field(description="Shell command line to run in the workspace (sandboxed)")
    timeout_s: float | None = Field(default=None, gt=0,
                                    description="Wall-clock limit in seconds")


class RunCommand(Tool[RunCommandArgs]):
    name: ClassVar[str] = "run_command"
    description: ClassVar[str] = (
        "Run a shell command in the workspace inside a sandbox (no network, only the "
        "granted folders writable). Returns exit code, stdout and stderr.")
    Args = RunCommandArgs
    read_only: ClassVar[bool] = False

    def __init__(self, settings: SandboxSettings | None = None, journal: Any = None) -> None:
        self.settings = settings or SandboxSettings()
        self.journal = journal
        self._runners: dict[int, CommandRunner] = {}

    def runner(self, ctx: ToolContext) -> CommandRunner:
        key = id(ctx.policy)
        if key not in self._runners:
            journal = self.journal if self.journal is not None else ctx.extras.get("journal")
            self._runners[key] = CommandRunner(ctx.policy, self.settings, journal=journal,
                                               session_id=ctx.session_id)
        return self._runners[key]

    def requests(self, args: RunCommandArgs, ctx: ToolContext) -> list[Request]:
        return command_requests(args.command)

    def denied(self, auth: Authorization) -> ToolResult:
        r = auth.record
        why = f"; {r.why_not_approved()}" if r.verdict == "ask" else ""
        return ToolResult(f"command denied: {r.reason}{why}", is_error=True,
                          details={"verdict": r.verdict, "outcome": r.outcome, "rule": r.rule,
                                   "denied": True})

    def execute(self, args: RunCommandArgs, ctx: ToolContext, granted: Granted) -> ToolResult:
        assert granted.authorization is not None
        try:
            out = self.runner(ctx).run(granted.target("command"), args.timeout_s,
                                       tool_call_id=ctx.tool_call_id,
                                       authorized=granted.authorization.record)
        except (BastionError, OSError) as exc:  # errors are results, never exceptions
            return ToolResult(f"command failed to start: {exc}", is_error=True)
        details: dict[str, Any] = {"verdict": out.verdict, "outcome": out.outcome,
                                   "rule": out.rule}
        if out.result is None:
            details["denied"] = out.outcome != "allow"
            return ToolResult(out.error or "command not run", is_error=True, details=details)
        r = out.result
        details.update(exit_code=r.exit_code, timed_out=r.timed_out, sandboxed=r.sandboxed,
                       stopped=r.stopped, limits=r.limit_notes,
                       truncated=r.truncated, duration=round(r.duration, 3),
                       op_id=out.op_id, changes=[c.to_dict() for c in out.changes],
                       skipped=[s.path for s in out.skipped], violations=out.violations)
        with contextlib.suppress(Exception):
            details["notes"] = r.notes
        return ToolResult(format_outcome(out), is_error=r.exit_code != 0, details=details)
