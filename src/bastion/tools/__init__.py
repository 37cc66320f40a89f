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
from .edit import DeleteFile, EditFile, MoveFile, WriteFile, mutating_tools
from .fetch import FetchUrl
from .files import Glob, Grep, ListDir, ReadFile, read_only_tools
from .run_command import CommandOutcome, CommandRunner, RunCommand, RunCommandArgs

__all__ = [
    "CommandOutcome",
    "CommandRunner",
    "DeleteFile",
    "EditFile",
    "FetchUrl",
    "Glob",
    "Granted",
    "Grep",
    "ListDir",
    "MoveFile",
    "ReadFile",
    "Refused",
    "RunCommand",
    "RunCommandArgs",
    "Tool",
    "ToolArgs",
    "ToolContext",
    "ToolRegistry",
    "ToolResult",
    "WriteFile",
    "authorize",
    "describe_validation_error",
    "mutating_tools",
    "read_only_tools",
]
