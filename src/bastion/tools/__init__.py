"""Built-in tools (contract §3.4) and the registry that offers them to the model."""

from typing import TYPE_CHECKING

from bastion.lazyattrs import lazy_getattr

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

if TYPE_CHECKING:
    from .edit import DeleteFile, EditFile, MoveFile, WriteFile, mutating_tools
    from .fetch import FetchUrl
    from .files import Glob, Grep, ListDir, ReadFile, read_only_tools
    from .run_command import CommandOutcome, CommandRunner, RunCommand, RunCommandArgs

#: the tools themselves load on first use (``bastion exec`` needs only the command runner;
#: fetch_url pulls in the network client)
_LAZY = {
    **dict.fromkeys(("DeleteFile", "EditFile", "MoveFile", "WriteFile", "mutating_tools"),
                    ".edit"),
    "FetchUrl": ".fetch",
    **dict.fromkeys(("Glob", "Grep", "ListDir", "ReadFile", "read_only_tools"), ".files"),
    **dict.fromkeys(("CommandOutcome", "CommandRunner", "RunCommand", "RunCommandArgs"),
                    ".run_command"),
}


__getattr__ = lazy_getattr(__name__, globals(), _LAZY)

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
