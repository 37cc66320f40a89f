"""SQLCipher (Bastion's store) vs stdlib sqlite3, same schema, same run.

Measures: opening the database, inserting 10,000 messages (one transaction), and loading a
10,000-message session. Prints milliseconds and the ratio SQLCipher / sqlite3.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bastion.store import Database, SessionStore
from bastion.store.schema import MIGRATIONS

N = 10_000
KEY = os.urandom(32)


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def plain_sqlite(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        enc_path, plain_path = folder / "enc.db", folder / "plain.db"
        Database(enc_path, KEY).close()
        conn = plain_sqlite(plain_path)
        for stmt in (s for s in MIGRATIONS[0].split(";\n") if s.strip()):
            conn.execute(stmt)
        conn.close()

        def open_enc() -> None:
            Database(enc_path, KEY).conn.close()

        def open_plain() -> None:
            c = plain_sqlite(plain_path)
            c.execute("SELECT count(*) FROM sqlite_master").fetchone()
            c.close()

        results = {"open": (timed(open_enc, 20), timed(open_plain, 20))}

        db = Database(enc_path, KEY)
        store = SessionStore(db)
        conn = plain_sqlite(plain_path)
        body = "x" * 400

        def insert_enc() -> None:
            sid = store.create(title="bench", workspace="/w", agent=None, provider=None, model=None)
            with db.transaction():
                for i in range(N):
                    store.add_message(sid, "user" if i % 2 else "assistant", f"{i} {body}")

        def insert_plain() -> None:
            conn.execute("INSERT OR REPLACE INTO sessions (id, title, created_at, updated_at, "
                         "workspace) VALUES ('s', 'b', 0, 0, '/w')")
            conn.execute("BEGIN")
            for i in range(N):
                conn.execute("INSERT INTO messages (session_id, role, content, created_at) "
                             "VALUES ('s', ?, ?, 0)", ("user" if i % 2 else "assistant",
                                                       f"{i} {body}"))
                conn.execute("UPDATE sessions SET updated_at = 0 WHERE id = 's'")
            conn.execute("COMMIT")

        results["insert 10k messages"] = (timed(insert_enc, 3), timed(insert_plain, 3))
        sid = store.list(1)[0].id

        def load_enc() -> None:
            assert len(store.messages(sid)) == N

        def load_plain() -> None:
            rows = conn.execute("SELECT * FROM messages WHERE session_id = 's' ORDER BY id "
                                "LIMIT ?", (N,)).fetchall()
            assert len(rows) == N

        results["load 10k-message session"] = (timed(load_enc), timed(load_plain))
        db.close()
        conn.close()

    print(f"{'operation':<28}{'SQLCipher ms':>14}{'sqlite3 ms':>12}{'ratio':>8}")
    for name, (enc, plain) in results.items():
        print(f"{name:<28}{enc:>14.2f}{plain:>12.2f}{enc / plain:>8.2f}")


if __name__ == "__main__":
    main()
