"""The journal's tables (component "journal"). Append migrations; never edit a released one."""

MIGRATIONS: list[str] = [
    # 1: operations (one per tool call, undo or redo) and their per-path changes
    """
CREATE TABLE journal_ops (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    session_id TEXT,
    tool_call_id TEXT,
    tool TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    reverts TEXT NOT NULL DEFAULT '[]',
    summary TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX journal_ops_session ON journal_ops(session_id, seq);
CREATE TABLE journal_changes (
    op_id TEXT NOT NULL REFERENCES journal_ops(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    path TEXT NOT NULL,
    before_kind TEXT NOT NULL,
    before_hash TEXT,
    before_mode INTEGER,
    after_kind TEXT NOT NULL,
    after_hash TEXT,
    after_mode INTEGER,
    PRIMARY KEY (op_id, idx)
)
""",
    # 2: write-ahead intents of running commands (see bastion.journal.intents)
    """
CREATE TABLE journal_intents (
    id TEXT PRIMARY KEY,
    owner TEXT,
    session_id TEXT,
    tool_call_id TEXT,
    tool TEXT NOT NULL,
    summary TEXT NOT NULL,
    roots TEXT NOT NULL,
    entries TEXT NOT NULL,
    created_at REAL NOT NULL
)
""",
]
