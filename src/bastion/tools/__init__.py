"""Built-in tools (contract §3.4) and the registry that offers them to the model."""

from .base import Tool, ToolArgs, ToolContext, ToolRegistry, ToolResult, describe_validation_error
from .files import Glob, Grep, ListDir, ReadFile, read_only_tools

__all__ = [
    "Glob",
    "Grep",
    "ListDir",
    "ReadFile",
    "Tool",
    "ToolArgs",
    "ToolContext",
    "ToolRegistry",
    "ToolResult",
    "describe_validation_error",
    "read_only_tools",
]
