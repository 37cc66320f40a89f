"""The one policy decision point: grants, rules, modes, approvals, path safety, trust.

Public API
----------
``Policy(workspace, *, grants=None, rules=[], mode="standard", approve="ask", deny_read=[],
home=None, bastion_home=None, approver=None, interactive=None, on_decision=None,
session_id=None, user_settings_path=None, tools=None)`` — ``Policy(workspace)`` grants the workspace for
writing with the built-in protections. Usually built with
``build_policy(settings, workspace, *, bastion_home, mode=None, approve="ask", session_id=None,
approver=None, interactive=None, on_decision=None, user_settings_path=None)``, which merges
user settings, the project's ``.bastion/settings.json`` (tightening only until trusted) and flags.

- ``policy.decide(tool, target, *, access=None, fallback=None) -> Decision`` — pure:
  ``Decision(verdict: "allow"|"ask"|"deny", rule: str, reason: str)``. ``target`` is a path for
  file tools, else the tool's target string (command line, URL); ``fallback`` is the verdict for
  a non-file tool that no rule matches. For ``run_command`` the target is the command line,
  decided per simple command (:mod:`bastion.policy.shell`): rules match one segment at a
  time, redirection targets are decided like writes (``<`` like reads), a command that cannot
  be fully analysed is at most "ask", and "allow" needs every segment allowed — so
  ``Bash(git status:*)`` never allows ``git status && rm -rf ~``.
- ``policy.authorize(tool, requests: list[Request], *, decision=None) -> Authorization`` — the
  gate's side: every request of one tool call (``Request(target, access=None, tool=None,
  name="path", preview=None, fallback=None)``) decided, the strictest verdict settled once and
  recorded once; ``auth.allowed``, ``auth.targets`` (name → canonical path or target string,
  empty unless allowed), ``auth.record``, ``auth.message()``. An "ask" outside every grant
  (``Decision.outside``) is settled only by a person at a terminal, for that call.
- ``policy.check(tool, target, *, access=None, preview=None, fallback=None, decision=None)
  -> DecisionRecord`` — decides, settles "ask" (session approvals, ``--approve``, terminal
  prompt; no terminal → deny), calls every hook, never raises. ``record.outcome`` is "allow"
  or "deny". ``decision``: a verdict the caller computed; it can only tighten (the stricter of
  it and the policy's own is settled).
- ``policy.narrowed(*, grants=None, rules=(), tools=None, mode=None, deny_read=(), notes=())
  -> Policy`` — a policy that can only do less: grants intersected, rules and deny-read
  patterns added, ``tools`` (names/globs) restricting, ``mode`` only if stricter; keeps the
  approver, ``--approve``, session id, hooks (live) and "this session" approvals (shared);
  every decision is also this policy's, the stricter wins.
- ``policy.hooks() -> list[DecisionHook]`` — the hooks a settled decision goes to.
- ``policy.resolve_read(raw) -> Path`` / ``policy.resolve_write(raw, tool="write_file",
  preview=None) -> Path`` — canonical path or :class:`PolicyDenied` (message for the model).
- ``policy.add_hook(fn)`` / ``Policy(on_decision=fn)`` — ``fn(DecisionRecord)`` for every
  settled decision (tool, target, access, verdict, rule, reason, outcome, settled_by,
  session_id, tool_call_id, at).
- ``policy.begin_call(call_id, tool, arguments)`` — the loop names the current tool call.
- ``policy.sandbox_view(scan_limit=50000) -> SandboxView`` — unpacks as
  ``(read_only_roots, writable_roots, protected_paths, hidden_paths)`` (tuples of absolute
  Paths); also ``.complete`` (False → the nested scan hit its limit: fail closed),
  ``.protected_names`` and ``.protected_sequences`` (names matched at any depth).
- ``protected_paths(root) -> list[Path]``, ``protected_match(path) -> str | None``,
  ``deny_read_paths(home, bastion_home) -> list[Path]``, ``policy.is_hidden(path) -> bool``.
- ``TrustStore(bastion_home).state(dir) / trust(dir) / untrust(dir) / is_trusted(dir)``.
- ``safefs`` — :mod:`bastion.safefs` (below policy and journal, re-exported here):
  ``open_dir``/``parent_dir`` (``O_NOFOLLOW`` per component), ``entry_at``, ``read_at``,
  ``write_atomic_at``.
"""

from bastion import safefs

from .approval import Answer, ApprovalRequest, Approver, terminal_approver, terminal_available
from .approvals import Authorization, Request, stricter
from .build import build_policy, project_settings, validate_rules
from .decision import Decision, DecisionHook, DecisionRecord, PolicyDenied, session_event_hook
from .defaults import deny_read_paths, protected_match, protected_paths
from .paths import canonical, display_path, is_within
from .patterns import PathPattern, PatternError
from .policy import ApproveMode, Grant, Mode, Policy, SandboxView
from .rules import FAMILIES, FILE_TOOLS, Rule, RuleError, Verdict, fallback_for, known_tool
from .trust import TrustStore, project_digest, project_files

__all__ = [
    "FAMILIES",
    "FILE_TOOLS",
    "Answer",
    "ApprovalRequest",
    "ApproveMode",
    "Approver",
    "Authorization",
    "Decision",
    "DecisionHook",
    "DecisionRecord",
    "Grant",
    "Mode",
    "PathPattern",
    "PatternError",
    "Policy",
    "PolicyDenied",
    "Request",
    "Rule",
    "RuleError",
    "SandboxView",
    "TrustStore",
    "Verdict",
    "build_policy",
    "canonical",
    "deny_read_paths",
    "display_path",
    "fallback_for",
    "is_within",
    "known_tool",
    "project_digest",
    "project_files",
    "project_settings",
    "protected_match",
    "protected_paths",
    "safefs",
    "session_event_hook",
    "stricter",
    "terminal_approver",
    "terminal_available",
    "validate_rules",
]
