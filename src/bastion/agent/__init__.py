"""The agent: the think → act loop over a tool registry, with its system prompts.

Agent definitions and taskforces (``definitions``, ``taskforce``) load on first use: a plain
run does not need them.
"""

from typing import TYPE_CHECKING

from bastion.lazyattrs import lazy_getattr

from .loop import Agent, AgentResult, tool_call_summary
from .prompts import GENERAL
from .runner import AgentSession, RunOptions, default_title, run_task

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


__getattr__ = lazy_getattr(__name__, globals(), _LAZY)


__all__ = [
    "GENERAL",
    "Agent",
    "AgentCatalog",
    "AgentResult",
    "AgentSession",
    "DefinitionError",
    "RunOptions",
    "check_narrowing",
    "default_title",
    "load_agent_file",
    "load_agents",
    "load_taskforce_file",
    "load_taskforces",
    "read_yaml",
    "run_task",
    "tool_call_summary",
]
