"""Fixtures for the egress gateway tests. Every server listens on 127.0.0.1 only."""

from __future__ import annotations

import ssl
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

# The shared server helpers live next to this file (no package, like tests/helpers.py).
sys.path.insert(0, str(Path(__file__).parent))

from netgw_servers import LoopbackProxy, LoopbackServer, Route

#: made-up names used with the fake resolver; certificates cover them
TEST_NAMES = ["localhost", "127.0.0.1", "service.test", "rebind.example.com",
              "eu.provider.test"]


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert(*TEST_NAMES)


@pytest.fixture(scope="session")
def ca_bundle(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def records() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def serve() -> Iterator[Callable[..., LoopbackServer]]:
    servers: list[LoopbackServer] = []

    def start(routes: dict[str, Route], ssl_context: ssl.SSLContext | None = None
              ) -> LoopbackServer:
        server = LoopbackServer(routes=routes, ssl_context=ssl_context).start()
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def tls_server_context(server_cert: trustme.LeafCert) -> Callable[..., ssl.SSLContext]:
    def build(max_version: ssl.TLSVersion | None = None,
              cert: trustme.LeafCert | None = None) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        (cert or server_cert).configure_cert(ctx)
        if max_version is not None:
            ctx.maximum_version = max_version
        return ctx

    return build


@pytest.fixture
def proxy() -> Iterator[LoopbackProxy]:
    p = LoopbackProxy({"service.test": "127.0.0.1"})
    yield p
    p.stop()
