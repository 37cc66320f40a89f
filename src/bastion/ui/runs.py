"""Runs started from the browser: one agent session per run in a worker thread.

The run's events (streamed text, tool calls and results, approval questions, the answer)
are appended to a list the browser follows over Server-Sent Events. An "ask" decision is
put to the browser by :class:`BrowserApprover` — the same ``ApprovalRequest`` the terminal
shows (tool, resolved path, reason, diff) — and the run waits for the answer; no answer
within the timeout, or the server stopping, means deny (fail closed).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bastion.errors import BastionError

if TYPE_CHECKING:  # the agent (and its parsers) load when the first run starts, not at start-up
    from bastion.agent import RunOptions
    from bastion.policy import ApprovalRequest

Answer = Literal["once", "session", "always", "deny"]  # = bastion.policy.Answer

ANSWERS: tuple[Answer, ...] = ("once", "session", "always", "deny")
PREVIEW_LIMIT = 20_000


@dataclass
class Run:
    id: str
    task: str
    events: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    #: a chat keeps its session open for follow-up messages (``say``) until ``end``
    chat: bool = False
    cond: threading.Condition = field(default_factory=threading.Condition)
    _inbox: list[str | None] = field(default_factory=list)
    _pending: dict[str, tuple[threading.Event, list[Answer]]] = field(default_factory=dict)

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        with self.cond:
            self.events.append({"id": len(self.events), "kind": kind, "data": data})
            self.cond.notify_all()

    def since(self, index: int, wait_s: float) -> tuple[list[dict[str, Any]], bool]:
        """Events after ``index`` (waiting up to ``wait_s`` for one), and whether the run ended."""
        with self.cond:
            if len(self.events) <= index and not self.done:
                self.cond.wait(wait_s)
            return self.events[index:], self.done

    def answer(self, approval_id: str, answer: str) -> bool:
        if answer not in ANSWERS:
            return False
        with self.cond:
            pending = self._pending.get(approval_id)
            if pending is None or pending[1]:
                return False  # unknown, or already answered: one answer per question
            pending[1].append(answer)  # type: ignore[arg-type]
        pending[0].set()
        return True

    def say(self, message: str | None) -> bool:
        """Queue a follow-up message for a chat (None ends it); False if it cannot take one."""
        with self.cond:
            if not self.chat or self.done:
                return False
            self._inbox.append(message)
            self.cond.notify_all()
        return True

    def next_message(self, timeout_s: float) -> str | None:
        """The next follow-up message; None when the chat was ended or sat idle too long."""
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while not self._inbox:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self._inbox.pop(0)

    def cancel_pending(self) -> None:
        with self.cond:
            waiting = list(self._pending.values())
        for event, answers in waiting:
            if not answers:
                answers.append("deny")
            event.set()
        if self.chat:
            self.say(None)


class BrowserApprover:
    """An approver (``policy.Approver``) that asks the browser and waits for its answer."""

    def __init__(self, run: Run, timeout_s: float) -> None:
        self.run = run
        self.timeout_s = timeout_s

    def __call__(self, req: ApprovalRequest) -> Answer:
        approval_id = secrets.token_hex(8)
        done = threading.Event()
        answers: list[Answer] = []
        with self.run.cond:
            self.run._pending[approval_id] = (done, answers)
        preview = req.preview or ""
        if len(preview) > PREVIEW_LIMIT:
            preview = preview[:PREVIEW_LIMIT] + f"\n… ({len(preview) - PREVIEW_LIMIT} more)"
        self.run.emit("approval", {
            "approval_id": approval_id, "tool": req.tool, "target": req.target,
            "access": req.access, "rule": req.rule, "reason": req.reason,
            "preview": preview, "always_rule": req.always_rule})
        done.wait(self.timeout_s)
        with self.run.cond:
            self.run._pending.pop(approval_id, None)
        answer: Answer = answers[0] if answers else "deny"
        if answer == "always" and req.always_rule is None:
            answer = "session"
        self.run.emit("approval_answered", {"approval_id": approval_id, "answer": answer,
                                            "timed_out": not answers})
        return answer


@dataclass
class RunManager:
    """The runs of one UI server; ``open_runtime`` gives each run its own database connection."""

    open_runtime: Callable[[], Any]
    after_run: Callable[[], None]
    approval_timeout_s: float = 600.0
    chat_idle_s: float = 1800.0
    runs: dict[str, Run] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def active(self) -> Run | None:
        with self._lock:
            return next((r for r in self.runs.values() if not r.done), None)

    def start(self, opts: RunOptions, *, chat: bool = False) -> Run:
        with self._lock:
            if any(not r.done for r in self.runs.values()):
                raise BastionError("a run is already in progress; wait for it (or end the "
                                   "chat) first")
            run = Run(secrets.token_hex(8), opts.task, chat=chat)
            self.runs[run.id] = run
        opts.approver = BrowserApprover(run, self.approval_timeout_s)
        threading.Thread(target=self._work, args=(run, opts), name=f"ui-run-{run.id}",
                         daemon=True).start()
        return run

    def _work(self, run: Run, opts: RunOptions) -> None:
        from bastion.agent import AgentSession

        started = time.monotonic()
        try:
            with self.open_runtime() as rt, AgentSession(
                    rt, opts, on_text=lambda text: run.emit("text", {"text": text}),
                    on_event=lambda kind, data: run.emit(kind, _jsonable(data))) as session:
                message: str | None = opts.task
                while message is not None:
                    result = session.run(message)
                    summary = {"session_id": result.session_id, "answer": result.answer,
                               "status": result.status, "steps": result.steps,
                               "seconds": round(time.monotonic() - started, 3)}
                    if not run.chat:
                        break
                    run.emit("reply", summary)
                    message = run.next_message(self.chat_idle_s)
            run.emit("done", summary)
        except BastionError as exc:
            run.emit("error", {"message": exc.message, "hint": exc.hint})
        except Exception as exc:  # shown to the person, never swallowed silently
            run.emit("error", {"message": f"{type(exc).__name__}: {exc}", "hint": None})
        finally:
            self.after_run()
            with run.cond:
                run.done = True
                run.cond.notify_all()

    def stop(self) -> None:
        for run in list(self.runs.values()):
            run.cancel_pending()


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, str | int | float | bool | type(None) | list | dict):
            out[key] = value
        else:
            out[key] = str(value)
    return out
