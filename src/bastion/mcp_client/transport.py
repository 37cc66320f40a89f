"""The stdio transport for a server that runs inside Bastion's sandbox.

The SDK's own ``stdio_client`` spawns the server itself, which would put it outside the
sandbox. Here the sandbox starts the process (``bastion.sandbox.process.start_sandboxed``)
and this module only moves newline-delimited JSON-RPC between its pipes and the SDK's
in-memory streams. Blocking pipe reads run in worker threads so the event loop never stalls.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any, Protocol

import anyio
import anyio.to_thread
import mcp_types
from mcp.shared.message import SessionMessage

from bastion.config import McpServerSettings, Settings
from bastion.errors import BastionError

from .state import ensure_state_dir, state_env

log = logging.getLogger(__name__)

#: folders the sandbox already shows read-only; program files inside need no extra mount
SYSTEM_PREFIXES = ("/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/etc/", "/opt/")


class ServerProcess(Protocol):
    @property
    def stdin(self) -> IO[bytes]: ...
    @property
    def stdout(self) -> IO[bytes]: ...
    def stop(self, grace_s: float = 2.0) -> int | None: ...


class McpStartError(BastionError):
    """The server could not be started or did not answer the MCP handshake."""


def _node_package_root(path: Path) -> Path | None:
    """The folder holding the outermost ``node_modules`` above ``path`` (a Node install)."""
    found = None
    for parent in path.parents:
        if parent.name == "node_modules":
            found = parent.parent
    return found


def program_roots(command: str, args: list[str]) -> tuple[str, list[Path]]:
    """The executable to run and the folders/files the program itself needs, read-only.

    Only the program is made visible, never a folder a server is told to serve: for the
    command, its virtualenv (``bin/..`` holding ``pyvenv.cfg``) or its installation prefix
    (``bin/..``) when outside the system folders; for each absolute *file* argument (a
    script), the Node install holding it (the folder above ``node_modules``) or the file.
    Directory arguments (a filesystem server's roots) are not mounted: the session's grants
    decide what the server can see.
    """
    exe = shutil.which(command)
    if exe is None:
        raise McpStartError(f"MCP server command {command!r} not found on PATH")
    lexical = Path(os.path.abspath(exe))
    roots: list[Path] = []
    for candidate in (lexical, Path(os.path.realpath(lexical))):
        if str(candidate).startswith(SYSTEM_PREFIXES):
            continue
        if candidate.parent.name == "bin":
            roots.append(candidate.parent.parent)  # a virtualenv or an install prefix
        else:
            roots.append(candidate)
    for arg in args:
        p = Path(arg)
        if not p.is_absolute() or not p.is_file() or str(p).startswith(SYSTEM_PREFIXES):
            continue
        roots.append(_node_package_root(p) or p)
    return str(lexical), list(dict.fromkeys(roots))


def start_server(server: McpServerSettings, settings: Settings, policy: Any,
                 state: Path | None = None) -> ServerProcess:
    """Start a stdio server inside the sandbox compiled from ``policy`` (the session's grants).

    ``state``: the server's private state folder (mcp_client/state.py), bound read-write.
    """
    from bastion.sandbox import SandboxUnavailable, compile_spec, start_sandboxed

    assert server.command is not None
    exe, roots = program_roots(server.command, server.args)
    state_vars = state_env(ensure_state_dir(state)) if state is not None else {}
    if settings.sandbox.mode == "none":
        return _start_unsandboxed([exe, *server.args], server, Path(policy.workspace),
                                  state_vars)
    try:
        spec = compile_spec(policy, settings.sandbox)
    except SandboxUnavailable:
        raise
    spec.read_only = [*spec.read_only, *(r for r in roots if r not in spec.read_only)]
    if state is not None:
        spec.writable = [*spec.writable, state]
    # variables the user wrote for this server are theirs to give (a project server's only
    # after `bastion trust`); the rest of the environment is the sandbox's allowlist
    spec.env = {**spec.env, **state_vars, **server.env}
    errlog = _errlog()
    return start_sandboxed([exe, *server.args], spec, stderr=errlog,
                           cpu_budget_s=settings.sandbox.mcp_cpu_seconds)


def _errlog() -> IO[bytes]:
    import tempfile

    return tempfile.TemporaryFile(prefix="bastion-mcp-stderr-")


class _Plain:
    """``sandbox.mode: "none"`` (the user's explicit choice): a plain child process."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc

    @property
    def stdin(self) -> IO[bytes]:
        assert self.proc.stdin is not None
        return self.proc.stdin

    @property
    def stdout(self) -> IO[bytes]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    def stop(self, grace_s: float = 2.0) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            self.stdin.close()
        try:
            return self.proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, 9)
            return self.proc.wait()
        finally:
            with contextlib.suppress(OSError, ValueError):
                self.stdout.close()


def _start_unsandboxed(argv: list[str], server: McpServerSettings, workspace: Path,
                       state_vars: dict[str, str]) -> _Plain:
    import sys

    from bastion.sandbox import build_env

    sys.stderr.write("bastion: WARNING: starting an MCP server WITHOUT a sandbox "
                     "(settings: sandbox.mode = \"none\")\n")
    env = {**build_env(os.environ, workspace=workspace), **state_vars, **server.env}
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, cwd=str(workspace),
                            start_new_session=True)
    return _Plain(proc)


def _parse(line: bytes) -> SessionMessage | Exception:
    try:
        message = mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)
    except ValueError as exc:
        return exc
    return SessionMessage(message)


@contextlib.asynccontextmanager
async def process_streams(process: ServerProcess) -> AsyncIterator[tuple[Any, Any]]:
    """SDK read/write streams over ``process``'s pipes; stops the process on exit."""
    read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](16)
    write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](16)

    async def pump_out() -> None:
        async with read_writer:
            while True:
                line = await anyio.to_thread.run_sync(process.stdout.readline,
                                                      abandon_on_cancel=True)
                if not line:
                    return  # the server exited or closed stdout
                if line.strip():
                    await read_writer.send(_parse(line))

    def write(data: bytes) -> None:
        process.stdin.write(data)
        process.stdin.flush()

    async def pump_in() -> None:
        async with write_reader:
            async for message in write_reader:
                data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                try:
                    await anyio.to_thread.run_sync(write, data.encode() + b"\n")
                except (OSError, ValueError):
                    await read_writer.aclose()
                    return

    async with anyio.create_task_group() as tg:
        tg.start_soon(pump_out)
        tg.start_soon(pump_in)
        try:
            yield read_stream, write_stream
        finally:
            await write_stream.aclose()
            # stopping closes the pipes, which ends the blocked reader thread
            await anyio.to_thread.run_sync(process.stop)
            tg.cancel_scope.cancel()
