"""The local web UI: loopback only, tokened, over the same application layer as the CLI.

Public API::

    bind_loopback(port) -> [socket]          # 127.0.0.1 (+ [::1]) only; cheap to import
    Gate(port, idle_timeout_s)               # the token, cookie sessions, Host/Origin rules
    gate.opening_url()                       # http://127.0.0.1:PORT/?token=...
    opener_file(url) -> Path                 # 0600 redirect file: open the browser on it
    start_ui(sockets, gate) -> UiServer      # opens the runtime and builds the app
    open_ui(port=0, idle_timeout_s=1800)     # both of the above in one call (tests, bench)
    server.serve()  /  server.start(); server.close()   # foreground / background thread

``create_app(state)`` (``bastion.ui.server``) is the ASGI app; the gate in ``security.py``
wraps every route. This module imports the web stack only when a server is started, so
``bastion ui`` prints its URL before loading it.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from .listen import bind_loopback, opener_file, remove_opener
from .security import Gate

if TYPE_CHECKING:
    from .server import UiServer


def start_ui(sockets: list[socket.socket], gate: Gate) -> UiServer:
    """Open the runtime (settings, vault, database) and build the server on ``sockets``."""
    from bastion.runtime import Runtime

    from .server import UiServer
    from .state import UiState

    return UiServer(sockets, gate, lambda g: UiState(Runtime.open(), g))


def open_ui(port: int = 0, idle_timeout_s: float = 30 * 60) -> UiServer:
    sockets = bind_loopback(port)
    return start_ui(sockets, Gate(sockets[0].getsockname()[1], idle_timeout_s))


__all__ = ["Gate", "bind_loopback", "open_ui", "opener_file", "remove_opener", "start_ui"]
