"""Loopback-only test servers for the egress gateway: HTTP(S) and a tiny forward proxy."""

from __future__ import annotations

import http.server
import select
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bastion.config import Settings

#: path -> (status, headers, body)
Route = tuple[int, dict[str, str], bytes]


@dataclass
class Seen:
    path: str
    host: str | None


@dataclass
class LoopbackServer:
    """A threaded HTTP(S) server on 127.0.0.1 with fixed routes; remembers what it served."""

    routes: dict[str, Route] = field(default_factory=dict)
    ssl_context: ssl.SSLContext | None = None
    seen: list[Seen] = field(default_factory=list)

    def start(self) -> LoopbackServer:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                owner.seen.append(Seen(self.path, self.headers.get("Host")))
                status, headers, body = owner.routes.get(
                    self.path.split("?")[0], (404, {"Content-Type": "text/plain"}, b"nope"))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> tuple[socket.socket, object]:
                sock, addr = super().get_request()
                if owner.ssl_context is not None:
                    sock.settimeout(5)
                    sock = owner.ssl_context.wrap_socket(sock, server_side=True)
                return sock, addr

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # handshake failures are the point of several tests

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class LoopbackProxy:
    """A forward proxy on 127.0.0.1: CONNECT tunnels and absolute-URI requests.

    Names are looked up in ``hosts`` (never in DNS) so tests can use made-up names that all
    lead to loopback servers.
    """

    def __init__(self, hosts: dict[str, str]) -> None:
        self.hosts = hosts
        self.seen: list[str] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _target(self, hostport: str, default_port: int) -> tuple[str, int]:
        host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
        return self.hosts[host], int(port) if port else default_port

    def _serve(self, client: socket.socket) -> None:
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            head, _, rest = head.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ")
            self.seen.append(f"{method} {target}")
            if method == "CONNECT":
                upstream = socket.create_connection(self._target(target, 443))
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                assert target.startswith("http://")
                hostport, _, path = target[len("http://"):].partition("/")
                upstream = socket.create_connection(self._target(hostport, 80))
                request = "\r\n".join([f"{method} /{path} {version}", *lines[1:]])
                upstream.sendall(request.encode("latin-1") + b"\r\n\r\n" + rest)
            self._pipe(client, upstream)
        except (OSError, KeyError, ValueError):
            pass
        finally:
            client.close()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        socks = [a, b]
        try:
            while True:
                readable, _, _ = select.select(socks, [], [], 5)
                if not readable:
                    return
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        finally:
            b.close()

    def stop(self) -> None:
        self._stop = True
        self._sock.close()


def fake_resolver(table: dict[str, list[str]],
                  calls: list[str] | None = None) -> Callable[[str, int], list[str]]:
    """A resolver from a table; unknown names fail like NXDOMAIN. Records each lookup."""

    def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: not in the test table")
        return table[host]

    return resolve


def make_settings(top: dict[str, Any] | None = None, **network: Any) -> Settings:
    """Settings with camelCase ``network`` keys, plus optional other top-level keys."""
    return Settings.model_validate({"network": network, **(top or {})})
