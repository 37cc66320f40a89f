"""``run --json``: one JSON object per line while the run happens (docs/cli-events.md).

Version 1. Every line has ``v`` (1), ``type`` and ``session_id``. The **last line** is always
the ``result`` object (``session_id``, ``answer``, ``status``, ``steps``), as it was before
events existed, so ``tail -n 1`` keeps working. Nothing here carries more than the session
history already holds: arguments and results are the redacted ones, and results are summarised
(first line, length), never copied whole.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

VERSION = 1
SUMMARY_CHARS = 200

_STR = {"type": "string"}
_INT = {"type": "integer", "minimum": 0}
_NSTR = {"type": ["string", "null"]}


def _event(type_: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object",
            "properties": {"v": {"const": VERSION}, "type": {"const": type_},
                           "session_id": _STR, **props},
            "required": ["v", "type", "session_id", *required],
            "additionalProperties": False}


_DECISION = {"tool_call_id": _NSTR, "tool": _STR, "target": _STR, "access": _STR,
             "verdict": {"enum": ["allow", "ask", "deny"]}, "outcome": {"enum": ["allow", "deny"]},
             "rule": _STR, "reason": _STR, "settled_by": _STR}

#: JSON Schema (draft 2020-12) of every event type, keyed by ``type``
SCHEMAS: dict[str, dict[str, Any]] = {
    "session": _event("session", {"workspace": _STR, "provider": _STR, "model": _STR,
                                  "resumed": {"type": "boolean"}},
                      ["workspace", "provider", "model", "resumed"]),
    "turn": _event("turn", {"step": _INT, "agent": _STR}, ["step", "agent"]),
    "tool_call": _event("tool_call", {"id": _STR, "name": _STR, "arguments": {"type": "object"}},
                        ["id", "name", "arguments"]),
    "decision": _event("decision", _DECISION, list(_DECISION)),
    "approval": _event("approval", _DECISION, list(_DECISION)),
    "tool_result": _event("tool_result", {"id": _STR, "name": _STR,
                                          "status": {"enum": ["ok", "error", "denied"]},
                                          "summary": _STR, "chars": _INT},
                          ["id", "name", "status", "summary", "chars"]),
    "response_blocked": _event("response_blocked", {"findings": {"type": "array"}}, ["findings"]),
    "answer": _event("answer", {"text": _STR}, ["text"]),
    "usage": _event("usage", {"turns": _INT, "tool_calls": _INT, "denied": _INT,
                              "duration_ms": _INT}, ["turns", "tool_calls", "denied",
                                                     "duration_ms"]),
    "error": _event("error", {"message": _STR}, ["message"]),
    "result": _event("result", {"answer": _STR, "status": _STR, "steps": _INT,
                                "error": _STR}, ["answer", "status", "steps"]),
}


class EventStream:
    """Receives the session's events (``on_event``) and writes them as JSON lines."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.session_id = ""
        self.turns = self.tool_calls = self.denied = 0
        self._started = time.monotonic()

    def emit(self, type_: str, **data: Any) -> None:
        line = {"v": VERSION, "type": type_, "session_id": self.session_id, **data}
        self.stream.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
        self.stream.flush()

    def started(self, session_id: str, **data: Any) -> None:
        self.session_id = session_id
        self._started = time.monotonic()
        self.emit("session", **data)

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "turn":
            self.turns += 1
            self.emit("turn", step=int(data.get("step", self.turns)),
                      agent=str(data.get("agent", "")))
        elif kind == "tool_call":
            self.tool_calls += 1
            self.emit("tool_call", id=str(data["id"]), name=str(data["name"]),
                      arguments=dict(data.get("arguments") or {}))
        elif kind == "decision":
            fields = {k: data.get(k) for k in _DECISION}
            fields = {k: ("" if v is None and k != "tool_call_id" else v)
                      for k, v in fields.items()}
            if data.get("verdict") == "ask":
                self.emit("approval", **fields)
            self.emit("decision", **fields)
        elif kind == "tool_result":
            content = str(data.get("content") or "")
            if data.get("status") == "denied":
                self.denied += 1
            first = content.splitlines()[0] if content else ""
            self.emit("tool_result", id=str(data["id"]), name=str(data["name"]),
                      status=str(data["status"]), summary=first[:SUMMARY_CHARS],
                      chars=len(content))
        elif kind == "response_blocked":
            self.emit("response_blocked", findings=list(data.get("findings") or []))

    def finished(self, answer: str, status: str, steps: int, error: str | None = None) -> None:
        if error is None:
            self.emit("answer", text=answer)
        else:
            self.emit("error", message=error)
        self.emit("usage", turns=self.turns, tool_calls=self.tool_calls, denied=self.denied,
                  duration_ms=int((time.monotonic() - self._started) * 1000))
        extra = {"error": error} if error is not None else {}
        self.emit("result", answer=answer, status=status, steps=steps, **extra)
