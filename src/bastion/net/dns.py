"""The gateway's resolver: the system's (default) or given resolvers only (``network.dns``).

With ``"network": {"dns": ["10.0.0.2", "127.0.0.1:5353"]}`` every name the gateway looks up
is asked of those servers directly (dnspython, UDP with TCP on truncation), never of the
system resolver — not even when they fail: an unanswered lookup is a refused connection.
The addresses returned are checked exactly like the system resolver's (private/loopback and
rebinding rules in :func:`decide_addresses`), and the connection goes to the checked address.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

import dns.exception
import dns.resolver

from bastion.config import parse_resolver

from .transport import Resolver, system_resolve

#: seconds per lookup (all servers, both record types)
LIFETIME = 5.0


class LocalResolver:
    """Asks only the configured servers, A and AAAA, in that order."""

    def __init__(self, servers: Sequence[str], lifetime: float = LIFETIME) -> None:
        parsed = [parse_resolver(s) for s in servers]
        if not parsed or any(p is None for p in parsed):
            raise ValueError(f"network.dns: not resolver addresses: {list(servers)}")
        self.servers = [p for p in parsed if p is not None]
        self._resolver = dns.resolver.Resolver(configure=False)  # no /etc/resolv.conf
        self._resolver.nameservers = [host for host, _ in self.servers]
        self._resolver.nameserver_ports = {host: port for host, port in self.servers}
        self._resolver.lifetime = lifetime
        self._resolver.timeout = lifetime
        self._resolver.cache = None

    def __call__(self, host: str, port: int) -> list[str]:
        del port
        found: list[str] = []
        problems: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                answer = self._resolver.resolve(host, rdtype, search=False)
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer) as exc:
                problems.append(f"{rdtype}: {type(exc).__name__}")
                continue
            except dns.exception.DNSException as exc:
                problems.append(f"{rdtype}: {exc}")
                continue
            for record in answer:
                address = str(record.address)  # type: ignore[attr-defined]
                if address not in found:
                    found.append(address)
        if not found:
            where = ", ".join(f"{h}:{p}" for h, p in self.servers)
            raise socket.gaierror(f"no address from the configured resolvers ({where}; "
                                  f"{'; '.join(problems)}); the system resolver is not used")
        return found


def resolver_for(dns_setting: str | list[str]) -> Resolver:
    """The resolver ``network.dns`` selects."""
    if dns_setting == "system" or not dns_setting:
        return system_resolve
    return LocalResolver(list(dns_setting))
