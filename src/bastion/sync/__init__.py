"""End-to-end-encrypted, zero-knowledge sync to storage the user owns (S3 or a folder).

Public API (see docs/sync.md)::

    backend_settings(s3=, bucket=, prefix=, folder=, region=) -> dict   # the ``sync`` settings
    open_backend(settings, conf=None, credentials=lambda: None) -> Backend
    make_scrub(settings, known_values) -> Scrub
    init_space(db, backend, device_name=None) -> Pairing      # .code: one-time pairing code
    join_space(db, backend, code, device_name=None) -> Identity
    recover_space(db, backend, document, device_name=None) -> Identity
    recovery_document(db, backend_settings) -> bytes            # encrypt before writing!
    Engine(db, home, backend, scrub, delete_local, progress=None).run() -> SyncReport
    status(db) -> dict; devices(db, backend) -> list[dict]
    revoke_device(db, backend, device) -> new key epoch
    delete_remote(db, backend) -> (deleted, left)
    SyncIntegrityError — a modified object or replayed manifest (the message names it)
"""

from .admin import (
    Pairing,
    SyncSetupError,
    delete_remote,
    devices,
    init_space,
    join_space,
    recover_space,
    recovery_document,
    revoke_device,
    status,
)
from .backends import Backend, FolderBackend, SyncBackendError, SyncConflict
from .connect import SyncConfigError, backend_settings, make_scrub, open_backend, s3_credentials
from .crypto import SyncIntegrityError
from .engine import Engine, SyncReport
from .state import SyncState

__all__ = [
    "Backend",
    "Engine",
    "FolderBackend",
    "Pairing",
    "SyncBackendError",
    "SyncConfigError",
    "SyncConflict",
    "SyncIntegrityError",
    "SyncReport",
    "SyncSetupError",
    "SyncState",
    "backend_settings",
    "delete_remote",
    "devices",
    "init_space",
    "join_space",
    "make_scrub",
    "open_backend",
    "recover_space",
    "recovery_document",
    "revoke_device",
    "s3_credentials",
    "status",
]
