"""One task from start to finish: open the session, build provider and tools, run the loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from bastion import audit
from bastion.audit import SessionRecorder
from bastion.config import (
    ManagedRefusal,
    flag_refusals,
    layers_of,
    settings_files,
    settings_path,
)
from bastion.home import check_workspace
from bastion.journal import open_journal
from bastion.policy import (
    Approver,
    DecisionRecord,
    build_policy,
    session_event_hook,
    terminal_available,
)
from bastion.privacy import PrivacyFilter, configured_secrets
from bastion.providers import ProviderOptions, create_provider
from bastion.rights import Telemetry, instrument_provider
from bastion.runtime import Runtime
from bastion.tools import (
    FetchUrl,
    RunCommand,
    ToolContext,
    ToolRegistry,
    mutating_tools,
    read_only_tools,
)

from .history import resume_target, stored_history
from .loop import Agent, AgentResult
from .prompts import GENERAL

Mode = Literal["standard", "strict", "audit", "restricted"]
Approve = Literal["ask", "auto", "never"]


def default_title(task: str) -> str:
    """A session's title when none is given: the task's first line."""
    return task.strip().splitlines()[0] if task.strip() else "(interactive)"


@dataclass
class RunOptions:
    task: str
    workspace: Path
    provider: str | None = None
    model: str | None = None
    mode: Mode | None = None
    offline: bool = False
    approve: Approve = "ask"
    script: Path | None = None
    record: Path | None = None
    max_steps: int | None = None
    #: a named agent definition (agent/definitions.py) or taskforce (agent/taskforce.py)
    agent: str | None = None
    taskforce: str | None = None
    #: who answers "ask" decisions (the web UI's browser approver); None: the terminal, if any
    approver: Approver | None = None
    #: continue a stored session (agent/history.py): ``--resume ID`` / ``--continue``
    resume: str | None = None
    continue_last: bool = False
    #: the session's title (default: the task's first line); redacted by the session's filter
    title: str | None = None


def _refuse_loosening_flags(rt: Runtime, opts: RunOptions) -> None:
    """``--approve auto`` / ``--mode standard`` against managed settings: refused, audited."""
    refused = flag_refusals(rt.settings, mode=opts.mode, approve=opts.approve)
    for refusal in refused:
        rt.audit.record("config", "refused", refusal.to_json())
    if refused:
        raise ManagedRefusal(refused)


def _layer_facts(settings: Any) -> dict[str, Any]:
    layers = layers_of(settings)
    if layers is None or layers.managed_path is None:
        return {"roles": []}
    return {"roles": layers.roles, "managed_settings": str(layers.managed_path)}


def _audit_refusals(rt: Runtime, settings: Any) -> None:
    """Lower-layer values that tried to loosen managed ones: warned about and audited."""
    import sys

    layers = layers_of(settings)
    for refusal in layers.refusals if layers is not None else []:
        rt.audit.record("config", "refused", refusal.to_json())
        sys.stderr.write(f"warning: {refusal.message()}\n")


class AgentSession:
    """An open session: provider loaded, tools registered, history persisting. ``run`` per turn."""

    def __init__(self, rt: Runtime, opts: RunOptions, *,
                 on_text: Callable[[str], None] | None = None,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        settings = rt.settings
        _refuse_loosening_flags(rt, opts)
        if opts.mode == "audit":  # audit mode: permissions as configured, everything recorded
            rt.audit.full = True
        workspace = check_workspace(opts.workspace)
        resumed = resume_target(rt.sessions, workspace, resume=opts.resume,
                                continue_last=opts.continue_last)
        if resumed is not None and not opts.agent and resumed.agent not in (None, "general"):
            opts = replace(opts, agent=resumed.agent)  # keep the agent the session ran as
        # one policy per session (user + project settings + flags), built first: a bad rule
        # is a settings error before anything starts
        policy_mode = None if opts.mode == "audit" else opts.mode  # audit mode: see docs
        self.policy = build_policy(settings, workspace, bastion_home=rt.home, mode=policy_mode,
                                   approve=opts.approve, user_settings_path=settings_path(),
                                   approver=opts.approver,
                                   interactive=True if opts.approver is not None else None)
        provider_name = opts.provider or settings.default_provider
        offline = opts.offline or settings.offline_mode
        self.provider = create_provider(
            ProviderOptions(name=provider_name, model=opts.model, script=opts.script,
                            record=opts.record, offline=offline,
                            api_key=rt.api_keys.get(provider_name)),
            settings,
        )
        # privacy: secrets never reach the model, the history or the audit log — nor the
        # session's title, whoever supplied it (the CLI, the web UI, a resumed session)
        self.privacy = self._privacy_filter(rt, opts, workspace)
        rt.audit.redact = self.privacy.redact
        title = self.privacy.redact(opts.title or default_title(opts.task))[:200]
        agent_name = opts.agent or (f"taskforce:{opts.taskforce}" if opts.taskforce else "general")
        self.resumed = resumed
        self.session_id = resumed.id if resumed is not None else rt.sessions.create(
            title=title, workspace=str(workspace), agent=agent_name, provider=provider_name,
            model=self.provider.model)
        self._display = on_event
        self._start_records(rt, opts, workspace, agent_name, title=title,
                            provider=provider_name, offline=offline)
        self.agent = self._build_agent(rt, workspace, offline, opts.max_steps, on_text)
        self._attach_extensions(rt, opts)

    def _start_records(self, rt: Runtime, opts: RunOptions, workspace: Path, agent_name: str,
                       *, title: str, provider: str, offline: bool) -> None:
        """Telemetry counts, the audit record of the session's start, and the decision hooks."""
        settings = rt.settings
        # local-only usage counts (rights/telemetry.py); a no-op when telemetry is disabled
        self.telemetry = Telemetry.for_settings(rt.home, settings)
        self.telemetry.session_started(agent_name)
        instrument_provider(self.provider, self.telemetry)
        # audit: session start now, every tool event through the recorder, end in close()
        self.recorder = SessionRecorder(rt.audit, self.session_id,
                                        pause=settings.anomaly.on_anomaly == "pause")
        self.recorder.start(workspace=str(workspace), provider=provider,
                            model=self.provider.model, task=title, mode=opts.mode,
                            offline=offline, approve=opts.approve, **_layer_facts(settings))
        # decisions go to the session's events and the audit log
        self.policy.session_id = self.session_id
        _audit_refusals(rt, settings)  # project entries refused while building the policy too
        if rt.audit.full:  # audit mode records every configuration read
            rt.audit.record("config", "read", {"files": settings_files(
                settings, settings_path(), workspace / ".bastion" / "settings.json")})
        self.policy.add_hook(session_event_hook(rt.sessions.add_event, self.session_id))
        self.policy.add_hook(_audit_decision_hook(settings.audit.include_tool_calls))
        display = self._display
        if display is not None:  # decisions reach the display (`run --json` events) too
            self.policy.add_hook(lambda record: display("decision", record.to_json()))

    def _privacy_filter(self, rt: Runtime, opts: RunOptions, workspace: Path) -> PrivacyFilter:
        """Every secret the user handed Bastion is a known value from the first message on."""
        settings = rt.settings
        return PrivacyFilter(
            {**{f"stored-{i}": v for i, v in enumerate(rt.api_keys.all_values())},
             **configured_secrets(settings.mcp_servers)},
            include_env=True, workspace=workspace,
            security_mode=settings.security_mode or self.policy.mode == "strict",
            allowed_domains=settings.network.allowed_domains,
            unattended=opts.approver is None and (opts.approve != "ask" or not terminal_available()))

    def _build_agent(self, rt: Runtime, workspace: Path, offline: bool, max_steps: int | None,
                     on_text: Callable[[str], None] | None) -> Agent:
        settings = rt.settings
        self._fetch_client: Any = None  # built at the first fetch_url: httpx loads only then

        def fetch_client() -> Any:
            if self._fetch_client is None:
                from bastion.net import build_fetch_client

                self._fetch_client = build_fetch_client(settings, offline=offline)
            return self._fetch_client

        ctx = ToolContext(workspace=workspace, policy=self.policy, session_id=self.session_id,
                          extras={"journal": open_journal(rt),
                                  "privacy_filter": self.privacy,
                                  # placeholders become secrets again only in file content
                                  "restore_placeholders": self.privacy.restore_placeholders,
                                  "http_client": fetch_client})
        tools = read_only_tools()
        if self.policy.mode != "restricted":  # restricted: only read-only tools exist
            tools += mutating_tools()
            tools.append(RunCommand(settings.sandbox))
            tools.append(FetchUrl())
        return Agent(
            provider=self.provider, tools=ToolRegistry(tools), ctx=ctx,
            store=rt.sessions, session_id=self.session_id, system_prompt=GENERAL,
            max_steps=max_steps or settings.agent.max_steps,
            tool_output_limit=settings.agent.tool_output_limit, on_text=on_text,
            on_event=self._on_event, outbound_filter=self.privacy.filter_messages,
            privacy=self.privacy,
        )

    def _attach_extensions(self, rt: Runtime, opts: RunOptions) -> None:
        """MCP servers' tools, then ``--agent`` / ``--taskforce``, then a resumed history."""
        # MCP servers' tools join the registry first, so agents and taskforces can pick them
        from bastion.mcp_client import attach_to_session

        self._mcp = attach_to_session(self, rt)
        self._setup: Any = None
        if opts.agent or opts.taskforce:
            from .taskforce import configure_session

            try:
                self._setup = configure_session(self, rt, opts)
            except BaseException:
                self._mcp.close()
                raise
        if self.resumed is not None:  # the stored history is sent again, as the model saw it
            self.agent.messages = stored_history(rt.sessions, self.resumed.id, self.agent.name)

    def _on_event(self, kind: str, data: dict[str, Any]) -> None:
        if self._display is not None:  # show first, so the user sees what set off an anomaly
            self._display(kind, data)
        if kind == "tool_result":
            self.telemetry.tool_called(str(data.get("name", "")), str(data.get("status", "")))
        self.recorder(kind, data)

    def run(self, task: str) -> AgentResult:
        try:
            result = (self._setup.run(self.agent, task) if self._setup is not None
                      else self.agent.run(task))
        except KeyboardInterrupt:
            self.recorder.status = "interrupted"
            raise
        except BaseException as exc:
            self.recorder.status = getattr(exc, "session_status", "failed")
            self.telemetry.error(f"session_{self.recorder.status}")
            raise
        self.recorder.status = result.status
        return result

    def close(self) -> None:
        try:
            self.recorder.end()
        finally:
            if self._setup is not None:
                self._setup.close()
            self._mcp.close()
            self.provider.close()
            if self._fetch_client is not None:
                self._fetch_client.close()
            self.telemetry.flush()

    def __enter__(self) -> AgentSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _audit_decision_hook(include_allowed: bool) -> Callable[[DecisionRecord], None]:
    """Policy decisions go to the audit log with the rule that made them and who settled them.

    Denials and anything that needed an answer are always recorded; plain allows follow
    ``audit.includeToolCalls`` (they restate the tool call itself).
    """

    def hook(record: DecisionRecord) -> None:
        if record.verdict == "allow" and not include_allowed:
            return
        audit.record("decision", record.outcome, {
            "decision": record.outcome, "verdict": record.verdict, "rule": record.rule,
            "tool": record.tool, "target": record.target, "access": record.access,
            "reason": record.reason, "approved_by": record.settled_by,
            "tool_call_id": record.tool_call_id}, session_id=record.session_id)

    return hook


def run_task(rt: Runtime, opts: RunOptions, *, on_text: Callable[[str], None] | None = None,
             on_event: Callable[[str, dict[str, Any]], None] | None = None) -> AgentResult:
    with AgentSession(rt, opts, on_text=on_text, on_event=on_event) as session:
        return session.run(opts.task)
