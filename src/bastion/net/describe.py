"""The effective network policy in plain lines, for ``bastion doctor``."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from bastion.config import Settings

from .policy import EgressPolicy, configured_endpoints, decide_request


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        netloc = "***@" + parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def describe_network_policy(settings: Settings, *, offline: bool | None = None) -> list[str]:
    net = settings.network
    res = settings.data_residency
    offline = settings.offline_mode if offline is None else offline
    lines: list[str] = []
    if offline:
        lines.append("offline mode: ON — only loopback (127.0.0.0/8, ::1, localhost) is "
                     "reachable; other names are refused before any DNS query")
    else:
        lines.append("offline mode: off")
    allowed = ", ".join(net.allowed_domains) or "(none)"
    lines.append(f"allowed domains: {allowed} — each one is a channel data could leave by")
    if net.denied_domains:
        lines.append(f"denied domains (win over allowed): {', '.join(net.denied_domains)}")
    lines.append("other domains: " + ("blocked" if net.block_all_others
                                      else "ALLOWED (network.blockAllOthers is off)"))
    private = ", ".join(net.allow_private_addresses) or "(none)"
    lines.append(f"private/loopback addresses after DNS: refused, except for: {private}")
    if net.proxy_url:
        lines.append(f"proxy: {_without_credentials(net.proxy_url)}"
                     + (" (required)" if net.require_proxy else "")
                     + "; loopback destinations connect directly")
    elif net.require_proxy:
        lines.append("proxy: REQUIRED but network.proxyUrl is not set — all non-loopback "
                     "requests are refused")
    else:
        lines.append("proxy: none (direct connections)")
    tls = f"TLS: minimum {net.min_tls_version}, certificate verification always on"
    if net.min_tls_version != "1.3":
        tls += " (WARNING: below the 1.3 default)"
    if net.ca_bundle:
        tls += f", extra CA bundle {net.ca_bundle}"
    lines.append(tls)
    if net.pins:
        lines.append("pinned hosts: " + ", ".join(f"{h} ({len(p)} pin{'s' * (len(p) > 1)})"
                                                   for h, p in sorted(net.pins.items())))
    lines.append("cleartext http to public addresses: "
                 + ("allowed" if net.allow_cleartext_http else "refused"))
    if res.enforce_region:
        lines.append(f"data residency: enforced, region {res.region or '(NOT SET: all refused)'}")
    else:
        lines.append(f"data residency: not enforced (region {res.region or 'unset'})")
    policy = EgressPolicy.from_settings(settings, offline=offline)
    for url in configured_endpoints(settings):
        d = decide_request(policy, url)
        verdict = "reachable" if d.allowed else f"REFUSED ({d.rule}: {d.reason})"
        lines.append(f"endpoint {_without_credentials(url)}: {verdict}")
    return lines
