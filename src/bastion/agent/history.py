"""Continuing a stored session: ``run --continue`` / ``run --resume ID``.

The stored history already holds exactly what the model saw (redacted user text, redacted
tool results), so it is sent again as it is. Tool calls that never got a result (the run was
interrupted between the call and its result) get a synthetic result, because providers refuse
an assistant tool call without one; nothing is re-run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bastion.errors import BastionError
from bastion.providers import Message
from bastion.store import SessionInfo, SessionStore

INTERRUPTED = "[no result: the session was interrupted before this call finished; it was not re-run]"


class ResumeError(BastionError):
    """The session asked for cannot be continued here."""


def resume_target(store: SessionStore, workspace: Path, *, resume: str | None,
                  continue_last: bool) -> SessionInfo | None:
    """The session to continue (``--resume ID`` or the latest in ``workspace``), or None."""
    if resume and continue_last:
        raise ResumeError("use either --continue or --resume ID, not both")
    if resume:
        info = store.resolve(resume)
    elif continue_last:
        found = store.latest_in_workspace(str(workspace))
        if found is None:
            raise ResumeError(f"no earlier session in {workspace} to continue",
                              hint="`bastion sessions list` shows every session")
        info = found
    else:
        return None
    if (info.agent or "").startswith("taskforce:"):
        raise ResumeError(f"session {info.id} ran a taskforce; taskforce sessions cannot be "
                          "continued", hint="start a new run with --taskforce")
    if Path(info.workspace) != workspace:
        raise ResumeError(f"session {info.id} belongs to workspace {info.workspace}, not "
                          f"{workspace}", hint=f"run it with -w {info.workspace}")
    return info


def stored_history(store: SessionStore, session_id: str, agent: str) -> list[Message]:
    """The messages of ``agent`` in ``session_id`` in provider format, ready to be sent again."""
    out: list[Message] = []
    pending: list[str] = []
    for row in store.messages(session_id):
        if row.get("agent") not in (None, agent):
            continue
        role = row["role"]
        if role != "tool" and pending:
            out.extend(_missing(pending))
            pending = []
        message: dict[str, Any] = {"role": role, "content": row["content"]}
        if row["tool_calls"]:
            message["tool_calls"] = row["tool_calls"]
            pending = [c.get("id", "") for c in row["tool_calls"]]
        if role == "tool":
            message["tool_call_id"] = row["tool_call_id"]
            if row["tool_call_id"] in pending:
                pending.remove(row["tool_call_id"])
        out.append(message)
    out.extend(_missing(pending))
    return out


def _missing(call_ids: list[str]) -> list[Message]:
    return [{"role": "tool", "tool_call_id": cid, "content": INTERRUPTED} for cid in call_ids]
