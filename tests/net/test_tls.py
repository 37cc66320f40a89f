"""TLS minimum version, verification and SPKI pins, against trustme loopback servers."""

from __future__ import annotations

import base64
import logging
import ssl
from collections.abc import Callable
from typing import Any

import pytest
import trustme
from netgw_servers import LoopbackServer, fake_resolver, make_settings

from bastion.net import EgressDenied, build_http_client, spki_sha256

OK = {"/": (200, {"Content-Type": "text/plain"}, b"secure hello")}
RESOLVER = fake_resolver({"service.test": ["127.0.0.1"]})


def _leaf_pin(cert: trustme.LeafCert) -> bytes:
    der = ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())
    return spki_sha256(der)


def _client(ca_bundle: str, records: list[dict[str, Any]], **network: Any) -> Any:
    settings = make_settings(caBundle=ca_bundle, allowedDomains=["service.test"],
                             allowPrivateAddresses=["service.test"], **network)
    return build_http_client(settings, recorder=records.append, resolver=RESOLVER)


def test_tls13_server_accepted_with_sni_and_verification(
        serve: Callable[..., LoopbackServer], tls_server_context: Callable[..., ssl.SSLContext],
        ca_bundle: str, records: list[dict[str, Any]]) -> None:
    server = serve(OK, tls_server_context())
    response = _client(ca_bundle, records).get(f"https://service.test:{server.port}/")
    assert response.text == "secure hello"
    assert response.extensions["network_stream"].get_extra_info("ssl_object").version() \
        == "TLSv1.3"
    assert records[0]["decision"] == "allow"


def test_tls12_only_server_refused_by_default(
        serve: Callable[..., LoopbackServer], tls_server_context: Callable[..., ssl.SSLContext],
        ca_bundle: str, records: list[dict[str, Any]]) -> None:
    server = serve(OK, tls_server_context(max_version=ssl.TLSVersion.TLSv1_2))
    with pytest.raises(EgressDenied) as err:
        _client(ca_bundle, records).get(f"https://service.test:{server.port}/")
    assert err.value.rule == "tls-min-version"
    assert "TLS 1.3" in str(err.value) and "service.test" in str(err.value)
    assert server.seen == []
    assert records[0]["decision"] == "deny" and records[0]["rule"] == "tls-min-version"


def test_tls12_accepted_when_lowered_with_a_warning(
        serve: Callable[..., LoopbackServer], tls_server_context: Callable[..., ssl.SSLContext],
        ca_bundle: str, records: list[dict[str, Any]], caplog: pytest.LogCaptureFixture) -> None:
    server = serve(OK, tls_server_context(max_version=ssl.TLSVersion.TLSv1_2))
    with caplog.at_level(logging.WARNING, logger="bastion.net"):
        client = _client(ca_bundle, records, minTlsVersion="1.2")
    assert "minTlsVersion is 1.2" in caplog.text
    assert client.get(f"https://service.test:{server.port}/").text == "secure hello"
    assert records[0]["decision"] == "allow"


def test_untrusted_certificate_refused(
        serve: Callable[..., LoopbackServer], tls_server_context: Callable[..., ssl.SSLContext],
        ca_bundle: str, records: list[dict[str, Any]]) -> None:
    stranger = trustme.CA().issue_cert("service.test")
    server = serve(OK, tls_server_context(cert=stranger))
    with pytest.raises(EgressDenied) as err:
        _client(ca_bundle, records).get(f"https://service.test:{server.port}/")
    assert err.value.rule == "tls-verify"
    assert records[0]["rule"] == "tls-verify"


def test_pin_mismatch_refused_before_the_request_is_sent(
        serve: Callable[..., LoopbackServer], tls_server_context: Callable[..., ssl.SSLContext],
        ca_bundle: str, server_cert: trustme.LeafCert, records: list[dict[str, Any]]) -> None:
    server = serve(OK, tls_server_context())
    wrong = "ab" * 32
    with pytest.raises(EgressDenied) as err:
        _client(ca_bundle, records, pins={"service.test": [wrong]}).get(
            f"https://service.test:{server.port}/")
    actual = "sha256/" + base64.b64encode(_leaf_pin(server_cert)).decode()
    assert err.value.rule == "pin-mismatch"
    message = str(err.value)
    assert "service.test" in message and actual in message
    assert "sha256/" + base64.b64encode(bytes.fromhex(wrong)).decode() in message
    assert server.seen == []  # no request bytes reached the server
    assert records[0]["decision"] == "deny" and records[0]["rule"] == "pin-mismatch"


@pytest.mark.parametrize("encoding", ["base64", "hex"])
def test_correct_pin_accepted(
        serve: Callable[..., LoopbackServer], tls_server_context: Callable[..., ssl.SSLContext],
        ca_bundle: str, server_cert: trustme.LeafCert, records: list[dict[str, Any]],
        encoding: str) -> None:
    server = serve(OK, tls_server_context())
    digest = _leaf_pin(server_cert)
    pin = base64.b64encode(digest).decode() if encoding == "base64" else digest.hex()
    client = _client(ca_bundle, records, pins={"service.test": ["00" * 32, pin]})
    assert client.get(f"https://service.test:{server.port}/").text == "secure hello"
    assert records[0]["decision"] == "allow"
