"""The httpx transport that enforces the egress policy, and the socket layer under it.

Layers, outermost first:

* :class:`GatewayTransport` (httpx) — asks :func:`decide_request` before anything is sent,
  picks direct or proxy, counts bytes and writes one audit record per request.
* :class:`GuardedBackend` (httpcore network backend) — resolves the name itself, asks
  :func:`decide_addresses`, then connects to exactly the address it checked. There is no
  second resolution for an attacker's DNS to answer differently (TOCTOU rebinding); the TLS
  handshake still uses the host name for SNI and certificate checks, and httpx still sends
  the name in ``Host``.
* :class:`GuardedStream` — after the TLS handshake, checks the SPKI pins before the first
  request byte is written, and turns version/verification failures into clear refusals.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpcore
import httpx

from .errors import EgressDenied
from .policy import (
    EgressPolicy,
    decide_addresses,
    decide_request,
    is_loopback_host,
    literal_addresses,
    normalize_host,
)
from .record import Recorder, make_record
from .tls import PinSet, classify_tls_error

#: (host, port) -> addresses, in the order to try them
Resolver = Callable[[str, int], Sequence[str]]


def system_resolve(host: str, port: int) -> list[str]:
    """The operating system's resolver (getaddrinfo), addresses deduplicated in order."""
    seen: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        addr = str(sockaddr[0])
        if addr not in seen:
            seen.append(addr)
    return seen


class GuardedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, pins: PinSet, min_tls: str) -> None:
        self._inner = inner
        self._pins = pins
        self._min_tls = min_tls

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        host = server_hostname or "?"
        try:
            tls = self._inner.start_tls(ssl_context, server_hostname, timeout)
        except httpcore.ConnectError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, ssl.SSLError):
                denied = classify_tls_error(cause, host, self._min_tls)
                if denied is not None:
                    raise denied from exc
            raise
        if server_hostname and self._pins.for_host(server_hostname):
            sslobj = tls.get_extra_info("ssl_object")
            # positional: httpcore hands out the C-level _SSLSocket, which takes no keywords
            der = sslobj.getpeercert(True) if sslobj is not None else None
            try:
                self._pins.check(server_hostname, der)
            except EgressDenied:
                tls.close()
                raise
        return GuardedStream(tls, self._pins, self._min_tls)


class GuardedBackend(httpcore.NetworkBackend):
    """Resolve, check, connect to the checked address. Never resolves twice."""

    def __init__(self, policy: EgressPolicy, *, pins: PinSet, min_tls: str,
                 resolver: Resolver, proxy_origin: tuple[str, int] | None = None) -> None:
        self._policy = policy
        self._pins = pins
        self._min_tls = min_tls
        self._resolver = resolver
        self._proxy_origin = proxy_origin
        self._inner = httpcore.SyncBackend()

    def _addresses(self, host: str, port: int) -> Sequence[str]:
        literal = literal_addresses(host)
        if literal is not None:
            return literal
        try:
            return list(self._resolver(host, port))
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        addresses = self._addresses(host, port)
        # The proxy is the user's own configured hop (often on loopback or the LAN); the
        # destination rules were applied to the target URL before routing to it.
        if (normalize_host(host), port) != self._proxy_origin:
            decision = decide_addresses(self._policy, host, port, addresses)
            if not decision.allowed:
                raise EgressDenied(decision.reason, rule=decision.rule, host=host)
        last: Exception | None = None
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(address, port, timeout, local_address,
                                                 socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            return GuardedStream(stream, self._pins, self._min_tls)
        assert last is not None
        raise last

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        raise EgressDenied("unix sockets are not reachable through the egress gateway",
                           rule="unix-socket")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _CountingRequest(httpx.SyncByteStream):
    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self.count += len(chunk)
            yield chunk

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class _RecordingResponse(httpx.SyncByteStream):
    """Counts body bytes as read off the wire; the request's record is written on close."""

    def __init__(self, inner: Any, on_close: Callable[[int, str | None], None]) -> None:
        self._inner = inner
        self._on_close = on_close
        self._count = 0
        self._error: str | None = None
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._inner:
                self._count += len(chunk)
                yield chunk
        except httpx.TransportError as exc:
            self._error = f"{type(exc).__name__}: {exc}"
            raise

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            if not self._done:
                self._done = True
                self._on_close(self._count, self._error)


def _pool_transport(pool: httpcore.ConnectionPool, ctx: ssl.SSLContext) -> httpx.HTTPTransport:
    """An httpx transport around our own httpcore pool.

    httpx offers no way to pass a network backend, so the pool it built is replaced. If a
    future httpx renames the attribute, refuse to build rather than silently bypass checks.
    """
    transport = httpx.HTTPTransport(verify=ctx, trust_env=False, retries=0)
    if not isinstance(getattr(transport, "_pool", None), httpcore.ConnectionPool):
        raise RuntimeError("unsupported httpx version: cannot install the egress gateway")
    transport._pool.close()
    transport._pool = pool
    return transport


class GatewayTransport(httpx.BaseTransport):
    """Every request: decide, route (direct or proxy), send, record."""

    def __init__(self, policy: EgressPolicy, *, ssl_context: ssl.SSLContext, pins: PinSet,
                 min_tls: str, proxy_url: str | None = None, resolver: Resolver | None = None,
                 recorder: Recorder | None = None, purpose: str = "http") -> None:
        self.policy = policy
        self._recorder = recorder
        self._purpose = purpose
        resolve = resolver or system_resolve
        limits = {"max_connections": 100, "max_keepalive_connections": 20,
                  "keepalive_expiry": 5.0}
        direct_backend = GuardedBackend(policy, pins=pins, min_tls=min_tls, resolver=resolve)
        self._direct = _pool_transport(
            httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=direct_backend,
                                    **limits),  # type: ignore[arg-type]
            ssl_context)
        self._proxy: httpx.HTTPTransport | None = None
        if proxy_url is not None:
            proxy = httpx.Proxy(proxy_url)
            origin = (normalize_host(proxy.url.host), proxy.url.port
                      or (443 if proxy.url.scheme == "https" else 80))
            proxy_backend = GuardedBackend(policy, pins=pins, min_tls=min_tls,
                                           resolver=resolve, proxy_origin=origin)
            pool = httpcore.HTTPProxy(
                proxy_url=httpcore.URL(scheme=proxy.url.raw_scheme, host=proxy.url.raw_host,
                                       port=proxy.url.port, target=proxy.url.raw_path),
                proxy_auth=proxy.raw_auth, proxy_headers=proxy.headers.raw,
                ssl_context=ssl_context,
                # TLS to an https:// proxy follows the same rules; http:// proxies take none
                proxy_ssl_context=ssl_context if proxy.url.scheme == "https" else None,
                network_backend=proxy_backend, **limits)  # type: ignore[arg-type]
            self._proxy = _pool_transport(pool, ssl_context)

    def _record(self, request: httpx.Request, **fields: Any) -> None:
        if self._recorder is not None:
            self._recorder(make_record(request, purpose=self._purpose, **fields))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        decision = decide_request(self.policy, str(request.url))
        if not decision.allowed:
            self._record(request, decision="deny", rule=decision.rule, reason=decision.reason)
            raise EgressDenied(decision.reason, rule=decision.rule, host=request.url.host)
        # Loopback never leaves this machine, and a proxy could not reach our localhost.
        route = self._direct
        via_proxy = False
        if self._proxy is not None and not is_loopback_host(request.url.host):
            route, via_proxy = self._proxy, True

        counter = _CountingRequest(request.stream)
        request.stream = counter
        try:
            response = route.handle_request(request)
        except EgressDenied as exc:
            self._record(request, decision="deny", rule=exc.rule, reason=exc.message,
                         via_proxy=via_proxy,
                         duration_ms=(time.perf_counter() - started) * 1000)
            raise
        except Exception as exc:
            self._record(request, decision="allow", rule=decision.rule, via_proxy=via_proxy,
                         bytes_out=counter.count, error=f"{type(exc).__name__}: {exc}",
                         duration_ms=(time.perf_counter() - started) * 1000)
            raise

        def on_close(bytes_in: int, error: str | None) -> None:
            self._record(request, decision="allow", rule=decision.rule,
                         status=response.status_code, bytes_out=counter.count,
                         bytes_in=bytes_in, via_proxy=via_proxy, error=error,
                         duration_ms=(time.perf_counter() - started) * 1000)

        response.stream = _RecordingResponse(response.stream, on_close)
        return response

    def close(self) -> None:
        self._direct.close()
        if self._proxy is not None:
            self._proxy.close()
