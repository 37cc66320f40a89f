"""Slot 1: the OS keychain through ``keyring`` — refusing backends that are not real keychains.

``keyrings.alt`` stores secrets in plain or trivially-obfuscated files and the ``fail``/``null``
backends store nothing; accepting any of them would silently weaken key custody.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # keyring (backend discovery scans entry points, ~30 ms) loads on first use
    from keyring.backend import KeyringBackend

SERVICE = "bastion"
_REFUSED_MODULES = ("keyrings.alt", "keyring.backends.fail", "keyring.backends.null")


def _leaf_backends(backend: KeyringBackend) -> list[KeyringBackend]:
    inner = getattr(backend, "backends", None)
    return list(inner) if inner is not None else [backend]


def backend_name(backend: KeyringBackend) -> str:
    return f"{type(backend).__module__}.{type(backend).__name__}"


def is_refused(backend: KeyringBackend) -> bool:
    return type(backend).__module__.startswith(_REFUSED_MODULES)


def keychain_switched_off(backends: tuple[str, ...] = ("fail", "null")) -> bool:
    """``PYTHON_KEYRING_BACKEND`` names one of keyring's ``backends`` that store nothing
    (keyring's own switch for "no keychain") and no code has imported keyring to choose
    another (``keyring.set_keyring``): known without importing keyring (~25 ms)."""
    chosen = os.environ.get("PYTHON_KEYRING_BACKEND", "")
    return "keyring" not in sys.modules and any(
        chosen.startswith(f"keyring.backends.{name}.") for name in backends)


def secure_backend() -> tuple[KeyringBackend | None, str]:
    """The configured keyring if it is a real keychain, else ``(None, reason)``."""
    if keychain_switched_off(("fail",)):
        return None, "no OS keychain available (keyring reports no usable backend)"
    import keyring

    try:
        configured = keyring.get_keyring()
    except Exception as exc:
        return None, f"keyring unavailable: {exc}"
    leaves = _leaf_backends(configured)
    refused = [b for b in leaves if is_refused(b)]
    good = [b for b in leaves if not is_refused(b)]
    if good and not refused:
        return configured, backend_name(configured)
    if good:
        return good[0], backend_name(good[0])
    if refused and not type(refused[0]).__module__.startswith(("keyring.backends.fail",)):
        return None, f"refused insecure keyring backend {backend_name(refused[0])} (stores plaintext)"
    return None, "no OS keychain available (keyring reports no usable backend)"


def account_for(home: Path) -> str:
    """One keychain entry per data directory, so separate BASTION_HOMEs never share a key."""
    digest = hashlib.sha256(str(home).encode()).hexdigest()[:16]
    return f"master-key:{digest}"


def load_master_key(backend: KeyringBackend, home: Path) -> bytes | None:
    stored = backend.get_password(SERVICE, account_for(home))
    return base64.b64decode(stored) if stored else None


def store_master_key(backend: KeyringBackend, home: Path, key: bytes) -> None:
    backend.set_password(SERVICE, account_for(home), base64.b64encode(key).decode())


def delete_master_key(backend: KeyringBackend, home: Path) -> None:
    import keyring.errors

    with contextlib.suppress(keyring.errors.PasswordDeleteError):
        backend.delete_password(SERVICE, account_for(home))
