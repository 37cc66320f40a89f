"""A real `bastion ui` server in this process (a thread), and a client that speaks to it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from bastion.ui import open_ui
from bastion.ui.server import UiServer


@contextmanager
def running_ui(idle_timeout_s: float = 30 * 60) -> Iterator[UiServer]:
    server = open_ui(0, idle_timeout_s=idle_timeout_s)
    server.start()
    try:
        wait_listening(server.port)
        yield server
    finally:
        server.close()


def wait_listening(port: int, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def origin(server: UiServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def base(server: UiServer) -> str:
    """Where the pages live: the origin plus this start's random path prefix."""
    return origin(server) + server.gate.prefix


def logged_in(server: UiServer) -> httpx.Client:
    """A client that opened the tokened URL and holds the session cookie (paths are relative
    to :func:`base`: ``client.get("/sessions")``)."""
    client = httpx.Client(base_url=base(server), follow_redirects=False, timeout=30)
    r = client.get(server.url)
    assert r.status_code == 303, r.text
    return client


def raw_request(port: int, data: bytes, host: str = "127.0.0.1") -> bytes:
    """Send bytes on a fresh TCP connection and return everything the server answered."""
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(data)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])
