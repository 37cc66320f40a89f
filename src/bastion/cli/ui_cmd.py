"""``bastion ui [--port N] [--no-browser]`` — the local web UI."""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path

import typer

from bastion.ui import remove_opener

from .output import err


def ui(port: int = typer.Option(0, "--port", min=0, max=65535,
                                help="Port on 127.0.0.1 (default: a free one)."),
       no_browser: bool = typer.Option(False, "--no-browser", help="Only print the URL."),
       ) -> None:
    """Serve the local web UI (loopback only) and open it in the browser.

    The first line printed is the opening URL with this start's token; anyone who has it
    can use the UI until it stops, so do not share it.

    Example: bastion ui --port 8765 --no-browser
    """
    from bastion.ui import Gate, bind_loopback, start_ui

    sockets = bind_loopback(port)  # bound first: the URL works from the moment it is printed
    gate = Gate(sockets[0].getsockname()[1])
    print(gate.opening_url(), flush=True)
    server = start_ui(sockets, gate)  # unlocks the vault; requests wait in the listen queue
    err.print("serving on loopback only; Ctrl-C stops it", markup=False, style="dim")
    opener = None if no_browser else _open_browser(gate.opening_url())
    # uvicorn re-raises SIGTERM once it has shut down: exit through the finally blocks
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        with contextlib.suppress(KeyboardInterrupt):
            server.serve()
    finally:
        if opener is not None:
            remove_opener(opener)


def _open_browser(url: str) -> Path | None:
    """Open the browser on a private redirect file, so the token is not in its command line."""
    import webbrowser

    from bastion.ui import opener_file

    path = opener_file(url)
    try:
        if webbrowser.open(path.as_uri()):
            return path
    except Exception:  # no browser here: the printed URL is enough
        pass
    remove_opener(path)
    err.print("could not open a browser; open the URL above", markup=False)
    return None
