"""The core schema (component "core"): conversation history and API keys.

Other packages keep their own migration lists and apply them with
``Database.ensure_schema(component, migrations)``. Append new migrations; never edit one.
"""

MIGRATIONS: list[str] = [
    # 1: conversation history and API keys
    """
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    workspace TEXT NOT NULL,
    agent TEXT,
    provider TEXT,
    model TEXT,
    status TEXT NOT NULL DEFAULT 'running'
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    tool_calls TEXT,
    tool_call_id TEXT,
    agent TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX messages_session ON messages(session_id, id);
CREATE TABLE tool_calls (
    id TEXT NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    arguments TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    agent TEXT,
    started_at REAL NOT NULL,
    finished_at REAL,
    PRIMARY KEY (session_id, id)
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX events_session ON events(session_id, id);
CREATE TABLE api_keys (
    provider TEXT NOT NULL,
    key_id TEXT NOT NULL,
    sealed BLOB NOT NULL,
    masked TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (provider, key_id)
)
""",
    # 2: which process owns a running session (store/owners.py)
    """
CREATE TABLE session_owners (
    session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
    owner TEXT NOT NULL
)
""",
]
