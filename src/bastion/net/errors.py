"""The gateway's one exception: a request the network policy refuses."""

from __future__ import annotations

from bastion.errors import BastionError


class EgressDenied(BastionError):
    """An outbound request the network policy refuses.

    Raised before the request is sent: policy rules before any packet (or DNS query), address
    rules before connecting, TLS and pin rules after the handshake but before the request.
    ``rule`` names the rule that decided (the same string the network audit records).
    """

    def __init__(self, message: str, hint: str | None = None, *, rule: str = "policy",
                 host: str | None = None) -> None:
        super().__init__(message, hint)
        self.rule = rule
        self.host = host
