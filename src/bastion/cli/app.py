"""The ``bastion`` command: a Typer app; each command group lives in its own module."""

from __future__ import annotations

import sys
import traceback

import typer

from bastion import __version__
from bastion.errors import BastionError

from .lazy import LazyGroup, register
from .output import err

app = typer.Typer(
    name="bastion",
    cls=LazyGroup,
    help="A local-first AI agent that cannot leak, break or exceed what you granted it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


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
    """Entry point: every BastionError becomes one clear line and a non-zero exit."""
    try:
        code = app(prog_name="bastion", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except BastionError as exc:
        if _state["debug"]:
            traceback.print_exc()
        err.print(f"[red]error:[/red] {exc.message}", markup=True, highlight=False)
        if exc.hint:
            err.print(f"  hint: {exc.hint}", markup=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted", markup=False)
        sys.exit(1)
    except Exception as exc:  # click usage errors and genuine bugs
        from typer.core import _click  # Typer >= 0.24 raises its own copy of Click's errors

        if isinstance(exc, _click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        _crash_report(exc)
        if _state["debug"]:
            raise
        err.print(f"[red]internal error:[/red] {type(exc).__name__}: {exc} "
                  "(run with --debug for the traceback)", markup=True, highlight=False)
        sys.exit(70)


def _crash_report(exc: BaseException) -> None:
    """``telemetry.crashReports``: keep a redacted report locally (never sent anywhere)."""
    try:
        from bastion.config import load_settings
        from bastion.home import bastion_home
        from bastion.rights.telemetry import write_crash_report

        path = write_crash_report(bastion_home(), exc, load_settings())
    except Exception:  # a crash report must never hide the original error
        return
    if path is not None:
        err.print(f"a redacted crash report was saved to {path}", markup=False)
