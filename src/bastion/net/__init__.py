"""The egress gateway: the only place that builds HTTP clients (and so opens sockets out).

Every request asks the policy twice — on names before anything is sent, on addresses after
the gateway's own DNS lookup — then connects to the checked address, enforces TLS (1.3 by
default) and pins, and writes one audit record. See docs/network.md.
"""

from __future__ import annotations

from .client import build_fetch_client, build_http_client, build_transport
from .describe import describe_network_policy
from .errors import EgressDenied
from .policy import Decision, EgressPolicy, decide_addresses, decide_request, is_loopback_host
from .record import Recorder, redacted_target
from .tls import spki_sha256
from .transport import Resolver, system_resolve

__all__ = [
    "Decision",
    "EgressDenied",
    "EgressPolicy",
    "Recorder",
    "Resolver",
    "build_fetch_client",
    "build_http_client",
    "build_transport",
    "decide_addresses",
    "decide_request",
    "describe_network_policy",
    "is_loopback_host",
    "redacted_target",
    "spki_sha256",
    "system_resolve",
]
