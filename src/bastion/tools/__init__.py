"""Built-in tools (contract §3.4) and the registry that offers them to the model."""

from .base import (
    Granted,
    Refused,
    Tool,
    ToolArgs,
    ToolContext,
    ToolRegistry,
    ToolResult,
    authorize,
    describe_validation_error,
)
from .files import Glob, Grep, ListDir, ReadFile, read_only_tools

__all__ = [
    "Glob",
    "Granted",
    "Grep",
    "ListDir",
    "ReadFile",
    "Refused",
    "Tool",
    "ToolArgs",
    "ToolContext",
    "ToolRegistry",
    "ToolResult",
    "authorize",
    "describe_validation_error",
    "read_only_tools",
]
