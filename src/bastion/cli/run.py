"""``bastion run`` and ``bastion chat``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from bastion.agent import AgentSession, RunOptions, default_title, tool_call_summary
from bastion.errors import BastionError
from bastion.providers import PROVIDER_NAMES
from bastion.runtime import Runtime

from .events import EventStream
from .output import err, out
from .run_input import parse_overrides, settings_with_overrides, task_from_input

WorkspaceOpt = typer.Option(Path("."), "--workspace", "-w", help="Workspace folder (default: cwd).")
ProviderOpt = typer.Option(None, "--provider", help="embedded, local, openai, anthropic or replay.")
ModelOpt = typer.Option(None, "--model", help="Model id (or GGUF path for embedded).")
ModeOpt = typer.Option(None, "--mode", help="standard, strict, audit or restricted.")
OfflineOpt = typer.Option(False, "--offline", help="Refuse every non-loopback connection.")
ApproveOpt = typer.Option("ask", "--approve", help="ask, auto or never (what to do with 'ask').")
ScriptOpt = typer.Option(None, "--script", help="Replay script (JSONL); needs --provider replay.")
RecordOpt = typer.Option(None, "--record", help="Append every provider request to this JSONL file.")
AgentOpt = typer.Option(None, "--agent", help="Run as this agent (bastion agents list).")
TaskforceOpt = typer.Option(None, "--taskforce",
                            help="Run this taskforce (orchestrator + member agents).")
ContinueOpt = typer.Option(False, "--continue",
                           help="Continue the last session in this workspace (history sent again).")
ResumeOpt = typer.Option(None, "--resume", metavar="ID", help="Continue session ID.")
ConfigOpt = typer.Option(None, "--config", "-c", metavar="KEY=VALUE",
                         help="Override a setting for this run (repeatable), e.g. -c agent.maxSteps=5.")


def _check_choice(value: str | None, choices: tuple[str, ...], flag: str) -> None:
    if value is not None and value not in choices:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}", param_hint=flag)


def _event_printer(enabled: bool) -> Any:
    def show(kind: str, data: dict[str, Any]) -> None:
        if not enabled:
            return
        if kind == "tool_call":
            err.print(f"→ {data['name']} {tool_call_summary(data['arguments'])}", markup=False,
                      style="cyan")
        elif kind == "tool_result" and data["status"] != "ok":
            first = data["content"].splitlines()[0] if data["content"] else ""
            err.print(f"  {data['status']}: {first[:200]}", markup=False, style="yellow")
    return show


def _options(task: str, workspace: Path, provider: str | None, mode: str | None,
             approve: str, script: Path | None, settings: Any, **rest: Any) -> RunOptions:
    """Check the flags that depend on each other and build the run's options."""
    _check_choice(mode, ("standard", "strict", "audit", "restricted"), "--mode")
    _check_choice(approve, ("ask", "auto", "never"), "--approve")
    if provider is not None and provider not in PROVIDER_NAMES:
        raise typer.BadParameter(f"unknown provider {provider!r}; choose one of "
                                 f"{', '.join(PROVIDER_NAMES)}", param_hint="--provider")
    effective = provider or settings.default_provider
    if script is not None and effective != "replay":
        raise typer.BadParameter("--script is only used by --provider replay", param_hint="--script")
    return RunOptions(task=task, workspace=workspace, provider=provider, mode=mode,  # type: ignore[arg-type]
                      approve=approve, script=script, **rest)  # type: ignore[arg-type]


def run(
    task: str | None = typer.Argument(None, show_default=False,
                                      help="What the agent should do; '-' or none: read stdin."),
    workspace: Path = WorkspaceOpt,
    provider: str | None = ProviderOpt,
    model: str | None = ModelOpt,
    mode: str | None = ModeOpt,
    offline: bool = OfflineOpt,
    approve: str = ApproveOpt,
    script: Path | None = ScriptOpt,
    record: Path | None = RecordOpt,
    json_output: bool = typer.Option(False, "--json",
                                     help="Print JSON-lines events; the last line is the result."),
    max_steps: int | None = typer.Option(None, "--max-steps", min=1, help="Step limit for this run."),
    agent: str | None = AgentOpt,
    taskforce: str | None = TaskforceOpt,
    continue_last: bool = ContinueOpt,
    resume: str | None = ResumeOpt,
    config: list[str] | None = ConfigOpt,
) -> None:
    """Run one task to completion in a workspace and print the answer.

    Piped standard input is the task when TASK is missing or '-', and context appended to
    TASK otherwise.

    Example: git diff | bastion run "review this change" --approve never
    """
    settings = settings_with_overrides(parse_overrides(config))
    opts = _options("", workspace, provider, mode, approve, script, settings, model=model,
                    offline=offline, record=record, max_steps=max_steps, agent=agent,
                    taskforce=taskforce, resume=resume, continue_last=continue_last)
    text, from_stdin = task_from_input(task)  # flags are checked before stdin is read
    # the title comes from TASK itself, not from standard input appended to it (the session
    # redacts it like the history)
    opts.task, opts.title = text, default_title(task if task not in (None, "-") else text)
    events = EventStream() if json_output else None
    with Runtime.open(settings) as rt:
        _audit_overrides(rt, config, from_stdin)
        with AgentSession(rt, opts, on_event=events or _event_printer(True)) as session:
            if events is not None:
                events.started(session.session_id, workspace=str(session.agent.ctx.workspace),
                               provider=session.provider.name, model=session.provider.model,
                               resumed=session.resumed is not None)
            try:
                result = session.run(opts.task)
            except BastionError as exc:
                if events is not None:
                    events.finished("", getattr(exc, "session_status", "failed"), 0,
                                    error=exc.message)
                raise
    if events is not None:
        events.finished(result.answer, result.status, result.steps)
        return
    out.print(result.answer, markup=False)
    err.print(f"session {result.session_id} · {result.status} · {result.steps} step(s)",
              markup=False, style="dim")


def _audit_overrides(rt: Runtime, config: list[str] | None, from_stdin: bool) -> None:
    """Per-run setting overrides are a change of settings: audited like ``config set``."""
    if config:
        from bastion.audit import mask_setting

        pairs = parse_overrides(config)
        rt.audit.record("config", "override", {
            "overrides": {k: mask_setting(k, v) for k, v in pairs}, "scope": "this run"})
    if from_stdin:
        rt.audit.record("session", "stdin", {"used": True})


def chat(
    workspace: Path = WorkspaceOpt,
    provider: str | None = ProviderOpt,
    model: str | None = ModelOpt,
    mode: str | None = ModeOpt,
    offline: bool = OfflineOpt,
    approve: str = ApproveOpt,
    script: Path | None = ScriptOpt,
    record: Path | None = RecordOpt,
    agent: str | None = AgentOpt,
    taskforce: str | None = TaskforceOpt,
    continue_last: bool = ContinueOpt,
    resume: str | None = ResumeOpt,
    config: list[str] | None = ConfigOpt,
) -> None:
    """Interactive session with streaming output. Ctrl-D (or /exit) ends it.

    Example: bastion chat -w ~/project --continue
    """
    settings = settings_with_overrides(parse_overrides(config))
    opts = _options("", workspace, provider, mode, approve, script, settings, model=model,
                    offline=offline, record=record, agent=agent, taskforce=taskforce,
                    resume=resume, continue_last=continue_last)

    def stream(text: str) -> None:
        out.print(text, end="", markup=False)

    with Runtime.open(settings) as rt:
        _audit_overrides(rt, config, False)
        with AgentSession(rt, opts, on_text=stream, on_event=_event_printer(True)) as session:
            err.print(f"session {session.session_id} — Ctrl-D or /exit to quit", style="dim",
                      markup=False)
            _chat_loop(session)


def _chat_loop(session: AgentSession) -> None:
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = input("you> ") if interactive else sys.stdin.readline()
        except EOFError:
            break
        if not interactive and not line:
            break  # end of piped input
        line = line.rstrip("\n")
        if line.strip() in ("/exit", "/quit"):
            break
        if not line.strip():
            continue  # an empty line is not the end of the conversation
        out.print("bastion> ", end="", markup=False)
        session.run(line)
        out.print()
