"""The encrypted store: SQLCipher connection, schema migrations, session repository."""

from .db import FILENAME, Database, DatabaseError, open_database
from .owners import OwnerLock, owner_alive
from .sessions import SessionInfo, SessionNotFound, SessionStore

__all__ = [
    "FILENAME",
    "Database",
    "DatabaseError",
    "OwnerLock",
    "SessionInfo",
    "SessionNotFound",
    "SessionStore",
    "open_database",
    "owner_alive",
]
