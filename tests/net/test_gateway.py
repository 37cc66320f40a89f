"""The gateway client end to end against loopback servers (and a fake resolver)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from netgw_servers import LoopbackServer, fake_resolver, make_settings

from bastion.config import Settings
from bastion.net import EgressDenied, build_http_client

OK = {"/": (200, {"Content-Type": "text/plain"}, b"hello")}


def test_allowed_request_is_recorded_without_query_values(
        serve: Callable[..., LoopbackServer], records: list[dict[str, Any]]) -> None:
    server = serve(OK)
    client = build_http_client(make_settings(allowedDomains=["127.0.0.1"]),
                               recorder=records.append, purpose="test")
    response = client.post(f"http://127.0.0.1:{server.port}/?token=s3cret&page=2",
                           content=b"12345")
    assert response.status_code == 501  # http.server has no do_POST
    [rec] = records
    assert rec["decision"] == "allow" and rec["rule"] == "allowed-domain:127.0.0.1"
    assert rec["path"] == "/?token=&page=" and "s3cret" not in str(rec)
    assert rec["method"] == "POST" and rec["bytes_out"] == 5 and rec["status"] == 501
    assert rec["host"] == "127.0.0.1" and rec["port"] == server.port
    assert rec["purpose"] == "test" and rec["time"].endswith("Z")
    assert set(rec) >= {"time", "method", "host", "port", "path", "bytes_out", "bytes_in",
                        "status", "decision", "rule", "purpose"}


def test_get_counts_bytes_in(serve: Callable[..., LoopbackServer],
                             records: list[dict[str, Any]]) -> None:
    server = serve(OK)
    client = build_http_client(make_settings(allowedDomains=["127.0.0.1"]),
                               recorder=records.append)
    assert client.get(f"http://127.0.0.1:{server.port}/").text == "hello"
    assert records[0]["status"] == 200 and records[0]["bytes_in"] == 5


def test_not_allowlisted_loopback_refused_before_connecting(
        serve: Callable[..., LoopbackServer], records: list[dict[str, Any]]) -> None:
    server = serve(OK)
    client = build_http_client(make_settings(), recorder=records.append, endpoints=())
    with pytest.raises(EgressDenied) as err:
        client.get(f"http://127.0.0.1:{server.port}/")
    assert err.value.rule == "not-allowlisted"
    assert server.seen == []
    assert records[0]["decision"] == "deny" and records[0]["rule"] == "not-allowlisted"


def test_denied_domain_wins(records: list[dict[str, Any]]) -> None:
    calls: list[str] = []
    client = build_http_client(
        make_settings(allowedDomains=["*.example.com"], deniedDomains=["evil.example.com"]),
        recorder=records.append, resolver=fake_resolver({}, calls))
    with pytest.raises(EgressDenied) as err:
        client.get("https://evil.example.com/")
    assert err.value.rule == "denied-domain:evil.example.com"
    assert calls == []  # refused before DNS
    assert records[0]["rule"] == "denied-domain:evil.example.com"


def test_redirect_to_denied_host_is_rechecked_per_hop(
        serve: Callable[..., LoopbackServer], records: list[dict[str, Any]]) -> None:
    server = serve({"/go": (302, {"Location": "http://evil.test/steal?k=v"}, b"")})
    calls: list[str] = []
    client = build_http_client(
        make_settings(allowedDomains=["127.0.0.1", "evil.test"], deniedDomains=["evil.test"]),
        recorder=records.append, follow_redirects=True, resolver=fake_resolver({}, calls))
    with pytest.raises(EgressDenied) as err:
        client.get(f"http://127.0.0.1:{server.port}/go")
    assert err.value.rule == "denied-domain:evil.test"
    assert [(r["decision"], r["rule"], r["status"]) for r in records] == [
        ("allow", "allowed-domain:127.0.0.1", 302),
        ("deny", "denied-domain:evil.test", None)]
    assert records[1]["path"] == "/steal?k="
    assert calls == []


def test_redirect_to_unlisted_loopback_port_refused(
        serve: Callable[..., LoopbackServer], records: list[dict[str, Any]]) -> None:
    target = serve(OK)
    first = serve({"/go": (307, {"Location": f"http://localhost:{target.port}/"}, b"")})
    client = build_http_client(make_settings(allowedDomains=["127.0.0.1"]),
                               recorder=records.append, follow_redirects=True, endpoints=())
    with pytest.raises(EgressDenied):
        client.get(f"http://127.0.0.1:{first.port}/go")
    assert target.seen == []
    assert records[-1]["rule"] == "not-allowlisted"


def test_name_resolving_to_private_address_is_refused(records: list[dict[str, Any]]) -> None:
    calls: list[str] = []
    client = build_http_client(
        make_settings(allowedDomains=["internal.example.com"]), recorder=records.append,
        resolver=fake_resolver({"internal.example.com": ["10.0.0.5"]}, calls))
    with pytest.raises(EgressDenied) as err:
        client.get("https://internal.example.com/")
    assert err.value.rule == "private-address"
    assert "10.0.0.5" in str(err.value) and "allowPrivateAddresses" in str(err.value)
    assert calls == ["internal.example.com"]
    assert records[0]["decision"] == "deny" and records[0]["rule"] == "private-address"


def test_dns_rebinding_to_loopback_refused(serve: Callable[..., LoopbackServer],
                                           records: list[dict[str, Any]]) -> None:
    server = serve(OK)
    client = build_http_client(
        make_settings(allowedDomains=["rebind.example.com"], allowCleartextHttp=True),
        recorder=records.append,
        resolver=fake_resolver({"rebind.example.com": ["127.0.0.1"]}))
    with pytest.raises(EgressDenied) as err:
        client.get(f"http://rebind.example.com:{server.port}/")
    assert err.value.rule == "private-address"
    assert server.seen == []


def test_connects_to_the_checked_address_once_with_the_name_in_host(
        serve: Callable[..., LoopbackServer], records: list[dict[str, Any]]) -> None:
    server = serve(OK)
    calls: list[str] = []
    client = build_http_client(
        make_settings(allowedDomains=["rebind.example.com"],
                      allowPrivateAddresses=["rebind.example.com"]),
        recorder=records.append,
        resolver=fake_resolver({"rebind.example.com": ["127.0.0.1"]}, calls))
    for _ in range(3):
        assert client.get(f"http://rebind.example.com:{server.port}/").text == "hello"
    assert calls == ["rebind.example.com"]  # one lookup, one pooled connection
    assert server.seen[0].host == f"rebind.example.com:{server.port}"
    assert records[0]["rule"] == "allowed-domain:rebind.example.com"


def test_local_provider_endpoint_works_by_default(serve: Callable[..., LoopbackServer],
                                                  records: list[dict[str, Any]]) -> None:
    server = serve(OK)
    settings = Settings.model_validate(
        {"providers": {"local": {"endpoint": f"http://localhost:{server.port}/v1"}}})
    client = build_http_client(settings, recorder=records.append)
    assert client.get(f"http://localhost:{server.port}/").status_code == 200
    assert records[0]["rule"] == "configured-endpoint"


def test_enforce_region_refuses_out_of_region_provider(
        serve: Callable[..., LoopbackServer], records: list[dict[str, Any]]) -> None:
    server = serve(OK)
    top = {"dataResidency": {"region": "eu", "enforceRegion": True}}
    settings = make_settings(top, allowPrivateAddresses=["eu.provider.test"])
    endpoint = f"http://eu.provider.test:{server.port}/v1"
    resolver = fake_resolver({"eu.provider.test": ["127.0.0.1"]})
    us = build_http_client(settings, region="us", endpoints=[endpoint], resolver=resolver,
                           recorder=records.append, purpose="provider:openai")
    with pytest.raises(EgressDenied) as err:
        us.get(endpoint)
    assert err.value.rule == "residency" and "'us'" in str(err.value)
    unknown = build_http_client(settings, endpoints=[endpoint], resolver=resolver,
                                recorder=records.append)
    with pytest.raises(EgressDenied):
        unknown.get(endpoint)
    eu = build_http_client(settings, region="eu", endpoints=[endpoint], resolver=resolver,
                           recorder=records.append)
    assert eu.get(endpoint).status_code == 404
    assert [(r["decision"], r["rule"]) for r in records] == [
        ("deny", "residency"), ("deny", "residency"), ("allow", "configured-endpoint")]
    assert records[0]["purpose"] == "provider:openai"
    assert len(server.seen) == 1


def test_transport_errors_are_recorded(records: list[dict[str, Any]]) -> None:
    client = build_http_client(make_settings(allowedDomains=["127.0.0.1"]),
                               recorder=records.append)
    with pytest.raises(httpx.ConnectError):
        client.get("http://127.0.0.1:9/")  # discard port: nothing listens
    assert records[0]["decision"] == "allow" and records[0]["error"].startswith("ConnectError")


def test_sdk_style_usage_keeps_old_signature() -> None:
    client = build_http_client(Settings(), offline=True, timeout=5.0)
    assert isinstance(client, httpx.Client)
    with pytest.raises(EgressDenied):
        client.get("https://api.anthropic.com/v1/messages")
