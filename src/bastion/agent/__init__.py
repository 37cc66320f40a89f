"""The agent: the think → act loop over a tool registry, with its system prompts."""

from .loop import Agent, AgentResult
from .runner import AgentSession, RunOptions, run_task
from .prompts import GENERAL

__all__ = ["GENERAL", "Agent", "AgentResult", "AgentSession", "RunOptions", "run_task"]
