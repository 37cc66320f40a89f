"""``bastion run`` and ``bastion chat``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from bastion.agent import AgentSession, RunOptions, run_task
from bastion.agent.loop import tool_call_summary
from bastion.runtime import Runtime

from .output import err, out, print_json

WorkspaceOpt = typer.Option(Path("."), "--workspace", "-w", help="Workspace folder (default: cwd).")
ProviderOpt = typer.Option(None, "--provider", help="embedded, local, openai, anthropic or replay.")
ModelOpt = typer.Option(None, "--model", help="Model id (or GGUF path for embedded).")
ModeOpt = typer.Option(None, "--mode", help="standard, strict, audit or restricted.")
OfflineOpt = typer.Option(False, "--offline", help="Refuse every non-loopback connection.")
ApproveOpt = typer.Option("ask", "--approve", help="ask, auto or never (what to do with 'ask').")
ScriptOpt = typer.Option(None, "--script", help="Replay script (JSONL) for --provider replay.")
RecordOpt = typer.Option(None, "--record", help="Append every provider request to this JSONL file.")
AgentOpt = typer.Option(None, "--agent", help="Run as this agent (bastion agents list).")
TaskforceOpt = typer.Option(None, "--taskforce",
                            help="Run this taskforce (orchestrator + member agents).")


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


def run(
    task: str = typer.Argument(..., help="What the agent should do."),
    workspace: Path = WorkspaceOpt,
    provider: str | None = ProviderOpt,
    model: str | None = ModelOpt,
    mode: str | None = ModeOpt,
    offline: bool = OfflineOpt,
    approve: str = ApproveOpt,
    script: Path | None = ScriptOpt,
    record: Path | None = RecordOpt,
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
    max_steps: int | None = typer.Option(None, "--max-steps", min=1, help="Step limit for this run."),
    agent: str | None = AgentOpt,
    taskforce: str | None = TaskforceOpt,
) -> None:
    """Run one task to completion in a workspace and print the answer."""
    _check_choice(mode, ("standard", "strict", "audit", "restricted"), "--mode")
    _check_choice(approve, ("ask", "auto", "never"), "--approve")
    opts = RunOptions(task=task, workspace=workspace, provider=provider, model=model,
                      mode=mode, offline=offline, approve=approve,  # type: ignore[arg-type]
                      script=script, record=record, max_steps=max_steps, agent=agent,
                      taskforce=taskforce)
    with Runtime.open() as rt:
        result = run_task(rt, opts, on_event=_event_printer(not json_output))
    if json_output:
        print_json({"session_id": result.session_id, "answer": result.answer,
                    "status": result.status, "steps": result.steps})
    else:
        out.print(result.answer, markup=False)
        err.print(f"session {result.session_id} · {result.status} · {result.steps} step(s)",
                  markup=False, style="dim")


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
) -> None:
    """Interactive session with streaming output. Empty line or Ctrl-D ends it."""
    _check_choice(mode, ("standard", "strict", "audit", "restricted"), "--mode")
    _check_choice(approve, ("ask", "auto", "never"), "--approve")
    opts = RunOptions(task="", workspace=workspace, provider=provider, model=model,
                      mode=mode, offline=offline, approve=approve,  # type: ignore[arg-type]
                      script=script, record=record, agent=agent, taskforce=taskforce)

    def stream(text: str) -> None:
        out.print(text, end="", markup=False)

    with Runtime.open() as rt, AgentSession(rt, opts, on_text=stream,
                                            on_event=_event_printer(True)) as session:
        err.print(f"session {session.session_id} — empty line or Ctrl-D to quit", style="dim",
                  markup=False)
        while True:
            try:
                line = input("you> ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
            except EOFError:
                break
            if not line.strip():
                break
            out.print("bastion> ", end="", markup=False)
            session.run(line)
            out.print()
