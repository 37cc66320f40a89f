"""requireProxy: traffic goes through the configured (loopback) proxy, or nowhere."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import pytest
from netgw_servers import LoopbackProxy, LoopbackServer, fake_resolver, make_settings

from bastion.net import EgressDenied, build_http_client

OK = {"/": (200, {"Content-Type": "text/plain"}, b"via proxy")}


def _settings(proxy: LoopbackProxy | None, ca_bundle: str, **extra: Any) -> Any:
    return make_settings(requireProxy=True, allowedDomains=["service.test"], caBundle=ca_bundle,
                         proxyUrl=f"http://127.0.0.1:{proxy.port}" if proxy else None, **extra)


def test_https_goes_through_connect(
        serve: Callable[..., LoopbackServer], tls_server_context: Callable[..., ssl.SSLContext],
        proxy: LoopbackProxy, ca_bundle: str, records: list[dict[str, Any]]) -> None:
    server = serve(OK, tls_server_context())
    calls: list[str] = []
    client = build_http_client(_settings(proxy, ca_bundle), recorder=records.append,
                               resolver=fake_resolver({}, calls))
    assert client.get(f"https://service.test:{server.port}/").text == "via proxy"
    assert proxy.seen == [f"CONNECT service.test:{server.port}"]
    assert calls == []  # the proxy resolves; Bastion sent no DNS query for the target
    assert records[0]["via_proxy"] is True and records[0]["decision"] == "allow"


def test_pins_still_apply_through_the_tunnel(
        serve: Callable[..., LoopbackServer], tls_server_context: Callable[..., ssl.SSLContext],
        proxy: LoopbackProxy, ca_bundle: str, records: list[dict[str, Any]]) -> None:
    server = serve(OK, tls_server_context())
    client = build_http_client(_settings(proxy, ca_bundle, pins={"service.test": ["00" * 32]}),
                               recorder=records.append)
    with pytest.raises(EgressDenied) as err:
        client.get(f"https://service.test:{server.port}/")
    assert err.value.rule == "pin-mismatch" and server.seen == []


def test_http_uses_absolute_uri(serve: Callable[..., LoopbackServer], proxy: LoopbackProxy,
                                ca_bundle: str, records: list[dict[str, Any]]) -> None:
    server = serve(OK)
    client = build_http_client(_settings(proxy, ca_bundle, allowCleartextHttp=True),
                               recorder=records.append)
    assert client.get(f"http://service.test:{server.port}/").text == "via proxy"
    assert proxy.seen == [f"GET http://service.test:{server.port}/"]
    assert server.seen[0].host == f"service.test:{server.port}"


def test_require_proxy_without_proxy_refuses(ca_bundle: str,
                                             records: list[dict[str, Any]]) -> None:
    calls: list[str] = []
    client = build_http_client(_settings(None, ca_bundle), recorder=records.append,
                               resolver=fake_resolver({}, calls))
    with pytest.raises(EgressDenied) as err:
        client.get("https://service.test/")
    assert err.value.rule == "proxy-required" and calls == []
    assert records[0]["decision"] == "deny" and records[0]["rule"] == "proxy-required"


def test_loopback_destinations_bypass_the_proxy(serve: Callable[..., LoopbackServer],
                                                proxy: LoopbackProxy, ca_bundle: str) -> None:
    server = serve(OK)
    settings = _settings(proxy, ca_bundle)
    client = build_http_client(settings, endpoints=[f"http://localhost:{server.port}"])
    assert client.get(f"http://localhost:{server.port}/").status_code == 200
    assert proxy.seen == []
