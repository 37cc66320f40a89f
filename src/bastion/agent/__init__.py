"""The agent: the think → act loop over a tool registry, with its system prompts.

Agent definitions and taskforces (``definitions``, ``taskforce``) load on first use: a plain
run does not need them.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .loop import Agent, AgentResult, tool_call_summary
from .prompts import GENERAL
from .runner import AgentSession, RunOptions, run_task

if TYPE_CHECKING:
    from .definitions import (
        AgentCatalog,
        DefinitionError,
        check_narrowing,
        load_agent_file,
        load_agents,
        read_yaml,
    )
    from .taskforce import load_taskforce_file, load_taskforces

_LAZY = {
    **dict.fromkeys(("AgentCatalog", "DefinitionError", "check_narrowing", "load_agent_file",
                     "load_agents", "read_yaml"), ".definitions"),
    **dict.fromkeys(("load_taskforce_file", "load_taskforces"), ".taskforce"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "GENERAL",
    "Agent",
    "AgentCatalog",
    "AgentResult",
    "AgentSession",
    "DefinitionError",
    "RunOptions",
    "check_narrowing",
    "load_agent_file",
    "load_agents",
    "load_taskforce_file",
    "load_taskforces",
    "read_yaml",
    "run_task",
    "tool_call_summary",
]
