"""The tamper-evident audit log and anomaly detection.

Stable API for other packages (policy, sandbox, net, journal, rights)::

    from bastion import audit
    audit.record(category, action, data=None, *, session_id=None) -> int | None

``category`` is one of ``session tool decision file command config user network anomaly``;
``action`` a short verb ("start", "call", "deny", "write", "run", "set", "undo", "request"…);
``data`` a JSON-able mapping — every string is passed through the secret redactor and values
under secret-looking keys (``password``, ``token``, ``apiKey``…) are masked, so pass facts,
not secrets. ``session_id`` defaults to the running agent session. Returns the record's
sequence number, or None when nothing was stored (no log open in this process — e.g. a unit
test —, ``audit.enabled`` false, or the category excluded by ``includeToolCalls`` /
``includeFileAccess``). Every call, stored or not, feeds the anomaly detectors. It raises
:class:`AuditError` if the log cannot be written (fail closed).

Suggested payloads (facts the detectors read): decisions ``{"decision": "deny"|"allow"|"ask",
"rule", "tool", "approved_by"}``; file ``{"path", "sha256"}`` with action read/write/delete/move
(``destination`` for moves); command ``{"command", "exit_code", "changed_files": int|[paths]}``;
network: pass the egress gateway's record dict to :func:`record_network`.

``Runtime.audit`` is the process's :class:`AuditLog`; ``Runtime.open`` installs it for
:func:`record`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .anchor import forget_external
from .anomaly import Anomaly, AnomalyMonitor, AnomalyStop, AnomalyThresholds, is_sensitive
from .chain import CATEGORIES, ChainKeys, Entry
from .checkpoint import Checkpoint, CheckpointInvalid, CheckpointSigner
from .log import AuditError, AuditLog, entry_payload, parse_since
from .redact import default_redactor, identity, mask_setting
from .session import SessionRecorder, ask_on_terminal
from .verify import VerifyReport

_current: tuple[object, Callable[[], AuditLog]] | None = None


def install(factory: Callable[[], AuditLog], owner: object = None) -> None:
    """Make :func:`record` write to the log ``factory`` returns (created on first use)."""
    global _current
    _current = (owner, factory)


def uninstall(owner: object = None) -> None:
    """Stop :func:`record` writing, if ``owner`` is the one that installed the current log."""
    global _current
    if _current is not None and _current[0] is owner:
        _current = None


def current() -> AuditLog | None:
    return _current[1]() if _current is not None else None


def record(category: str, action: str, data: Mapping[str, Any] | None = None, *,
           session_id: str | None = None) -> int | None:
    """Append one audit record to this process's log (see the module docstring)."""
    log = current()
    if log is None:
        return None
    return log.record(category, action, data, session_id=session_id)


def record_network(entry: Mapping[str, Any]) -> None:
    """Adapter for the egress gateway's ``Recorder`` callback: one ``network`` record."""
    action = str(entry.get("decision") or "request")
    record("network", action, entry)


__all__ = [
    "CATEGORIES",
    "Anomaly",
    "AnomalyMonitor",
    "AnomalyStop",
    "AnomalyThresholds",
    "AuditError",
    "AuditLog",
    "ChainKeys",
    "Checkpoint",
    "CheckpointInvalid",
    "CheckpointSigner",
    "Entry",
    "SessionRecorder",
    "VerifyReport",
    "ask_on_terminal",
    "current",
    "default_redactor",
    "entry_payload",
    "forget_external",
    "identity",
    "install",
    "is_sensitive",
    "mask_setting",
    "parse_since",
    "record",
    "record_network",
    "uninstall",
]
