"""The agent loop: ask the model, run the tools it calls, feed results back, until it answers.

Every message and tool call is written to the encrypted store as it happens, so an interrupt
(Ctrl-C, crash) leaves a consistent session that says where it stopped. Tool calls are never
retried automatically: a side effect happens at most once per model request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bastion.providers import (
    Message,
    ModelReply,
    ModelRequest,
    Provider,
    ToolCall,
    bounded_call,
)
from bastion.store import SessionStore
from bastion.textsafe import escape_deep, escape_surrogates
from bastion.tools import ToolContext, ToolRegistry, ToolResult

from .dispatch import dispatch

MessageFilter = Callable[[list[Message]], list[Message]]

#: tools whose arguments leave the machine or reach another program: never given a secret
OUTBOUND_TOOLS = ("fetch_url",)
OUTBOUND_PREFIXES = ("mcp__",)


class PrivacyGuard(Protocol):
    """What the loop needs from the privacy filter (bastion.privacy.PrivacyFilter)."""

    def redact(self, text: str) -> str: ...

    def redact_data(self, obj: Any) -> Any: ...

    def scan_response(self, text: str) -> Any: ...

    def check_outbound_arguments(self, args: Mapping[str, Any]) -> list[Any]: ...
EventHook = Callable[[str, dict[str, Any]], None]


@dataclass
class AgentResult:
    session_id: str
    answer: str
    status: str  # "completed", "step_limit", "interrupted", "failed"
    steps: int


@dataclass
class Agent:
    provider: Provider
    tools: ToolRegistry
    ctx: ToolContext
    store: SessionStore
    session_id: str
    system_prompt: str
    name: str = "general"
    max_steps: int = 25
    #: per-agent sampling settings from an agent definition (None: the provider's default)
    temperature: float | None = None
    max_tokens: int | None = None
    tool_output_limit: int = 32_000
    #: applied to every request before it reaches the provider (the privacy filter)
    outbound_filter: MessageFilter | None = None
    #: redacts what enters the history, scans what the model says, guards outbound arguments
    privacy: PrivacyGuard | None = None
    #: notified of tool calls and results (CLI display, audit)
    on_event: EventHook | None = None
    on_text: Callable[[str], None] | None = None
    messages: list[Message] = field(default_factory=list)

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(kind, data)

    def _append(self, message: Message) -> None:
        # history holds exactly the redacted text the model sees, never the secret itself
        if self.privacy is not None and message["role"] in ("system", "user"):
            message = {**message, "content": self.privacy.redact(message.get("content") or "")}
        self.messages.append(message)
        self.store.add_message(
            self.session_id, message["role"], message.get("content") or "",
            tool_calls=message.get("tool_calls"), tool_call_id=message.get("tool_call_id"),
            agent=self.name)

    def run(self, task: str) -> AgentResult:
        if not self.messages:
            self._append({"role": "system", "content": self.system_prompt})
        self._append({"role": "user", "content": task})
        self.store.set_status(self.session_id, "running")
        try:
            for step in range(1, self.max_steps + 1):
                self._emit("turn", {"step": step, "agent": self.name})
                reply = self._scan_reply(self._ask())
                assistant: Message = {"role": "assistant", "content": reply.content}
                if reply.tool_calls:
                    assistant["tool_calls"] = [c.openai_format() for c in reply.tool_calls]
                self._append(assistant)
                if not reply.tool_calls:
                    self.store.set_status(self.session_id, "completed")
                    return AgentResult(self.session_id, reply.content, "completed", step)
                for call in reply.tool_calls:
                    self._execute(call)
        except KeyboardInterrupt:
            self.store.set_status(self.session_id, "interrupted")
            self.store.add_event(self.session_id, "state", {"status": "interrupted"})
            raise
        except BaseException as exc:
            # an exception may say how the session ended ("stopped" by anomaly detection)
            status = getattr(exc, "session_status", "failed")
            self.store.set_status(self.session_id, status)
            if status != "failed":
                self.store.add_event(self.session_id, "state", {"status": status,
                                                                "reason": str(exc)})
            raise
        answer = f"Stopped after {self.max_steps} steps without a final answer."
        self.store.set_status(self.session_id, "step_limit")
        self.store.add_event(self.session_id, "state", {"status": "step_limit"})
        return AgentResult(self.session_id, answer, "step_limit", self.max_steps)

    def _ask(self) -> ModelReply:
        outgoing = [dict(m) for m in self.messages]
        if self.outbound_filter is not None:
            outgoing = self.outbound_filter(outgoing)
        request = ModelRequest(messages=outgoing, tools=self.tools.specs(),
                               temperature=self.temperature, max_tokens=self.max_tokens)
        reply = self.provider.complete(request, self.on_text)
        # the one bound on what the model hands over, whichever provider parsed it
        calls = [bounded_call(call) for call in reply.tool_calls]
        return ModelReply(reply.content, calls, reply.finish_reason)

    def _scan_reply(self, reply: ModelReply) -> ModelReply:
        """Strip secrets and exfiltration links from what the model says; record what was cut."""
        if self.privacy is None or not reply.content:
            return reply
        scan = self.privacy.scan_response(reply.content)
        if not scan.findings:
            return reply
        found = [{"kind": f.kind, "detail": f.detail} for f in scan.findings]
        self.store.add_event(self.session_id, "response_blocked", {"findings": found})
        self._emit("response_blocked", {"findings": found})
        return ModelReply(scan.text, reply.tool_calls, reply.finish_reason)

    def _outbound_leak(self, call: ToolCall) -> ToolResult | None:
        if self.privacy is None:
            return None
        if call.name not in OUTBOUND_TOOLS and not call.name.startswith(OUTBOUND_PREFIXES):
            return None
        leaks = self.privacy.check_outbound_arguments(call.arguments)
        if not leaks:
            return None
        where = ", ".join(sorted({str(getattr(f, "location", "")) or "arguments" for f in leaks}))
        return ToolResult(
            f"blocked: the arguments of {call.name} carry a secret or a secret placeholder "
            f"({where}); secrets are never sent out of the workspace",
            is_error=True, details={"denied": True, "rule": "privacy:outbound-secret"})

    def _execute(self, call: ToolCall) -> None:
        shown_args = (self.privacy.redact_data(call.arguments) if self.privacy is not None
                      else call.arguments)
        self.store.start_tool_call(self.session_id, call.id, call.name, shown_args, self.name)
        self._emit("tool_call", {"id": call.id, "name": call.name, "arguments": shown_args})
        result = self._outbound_leak(call) or self._dispatch(call)
        content = escape_surrogates(result.content)  # non-UTF-8 file names, shown escaped
        result.details = escape_deep(result.details)
        if self.privacy is not None:
            content = self.privacy.redact(content)
        if len(content) > self.tool_output_limit:
            dropped = len(content) - self.tool_output_limit
            content = content[: self.tool_output_limit] + f"\n[output truncated: {dropped} more characters]"
        status = "error" if result.is_error else "ok"
        if result.details.get("denied"):
            status = "denied"
        self.store.finish_tool_call(self.session_id, call.id, status, content)
        self._emit("tool_result", {"id": call.id, "name": call.name, "status": status,
                                   "content": content, "details": result.details})
        self._append({"role": "tool", "tool_call_id": call.id, "content": content})

    def _dispatch(self, call: ToolCall) -> ToolResult:
        return dispatch(self.tools, self.ctx, call)


def tool_call_summary(arguments: dict[str, Any]) -> str:
    text = json.dumps(arguments, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."
