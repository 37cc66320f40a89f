"""Turns an agent session's events into audit records, and pauses it on anomalies.

:class:`SessionRecorder` is the ``on_event`` hook an ``AgentSession`` chains after its display
hook. Tool results become ``tool`` records (status, never the output) and, from the facts a
tool leaves in ``ToolResult.details`` (``{"path", "access"}``, hashes, ``changed_files``),
``file`` records. After each event it takes the anomalies the detectors found and asks the
user whether to continue; with no terminal to ask, the run stops (fail closed).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from .anomaly import Anomaly, AnomalyStop
from .log import AuditLog

#: decides whether to go on after anomalies: True continues, False stops
AnomalyHandler = Callable[[list[Anomaly]], bool]

_FILE_FACTS = ("path", "destination", "source", "sha256", "before_sha256", "after_sha256",
               "size", "bytes", "lines")


def terminal_available() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def ask_on_terminal(anomalies: list[Anomaly]) -> bool:
    """The default handler: a prompt on the terminal, or stop when there is none."""
    if not terminal_available():
        return False
    for anomaly in anomalies:
        sys.stderr.write(f"\n⚠ anomaly ({anomaly.kind}): {anomaly.message}\n")
        for example in anomaly.examples[:5]:
            sys.stderr.write(f"    {example}\n")
    while True:
        sys.stderr.write("The agent is paused. [c]ontinue or [s]top? ")
        sys.stderr.flush()
        answer = sys.stdin.readline()
        if not answer:  # EOF: nobody is there to decide
            return False
        choice = answer.strip().lower()
        if choice in ("c", "continue"):
            return True
        if choice in ("s", "stop", ""):
            return False


def _short(text: str, limit: int = 300) -> str:
    first = text.splitlines()[0] if text else ""
    return first if len(first) <= limit else first[:limit] + "…"


class SessionRecorder:
    """Records one agent session: start, tool calls and results, file access, end."""

    def __init__(self, audit: AuditLog, session_id: str, *,
                 on_anomaly: AnomalyHandler | None = None, pause: bool = True) -> None:
        self.audit = audit
        self.session_id = session_id
        self.on_anomaly = on_anomaly or ask_on_terminal
        #: False when ``anomaly.onAnomaly`` is "record": log anomalies but never pause
        self.pause = pause
        self.status = "running"
        self._ended = False

    def start(self, **info: Any) -> None:
        self.audit.default_session_id = self.session_id
        self.audit.record("session", "start", info, session_id=self.session_id)

    def end(self, status: str | None = None, **info: Any) -> None:
        if self._ended:
            return
        self._ended = True
        self.audit.record("session", "end", {"status": status or self.status, **info},
                          session_id=self.session_id)
        if self.audit.default_session_id == self.session_id:
            self.audit.default_session_id = None
        self.audit.checkpoint()

    def __call__(self, kind: str, data: Mapping[str, Any]) -> None:
        sid = self.session_id
        if kind == "tool_call":
            self.audit.record("tool", "call", {"id": data.get("id"), "name": data.get("name"),
                                               "arguments": data.get("arguments")},
                              session_id=sid)
        elif kind == "tool_result":
            details = data.get("details") or {}
            payload: dict[str, Any] = {"id": data.get("id"), "name": data.get("name"),
                                       "status": data.get("status"), "details": details}
            if getattr(self.audit, "full", False):  # audit mode: the result the model saw
                payload["content"] = str(data.get("content") or "")
            elif data.get("status") != "ok":
                payload["error"] = _short(str(data.get("content") or ""))
            self.audit.record("tool", "result", payload, session_id=sid)
            self._file_record(data, details)
        self.check_anomalies()

    def _file_record(self, data: Mapping[str, Any], details: Mapping[str, Any]) -> None:
        access = details.get("access")
        if not isinstance(access, str) or not (details.get("path") or details.get("source")):
            return
        facts = {k: details[k] for k in _FILE_FACTS if k in details}
        facts.update(tool=data.get("name"), id=data.get("id"))
        self.audit.record("file", access, facts, session_id=self.session_id)

    def check_anomalies(self) -> None:
        """Pause on anomalies found so far; raises :class:`AnomalyStop` to stop the run."""
        anomalies = self.audit.take_anomalies()
        if not anomalies or not self.pause:
            return
        kinds = [a.kind for a in anomalies]
        if self.on_anomaly(anomalies):
            self.audit.record("user", "anomaly-continue", {"kinds": kinds},
                              session_id=self.session_id)
            return
        self.status = "stopped"
        self.audit.record("user", "anomaly-stop", {"kinds": kinds,
                                                   "terminal": terminal_available()},
                          session_id=self.session_id)
        first = anomalies[0]
        how = "stopped" if terminal_available() else "stopped (no terminal to ask whether to go on)"
        raise AnomalyStop(f"anomaly detected — {first.kind}: {first.message}; the run was {how}",
                          hint="review it with `bastion audit tail`; thresholds are under "
                               "\"anomaly\" in settings.json")
