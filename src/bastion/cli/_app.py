"""The ``bastion`` command: a Typer app; each command group lives in its own module."""

from __future__ import annotations

import typer

from bastion import __version__

from ._guard import _state, guarded
from .lazy import LazyGroup, register

app = typer.Typer(
    name="bastion",
    cls=LazyGroup,
    rich_markup_mode=None,  # plain, man-style help: no boxes, and no rich/markdown import
    help="A local-first AI agent that cannot leak, break or exceed what you granted it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"bastion {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    _state["debug"] = debug


# One line per command: name, "module:attribute" in bastion.cli, the one-line help that
# `bastion --help` shows. The module is imported only when the command is used (cli/lazy.py).
register("run", "run:run", "Run one task to completion in a workspace and print the answer.")
register("chat", "run:chat", "Interactive session with streaming output and approval prompts.")
register("lock", "exec_cmd:lock", "Forget the unlocked master key cached for this login session.")
register("exec", "exec_cmd:exec_command", "Run a command in the agent's sandbox, journaled and audited.",
         allow_interspersed_args=False)
register("scan", "scan:scan", "Find secrets in a file, folder or stdin; exit 1 when any is found.")
register("redact", "scan:redact", "Print the text with every secret replaced by a placeholder.")
register("sessions", "sessions:app", "Conversation history (stored encrypted).")
register("changes", "changes:changes", "List journaled file operations, newest first.")
register("undo", "changes:undo", "Restore files to their state before journaled operation(s).")
register("redo", "changes:redo", "Re-apply what the most recent undo reverted.")
register("audit", "audit_cmd:app", "The tamper-evident audit log: verify, export, tail.")
register("keys", "keys:app", "Provider API keys (AES-256-GCM inside the encrypted database).")
register("config", "config_cmd:app", "User settings (settings.json, camelCase keys).")
register("policy", "policy_cmd:app", "Inspect the permission policy.")
register("trust", "trust:trust", "Trust a project's own .bastion/ settings, agents and MCP servers.")
register("untrust", "trust:untrust", "Withdraw trust in a project's own settings.")
register("agents", "agents_cmd:app", "Agent definitions (built-in, user, project).")
register("taskforces", "agents_cmd:taskforces_app", "Taskforces: an orchestrator and member agents.")
register("mcp", "mcp_cmd:app", "MCP servers (tools appear as mcp__<server>__<tool>).")
register("export", "rights:export", "Export your data: conversations, settings, audit log.")
register("delete", "rights:delete", "Delete data (all, a session, a project, --remote).")
register("telemetry", "telemetry_cmd:app", "Local-only usage statistics (never sent anywhere).")
register("sync", "sync_cmd:app", "End-to-end-encrypted sync to storage you own (S3 or a folder).")
register("doctor", "doctor:doctor", "Report sandbox, key custody, database, model and network readiness.")
register("ui", "ui_cmd:ui", "Serve the local web UI (loopback only) and open it in the browser.")
register("completion", "completion_cmd:completion", "Print the shell completion script (bash, zsh, fish).")


def main() -> None:
    """Entry point: every error becomes one clear line and a documented exit status.

    2 for usage errors (with the usage), 1 for refused or failed operations, 3 for a paused
    run; "internal error" (70) is left for genuine bugs only (cli/_guard.py).
    """
    guarded(lambda: app(prog_name="bastion", standalone_mode=False))
