"""TLS rules: one verifying context (TLS 1.3 minimum unless lowered) and SPKI SHA-256 pins."""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import ssl

import certifi
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bastion.config import NetworkSettings

from .errors import EgressDenied
from .policy import normalize_host

log = logging.getLogger("bastion.net")

_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def build_ssl_context(net: NetworkSettings) -> ssl.SSLContext:
    """Verification always on (certifi's roots plus ``network.caBundle``), minimum version set.

    certifi rather than the system store so that behaviour does not depend on what the host
    happens to trust; ``caBundle`` adds (never replaces) roots for a corporate CA or tests.
    """
    ctx = ssl.create_default_context(cafile=certifi.where())
    if net.ca_bundle:
        try:
            ctx.load_verify_locations(cafile=net.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise EgressDenied(f"network.caBundle {net.ca_bundle!r} cannot be loaded: {exc}",
                               rule="tls-config") from exc
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.minimum_version = _VERSIONS[net.min_tls_version]
    if net.min_tls_version != "1.3":
        log.warning("network.minTlsVersion is %s: servers may negotiate TLS below 1.3",
                    net.min_tls_version)
    return ctx


def parse_pin(pin: str) -> bytes:
    """A configured pin as 32 raw bytes: 64 hex digits or base64, optional ``sha256/``."""
    body = pin.strip().removeprefix("sha256/")
    if len(body) == 64:
        try:
            return bytes.fromhex(body)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"pin {pin!r} is neither hex nor base64") from exc
    if len(raw) != 32:
        raise ValueError(f"pin {pin!r} is not a SHA-256 digest")
    return raw


def format_pin(digest: bytes) -> str:
    return "sha256/" + base64.b64encode(digest).decode("ascii")


def spki_sha256(cert_der: bytes) -> bytes:
    """SHA-256 of the certificate's SubjectPublicKeyInfo (survives re-issuing the same key)."""
    cert = x509.load_der_x509_certificate(cert_der)
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).digest()


class PinSet:
    """Pins per normalised host name, parsed once."""

    def __init__(self, pins: dict[str, list[str]]) -> None:
        self._pins = {normalize_host(h): [parse_pin(p) for p in ps] for h, ps in pins.items()}

    def __bool__(self) -> bool:
        return bool(self._pins)

    def for_host(self, host: str) -> list[bytes]:
        return self._pins.get(normalize_host(host), [])

    def check(self, host: str, cert_der: bytes | None) -> None:
        """Refuse unless the leaf certificate's key matches one of ``host``'s pins.

        Only the leaf can be checked here (Python 3.11 exposes no verified chain), so pin the
        server's key and list a backup key's pin for rotations.
        """
        expected = self.for_host(host)
        if not expected:
            return
        if cert_der is None:
            raise EgressDenied(f"certificate pin check for {host}: no certificate presented",
                               rule="pin-mismatch", host=host)
        actual = spki_sha256(cert_der)
        if actual not in expected:
            raise EgressDenied(
                f"certificate pin mismatch for {host}: expected "
                f"{' or '.join(format_pin(p) for p in expected)}, server presented "
                f"{format_pin(actual)}; connection refused before sending the request",
                hint="if the server rotated its key on purpose, update network.pins",
                rule="pin-mismatch", host=host)


def classify_tls_error(exc: ssl.SSLError, host: str, min_version: str) -> EgressDenied | None:
    """Turn handshake failures that are policy outcomes into clear refusals."""
    reason = (exc.reason or "").upper()
    if "PROTOCOL_VERSION" in reason or "UNSUPPORTED_PROTOCOL" in reason \
            or "NO_PROTOCOLS_AVAILABLE" in reason:
        return EgressDenied(
            f"TLS refused for {host}: the server does not offer TLS {min_version} or newer "
            "(network.minTlsVersion)", rule="tls-min-version", host=host)
    if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in reason:
        detail = getattr(exc, "verify_message", None) or exc.reason
        return EgressDenied(f"TLS refused for {host}: certificate verification failed "
                            f"({detail})", rule="tls-verify", host=host)
    return None
