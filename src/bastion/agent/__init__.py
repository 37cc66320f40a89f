"""The agent: the think → act loop over a tool registry, with its system prompts."""

from .loop import Agent, AgentResult
from .prompts import GENERAL
from .runner import AgentSession, RunOptions, run_task

__all__ = ["GENERAL", "Agent", "AgentResult", "AgentSession", "RunOptions", "run_task"]
