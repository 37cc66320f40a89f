"""From settings to a backend, and the scrubbing every synced string goes through."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bastion.config import Settings
from bastion.errors import BastionError

from .backends import Backend, FolderBackend
from .records import Scrub

S3_KEY_PROVIDER = "s3"


class SyncConfigError(BastionError):
    """The ``sync`` settings or the S3 credentials are missing or unusable."""


def backend_settings(*, s3: str | None, bucket: str | None, prefix: str | None,
                     folder: Path | None, region: str | None = None) -> dict[str, Any]:
    """The ``sync`` settings object for the CLI flags (exit 2 on a bad combination)."""
    if (s3 is None) == (folder is None):
        raise SyncConfigError("choose exactly one of --s3 URL (with --bucket) or --folder DIR")
    if folder is not None:
        if bucket or prefix:
            raise SyncConfigError("--bucket and --prefix go with --s3, not --folder")
        return {"backend": "folder", "folder": str(folder.expanduser().absolute())}
    if not bucket:
        raise SyncConfigError("--s3 needs --bucket NAME")
    if not (s3 or "").startswith(("http://", "https://")):
        raise SyncConfigError(f"--s3 must be an http(s) URL, not {s3!r}")
    return {"backend": "s3", "endpoint": s3, "bucket": bucket, "prefix": prefix or "",
            "region": region}


def s3_credentials(stored: str | None) -> tuple[str, str]:
    """``ACCESS_KEY_ID:SECRET`` from the vault (``bastion keys set s3``), else the standard
    AWS environment variables."""
    if stored:
        access, sep, secret = stored.partition(":")
        if not sep or not access or not secret:
            raise SyncConfigError("the stored s3 key must be ACCESS_KEY_ID:SECRET_ACCESS_KEY",
                                  hint="bastion keys set s3 --stdin <<< 'AKIA…:secret'")
        return access, secret
    env_access = os.environ.get("AWS_ACCESS_KEY_ID")
    env_secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if env_access and env_secret:
        return env_access, env_secret
    raise SyncConfigError("no S3 credentials",
                          hint="`bastion keys set s3` (ACCESS_KEY_ID:SECRET) or set "
                               "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")


def open_backend(settings: Settings, conf: dict[str, Any] | None = None,
                 credentials: Callable[[], str | None] = lambda: None) -> Backend:
    """The backend that ``conf`` (default: the ``sync`` settings) describes."""
    conf = conf if conf is not None else settings.sync.model_dump()
    kind = conf.get("backend")
    if kind == "folder":
        return FolderBackend(Path(str(conf["folder"])))
    if kind == "s3":
        from .s3 import S3Backend

        access, secret = s3_credentials(credentials())
        return S3Backend(settings, str(conf["endpoint"]), str(conf["bucket"]),
                         str(conf.get("prefix") or ""), access, secret, conf.get("region"))
    raise SyncConfigError("sync is not configured (no `sync` backend in the settings)",
                          hint="bastion sync init --folder DIR | --s3 URL --bucket B")


#: short fixed-vocabulary fields (roles, kinds, ids, names): not scanned, nothing to hide
_PLAIN = frozenset({"role", "kind", "status", "agent", "provider", "model", "tool_call_id",
                    "id", "name"})
#: fields holding JSON text: redacted value by value so the JSON stays valid
_JSON_TEXT = frozenset({"tool_calls", "arguments", "data"})


def _redact_json(f: Any, text: str) -> str:
    try:
        return json.dumps(f.redact_data(json.loads(text)))
    except ValueError:
        return str(f.redact(text))


def make_scrub(settings: Settings, known_values: Iterable[str]) -> Scrub:
    """Secrets (rules and the stored API keys) always; paths and PII in security mode.

    One privacy filter per workspace, so paths inside a workspace become relative to it.
    Every string field is scanned except the fixed-vocabulary ones in ``_PLAIN``.
    """
    from bastion.privacy import PrivacyFilter

    known = [v for v in known_values if v]
    filters: dict[str, Any] = {}

    def scrub(workspace: str, value: Any) -> Any:
        f = filters.get(workspace)
        if f is None:
            f = filters[workspace] = PrivacyFilter(
                known, security_mode=settings.security_mode, workspace=workspace or None)
        if not isinstance(value, dict):
            return f.redact_data(value)
        out = {}
        for key, item in value.items():
            if not isinstance(item, str) or not item or key in _PLAIN:
                out[key] = item
            elif key in _JSON_TEXT:
                out[key] = _redact_json(f, item)
            else:
                out[key] = f.redact(item)
        return out

    return scrub
