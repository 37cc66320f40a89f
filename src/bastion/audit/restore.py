"""``bastion audit accept-restore``: a deliberate restore of the data directory, accepted.

What the anchors said is recorded first (``user/accept-restore``); then the current head is
signed into the checkpoint and into every anchor, and the old ``logPath`` file (with its
rotated parts) is moved aside as ``*.before-restore-<time>`` so a new file continues the chain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .anchor import reset_anchors
from .canonical import utc_now
from .checkpoint import Checkpoint, CheckpointInvalid
from .files import move_aside

if TYPE_CHECKING:
    from .log import AuditLog


def accept_restore(log: AuditLog) -> dict[str, Any]:
    """Called by :meth:`AuditLog.accept_restore` under its lock."""
    from .log import _COLUMNS, _row_entry

    problems = log.rollback_problems()
    try:
        old = log.signer.read()
    except CheckpointInvalid as exc:
        problems.append(str(exc))
        old = None
    kept = move_aside(log.log_path) if log.log_path is not None else []
    log._file_state = None
    log._store("user", "accept-restore", {
        "problems": problems, "previous_checkpoint": old.seq if old else None,
        "log_file_moved_to": [str(k) for k in kept]}, None)
    with log.db.transaction() as conn:
        head = conn.execute("SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1"
                            ).fetchone()
        checkpoint = Checkpoint(head[0], head[1], utc_now())
        log.signer.write(checkpoint)
        conn.execute("INSERT OR REPLACE INTO audit_checkpoints (seq, mac, time) "
                     "VALUES (?, ?, ?)", (checkpoint.seq, checkpoint.mac, checkpoint.time))
        if log.log_path is not None:
            conn.execute("DELETE FROM audit_meta WHERE key = ?", (log._log_start_key(),))
            log._sync_log_file(conn, _row_entry(conn.execute(
                f"SELECT {_COLUMNS} FROM audit_log WHERE seq = ?", (head[0],)).fetchone()),
                appended=False)
    reset_anchors(log.anchors, log.signer, checkpoint)
    log._unsigned = 0
    return {"problems": problems, "checkpoint": checkpoint.seq,
            "moved": [str(k) for k in kept]}
