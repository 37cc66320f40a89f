"""The UI's front door: every request passes these checks before any route sees it.

In order: the ``Host`` header must name this server on a loopback name (DNS rebinding); a
state-changing method needs an ``Origin`` of this server (cross-site requests); then the
per-start token (exchanged for an HttpOnly, SameSite=Strict cookie scoped to a random path
prefix under which every page lives) or a live cookie session (idle timeout) — anything
else gets 401/403 and reaches no handler. Every response
carries a strict Content-Security-Policy (no inline scripts, nothing third-party).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "bastion_ui"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'")
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


@dataclass
class Gate:
    """The token and the live cookie sessions of one ``bastion ui`` start."""

    port: int
    idle_timeout_s: float = 30 * 60
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    #: every page lives under this random path, and the cookie is scoped to it: browsers send
    #: a 127.0.0.1 cookie to *every* port on 127.0.0.1 (another local server included), but
    #: only for paths under the cookie's Path
    prefix: str = field(default_factory=lambda: "/u/" + secrets.token_urlsafe(16))
    _sessions: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset(f"{name}:{self.port}" for name in LOOPBACK_NAMES)

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(f"http://{host}" for host in self.hosts)

    def opening_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def token_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def new_session(self) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[sid] = time.monotonic()
        return sid

    def session_ok(self, sid: str | None) -> bool:
        """A known cookie that was used within the idle timeout (and is refreshed by this use)."""
        if not sid:
            return False
        now = time.monotonic()
        with self._lock:
            seen = self._sessions.get(sid)
            if seen is None:
                return False
            if now - seen > self.idle_timeout_s:
                del self._sessions[sid]
                return False
            self._sessions[sid] = now
            return True

    def end_session(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)


def _header(scope: Scope, name: bytes) -> str | None:
    values = [v for k, v in scope.get("headers", []) if k == name]
    if len(values) != 1:  # absent, or repeated to confuse a proxy: treat as missing
        return None
    return values[0].decode("latin-1")


def _cookies(scope: Scope) -> list[str]:
    """Every value sent under our cookie's name: another local server on 127.0.0.1 may have
    set a same-named cookie with a broader Path, which browsers send alongside ours."""
    raw = _header(scope, b"cookie") or ""
    values = []
    for part in raw.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name == COOKIE:
            values.append(value.strip().strip('"'))
    return values


async def _refuse(send: Send, status: int, text: str,
                  extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = (text + "\n").encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"),
               (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS, *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def cookie_header(sid: str, path: str) -> tuple[bytes, bytes]:
    return b"set-cookie", f"{COOKIE}={sid}; HttpOnly; SameSite=Strict; Path={path}".encode()


class GateMiddleware:
    """ASGI middleware applying :class:`Gate` before routing (see the module docstring)."""

    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan; websockets are not served
            if scope["type"] == "lifespan":
                await self.app(scope, receive, send)
            return
        gate = self.gate
        if _header(scope, b"host") not in gate.hosts:
            await _refuse(send, 403, "forbidden: unknown Host (only this loopback server)")
            return
        method = scope["method"]
        if method in UNSAFE_METHODS and _header(scope, b"origin") not in gate.origins:
            await _refuse(send, 403, "forbidden: missing or foreign Origin")
            return
        if method not in UNSAFE_METHODS | {"GET", "HEAD"}:
            await _refuse(send, 405, "method not allowed")
            return
        path = scope["path"]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        token = query.get("token", [None])[-1]
        if method == "GET" and path == "/" and token is not None:
            if not gate.token_ok(token):
                await _refuse(send, 403, "forbidden: wrong token")
                return
            # exchange the token for a cookie and drop it from the address bar
            home = (gate.prefix + "/").encode()
            await _refuse(send, 303, "see " + gate.prefix + "/", [
                cookie_header(gate.new_session(), gate.prefix), (b"location", home)])
            return
        inside = path == gate.prefix or path.startswith(gate.prefix + "/")
        if not inside or not any(gate.session_ok(sid) for sid in _cookies(scope)[:4]):
            await _refuse(send, 401, "unauthorized: open the URL `bastion ui` printed "
                                     "(sessions end after inactivity)")
            return
        await self.app({**scope, "root_path": gate.prefix}, receive, _with_headers(send))


def _with_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            names = {k.lower() for k, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)
    return wrapped
