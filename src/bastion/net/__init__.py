"""The egress gateway: the only place that builds HTTP clients (and so opens sockets out).

Every request asks the policy twice — on names before anything is sent, on addresses after
the gateway's own DNS lookup — then connects to the checked address, enforces TLS (1.3 by
default) and pins, and writes one audit record. See docs/network.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .describe import describe_network_policy
from .errors import EgressDenied
from .policy import Decision, EgressPolicy, decide_addresses, decide_request, is_loopback_host

if TYPE_CHECKING:
    from .client import build_fetch_client, build_http_client, build_transport
    from .record import Recorder, redacted_target
    from .tls import spki_sha256
    from .transport import Resolver, system_resolve

#: names whose modules import httpx/ssl/cryptography: loaded when first used, so a run that
#: never opens a connection does not pay for them (cli/lazy.py, docs/performance.md)
_LAZY = {"build_fetch_client": "client", "build_http_client": "client",
         "build_transport": "client", "Recorder": "record", "redacted_target": "record",
         "spki_sha256": "tls", "Resolver": "transport", "system_resolve": "transport"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value

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
