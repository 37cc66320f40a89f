"""The local web UI: loopback only, tokened, over the same application layer as the CLI.

Public API::

    open_ui(port=0, idle_timeout_s=1800) -> UiServer   # binds, opens the runtime
    server.url                                          # http://127.0.0.1:PORT/?token=...
    server.serve()  /  server.start(); server.close()   # foreground / background thread

``create_app(state)`` is the ASGI app (the gate in ``security.py`` wraps every route).
"""

from __future__ import annotations

from .security import Gate
from .server import UiServer, create_app
from .state import UiState


def open_ui(port: int = 0, idle_timeout_s: float = 30 * 60) -> UiServer:
    """Bind the loopback port(s), then open the runtime (settings, vault, database)."""
    from bastion.runtime import Runtime

    def state(gate: Gate) -> UiState:
        return UiState(Runtime.open(), gate)

    return UiServer(state, port, idle_timeout_s)


__all__ = ["Gate", "UiServer", "UiState", "create_app", "open_ui"]
