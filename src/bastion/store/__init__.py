"""The encrypted store: SQLCipher connection, schema migrations, session repository."""

from .db import FILENAME, Database, DatabaseError, open_database
from .sessions import SessionInfo, SessionNotFound, SessionStore

__all__ = [
    "FILENAME",
    "Database",
    "DatabaseError",
    "SessionInfo",
    "SessionNotFound",
    "SessionStore",
    "open_database",
]
