"""A private, persistent, writable folder for each stdio MCP server.

Servers run in the sandbox, where their install folder is read-only; a stateful server (the
npm ``server-memory`` keeps its knowledge graph in a file) needs somewhere to write that
survives the run. Each server gets ``BASTION_HOME/mcp-state/<scope>/<name>`` (0700), bound
read-write into its sandbox and nothing else of BASTION_HOME. User servers share the ``user``
scope; a project's servers get a scope per project folder, so two projects' servers named
alike never see each other's state. The folders are part of ``bastion export`` and are
removed by ``bastion delete --all`` (everything under BASTION_HOME) and ``mcp remove``.

The conventional environment variables are pointed into it (the user's ``env`` for the server
wins): ``HOME``, the XDG data/state/config/cache homes, and variables that known servers
document (``MEMORY_FILE_PATH`` for ``@modelcontextprotocol/server-memory``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from bastion.fsutil import walk

STATE_DIR = "mcp-state"

#: variables documented by known servers: name → file or folder inside the state folder
KNOWN_VARIABLES = {"MEMORY_FILE_PATH": "memory.jsonl"}


def state_dir(home: Path, name: str, workspace: Path | None = None) -> Path:
    """Where server ``name`` keeps its state (project servers: per project folder)."""
    if workspace is None:
        scope = "user"
    else:
        scope = "project-" + hashlib.sha256(str(workspace).encode()).hexdigest()[:16]
    return home / STATE_DIR / scope / name


def ensure_state_dir(path: Path) -> Path:
    """Create ``path`` (and its parents below BASTION_HOME) private to this user: 0700."""
    for folder in reversed([path, *path.parents][:3]):  # mcp-state/<scope>/<name>
        folder.mkdir(mode=0o700, exist_ok=True)
        if folder.is_symlink() or not folder.is_dir():
            raise OSError(f"{folder} is not a folder")
        os.chmod(folder, 0o700)
    return path


def state_env(path: Path) -> dict[str, str]:
    """Environment for a server whose state folder is ``path``."""
    env = {"BASTION_MCP_STATE_DIR": str(path), "HOME": str(path),
           "XDG_DATA_HOME": str(path / "data"), "XDG_STATE_HOME": str(path / "state"),
           "XDG_CONFIG_HOME": str(path / "config"), "XDG_CACHE_HOME": str(path / "cache")}
    env.update({k: str(path / v) for k, v in KNOWN_VARIABLES.items()})
    return env


def state_files(home: Path) -> dict[str, bytes]:
    """Every state file, keyed ``mcp-state/<scope>/<name>/...`` (for ``bastion export``)."""
    root = home / STATE_DIR
    out: dict[str, bytes] = {}
    if not root.is_dir():
        return out
    found = [Path(dirpath) / name for dirpath, _dirs, files in walk(root) for name in files]
    for path in sorted(found):  # a server's own tree: any depth, links not followed
        if path.is_file() and not path.is_symlink():
            out[str(path.relative_to(home))] = path.read_bytes()
    return out
