"""The egress gateway: the only place that builds HTTP clients.

Foundation version: offline mode refuses every non-loopback destination before connecting.
The egress issue grows this into allowlists, TLS policy, pinning, residency and auditing.
"""

from __future__ import annotations

import ipaddress

import httpx

from bastion.config import Settings
from bastion.errors import BastionError


class EgressDenied(BastionError):
    """An outbound request the network policy refuses (nothing was sent)."""


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _GatewayTransport(httpx.HTTPTransport):
    def __init__(self, settings: Settings, offline: bool) -> None:
        super().__init__(retries=0)
        self.settings = settings
        self.offline = offline

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if self.offline and not _is_loopback(host):
            raise EgressDenied(f"offline mode: refused connection to {host} (only loopback is "
                               "reachable)")
        return super().handle_request(request)


def build_http_client(settings: Settings, *, offline: bool | None = None,
                      timeout: float = 120.0) -> httpx.Client:
    offline = settings.offline_mode if offline is None else offline
    return httpx.Client(transport=_GatewayTransport(settings, offline), timeout=timeout,
                        follow_redirects=False, trust_env=False)


__all__ = ["EgressDenied", "build_http_client"]
