"""Where the ciphertext goes: a plain folder or an S3-compatible bucket (see :mod:`.s3`).

A backend stores opaque named blobs and knows nothing of their meaning. Two kinds of write:

- :meth:`Backend.create` — immutable objects (segments): create-only, never overwritten;
- :meth:`Backend.replace` — the few mutable objects (manifests, the device registry): a
  conditional write that succeeds only if the object is still the version that was read
  (``etag``), or still absent (``etag=None``). A concurrent writer gets :class:`SyncConflict`
  instead of silently losing the other device's update.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from bastion.errors import BastionError

_NAME = re.compile(r"^[0-9a-f]{64}$")


class SyncBackendError(BastionError):
    """The store cannot be reached, or refused a request."""


class SyncConflict(SyncBackendError):
    """A conditional write lost a race: someone else changed the object first."""


class Backend(Protocol):
    description: str

    def get(self, name: str) -> tuple[bytes, str] | None:
        """(data, etag), or None when the object does not exist."""

    def create(self, name: str, data: bytes) -> None:
        """Store an immutable object; :class:`SyncConflict` if the name exists."""

    def replace(self, name: str, data: bytes, etag: str | None) -> str:
        """Conditional write (see module docstring); returns the new etag."""

    def delete(self, name: str) -> None:
        """Delete an object; deleting a missing object is not an error."""

    def list(self) -> list[str]:
        """Every object name under this store's prefix."""


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise SyncBackendError(f"refusing a sync object name that is not a keyed hash: {name!r}")
    return name


class FolderBackend:
    """Objects as files in one directory (a Syncthing, Dropbox or iCloud folder, a USB disk)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.description = f"folder {folder}"
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise SyncBackendError(f"sync folder {folder}: {exc.strerror}") from None
        if not folder.is_dir():
            raise SyncBackendError(f"sync folder {folder} is not a directory")

    def _path(self, name: str) -> Path:
        return self.folder / check_name(name)

    def get(self, name: str) -> tuple[bytes, str] | None:
        try:
            data = self._path(name).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SyncBackendError(f"{self.description}: cannot read {name}: {exc.strerror}") from None
        return data, hashlib.sha256(data).hexdigest()

    def _temp(self, data: bytes) -> str:
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return tmp

    def create(self, name: str, data: bytes) -> None:
        path = self._path(name)
        tmp = self._temp(data)
        try:
            os.link(tmp, path)  # atomic create-only: fails if the name exists
        except FileExistsError:
            raise SyncConflict(f"{self.description}: object {name} already exists") from None
        finally:
            os.unlink(tmp)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.folder / ".lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def replace(self, name: str, data: bytes, etag: str | None) -> str:
        path = self._path(name)
        with self._locked():
            current = self.get(name)
            if (current[1] if current else None) != etag:
                raise SyncConflict(f"{self.description}: object {name} changed while syncing")
            tmp = self._temp(data)
            try:
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return hashlib.sha256(data).hexdigest()

    def delete(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(name).unlink()

    def list(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir() if _NAME.match(p.name))

    def remove_leftovers(self) -> None:
        """After deleting every object: the lock file and stale temporaries go too."""
        for p in self.folder.iterdir():
            if p.name == ".lock" or p.name.startswith(".tmp-"):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()


class CountingBackend:
    """The backend, counting the object bytes that went up and came down."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.description = inner.description
        self.up = self.down = 0

    def get(self, name: str) -> tuple[bytes, str] | None:
        got = self.inner.get(name)
        self.down += len(got[0]) if got else 0
        return got

    def create(self, name: str, data: bytes) -> None:
        self.inner.create(name, data)
        self.up += len(data)

    def replace(self, name: str, data: bytes, etag: str | None) -> str:
        etag = self.inner.replace(name, data, etag)
        self.up += len(data)
        return etag

    def delete(self, name: str) -> None:
        self.inner.delete(name)

    def list(self) -> list[str]:
        return self.inner.list()
