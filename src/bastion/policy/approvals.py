"""The gate's policy side: a tool call's requests decided together, settled once, recorded once.

:meth:`Approvals.authorize` takes everything one tool call declared it needs (paths to read or
write, a command line, a URL, an MCP call, a delegation), decides each, takes the strictest
verdict, settles an "ask" once and calls the decision hooks once. An "ask" is settled by, in
order:

- a request outside every grant (``Decision.outside``): only a person at a terminal, for
  this call and these exact paths — ``--approve auto`` and ``never`` deny it, no terminal
  denies it, an earlier "this session" answer does not cover it, nothing is persisted;
- an earlier "this session" approval covering every asked target;
- ``--approve auto`` (allow), ``--approve never`` (deny), no terminal (deny);
- the approver (a terminal prompt): once / session / always / deny.

Nothing turns a deny into an allow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .approval import ApprovalRequest, Approver, terminal_approver, terminal_available
from .decision import Decision, DecisionHook, DecisionRecord, PolicyDenied
from .grants import Access
from .paths import canonical
from .rules import FILE_TOOLS, WRITE_TOOLS, Verdict, access_of

Preview = str | Callable[[], str | None] | None
_VERDICT_RANK: dict[str, int] = {"allow": 0, "ask": 1, "deny": 2}


def stricter(a: Decision, b: Decision) -> Decision:
    """The stricter of two decisions (deny > ask > allow); ``a`` on a tie.

    Two asks stay an ask that reaches outside the grants if either does.
    """
    pick = b if _VERDICT_RANK[b.verdict] > _VERDICT_RANK[a.verdict] else a
    if a.verdict == b.verdict == "ask" and (a.outside or b.outside) and not pick.outside:
        return Decision(pick.verdict, pick.rule, pick.reason, outside=True)
    return pick


@dataclass(frozen=True)
class Request:
    """One thing a tool call needs, declared from its parsed arguments.

    ``access`` is "read" or "write" for a path, None for a command line, URL or call;
    ``tool`` is the name rules see (default: the calling tool); ``name`` is the key the
    resolved target is handed over under; ``fallback`` is the verdict for a non-path target
    no rule matches.
    """

    target: str | Path
    access: Access | None = None
    tool: str | None = None
    name: str = "path"
    preview: Preview = None
    fallback: Verdict | None = None


@dataclass
class Authorization:
    """The gate's answer for one call: one record and, when allowed, the resolved targets."""

    tool: str
    record: DecisionRecord
    #: request name → canonical path (path requests) or the target string
    targets: dict[str, Path | str] = field(default_factory=dict)
    #: the request whose decision is the call's (for the message)
    deciding: Request | None = None

    @property
    def allowed(self) -> bool:
        return self.record.outcome == "allow"

    def message(self) -> str:
        """Why the call was denied, for the model and the user."""
        r, req = self.record, self.deciding
        why = f"; {r.why_not_approved()}" if r.verdict == "ask" else ""
        if req is not None and r.rule == "path-syntax":
            return f"invalid path {str(req.target)!r}: {r.reason}"
        if req is not None and req.access in ("read", "write"):
            verb = "reading" if req.access == "read" else "changing"
            return f"{verb} {str(req.target)!r} denied: {r.reason}{why}"
        return f"{self.tool} denied: {r.reason}{why}"

    def hint(self) -> str | None:
        r = self.record
        if r.verdict != "ask":
            return None
        if r.settled_by == "approve:auto-outside" or r.rule == "outside-grants":
            return "grant the folder in permissions.folders or add an allow rule"
        return "add an allow rule, or run with --approve auto"


class Approvals:
    """Mixin of :class:`~bastion.policy.Policy`: ``authorize``, ``check``, ``resolve_*``."""

    if TYPE_CHECKING:
        workspace: Path
        approve: str
        approver: Approver | None
        interactive: bool | None
        session_id: str | None
        tools: frozenset[str] | None
        _session_approvals: list[tuple[str, str, Path | str]]
        _call_id: str | None
        _call_args: dict[str, Any]

        def decide(self, tool: str, target: str | Path, *, access: Access | None = None,
                   fallback: Verdict | None = None) -> Decision: ...

        def hooks(self) -> list[DecisionHook]: ...

        def show(self, path: Path) -> str: ...

        def canonical(self, raw: str | Path) -> Path: ...

        def _tool_listed(self, tool: str) -> bool: ...

        def _always_rule(self, tool: str, family: str, subject: Path | str) -> str | None: ...

        def _persist_allow(self, rule_text: str) -> None: ...

    # ------------------------------------------------------------------ the gate
    def authorize(self, tool: str, requests: list[Request], *,
                  decision: Decision | None = None) -> Authorization:
        """Decide every request of one ``tool`` call, settle once, record once (never raises).

        ``decision``: a verdict the caller computed; it can only tighten. A call that
        requests nothing is allowed with nothing handed over.
        """
        decided = [(req, req.tool or tool) for req in requests]
        verdicts = [self.decide(name, req.target, access=req.access, fallback=req.fallback)
                    for req, name in decided]
        if verdicts:
            combined = reduce(stricter, verdicts)
        elif self.tools is not None and not self._tool_listed(tool):
            combined = Decision("deny", f"tools:{tool}",
                                f"the tool {tool} is not among this agent's tools")
        else:
            combined = Decision("allow", "nothing-requested", f"{tool} requests no access")
        if decision is not None:
            combined = stricter(combined, decision)
        deciding = next((req for (req, _), d in zip(decided, verdicts, strict=True)
                         if d == combined or (d.rule, d.reason) == (combined.rule,
                                                                    combined.reason)),
                        requests[0] if requests else None)
        subjects: list[tuple[str, str, Path | str, str]] = []  # family, access, subject, shown
        targets: dict[str, Path | str] = {}
        for (req, name), d in zip(decided, verdicts, strict=True):
            kind = req.access or access_of(name)
            subject: Path | str
            if kind in ("read", "write") or name in FILE_TOOLS:
                subject = Path("/") if d.rule == "path-syntax" else canonical(req.target,
                                                                            self.workspace)
                shown = self.show(subject)
            else:
                subject = shown = str(req.target)
            family = "write" if name in WRITE_TOOLS else ("read" if kind == "read" else name)
            subjects.append((family, str(kind), subject, shown))
            targets[req.name] = subject
        shown_all = " → ".join(s[3] for s in subjects) if subjects else "(nothing)"
        access = ",".join(dict.fromkeys(s[1] for s in subjects)) or "none"
        outcome, settled = combined.verdict, "policy"
        if combined.verdict == "ask":
            asking = [s for s, d in zip(subjects, verdicts, strict=True) if d.verdict == "ask"]
            preview = next((req.preview for (req, _), d in zip(decided, verdicts, strict=True)
                            if d.verdict == "ask" and req.preview is not None),
                           deciding.preview if deciding else None)
            outcome, settled = self._settle(tool, access, asking or subjects, shown_all,
                                            combined, preview)
        record = DecisionRecord(tool=tool, target=shown_all, access=access,
                                verdict=combined.verdict, rule=combined.rule,
                                reason=combined.reason, outcome=outcome, settled_by=settled,
                                session_id=self.session_id, tool_call_id=self._call_id)
        if requests or combined.verdict != "allow":  # nothing requested: nothing decided
            for hook in self.hooks():
                hook(record)
        return Authorization(tool, record, targets if outcome == "allow" else {}, deciding)

    def check(self, tool: str, target: str | Path, *, access: Access | None = None,
              preview: Preview = None, fallback: Verdict | None = None,
              decision: Decision | None = None) -> DecisionRecord:
        """Decide, settle an "ask" (approvals), record, and return the outcome (no raise).

        ``decision`` is a verdict the caller worked out itself; it can only tighten.
        """
        req = Request(target, access, preview=preview, fallback=fallback)
        return self.authorize(tool, [req], decision=decision).record

    # ------------------------------------------------------------------ settling
    def _approved_for_session(self, family: str, subject: Path | str) -> bool:
        from .paths import is_within

        for fam, _access, approved in self._session_approvals:
            if fam != family:
                continue
            if isinstance(approved, Path) and isinstance(subject, Path):
                if is_within(subject, approved):
                    return True
            elif approved == subject:
                return True
        return False

    def _settle(self, tool: str, access: str, asking: list[tuple[str, str, Path | str, str]],
                shown: str, decision: Decision, preview: Preview) -> tuple[Verdict, str]:
        # Outside every grant only a person at a terminal decides, for this call only.
        outside = decision.outside
        if not outside and asking and all(self._approved_for_session(f, s)
                                          for f, _, s, _ in asking):
            return "allow", "approval:session"
        if self.approve == "auto":
            return ("deny", "approve:auto-outside") if outside else ("allow", "approve:auto")
        if self.approve == "never":
            return "deny", "approve:never"
        interactive = terminal_available() if self.interactive is None else self.interactive
        if not interactive:
            return "deny", "no-tty"
        text = preview() if callable(preview) else preview
        always = None
        if not outside and len(asking) == 1:
            always = self._always_rule(tool, asking[0][0], asking[0][2])
        req = ApprovalRequest(tool=tool, target=shown, access=access, rule=decision.rule,
                              reason=decision.reason, arguments=self._call_args, preview=text,
                              always_rule=always, once_only=outside)
        answer = (self.approver or terminal_approver())(req)
        if outside and answer != "deny":
            return "allow", "user:once"
        if answer in ("session", "always"):
            self._session_approvals += [(f, a, s) for f, a, s, _ in asking]
        if answer == "always" and always:
            self._persist_allow(always)
        return ("deny" if answer == "deny" else "allow"), f"user:{answer}"

    # ------------------------------------------------------------------ library helpers
    def _require(self, tool: str, raw: str, access: Access, preview: Preview) -> Path:
        auth = self.authorize(tool, [Request(raw, access, preview=preview)])
        if auth.allowed:
            return self.canonical(raw)
        raise PolicyDenied(auth.message(), auth.record.rule, hint=auth.hint())

    def resolve_read(self, raw: str) -> Path:
        """The canonical path for reading ``raw``, or :class:`PolicyDenied` saying why."""
        return self._require("read_file", raw, "read", None)

    def resolve_write(self, raw: str, tool: str = "write_file", preview: Preview = None) -> Path:
        """The canonical path for changing ``raw`` with ``tool``, or :class:`PolicyDenied`.

        ``preview`` (text or a callable producing it) is shown in an approval prompt.
        """
        return self._require(tool, raw, "write", preview)
