"""Listening sockets on loopback only: 127.0.0.1, and [::1] on the same port when possible.

Kept free of heavy imports: ``bastion ui`` binds and prints its URL before it loads the app.
"""

from __future__ import annotations

import contextlib
import errno
import html
import os
import socket
import tempfile
from pathlib import Path

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


def opener_file(url: str) -> Path:
    """A private (0600, in a 0700 folder) HTML file that redirects to ``url``.

    The browser is started with this file's path, not the tokened URL: a process's command
    line is readable by every local user (``ps``), a file of ours is not.
    """
    folder = Path(tempfile.mkdtemp(prefix="bastion-ui-"))
    path = folder / "open.html"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    escaped = html.escape(url, quote=True)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f'<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
                 f'<meta http-equiv="refresh" content="0;url={escaped}">'
                 f'<title>Bastion</title><a href="{escaped}">Open Bastion</a>\n')
    return path


def remove_opener(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
        path.parent.rmdir()
