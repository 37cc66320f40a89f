"""Shared plumbing for the UI's handlers: templates, forms, locked calls, error pages."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bastion.errors import BastionError

from .state import UiState

HERE = Path(__file__).parent
MAX_FORM_BYTES = 1_000_000
T = TypeVar("T")

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                          autoescape=True, trim_blocks=True, lstrip_blocks=True)


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


_env.filters["when"] = _when
_env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False,
                                                     sort_keys=True, default=str)

NAV = [("sessions", "Sessions"), ("run", "Run"), ("changes", "Changes"), ("audit", "Audit"),
       ("network", "Network"), ("settings", "Privacy & security"), ("data", "Data rights"),
       ("keys", "Keys")]


def route_path(request: Request) -> str:
    """The path below the UI's random prefix (``/sessions``)."""
    root = request.scope.get("root_path", "")
    return request.url.path[len(root):] if request.url.path.startswith(root) else request.url.path


def render(request: Request, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    html = _env.get_template(template).render(
        nav=NAV, path=route_path(request), root=request.scope.get("root_path", ""),
        msg=request.query_params.get("msg"), error=ctx.pop("error", None), **ctx)
    return HTMLResponse(html, status_code=status)


def state_of(request: Request) -> UiState:
    state: UiState = request.app.state.ui
    return state


async def locked(request: Request, fn: Callable[[UiState], T]) -> T:
    """Run ``fn`` in a worker thread holding the server runtime's lock."""
    state = state_of(request)

    def call() -> T:
        with state.lock:
            return fn(state)
    return await run_in_threadpool(call)


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (bounded), last value per field."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BastionError("form too large")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in fields.items()}


def back(request: Request, to: str, msg: str | None = None) -> RedirectResponse:
    """303 to ``to`` (a route path such as ``/changes``) under this UI's prefix."""
    url = request.scope.get("root_path", "") + to
    if msg is not None:
        url += ("&" if "?" in to else "?") + urlencode({"msg": msg})
    return RedirectResponse(url, status_code=303)


def failed(request: Request, exc: BastionError, status: int = 400) -> Response:
    if isinstance(exc, NotConfirmed):
        status = 409
    text = exc.message + (f" — {exc.hint}" if exc.hint else "")
    return render(request, "error.html", status=status, error=text)


class NotConfirmed(BastionError):
    """A destructive action without its confirmation (HTTP 409; nothing was changed)."""


def require_confirm(form: dict[str, str]) -> None:
    if form.get("confirm") != "yes":
        raise NotConfirmed("not confirmed; nothing was changed",
                           hint="tick the confirmation box to go ahead")
