"""Cost of hiding secret-bearing files from commands, against the snapshot every command
already takes (baseline, same process, same tree).

A 1,000-file workspace (source-like text, 2 files holding a token): the pre-command snapshot
cold and warm, then the secret-file check cold (every file read and scanned once) and warm
(one lookup per file: what every later command of the session pays).

Run: ``.venv/bin/python bench/bench_secret_files.py`` (prints a table; not a timed test).
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from bastion.journal.snapshot import MemoryBlobStore, SnapshotCache, take_snapshot
from bastion.tools.secretfiles import SecretFiles

TOKEN = "ghp_" + "Lq8Wm3Zt6Rb1Nv4Xc7Ys2Ud5Ke9Hf0Pa3Jg6B"


def _tree(ws: Path, files: int = 1_000) -> int:
    rnd = random.Random(7)
    words = ["def", "return", "value", "self", "config", "import", "for", "in", "if", "name"]
    total = 0
    for i in range(files):
        d = ws / f"pkg{i % 20}"
        d.mkdir(exist_ok=True)
        body = "\n".join(" ".join(rnd.choice(words) for _ in range(8)) for _ in range(60))
        if i in (17, 503):
            body += f"\ntoken = {TOKEN}\n"
        (d / f"m{i}.py").write_text(body)
        total += len(body)
    return total


def _ms(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        size = _tree(ws)
        blobs, cache = MemoryBlobStore(), SnapshotCache()
        snap_cold = _ms(lambda: take_snapshot([ws], blobs, cache=cache))
        snap = take_snapshot([ws], blobs, cache=cache)
        snap_warm = _ms(lambda: take_snapshot([ws], blobs, cache=cache))
        sf = SecretFiles()
        found: list[str] = []
        check_cold = _ms(lambda: found.extend(sf.find(snap.entries)))
        check_warm = _ms(lambda: sf.find(snap.entries))
        print(f"tree: 1,000 files, {size / 1e6:.2f} MB; hidden: {len(found)}")
        print(f"{'step':42} {'ms':>9} {'x snapshot':>11}")
        print(f"{'snapshot, cold (baseline)':42} {snap_cold:9.1f} {1.0:11.2f}")
        print(f"{'snapshot, warm (baseline)':42} {snap_warm:9.1f} {1.0:11.2f}")
        print(f"{'secret check, cold (first command)':42} {check_cold:9.1f} "
              f"{check_cold / snap_cold:11.2f}")
        print(f"{'secret check, warm (every later command)':42} {check_warm:9.1f} "
              f"{check_warm / snap_warm:11.2f}")
        print(f"cold scan rate: {size / 1e6 / (check_cold / 1000):.1f} MB/s")


if __name__ == "__main__":
    main()
