"""``bastion ui [--port N] [--no-browser]`` — the local web UI."""

from __future__ import annotations

import contextlib

import typer

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
    from bastion.ui import open_ui

    server = open_ui(port)
    print(server.url, flush=True)
    err.print("serving on loopback only; Ctrl-C stops it", markup=False, style="dim")
    if not no_browser:
        import webbrowser

        try:
            webbrowser.open(server.url)
        except Exception:  # no browser here: the printed URL is enough
            err.print("could not open a browser; open the URL above", markup=False)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve()
