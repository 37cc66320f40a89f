"""Decisions and the records every decision leaves behind (for the audit log and the session)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bastion.errors import BastionError

from .rules import Verdict


@dataclass(frozen=True)
class Decision:
    """What the policy says about one request, and which rule said it.

    ``rule`` is a stable identifier: a user rule's text (``deny Write(./secrets/**)``) or a
    built-in one (``grant:write``, ``protected:.git/hooks/``, ``deny-read:*.pem``,
    ``outside-grants``, ``mode:strict``, ``symlink-escape``...).
    """

    verdict: Verdict
    rule: str
    reason: str
    #: the request reaches outside every folder grant (or into /proc, /sys, /dev): an "ask"
    #: like this is settled only by a person at a terminal, for this call — never by
    #: ``--approve auto``, an earlier "this session" answer, or the absence of a terminal
    outside: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "rule": self.rule, "reason": self.reason,
                "outside_grants": self.outside}


@dataclass
class DecisionRecord:
    """One decision as it happened: the policy's verdict and, for "ask", how it was settled.

    ``outcome`` is the final "allow" or "deny"; ``settled_by`` says who settled it:
    ``policy`` (no question needed), ``user:once|session|always|deny``, ``approve:auto``,
    ``approve:never``, ``no-tty`` or ``approval:session`` (an earlier "this session" answer).
    """

    tool: str
    target: str
    access: str
    verdict: Verdict
    rule: str
    reason: str
    outcome: Verdict
    settled_by: str
    session_id: str | None = None
    tool_call_id: str | None = None
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def why_not_approved(self) -> str:
        """Why an "ask" ended in "deny", in words for the model and the user."""
        return _WHY.get(self.settled_by, "the user declined")


_WHY = {
    "no-tty": "it needs approval and there is no terminal to ask",
    "approve:never": "it needs approval and --approve never is set",
    "approve:auto-outside": "it is outside every granted folder, and only a person at a "
                            "terminal can approve that (--approve auto never widens the grant)",
}


DecisionHook = Callable[[DecisionRecord], None]


class PolicyDenied(BastionError):
    """A request the policy refuses; the message is shown to the model and the user."""

    def __init__(self, message: str, rule: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.rule = rule


def session_event_hook(add_event: Callable[[str, str, dict[str, Any]], None],
                       session_id: str) -> DecisionHook:
    """A hook writing decisions to the session's events (``SessionStore.add_event``).

    Plain allowed reads are left out: a grep over a tree would otherwise add one event per
    file. Every write decision and every ask or deny is kept.
    """

    def hook(record: DecisionRecord) -> None:
        if record.verdict == "allow" and record.access == "read":
            return
        add_event(session_id, "policy", record.to_json())

    return hook
