"""One task from start to finish: open the session, build provider and tools, run the loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bastion.errors import BastionError
from bastion.policy import Policy
from bastion.providers import ProviderOptions, create_provider
from bastion.runtime import Runtime
from bastion.tools import ToolContext, ToolRegistry, read_only_tools

from .loop import Agent, AgentResult
from .prompts import GENERAL

Mode = Literal["standard", "strict", "restricted"]
Approve = Literal["ask", "auto", "never"]


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


def check_workspace(path: Path) -> Path:
    resolved = path.expanduser().resolve()
    if not resolved.is_dir():
        raise BastionError(f"workspace {path} is not a directory")
    return resolved


class AgentSession:
    """An open session: provider loaded, tools registered, history persisting. ``run`` per turn."""

    def __init__(self, rt: Runtime, opts: RunOptions, *,
                 on_text: Callable[[str], None] | None = None,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        settings = rt.settings
        workspace = check_workspace(opts.workspace)
        provider_name = opts.provider or settings.default_provider
        offline = opts.offline or settings.offline_mode
        self.provider = create_provider(
            ProviderOptions(name=provider_name, model=opts.model, script=opts.script,
                            record=opts.record, offline=offline,
                            api_key=rt.api_keys.get(provider_name)),
            settings,
        )
        title = opts.task.strip().splitlines()[0] if opts.task.strip() else "(interactive)"
        self.session_id = rt.sessions.create(title=title, workspace=str(workspace),
                                             agent="general", provider=provider_name,
                                             model=self.provider.model)
        ctx = ToolContext(workspace=workspace, policy=Policy(workspace),
                          session_id=self.session_id)
        self.agent = Agent(
            provider=self.provider, tools=ToolRegistry(read_only_tools()), ctx=ctx,
            store=rt.sessions, session_id=self.session_id, system_prompt=GENERAL,
            max_steps=opts.max_steps or settings.agent.max_steps,
            tool_output_limit=settings.agent.tool_output_limit, on_text=on_text,
            on_event=on_event,
        )

    def run(self, task: str) -> AgentResult:
        return self.agent.run(task)

    def close(self) -> None:
        self.provider.close()

    def __enter__(self) -> AgentSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_task(rt: Runtime, opts: RunOptions, *, on_text: Callable[[str], None] | None = None,
             on_event: Callable[[str, dict[str, Any]], None] | None = None) -> AgentResult:
    with AgentSession(rt, opts, on_text=on_text, on_event=on_event) as session:
        return session.run(opts.task)
