"""Tables of the "audit" component (append to the list; never edit a released entry)."""

MIGRATIONS: list[str] = [
    """
    CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        category TEXT NOT NULL,
        action TEXT NOT NULL,
        session_id TEXT,
        payload_hash TEXT NOT NULL,
        prev_mac TEXT NOT NULL,
        mac TEXT NOT NULL,
        payload TEXT
    );
    CREATE INDEX audit_log_session ON audit_log (session_id);
    CREATE INDEX audit_log_time ON audit_log (time);
    CREATE TABLE audit_checkpoints (
        seq INTEGER PRIMARY KEY,
        mac TEXT NOT NULL,
        time TEXT NOT NULL
    );
    CREATE TABLE audit_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
]
