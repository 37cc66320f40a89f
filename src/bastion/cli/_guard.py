"""How every command ends: one clear line and a documented exit status, never a traceback.

:func:`guarded` runs a command's body — Typer's dispatch (cli/_app.py) or the Typer-free
``exec`` path (cli/exec_run.py) — with the one signal path installed, and maps what escapes it:
2 for usage errors (with the usage), 1 for refused or failed operations, 3 for a paused run,
128+N for signal N; "internal error" (70) is left for genuine bugs only. Typer is not imported
here: its exceptions are recognised only when Typer is already loaded (nothing else raises them).
"""

from __future__ import annotations

import errno
import importlib
import os
import signal
import sys
import traceback
from collections.abc import Callable

from bastion.errors import BastionError

from .output import err

#: ``--debug`` (set by the root callback or the exec fast path): tracebacks for errors
_state = {"debug": False}


def guarded(body: Callable[[], object]) -> None:
    """Run ``body`` (its int result, when non-zero, is the exit status) the way every command
    ends; exits through ``SystemExit`` with the status."""
    _install_signal_handlers()
    try:
        code = body()
        if _received:  # typer turns an interruption into a return value of 130
            raise Terminated(_received[0])
        if isinstance(code, int) and code:
            sys.exit(code)
    except BastionError as exc:
        if _state["debug"]:
            traceback.print_exc()
        err.print(f"[red]error:[/red] {exc.message}", markup=True, highlight=False)
        if exc.hint:
            err.print(f"  hint: {exc.hint}", markup=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Terminated) else int(signal.SIGINT)
        err.print(f"interrupted ({signal.Signals(signum).name})", markup=False)
        sys.exit(128 + signum)
    except Exception as exc:  # click's own exceptions, the environment, genuine bugs
        sys.exit(_other_error(exc))


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: taken down the same path as Ctrl-C (process tree killed, changes
    journaled, session marked interrupted, audit checkpoint closed)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


#: the signal that interrupted this process (typer may swallow the exception it raised)
_received: list[int] = []


def _on_signal(signum: int, _frame: object) -> None:
    _received.append(signum)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # clean-up runs once, in peace
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(signum)


def _install_signal_handlers() -> None:
    """One signal path: SIGINT, SIGTERM and SIGHUP all unwind as an interruption."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_IGN and sig != signal.SIGINT:
            continue  # e.g. started under nohup: keep ignoring
        signal.signal(sig, _on_signal)


def _other_error(exc: Exception) -> int:
    """Exit status for an exception that is not a :class:`BastionError` (printed here)."""
    handled = usage_exit(exc)
    if handled is not None:
        return handled
    message = environment_error(exc)
    if message is not None:
        if _state["debug"]:
            traceback.print_exception(exc)
        err.print(f"[red]error:[/red] {message}", markup=True, highlight=False)
        return 1
    _crash_report(exc)
    if _state["debug"]:
        traceback.print_exception(exc)
    err.print(f"[red]internal error:[/red] {type(exc).__name__}: {exc} "
              "(run with --debug for the traceback)", markup=True, highlight=False)
    return 70


def _click_classes(name: str) -> tuple[type[BaseException], ...]:
    """``name`` from click and from the copy typer vendors (typer >= 0.2x has its own)."""
    found: list[type[BaseException]] = []
    for module in ("click.exceptions", "typer._click.exceptions", "typer.exceptions"):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        cls = getattr(mod, name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException) and cls not in found:
            found.append(cls)
    return tuple(found)


def usage_exit(exc: BaseException) -> int | None:
    """Show a click/typer exception (usage errors with the usage) and return its exit status."""
    if "typer" not in sys.modules:  # only Typer's dispatch raises them
        return None
    import typer

    if isinstance(exc, (typer.Exit, *_click_classes("Exit"))):
        return int(getattr(exc, "exit_code", 0) or 0)
    if isinstance(exc, (typer.Abort, *_click_classes("Abort"))):
        err.print("aborted", markup=False)
        return 1
    if isinstance(exc, _click_classes("ClickException")):
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(f"error: {exc}", markup=False)
        return int(getattr(exc, "exit_code", 1))
    return None


_ENV_ERRNOS = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
               errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
               errno.EROFS: "read-only file system", errno.EISDIR: "is a directory",
               errno.ENOTDIR: "not a directory", errno.EEXIST: "already exists",
               errno.ENAMETOOLONG: "file name too long", errno.EMFILE: "too many open files",
               errno.ENOENT: "no such file or directory", errno.EIO: "input/output error"}


def environment_error(exc: BaseException) -> str | None:
    """One line for a failure of the machine rather than of Bastion (disk full, permissions)."""
    if isinstance(exc, OSError) and exc.errno in _ENV_ERRNOS:
        what = _ENV_ERRNOS[exc.errno]
        if exc.filename:
            where = os.fsdecode(exc.filename)
            if exc.filename2:
                where += f" -> {os.fsdecode(exc.filename2)}"
            return f"{what}: {where} (nothing else was changed)"
        return f"{what} while writing under {_home_for_message()} (nothing else was changed)"
    text = str(exc)
    if type(exc).__module__.startswith(("sqlcipher3", "sqlite3")):
        if "disk is full" in text or "disk I/O error" in text:
            return (f"the database in {_home_for_message()} cannot be written: {text} "
                    "(free some space and retry; committed data is intact)")
        if "locked" in text or "readonly" in text:
            return f"the database in {_home_for_message()} is not writable now: {text}"
    return None


def _home_for_message() -> str:
    return os.environ.get("BASTION_HOME") or "the Bastion data directory"


def _crash_report(exc: BaseException) -> None:
    """``telemetry.crashReports``: keep a redacted report locally (never sent anywhere)."""
    try:
        from bastion.config import load_settings
        from bastion.home import bastion_home
        from bastion.rights import write_crash_report

        path = write_crash_report(bastion_home(), exc, load_settings())
    except Exception:  # a crash report must never hide the original error
        return
    if path is not None:
        err.print(f"a redacted crash report was saved to {path}", markup=False)
