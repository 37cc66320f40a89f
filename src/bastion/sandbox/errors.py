"""The sandbox's one error: it cannot be built here, so nothing runs (fail closed)."""

from __future__ import annotations

from bastion.errors import BastionError

INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: apt-get install -y bubblewrap; " \
    "Fedora: dnf install bubblewrap) and enable unprivileged user namespaces " \
    "(sysctl kernel.unprivileged_userns_clone=1 / kernel.apparmor_restrict_unprivileged_userns=0)"


class SandboxUnavailable(BastionError):
    """The sandbox cannot be built here; nothing runs (fail closed)."""

    def __init__(self, message: str, hint: str | None = INSTALL_HINT) -> None:
        super().__init__(message, hint)
