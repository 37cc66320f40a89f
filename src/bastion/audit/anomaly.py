"""Rule-based anomaly detectors fed by the same facts the audit log records.

Every record passing through :meth:`AuditLog.record` (whether or not it is stored) is shown
to an :class:`AnomalyMonitor`. Detectors count within a sliding time window, per session:

* ``mass_change`` — more than ``massChangeFiles`` distinct files written/edited/deleted/moved
  within ``massChangeWindowS`` (from ``file`` records and ``changed_files`` counts);
* ``denied_attempts`` — more than ``deniedAttempts`` denied requests within ``deniedWindowS``
  (the model probing its boundaries);
* ``sensitive_reads`` — attempts to read more than ``sensitiveReads`` distinct secret-looking
  files (``.env``, ``id_rsa``, ``*.pem``, ``credentials``…) within ``sensitiveWindowS``;
* ``egress_burst`` — more than ``egressBurst`` network requests within ``egressWindowS``;
* ``command_files`` — one command touching more than ``commandFilesTouched`` files.

A detector that fires forgets its window, so a user who chooses to continue is asked again
only when the pattern repeats. Counting distinct paths makes a file reported twice (by the
tool and by the journal) count once.
"""

from __future__ import annotations

import fnmatch
import itertools
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from bastion.errors import BastionError

MUTATING_ACTIONS = frozenset({"write", "edit", "delete", "move", "create", "modify", "rename"})
DENIED_WORDS = frozenset({"deny", "denied"})
_COUNT_KEYS = ("changed_files", "files_changed", "files_touched")


class AnomalyStop(BastionError):
    """The run was stopped because an anomaly detector fired and nobody chose to continue."""

    exit_code = 3
    #: how the agent loop marks the session
    session_status = "stopped"


@dataclass
class Anomaly:
    """One detector firing: what it saw, how often, against which threshold."""

    kind: str
    message: str
    count: int
    threshold: int
    session_id: str | None = None
    examples: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "count": self.count,
                "threshold": self.threshold, "examples": self.examples[:10]}


DEFAULT_SENSITIVE: tuple[str, ...] = (
    ".env", ".env.*", "*.env", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", "*.pem",
    "*.key", "*.p12", "*.pfx", "*.jks", "*.kdbx", "credentials", "credentials.*",
    "*secret*", "*.keystore", ".netrc", ".pgpass", ".npmrc", ".pypirc", ".git-credentials",
    "*token*", "*.ovpn", "shadow", "htpasswd", ".htpasswd",
)


@dataclass
class AnomalyThresholds:
    """Mirror of the ``anomaly`` settings section (kept here so the monitor has no config deps)."""

    enabled: bool = True
    mass_change_files: int = 25
    mass_change_window_s: float = 60.0
    denied_attempts: int = 20
    denied_window_s: float = 300.0
    sensitive_reads: int = 5
    sensitive_window_s: float = 600.0
    egress_burst: int = 30
    egress_window_s: float = 10.0
    command_files_touched: int = 100
    sensitive_patterns: list[str] = field(default_factory=lambda: list(DEFAULT_SENSITIVE))

    @classmethod
    def from_settings(cls, settings: Any) -> AnomalyThresholds:
        """From an ``AnomalySettings`` (or anything with the same attributes)."""
        if settings is None:
            return cls()
        known = cls.__dataclass_fields__
        return cls(**{name: getattr(settings, name) for name in known
                      if getattr(settings, name, None) is not None})




def is_sensitive(path: str, patterns: list[str]) -> bool:
    name = PurePath(path.replace("\\", "/")).name.lower()
    return bool(name) and any(fnmatch.fnmatchcase(name, p.lower()) for p in patterns)


class _Window:
    """Timestamped keys within the last ``span`` seconds; distinct keys are what count."""

    def __init__(self, span: float) -> None:
        self.span = span
        self.items: deque[tuple[float, str]] = deque()

    def add(self, now: float, key: str) -> None:
        self.items.append((now, key))
        self._expire(now)

    def _expire(self, now: float) -> None:
        while self.items and now - self.items[0][0] > self.span:
            self.items.popleft()

    def distinct(self) -> list[str]:
        return list(dict.fromkeys(k for _, k in self.items))

    def clear(self) -> None:
        self.items.clear()


@dataclass
class _SessionState:
    """The sliding windows one session's records feed."""

    changes: _Window
    denied: _Window
    sensitive: _Window
    egress: _Window
    commands_fired: set[str] = field(default_factory=set)


def _file_count(data: Mapping[str, Any]) -> tuple[int, list[str]]:
    details = data.get("details") if isinstance(data.get("details"), Mapping) else {}
    for source in (data, details):
        assert isinstance(source, Mapping)
        for key in _COUNT_KEYS:
            value = source.get(key)
            if isinstance(value, bool):
                continue
            if isinstance(value, int):
                return value, []
            if isinstance(value, list):
                return len(value), [str(v) for v in value]
    return 0, []


class AnomalyMonitor:
    """Stateful detectors; :meth:`observe` returns the anomalies one record set off."""

    def __init__(self, thresholds: AnomalyThresholds | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.t = thresholds or AnomalyThresholds()
        self.clock = clock
        self._sessions: dict[str | None, _SessionState] = {}
        self._ids = itertools.count()

    def _state(self, session_id: str | None) -> _SessionState:
        state = self._sessions.get(session_id)
        if state is None:
            t = self.t
            state = _SessionState(_Window(t.mass_change_window_s), _Window(t.denied_window_s),
                                  _Window(t.sensitive_window_s), _Window(t.egress_window_s))
            self._sessions[session_id] = state
        return state

    def observe(self, category: str, action: str, data: Mapping[str, Any],
                session_id: str | None = None) -> list[Anomaly]:
        if not self.t.enabled or category == "anomaly":
            return []
        now = self.clock()
        state = self._state(session_id)
        found: list[Anomaly] = []
        unique = f"#{next(self._ids)}"
        event_id = str(data.get("id") or data.get("tool_call_id") or unique)

        if self._is_denied(category, action, data):
            state.denied.add(now, event_id)
            seen = state.denied.distinct()
            if len(seen) > self.t.denied_attempts:
                found.append(self._fire(state.denied, "denied_attempts", session_id, len(seen),
                                        self.t.denied_attempts,
                                        f"{len(seen)} denied requests within "
                                        f"{self.t.denied_window_s:g}s: the model may be probing "
                                        "its boundaries", []))

        path = str(data.get("path") or "")
        if category == "tool" and action == "call" and data.get("name") == "read_file":
            arguments = data.get("arguments")
            if isinstance(arguments, Mapping):
                path = str(arguments.get("path") or "")
        reading = (category == "file" and action == "read") or (
            category == "tool" and action == "call" and data.get("name") == "read_file")
        if reading and path and is_sensitive(path, self.t.sensitive_patterns):
            state.sensitive.add(now, path)
            paths = state.sensitive.distinct()
            if len(paths) > self.t.sensitive_reads:
                found.append(self._fire(state.sensitive, "sensitive_reads", session_id,
                                        len(paths), self.t.sensitive_reads,
                                        f"attempts to read {len(paths)} secret-looking files "
                                        f"within {self.t.sensitive_window_s:g}s", paths))

        changed: list[str] = []
        if category == "file" and action in MUTATING_ACTIONS:
            changed = [p for p in (path, str(data.get("destination") or "")) if p]
        count, listed = _file_count(data)
        is_command = category == "command" or (
            category == "tool" and action == "result" and data.get("name") in ("run_command",
                                                                                "exec"))
        if count:
            changed += listed or [f"{event_id}/{i}" for i in range(count)]
            if (is_command and count > self.t.command_files_touched
                    and event_id not in state.commands_fired):
                state.commands_fired.add(event_id)
                command = str(data.get("command") or data.get("name") or "a command")
                found.append(Anomaly("command_files",
                                     f"{command[:80]} touched {count} files (more than "
                                     f"{self.t.command_files_touched})", count,
                                     self.t.command_files_touched, session_id, listed[:10]))
        if found and found[-1].kind == "command_files":
            changed = []  # one finding per event: the command anomaly already covers these
        for item in changed:
            state.changes.add(now, item)
        if changed:
            files = state.changes.distinct()
            if len(files) > self.t.mass_change_files:
                found.append(self._fire(state.changes, "mass_change", session_id, len(files),
                                        self.t.mass_change_files,
                                        f"{len(files)} files changed within "
                                        f"{self.t.mass_change_window_s:g}s", files))

        if category == "network":
            state.egress.add(now, event_id)
            requests = state.egress.distinct()
            if len(requests) > self.t.egress_burst:
                hosts = [str(data.get("host") or "")]
                found.append(self._fire(state.egress, "egress_burst", session_id, len(requests),
                                        self.t.egress_burst,
                                        f"{len(requests)} network requests within "
                                        f"{self.t.egress_window_s:g}s", hosts))
        return found

    @staticmethod
    def _is_denied(category: str, action: str, data: Mapping[str, Any]) -> bool:
        if category == "tool" and action == "result":
            return data.get("status") == "denied"
        if category == "decision":
            verdict = str(data.get("decision") or data.get("verdict") or action).lower()
            return verdict in DENIED_WORDS
        return False

    @staticmethod
    def _fire(window: _Window, kind: str, session_id: str | None, count: int, threshold: int,
              message: str, examples: list[str]) -> Anomaly:
        window.clear()
        return Anomaly(kind, message, count, threshold, session_id, examples[:10])
