"""Approval prompts: how an "ask" decision is put to the user.

An approver is any callable ``(ApprovalRequest) -> Answer``. The terminal approver shows the
tool, its arguments, the resolved path, why it is asked and, for edits, a diff; it accepts
once / this session / always / deny. "always" adds an allow rule to the *user* settings (never
the project's). When there is no terminal the policy denies without calling an approver.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

Answer = Literal["once", "session", "always", "deny"]
Approver = Callable[["ApprovalRequest"], Answer]

_KEYS: dict[str, Answer] = {
    "o": "once", "once": "once", "y": "once", "yes": "once",
    "s": "session", "session": "session",
    "a": "always", "always": "always",
    "d": "deny", "deny": "deny", "n": "deny", "no": "deny", "": "deny",
}


@dataclass
class ApprovalRequest:
    """What a person is asked to decide: the tool, its target, the access and why."""

    tool: str
    target: str
    access: str
    rule: str
    reason: str
    arguments: dict[str, Any] = field(default_factory=dict)
    #: a unified diff (edits) or a short content preview (new files)
    preview: str | None = None
    #: the rule "always" would add, e.g. ``Write(//home/u/proj/src/x.py)``
    always_rule: str | None = None
    #: outside every grant: the answer covers this exact path for this call only
    once_only: bool = False


def terminal_available() -> bool:
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _clip(text: str, limit: int = 4000) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more characters)"


def render_request(req: ApprovalRequest) -> str:
    lines = [f"Bastion asks: {req.tool} wants {req.access} access to {req.target}",
             f"  why: {req.reason} [{req.rule}]"]
    if req.arguments:
        shown = {k: (v if not isinstance(v, str) or len(v) <= 200 else v[:200] + "…")
                 for k, v in req.arguments.items()}
        lines.append("  arguments: " + json.dumps(shown, ensure_ascii=False))
    if req.preview:
        lines.append(_clip(req.preview))
    if req.once_only:
        lines.append("  (outside every granted folder: an approval covers this path for this "
                     "call only)")
        lines.append("Allow? [o]nce / [d]eny: ")
        return "\n".join(lines)
    always = f" (adds {req.always_rule} to your settings)" if req.always_rule else ""
    lines.append(f"Allow? [o]nce / [s]ession / [a]lways{always} / [d]eny: ")
    return "\n".join(lines)


def terminal_approver(stream_in: TextIO | None = None,
                      stream_out: TextIO | None = None) -> Approver:
    """An approver reading answers from the terminal (or the given streams, for tests)."""

    def ask(req: ApprovalRequest) -> Answer:
        out = stream_out or sys.stderr
        src = stream_in or sys.stdin
        out.write(render_request(req))
        out.flush()
        for _ in range(3):
            line = src.readline()
            if not line:  # EOF: nobody is there to approve
                return "deny"
            answer = _KEYS.get(line.strip().lower())
            if answer is not None:
                if answer == "always" and req.always_rule is None:
                    return "session"
                return answer
            out.write("Please answer o, s, a or d: ")
            out.flush()
        return "deny"

    return ask
