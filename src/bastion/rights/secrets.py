"""Removing secrets from what leaves Bastion (exports, crash reports).

Two layers: values Bastion *knows* are secret (stored API keys, credential environment
variables, proxy credentials, MCP server environment values) are replaced wherever they
appear; and settings values under secret-looking keys are masked wholesale.
"""

from __future__ import annotations

import os
import re
from typing import Any

from bastion.vault import ENV_VARS

REMOVED = "[removed]"
_SECRET_KEY = re.compile(r"(key|token|secret|passw|passphrase|credential|auth|cookie)",
                         re.IGNORECASE)
# starts at the literal "://": linear on any input (the former ``[a-z][a-z0-9+.-]*://`` prefix was
# quadratic on a long run of letters, so ``export`` hung on a 50 MB message). Each scan stops at
# the next "/", and every "://" holds one, so no two scans overlap.
_URL_CREDENTIALS = re.compile(r"://[^/@\s]+@")
#: environment variables whose values are secrets Bastion itself uses
_SECRET_ENV = (*ENV_VARS.values(), "BASTION_PASSPHRASE", "BASTION_EXPORT_PASSPHRASE")
_MIN_SECRET = 6  # shorter "secrets" would blank ordinary words all over an export


def mask_url_credentials(text: str) -> str:
    """``http://user:pass@proxy:3128`` → ``http://[removed]@proxy:3128``."""
    if "://" not in text:
        return text
    return _URL_CREDENTIALS.sub(f"://{REMOVED}@", text)


class SecretScrubber:
    """Replaces every known secret value in strings; applied to everything exported."""

    def __init__(self, values: list[str]) -> None:
        # longest first, so a secret that contains another is replaced whole
        self.values = sorted({v for v in values if v and len(v) >= _MIN_SECRET},
                             key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.values:
            if secret in value:
                value = value.replace(secret, REMOVED)
        return mask_url_credentials(value)

    def deep(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.deep(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.deep(v) for v in value]
        return value


def known_secret_values(settings_doc: dict[str, Any], api_keys: list[str]) -> list[str]:
    values = list(api_keys)
    values += [os.environ[name] for name in _SECRET_ENV if os.environ.get(name)]
    for server in (settings_doc.get("mcpServers") or {}).values():
        values += [str(v) for v in (server.get("env") or {}).values()]
    proxy = (settings_doc.get("network") or {}).get("proxyUrl")
    if proxy:
        m = _URL_CREDENTIALS.search(proxy)
        if m:
            values += [part for part in m.group(0)[3:-1].split(":") if part]
    return values


def scrub_settings(doc: Any, key: str = "") -> Any:
    """Settings with every secret removed: secret-named keys, MCP env values, URL credentials."""
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        for k, v in doc.items():
            if k == "env" and isinstance(v, dict):
                out[k] = {name: REMOVED for name in v}  # MCP server environments hold tokens
            elif _SECRET_KEY.search(k) and isinstance(v, str) and v:
                out[k] = REMOVED
            else:
                out[k] = scrub_settings(v, k)
        return out
    if isinstance(doc, list):
        return [scrub_settings(v, key) for v in doc]
    if isinstance(doc, str):
        return mask_url_credentials(doc)
    return doc
