"""The pure decision functions: no sockets at all."""

from __future__ import annotations

import pytest
from netgw_servers import make_settings

from bastion.config import Settings
from bastion.datamodel import ValidationError
from bastion.net import EgressPolicy, decide_addresses, decide_request, describe_network_policy


def policy(top: dict | None = None, *, region: str | None = None,
           endpoints: list[str] | None = None, **network: object) -> EgressPolicy:
    settings = make_settings(top, **network)
    return EgressPolicy.from_settings(settings, region=region,
                                      endpoints=[] if endpoints is None else endpoints)


def test_default_allowlist_is_empty_and_blocks_everything() -> None:
    d = decide_request(policy(), "https://example.com/")
    assert not d.allowed and d.rule == "not-allowlisted"


@pytest.mark.parametrize(("host", "rule"), [
    ("api.example.com", "allowed-domain:api.example.com"),
    ("API.Example.COM.", "allowed-domain:api.example.com"),
    ("a.docs.org", "allowed-domain:*.docs.org"),
    ("x.y.docs.org", "allowed-domain:*.docs.org"),
])
def test_allowlist_exact_and_wildcard(host: str, rule: str) -> None:
    p = policy(allowedDomains=["api.example.com", "*.docs.org"])
    d = decide_request(p, f"https://{host}/v1")
    assert d.allowed and d.rule == rule


@pytest.mark.parametrize("host", ["docs.org", "evildocs.org", "example.com.evil.net",
                                  "api.example.com.evil.net", "xapi.example.com"])
def test_wildcard_and_exact_do_not_overmatch(host: str) -> None:
    p = policy(allowedDomains=["api.example.com", "*.docs.org"])
    assert decide_request(p, f"https://{host}/").rule == "not-allowlisted"


def test_denied_domain_wins_over_allowlist_and_open_egress() -> None:
    p = policy(allowedDomains=["*.example.com"], deniedDomains=["bad.example.com"],
               blockAllOthers=False)
    d = decide_request(p, "https://bad.example.com/")
    assert not d.allowed and d.rule == "denied-domain:bad.example.com"
    assert decide_request(p, "https://good.example.com/").allowed
    assert decide_request(p, "https://elsewhere.net/").rule == "open-egress"


def test_offline_refuses_everything_but_loopback_names() -> None:
    p = EgressPolicy.from_settings(Settings(offline_mode=True))  # configured endpoints trusted
    assert decide_request(p, "https://api.openai.com/v1/chat").rule == "offline"
    assert decide_request(p, "http://10.1.2.3:8080/").rule == "offline"
    local = decide_request(p, "http://localhost:1234/v1/models")
    assert local.allowed and local.rule == "configured-endpoint"
    # loopback but not configured: offline narrows, it does not widen
    assert decide_request(p, "http://127.0.0.1:9999/").rule == "not-allowlisted"


def test_cleartext_to_public_names_is_refused() -> None:
    p = policy(allowedDomains=["example.com", "lan-box"], allowPrivateAddresses=["lan-box"])
    assert decide_request(p, "http://example.com/").rule == "cleartext-http"
    assert decide_request(p, "http://lan-box:11434/").allowed
    p2 = policy(allowedDomains=["example.com"], allowCleartextHttp=True)
    assert decide_request(p2, "http://example.com/").allowed


def test_other_schemes_refused() -> None:
    assert decide_request(policy(blockAllOthers=False), "file:///etc/passwd").rule == "scheme"
    assert decide_request(policy(blockAllOthers=False), "ftp://x.org/").rule == "scheme"


def test_residency() -> None:
    top = {"dataResidency": {"region": "eu", "enforceRegion": True,
                             "endpointRegions": {"*.eu-docs.org": "EU"}}}
    assert decide_request(policy(top, region="us", blockAllOthers=False),
                          "https://api.us.test/").rule == "residency"
    assert decide_request(policy(top, blockAllOthers=False),
                          "https://unknown.test/").rule == "residency"
    assert decide_request(policy(top, region="EU", blockAllOthers=False),
                          "https://api.eu.test/").allowed
    assert decide_request(policy(top, blockAllOthers=False), "https://a.eu-docs.org/").allowed
    # a local model server never leaves the machine
    assert decide_request(policy(top, endpoints=["http://localhost:1234/v1"]),
                          "http://localhost:1234/v1/x").allowed


def test_require_proxy_without_proxy_url() -> None:
    p = policy(requireProxy=True, allowedDomains=["example.com"])
    assert decide_request(p, "https://example.com/").rule == "proxy-required"


def test_configured_endpoint_is_origin_exact() -> None:
    p = policy(endpoints=["https://api.openai.com/v1"])
    assert decide_request(p, "https://api.openai.com/v1/models").rule == "configured-endpoint"
    assert decide_request(p, "https://api.openai.com:8443/").rule == "not-allowlisted"
    assert decide_request(p, "http://api.openai.com/").allowed is False


@pytest.mark.parametrize("addr", ["127.0.0.1", "10.0.0.5", "192.168.1.2", "169.254.169.254",
                                  "0.0.0.0", "::1", "fe80::1", "fd00::1", "224.0.0.1",
                                  "::ffff:127.0.0.1", "100.64.0.1"])
def test_public_name_resolving_to_non_public_address_is_refused(addr: str) -> None:
    p = policy(allowedDomains=["api.example.com"])
    d = decide_addresses(p, "api.example.com", 443, [addr])
    assert not d.allowed and d.rule == "private-address"


def test_mixed_answers_refused_and_public_allowed() -> None:
    p = policy(allowedDomains=["api.example.com"])
    assert not decide_addresses(p, "api.example.com", 443, ["93.184.216.34", "10.0.0.1"]).allowed
    assert decide_addresses(p, "api.example.com", 443, ["93.184.216.34"]).allowed


def test_private_allowed_by_setting_or_explicit_literal() -> None:
    p = policy(allowedDomains=["127.0.0.1"], allowPrivateAddresses=["*.lan"],
               endpoints=["http://localhost:1234/v1"])
    assert decide_addresses(p, "box.lan", 80, ["192.168.1.9"]).rule == "allow-private:*.lan"
    assert decide_addresses(p, "localhost", 1234, ["127.0.0.1"]).rule == \
        "explicit-local-endpoint"
    assert decide_addresses(p, "127.0.0.1", 8000, ["127.0.0.1"]).allowed
    # localhost on another port is not what the user configured
    assert not decide_addresses(p, "localhost", 9999, ["127.0.0.1"]).allowed


def test_open_egress_still_refuses_loopback() -> None:
    # blockAllOthers off must not turn the model into an SSRF client for local services
    p = policy(blockAllOthers=False)
    assert decide_request(p, "http://127.0.0.1:6379/").allowed
    assert decide_addresses(p, "127.0.0.1", 6379, ["127.0.0.1"]).rule == "private-address"


def test_offline_addresses_must_be_loopback() -> None:
    p = EgressPolicy.from_settings(Settings(offline_mode=True))
    assert decide_addresses(p, "localhost", 1234, ["10.0.0.1"]).rule == "offline"


def test_settings_validation_rejects_bad_values() -> None:
    with pytest.raises(ValidationError, match="pins"):
        make_settings(pins={"h": ["not-a-pin"]})
    with pytest.raises(ValidationError, match="allowedDomains"):
        make_settings(allowedDomains=["*example.com"])
    with pytest.raises(ValidationError, match="proxyUrl"):
        make_settings(proxyUrl="socks5://127.0.0.1:1080")
    make_settings(pins={"h": ["a" * 64, "sha256/" + "A" * 43 + "="]})


def test_describe_network_policy() -> None:
    lines = describe_network_policy(make_settings(
        {"offlineMode": True}, allowedDomains=["api.example.com"], minTlsVersion="1.2",
        proxyUrl="http://user:secret@127.0.0.1:3128", requireProxy=True))
    text = "\n".join(lines)
    assert "offline mode: ON" in text
    assert "api.example.com" in text
    assert "WARNING" in text
    assert "secret" not in text and "(required)" in text
    assert "endpoint https://api.openai.com/v1: REFUSED (offline" in text
    assert "endpoint http://localhost:1234/v1: reachable" in text
