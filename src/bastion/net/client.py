"""Building clients: the one place in Bastion where an HTTP client is made."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from bastion.config import Settings

from .dns import resolver_for
from .policy import EgressPolicy
from .record import Recorder
from .tls import PinSet, build_ssl_context
from .transport import GatewayTransport, Resolver


def build_transport(
    settings: Settings,
    *,
    offline: bool | None = None,
    recorder: Recorder | None = None,
    purpose: str = "http",
    region: str | None = None,
    endpoints: Iterable[str] | None = None,
    resolver: Resolver | None = None,
) -> GatewayTransport:
    net = settings.network
    policy = EgressPolicy.from_settings(settings, offline=offline, region=region,
                                        endpoints=endpoints)
    try:
        pins = PinSet(net.pins)
    except ValueError as exc:  # settings validation already checks; belt and braces
        from .errors import EgressDenied

        raise EgressDenied(f"network.pins: {exc}", rule="tls-config") from exc
    return GatewayTransport(
        policy,
        ssl_context=build_ssl_context(net),
        pins=pins,
        min_tls=net.min_tls_version,
        proxy_url=net.proxy_url,
        resolver=resolver if resolver is not None else resolver_for(net.dns),
        recorder=recorder if recorder is not None else _record_in_audit_log,
        purpose=purpose,
    )


def _record_in_audit_log(entry: dict[str, Any]) -> None:
    """Default recorder: every request lands in this process's audit log (if one is open)."""
    from bastion import audit

    audit.record_network(entry)


def build_http_client(
    settings: Settings,
    *,
    offline: bool | None = None,
    timeout: float = 120.0,
    recorder: Recorder | None = None,
    purpose: str = "http",
    region: str | None = None,
    endpoints: Iterable[str] | None = None,
    resolver: Resolver | None = None,
    follow_redirects: bool = False,
) -> httpx.Client:
    """An ``httpx.Client`` whose every request goes through the egress policy.

    ``offline`` overrides ``settings.offline_mode`` (the ``--offline`` flag). ``region`` is the
    data-residency region of the endpoint this client is for (a provider's ``region``).
    ``endpoints`` are the URLs the user configured for this client (a provider's endpoint, an
    MCP server URL): their origins are reachable without an allowlist entry, and if written
    as ``localhost``/an IP literal they may be loopback or private. ``None`` means every
    endpoint configured in ``settings``; pass an explicit list (or ``()``) to narrow it.
    ``recorder`` receives one audit record per request. Environment proxies (``HTTP_PROXY``)
    are ignored on purpose: only ``network.proxyUrl`` routes traffic. Redirects, if followed,
    are re-checked hop by hop because every hop goes through the same transport.
    """
    transport = build_transport(settings, offline=offline, recorder=recorder, purpose=purpose,
                                region=region, endpoints=endpoints, resolver=resolver)
    return httpx.Client(transport=transport, timeout=timeout,
                        follow_redirects=follow_redirects, trust_env=False)


def build_fetch_client(
    settings: Settings,
    *,
    offline: bool | None = None,
    timeout: float = 30.0,
    recorder: Recorder | None = None,
    resolver: Resolver | None = None,
) -> httpx.Client:
    """The client for ``fetch_url``: the model chooses its URLs, so nothing is trusted beyond
    ``network.allowedDomains`` — not even the configured provider endpoints."""
    return build_http_client(settings, offline=offline, timeout=timeout, recorder=recorder,
                             purpose="fetch_url", endpoints=(), resolver=resolver)
