"""Which MCP servers exist for a session, and whether each may start.

User servers (``BASTION_HOME/settings.json`` ``mcpServers``) start when enabled. Project
servers (``<workspace>/.bastion/settings.json``) are inert until the user runs ``bastion trust``
for that folder; the trust pins the project's configuration files by hash, so any change to
a server's command, arguments or environment makes the project untrusted again and the
server does not start. Each server also has its own pin (:func:`server_pin`) that keys its
tool-list approval: a changed definition never inherits an earlier approval. A project
cannot shadow a user server of the same name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bastion.config import McpServerSettings, Settings, constrain_project
from bastion.policy import TrustStore, project_settings

Origin = Literal["user", "project"]
#: ready: may start · disabled: ``enabled: false`` · untrusted: a project server not trusted
#: (or changed since) · shadowed: a project server named like a user server · invalid
Status = Literal["ready", "disabled", "untrusted", "shadowed", "invalid"]
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def server_pin(server: McpServerSettings) -> str:
    """SHA-256 over what decides which program runs: command, arguments, environment, URL."""
    canonical = json.dumps({"command": server.command, "args": server.args, "env": server.env,
                            "url": server.url}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ServerEntry:
    name: str
    settings: McpServerSettings
    origin: Origin
    status: Status
    reason: str
    #: where the definition lives (for messages)
    source: str
    workspace: Path | None = None

    @property
    def pin(self) -> str:
        return server_pin(self.settings)

    @property
    def kind(self) -> str:
        return "http" if self.settings.url else "stdio"

    @property
    def key(self) -> str:
        """Identity for approvals: origin, project folder, name and the definition's pin."""
        where = f"{self.workspace}" if self.origin == "project" else "user"
        return f"{self.origin}:{where}:{self.name}:{self.pin}"


def server_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a server (it becomes part of ``mcp__<name>__<tool>``), or None."""
    if not name or not set(name) <= NAME_CHARS or "__" in name:
        return "server names may use letters, digits and single '-' (they become mcp__<name>__<tool>)"
    return None


def _check(name: str, server: McpServerSettings) -> str | None:
    if server_name_problem(name):
        return server_name_problem(name)
    if bool(server.command) == bool(server.url):
        return "set exactly one of 'command' (stdio server) or 'url' (HTTP server)"
    if server.url and not server.url.startswith(("http://", "https://")):
        return "'url' must start with http:// or https://"
    return None


def configured_servers(settings: Settings, workspace: Path | None, bastion_home: Path,
                       user_source: str = "user settings") -> list[ServerEntry]:
    entries: list[ServerEntry] = []
    for name, server in settings.mcp_servers.items():
        problem = _check(name, server)
        status: Status = "invalid" if problem else ("ready" if server.enabled else "disabled")
        entries.append(ServerEntry(name, server, "user", status,
                                   problem or ("" if server.enabled else "enabled: false"),
                                   user_source))
    if workspace is None:
        return entries
    project, path = project_settings(workspace)
    project = constrain_project(settings, project, path)  # never past managed settings
    if project is None or not project.mcp_servers:
        return entries
    state = TrustStore(bastion_home).state(workspace)
    for name, server in project.mcp_servers.items():
        problem = _check(name, server)
        if problem:
            status, reason = "invalid", problem
        elif name in settings.mcp_servers:
            status, reason = "shadowed", "a user server has the same name (the user's wins)"
        elif state != "trusted":
            status = "untrusted"
            reason = ("the project changed since you trusted it" if state == "changed"
                      else "the project is not trusted") + f"; run `bastion trust {workspace}`"
        elif not server.enabled:
            status, reason = "disabled", "enabled: false"
        else:
            status, reason = "ready", "trusted project"
        entries.append(ServerEntry(name, server, "project", status, reason, str(path),
                                   workspace))
    return entries
