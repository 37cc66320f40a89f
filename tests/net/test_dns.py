"""``network.dns``: the gateway asks the given resolvers only (a real UDP DNS server on loopback).

The server below is written with dnspython's message API and answers a fixed zone; the test
reads from outside which names it was asked and which bytes the HTTP server received.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import httpx
import pytest
from netgw_servers import LoopbackServer, make_settings

from bastion.config import SettingsError, parse_settings
from bastion.net import EgressDenied, build_http_client, system_resolve

OK = {"/": (200, {"Content-Type": "text/plain"}, b"hello")}


class TinyDns:
    """A UDP DNS responder on 127.0.0.1: A records from ``zone``, NXDOMAIN otherwise."""

    def __init__(self, zone: dict[str, str]) -> None:
        self.zone = {k.rstrip(".").lower(): v for k, v in zone.items()}
        self.asked: list[tuple[str, str]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            query = dns.message.from_wire(data)
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            rdtype = dns.rdatatype.to_text(question.rdtype)
            self.asked.append((name, rdtype))
            reply = dns.message.make_response(query)
            reply.flags |= dns.flags.AA
            if name not in self.zone:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            elif rdtype == "A":
                reply.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A",
                                                        self.zone[name]))
            self.sock.sendto(reply.to_wire(), peer)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def tiny_dns() -> Iterator[Callable[[dict[str, str]], TinyDns]]:
    servers: list[TinyDns] = []

    def start(zone: dict[str, str]) -> TinyDns:
        server = TinyDns(zone)
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


def test_gateway_resolves_through_the_configured_resolver(
        serve: Callable[..., LoopbackServer], tiny_dns: Callable[..., TinyDns],
        records: list[dict[str, Any]]) -> None:
    web = serve(OK)
    resolver = tiny_dns({"intranet.corp.test": "127.0.0.1"})
    settings = make_settings(dns=[f"127.0.0.1:{resolver.port}"],
                             allowedDomains=["intranet.corp.test"],
                             allowPrivateAddresses=["intranet.corp.test"], allowCleartextHttp=True)
    client = build_http_client(settings, recorder=records.append)
    assert client.get(f"http://intranet.corp.test:{web.port}/").text == "hello"
    assert ("intranet.corp.test", "A") in resolver.asked
    assert web.seen[0].host == f"intranet.corp.test:{web.port}"


def test_rebinding_checks_still_apply(serve: Callable[..., LoopbackServer],
                                      tiny_dns: Callable[..., TinyDns],
                                      records: list[dict[str, Any]]) -> None:
    web = serve(OK)
    resolver = tiny_dns({"public.example.com": "127.0.0.1"})
    settings = make_settings(dns=[f"127.0.0.1:{resolver.port}"],
                             allowedDomains=["public.example.com"], allowCleartextHttp=True)
    client = build_http_client(settings, recorder=records.append)
    with pytest.raises(EgressDenied) as err:
        client.get(f"http://public.example.com:{web.port}/")
    assert err.value.rule == "private-address"
    assert ("public.example.com", "A") in resolver.asked
    assert web.seen == []


def test_no_fallback_to_the_system_resolver(serve: Callable[..., LoopbackServer],
                                            tiny_dns: Callable[..., TinyDns],
                                            records: list[dict[str, Any]]) -> None:
    """A name the system resolves (this machine's own name, from /etc/hosts) but the
    configured resolver does not: the request fails, the system answer is never used."""
    web = serve(OK)
    own = socket.gethostname()
    try:
        system_answer = system_resolve(own, web.port)
    except OSError:
        system_answer = []
    if not system_answer:
        own = "localhost"  # in /etc/hosts on every system
    resolver = tiny_dns({})
    settings = make_settings(dns=[f"127.0.0.1:{resolver.port}"], allowedDomains=[own],
                             allowPrivateAddresses=[own], allowCleartextHttp=True)
    client = build_http_client(settings, recorder=records.append)
    with pytest.raises((httpx.ConnectError, EgressDenied)) as err:
        client.get(f"http://{own}:{web.port}/")
    assert "system resolver is not used" in str(err.value) or own == "localhost"
    assert web.seen == []
    if own != "localhost":
        assert (own.lower(), "A") in resolver.asked


def test_unreachable_resolver_fails_closed(serve: Callable[..., LoopbackServer],
                                           records: list[dict[str, Any]]) -> None:
    web = serve(OK)
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()  # nothing answers there
    from bastion.net.dns import LocalResolver

    resolve = LocalResolver([f"127.0.0.1:{port}"], lifetime=0.5)
    client = build_http_client(make_settings(allowedDomains=["localhost.corp.test"],
                                             allowCleartextHttp=True),
                               recorder=records.append, resolver=resolve)
    with pytest.raises(httpx.ConnectError) as err:
        client.get(f"http://localhost.corp.test:{web.port}/")
    assert "system resolver is not used" in str(err.value)
    assert web.seen == []


@pytest.mark.parametrize("bad", [[], ["resolver.corp"], ["10.0.0.1:99999"], "local"])
def test_dns_setting_is_validated(bad: Any) -> None:
    with pytest.raises(SettingsError) as err:
        parse_settings({"network": {"dns": bad}}, "settings.json")
    assert "network.dns" in str(err.value)


def test_dns_setting_accepts_addresses() -> None:
    ok = parse_settings({"network": {"dns": ["127.0.0.53", "10.0.0.2:5353", "[::1]:53", "::1"]}},
                        "s")
    assert ok.network.dns == ["127.0.0.53", "10.0.0.2:5353", "[::1]:53", "::1"]
