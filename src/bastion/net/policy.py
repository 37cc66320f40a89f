"""The egress decision, as pure functions: no sockets, no DNS, no clock.

Two questions are asked for every connection, in this order:

1. :func:`decide_request` — before anything is sent (no packet, not even a DNS query): scheme,
   offline mode, denied/allowed domains, cleartext, data residency, proxy requirement.
2. :func:`decide_addresses` — after the gateway resolved the name and before it connects: are
   the addresses public? A public name that resolves to 127.0.0.1 or 10.x is DNS rebinding (or
   an internal name an attacker wants us to reach) and is refused unless the user said otherwise.

Every answer names the rule that decided, so the audit log and error messages can say why.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bastion.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: "localhost" never goes to DNS (RFC 6761): a hosts file or resolver mapping it elsewhere
#: would otherwise turn the one name offline mode trusts into a way out.
LOCALHOST_ADDRESSES: tuple[str, ...] = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    #: short stable identifier of the rule, e.g. ``offline``, ``allowed-domain:*.example.com``
    rule: str
    reason: str


@dataclass(frozen=True)
class Endpoint:
    """An origin the user configured by name (a provider endpoint, an MCP server URL)."""

    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Endpoint | None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return None
        return cls(parts.scheme, normalize_host(parts.hostname), port)


@dataclass(frozen=True)
class EgressPolicy:
    """The network settings compiled for one client (normalised, immutable)."""

    offline: bool = False
    allowed: tuple[str, ...] = ()
    denied: tuple[str, ...] = ()
    block_all_others: bool = True
    allow_private: tuple[str, ...] = ()
    allow_cleartext: bool = False
    require_proxy: bool = False
    proxy_configured: bool = False
    endpoints: tuple[Endpoint, ...] = ()
    enforce_region: bool = False
    home_region: str | None = None
    #: the region the caller declared for this client's endpoint (a provider's ``region``)
    client_region: str | None = None
    endpoint_regions: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        offline: bool | None = None,
        region: str | None = None,
        endpoints: Iterable[str] | None = None,
    ) -> EgressPolicy:
        net = settings.network
        res = settings.data_residency
        urls = configured_endpoints(settings) if endpoints is None else list(endpoints)
        parsed = tuple(e for e in (Endpoint.parse(u) for u in urls) if e is not None)
        return cls(
            offline=settings.offline_mode if offline is None else offline,
            allowed=tuple(normalize_pattern(p) for p in net.allowed_domains),
            denied=tuple(normalize_pattern(p) for p in net.denied_domains),
            block_all_others=net.block_all_others,
            allow_private=tuple(normalize_pattern(p) for p in net.allow_private_addresses),
            allow_cleartext=net.allow_cleartext_http,
            require_proxy=net.require_proxy,
            proxy_configured=net.proxy_url is not None,
            endpoints=parsed,
            enforce_region=res.enforce_region,
            home_region=_region(res.region),
            client_region=_region(region),
            endpoint_regions=tuple(
                (normalize_pattern(h), r.strip().lower()) for h, r in res.endpoint_regions.items()
            ),
        )


def configured_endpoints(settings: Settings) -> list[str]:
    """Every endpoint URL the user configured: provider endpoints and enabled MCP servers."""
    urls: list[str] = []
    for name in type(settings.providers).model_fields:
        endpoint = getattr(getattr(settings.providers, name), "endpoint", None)
        if endpoint:
            urls.append(endpoint)
    urls.extend(s.url for s in settings.mcp_servers.values() if s.enabled and s.url)
    return urls


def _region(value: str | None) -> str | None:
    return value.strip().lower() if value and value.strip() else None


# --- names -------------------------------------------------------------------------------


def _ip(host: str) -> IPAddress | None:
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    # ::ffff:10.0.0.1 is 10.0.0.1 on the wire; judge it as such.
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def normalize_host(host: str) -> str:
    """Lower-case, no trailing dot, punycode for non-ASCII, canonical text for IP literals."""
    host = host.strip().rstrip(".").lower()
    addr = _ip(host)
    if addr is not None:
        return str(addr)
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    return host


def normalize_pattern(pattern: str) -> str:
    if pattern.startswith("*."):
        return "*." + normalize_host(pattern[2:])
    return normalize_host(pattern)


def host_matches(host: str, pattern: str) -> bool:
    """``*.example.com`` matches any subdomain (not the apex); anything else matches exactly."""
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def first_match(host: str, patterns: Sequence[str]) -> str | None:
    return next((p for p in patterns if host_matches(host, p)), None)


def is_loopback_host(host: str) -> bool:
    """The URL host itself is loopback: ``localhost``, ``*.localhost``, 127.0.0.0/8, ``::1``."""
    host = normalize_host(host)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    addr = _ip(host)
    return addr is not None and addr.is_loopback


def literal_addresses(host: str) -> tuple[str, ...] | None:
    """The addresses a host stands for without DNS (an IP literal or localhost), else None."""
    host = normalize_host(host)
    if host == "localhost" or host.endswith(".localhost"):
        return LOCALHOST_ADDRESSES
    addr = _ip(host)
    return (str(addr),) if addr is not None else None


def is_public(addr: IPAddress) -> bool:
    # is_global excludes private, loopback, link-local, unspecified, reserved, shared (CGNAT)
    # and documentation ranges; multicast is "global" for some ranges but never a server.
    return addr.is_global and not addr.is_multicast


def _kind(addr: IPAddress) -> str:
    for attr in ("loopback", "private", "link_local", "unspecified", "multicast", "reserved"):
        if getattr(addr, f"is_{attr}"):
            return attr.replace("_", "-")
    return "non-public"


# --- phase 1: before anything is sent ----------------------------------------------------


def _deny(rule: str, reason: str) -> Decision:
    return Decision(False, rule, reason)


def _region_for(policy: EgressPolicy, host: str) -> str | None:
    for pattern, region in policy.endpoint_regions:
        if host_matches(host, pattern):
            return region
    return policy.client_region


def decide_request(policy: EgressPolicy, url: str, *, port: int | None = None) -> Decision:
    """Allow or refuse a request to ``url`` on names alone (no DNS has happened yet)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return _deny("scheme", f"only http and https are supported, not {scheme or '(none)'}")
    if not parts.hostname:
        return _deny("no-host", f"{url!r} has no host")
    host = normalize_host(parts.hostname)
    if port is None:
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            return _deny("bad-port", f"{url!r} has an invalid port")
    loopback = is_loopback_host(host)

    if policy.offline and not loopback:
        return _deny("offline", f"offline mode: {host} is not a loopback address; only "
                     "127.0.0.0/8, ::1 and localhost are reachable")
    denied = first_match(host, policy.denied)
    if denied is not None:
        return _deny(f"denied-domain:{denied}", f"{host} matches network.deniedDomains "
                     f"entry {denied!r}")
    literal = _ip(host)
    if (scheme == "http" and not loopback and not policy.allow_cleartext
            and not (literal is not None and not is_public(literal))
            and first_match(host, policy.allow_private) is None):
        return _deny("cleartext-http", f"http://{host} would travel unencrypted over the "
                     "internet; use https (or set network.allowCleartextHttp)")
    if policy.enforce_region and not loopback:
        region = _region_for(policy, host)
        if policy.home_region is None:
            return _deny("residency", "dataResidency.enforceRegion is on but "
                         "dataResidency.region is not set")
        if region is None:
            return _deny("residency", f"{host} has no known region (dataResidency.region is "
                         f"{policy.home_region!r}); set the provider's region or "
                         "dataResidency.endpointRegions")
        if region != policy.home_region:
            return _deny("residency", f"{host} is in region {region!r}, outside "
                         f"dataResidency.region {policy.home_region!r}")
    if policy.require_proxy and not policy.proxy_configured and not loopback:
        return _deny("proxy-required", "network.requireProxy is on but network.proxyUrl is "
                     "not set; refusing to connect directly")

    if Endpoint(scheme, host, port) in policy.endpoints:
        return Decision(True, "configured-endpoint", f"{scheme}://{host}:{port} is a "
                        "configured endpoint")
    allowed = first_match(host, policy.allowed)
    if allowed is not None:
        return Decision(True, f"allowed-domain:{allowed}", f"{host} matches "
                        f"network.allowedDomains entry {allowed!r}")
    if not policy.block_all_others:
        return Decision(True, "open-egress", "network.blockAllOthers is off")
    return _deny("not-allowlisted", f"{host} is not in network.allowedDomains (and "
                 "network.blockAllOthers is on)")


# --- phase 2: after DNS, before connecting -----------------------------------------------


def _explicit_literal(policy: EgressPolicy, host: str, port: int) -> bool:
    """The user wrote this very address (or localhost) as an endpoint or an exact allow entry.

    Then no DNS answer stands between what they approved and where we connect, so a
    non-public address is what they meant (e.g. a local model server on localhost:1234).
    """
    if literal_addresses(host) is None:
        return False
    if any(e.host == host and e.port == port for e in policy.endpoints):
        return True
    return host in policy.allowed


def decide_addresses(
    policy: EgressPolicy, host: str, port: int, addresses: Sequence[str]
) -> Decision:
    """Allow or refuse connecting to ``host`` at the ``addresses`` its name resolved to.

    All addresses must pass: a name whose answers mix public and private addresses is as
    suspicious as one that resolves to private addresses only.
    """
    host = normalize_host(host)
    if not addresses:
        return _deny("dns", f"{host} did not resolve to any address")
    private_ok = first_match(host, policy.allow_private)
    explicit = _explicit_literal(policy, host, port)
    rule = "public-address"
    for text in addresses:
        addr = _ip(text.split("%", 1)[0])
        if addr is None:
            return _deny("dns", f"{host} resolved to an unparseable address {text!r}")
        if policy.offline and not addr.is_loopback:
            return _deny("offline", f"offline mode: {host} resolves to {addr}, which is not "
                         "loopback")
        if is_public(addr):
            continue
        if private_ok is not None:
            rule = f"allow-private:{private_ok}"
        elif explicit:
            rule = "explicit-local-endpoint"
        else:
            return _deny("private-address", f"{host} resolves to {addr} ({_kind(addr)} "
                         "address); refused as possible DNS rebinding. If this is intended, "
                         "add the host to network.allowPrivateAddresses")
    return Decision(True, rule, f"{host} -> {', '.join(addresses)}")
