"""The ``bastion`` command: a Typer app; each command group lives in its own module."""

from __future__ import annotations

import sys
import traceback

import typer

from bastion import __version__
from bastion.errors import BastionError

from . import (
    agents_cmd,
    audit_cmd,
    config_cmd,
    doctor,
    exec_cmd,
    keys,
    mcp_cmd,
    policy_cmd,
    run,
    scan,
    sessions,
    telemetry_cmd,
    ui_cmd,
)
from . import changes as changes_cmd
from . import rights as rights_cmd
from . import trust as trust_cmd
from .output import err

app = typer.Typer(
    name="bastion",
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


app.command("run")(run.run)
app.command("chat")(run.chat)
app.command("doctor")(doctor.doctor)
app.command("scan")(scan.scan)
app.command("redact")(scan.redact)
app.command("exec", context_settings={"allow_interspersed_args": False})(
    exec_cmd.exec_command)
app.add_typer(sessions.app, name="sessions")
app.add_typer(keys.app, name="keys")
app.add_typer(config_cmd.app, name="config")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(policy_cmd.app, name="policy")
app.add_typer(agents_cmd.app, name="agents")
app.add_typer(agents_cmd.taskforces_app, name="taskforces")
app.add_typer(mcp_cmd.app, name="mcp")
app.command("changes")(changes_cmd.changes)
app.command("undo")(changes_cmd.undo)
app.command("redo")(changes_cmd.redo)
app.command("trust")(trust_cmd.trust)
app.command("untrust")(trust_cmd.untrust)
app.command("export")(rights_cmd.export)
app.command("delete")(rights_cmd.delete)
app.add_typer(telemetry_cmd.app, name="telemetry")
app.command("ui")(ui_cmd.ui)


def main() -> None:
    """Entry point: every BastionError becomes one clear line and a non-zero exit."""
    try:
        code = app(standalone_mode=False)
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
        import click

        if isinstance(exc, click.exceptions.ClickException):
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
