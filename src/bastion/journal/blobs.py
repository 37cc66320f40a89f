"""The content-addressed pre-image store: encrypted blobs under ``BASTION_HOME/journal/blobs``.

A blob is addressed by the SHA-256 of its plaintext (that is what the journal records). The
file *name* is an HMAC of that digest, so the store does not reveal which well-known content
it holds; the file is AES-256-GCM sealed with the digest as associated data, so a blob cannot
be swapped for another. Reading verifies the tag *and* the digest; a bad blob raises
:class:`CorruptBlobError` and is never returned.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
from pathlib import Path

from bastion.errors import BastionError
from bastion.vault import DecryptionError, derive_subkey, open_sealed, seal


class CorruptBlobError(BastionError):
    """A stored pre-image is missing, truncated or modified."""


class BlobStore:
    def __init__(self, root: Path, key: bytes) -> None:
        self.root = root
        self._enc = derive_subkey(key, "journal/blob-encryption")
        self._names = derive_subkey(key, "journal/blob-names")
        for folder in (root.parent, root):  # parents=True would give "journal/" 0755
            folder.mkdir(exist_ok=True, mode=0o700)

    def path_for(self, digest: str) -> Path:
        name = hmac.new(self._names, digest.encode(), hashlib.sha256).hexdigest()
        return self.root / name[:2] / name

    def has(self, digest: str) -> bool:
        return self.path_for(digest).is_file()

    def put(self, data: bytes) -> str:
        """Store ``data`` durably (fsync before returning); returns its SHA-256 hex digest."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_for(digest)
        if path.is_file():
            return digest  # content-addressed: identical content is stored once
        path.parent.mkdir(exist_ok=True, mode=0o700)
        sealed = seal(self._enc, data, digest.encode())
        tmp = path.with_name(f".{path.name}.{os.urandom(4).hex()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(sealed)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return digest

    def get(self, digest: str) -> bytes:
        path = self.path_for(digest)
        try:
            sealed = path.read_bytes()
        except FileNotFoundError:
            raise CorruptBlobError(f"pre-image {digest[:12]} is missing from {self.root}") from None
        try:
            data = open_sealed(self._enc, sealed, digest.encode(), what=f"pre-image {digest[:12]}")
        except DecryptionError as exc:
            raise CorruptBlobError(f"{exc.message}; it will not be restored") from None
        if hashlib.sha256(data).hexdigest() != digest:  # defence in depth; GCM already checked
            raise CorruptBlobError(f"pre-image {digest[:12]} does not match its checksum")
        return data
