"""Listening sockets on loopback only: 127.0.0.1, and [::1] on the same port when possible.

Kept free of heavy imports: ``bastion ui`` binds and prints its URL before it loads the app.
"""

from __future__ import annotations

import contextlib
import errno
import socket

from bastion.errors import BastionError


def bind_loopback(port: int) -> list[socket.socket]:
    """Listening sockets on 127.0.0.1:port and, if possible, [::1] on the same port."""
    v4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        v4.bind(("127.0.0.1", port))
    except OSError as exc:
        v4.close()
        if exc.errno == errno.EADDRINUSE:
            raise BastionError(f"port {port} is in use", hint="choose another with --port, "
                               "or leave it out for a free one") from None
        raise BastionError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror})") from None
    sockets = [v4]
    chosen = v4.getsockname()[1]
    if socket.has_ipv6:
        v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            v6.bind(("::1", chosen))
            sockets.append(v6)
        except OSError:  # no IPv6 loopback here: IPv4 alone is fine
            v6.close()
    for s in sockets:
        s.listen(64)
        s.setblocking(False)
    return sockets


def close_sockets(sockets: list[socket.socket]) -> None:
    for s in sockets:
        with contextlib.suppress(OSError):
            s.close()
