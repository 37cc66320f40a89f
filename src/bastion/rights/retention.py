"""``retention.days``: sessions older than that are deleted at start-up — never silently.

Each deletion goes through :func:`~bastion.rights.delete.delete_session` (journal blobs, audit
payloads) and the run prints one notice on stderr and writes one audit record.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

from bastion import audit

from .delete import delete_session

if TYPE_CHECKING:
    from .opened import Opened as Runtime

DAY = 86_400.0


def expired_sessions(rt: Runtime, days: int, now: float | None = None) -> list[str]:
    cutoff = (now if now is not None else time.time()) - days * DAY
    rows = rt.db.query("SELECT id FROM sessions WHERE created_at < ? ORDER BY created_at",
                       (cutoff,))
    return [r["id"] for r in rows]


def apply_retention(rt: Runtime, *, now: float | None = None,
                    notice: TextIO | None = None) -> list[str]:
    """Delete the sessions older than ``retention.days``; returns their ids."""
    days = rt.settings.retention.days
    if not days:
        return []
    expired = expired_sessions(rt, days, now)
    if not expired:
        return []
    for session_id in expired:
        delete_session(rt, session_id, reason=f"retention ({days} days)")
    audit.record("user", "retention", {"days": days, "sessions_deleted": len(expired),
                                       "session_ids": expired})
    stream = notice or sys.stderr
    plural = "s" if len(expired) != 1 else ""
    stream.write(f"retention: deleted {len(expired)} session{plural} older than {days} days "
                 f"(retention.days in settings)\n")
    stream.flush()
    return expired
