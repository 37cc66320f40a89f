"""Build the app and serve it on the loopback sockets ``listen.bind_loopback`` opened."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import actions, pages, run_routes
from .listen import close_sockets
from .security import Gate, GateMiddleware
from .state import UiState

STATIC = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
_static_cache: dict[str, bytes] = {}


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in STATIC:  # a fixed set of files: no path is ever built from the request
        return Response("not found", status_code=404, media_type="text/plain")
    if name not in _static_cache:
        _static_cache[name] = (Path(__file__).parent / "static" / name).read_bytes()
    return Response(_static_cache[name], media_type=STATIC[name])


ROUTES = [
    Route("/", pages.home),
    Route("/static/{name}", static),
    Route("/sessions", pages.sessions),
    Route("/sessions/{sid}", pages.session_view),
    Route("/sessions/{sid}/delete", actions.session_delete, methods=["POST"]),
    Route("/changes", pages.changes),
    Route("/changes/undo", actions.undo, methods=["POST"]),
    Route("/changes/redo", actions.redo, methods=["POST"]),
    Route("/audit", pages.audit),
    Route("/audit/stream", pages.audit_stream),
    Route("/audit/export", actions.audit_export, methods=["POST"]),
    Route("/network", pages.network),
    Route("/settings", pages.settings),
    Route("/settings", actions.settings_set, methods=["POST"]),
    Route("/data", pages.data),
    Route("/data/export", actions.data_export, methods=["POST"]),
    Route("/data/delete-session", actions.data_delete_session, methods=["POST"]),
    Route("/data/delete-project", actions.data_delete_project, methods=["POST"]),
    Route("/data/delete-all", actions.data_delete_all, methods=["POST"]),
    Route("/data/delete-remote", actions.data_delete_remote, methods=["POST"]),
    Route("/keys", pages.keys),
    Route("/keys/set", actions.keys_set, methods=["POST"]),
    Route("/keys/delete", actions.keys_delete, methods=["POST"]),
    Route("/keys/rotate", actions.keys_rotate, methods=["POST"]),
    Route("/run", run_routes.run_page),
    Route("/run", run_routes.run_start, methods=["POST"]),
    Route("/runs/{rid}/events", run_routes.run_events),
    Route("/runs/{rid}/approve", run_routes.run_approve, methods=["POST"]),
    Route("/runs/{rid}/say", run_routes.run_say, methods=["POST"]),
]


def create_app(state: UiState) -> Any:
    """The ASGI app: the gate wraps everything, so no route runs before it."""
    app = Starlette(routes=ROUTES)
    app.state.ui = state
    return GateMiddleware(app, state.gate)


class UiServer:
    """A running UI: ``start()`` binds and serves in a thread; ``stop()`` shuts it down."""

    def __init__(self, sockets: list[socket.socket], gate: Gate,
                 state_factory: Callable[[Gate], UiState]) -> None:
        self.sockets = sockets
        self.port: int = gate.port
        self.gate = gate
        try:
            self.state = state_factory(gate)
        except BaseException:
            close_sockets(sockets)
            raise
        self.state.shutdown = self.stop
        import uvicorn

        config = uvicorn.Config(create_app(self.state), log_level="warning", access_log=False,
                                lifespan="off", server_header=False, date_header=False,
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.gate.opening_url()

    def serve(self) -> None:
        """Serve in this thread until :meth:`stop` (or Ctrl-C)."""
        try:
            self.server.run(sockets=self.sockets)
        finally:
            self.close()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.run,
                                        kwargs={"sockets": self.sockets}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.state.runs.stop()

    def close(self) -> None:
        self.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10)
        self.state.close()
        close_sockets(self.sockets)
