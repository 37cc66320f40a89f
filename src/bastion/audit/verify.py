"""Chain verification: walk the records, report the first one that is not what was written.

Tamper classes and how each shows up (the attacker has the data but not the key):

* **modified** — a header field changed: its MAC fails; a payload changed: its keyed hash fails.
* **inserted** — a forged record has no valid MAC, and the record after it links to the one
  before it; a copied (replayed) record has a valid MAC but a sequence number already seen.
* **deleted** — the next record's sequence number skips, and the missing one is nowhere later.
* **reordered** — a record appears before its predecessor (or, in the database, a row holds a
  record that was MACed under a different sequence number).
* **truncated / rolled back** — the log ends before the signed checkpoint kept outside the
  database, or the record at the checkpoint's sequence is not the one that was signed.
* **blanked without a deletion** — a payload is gone but no ``user/delete`` record names its
  session.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .chain import GENESIS, ChainKeys, Entry
from .checkpoint import Checkpoint

#: how far a misplaced database row is searched for the sequence it was written under
_REORDER_SEARCH = 8


@dataclass
class VerifyReport:
    """What verifying the chain found: ok, how many records, and the first problem."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    #: "modified", "inserted", "deleted", "reordered", "truncated", "rolled_back",
    #: "blanked", "checkpoint", "empty" — None when ok
    kind: str | None = None
    head_seq: int | None = None
    first_seq: int | None = None
    checkpoint_seq: int | None = None
    blanked: int = 0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def summary(self) -> str:
        if self.ok:
            text = f"ok: {self.checked} record(s) verified"
            if self.head_seq is not None:
                text += f", head seq {self.head_seq}"
            if self.checkpoint_seq is not None:
                text += f", signed checkpoint at seq {self.checkpoint_seq}"
            if self.blanked:
                text += f", {self.blanked} payload(s) deleted for privacy"
            return text
        where = f"record {self.first_bad_seq}" if self.first_bad_seq is not None else "log"
        return f"FAILED at {where} ({self.kind}): {self.problem}"


class _Bad(Exception):
    def __init__(self, seq: int | None, kind: str, problem: str) -> None:
        super().__init__(problem)
        self.seq, self.kind, self.problem = seq, kind, problem


@dataclass
class CheckpointContext:
    """What verification knows from outside the records."""

    checkpoint: Checkpoint | None = None
    #: the checkpoint failed its signature check, or was expected but is missing
    checkpoint_problem: str | None = None
    #: latest checkpoint the database itself remembers (tells truncation from rollback)
    db_checkpoint_seq: int | None = None
    #: the source must reach the checkpoint (the database, the logPath file); an export may
    #: legitimately end earlier
    must_reach_checkpoint: bool = True
    #: expected first sequence number (1 for the database; the logPath start for that file)
    expected_first: int | None = 1


def verify_entries(entries: Iterable[Entry], keys: ChainKeys, ctx: CheckpointContext,
                   *, present: set[int] | None = None, partial: bool = False) -> VerifyReport:
    """Verify ``entries`` in stored order.

    ``present`` is the set of sequence numbers in the whole source (files); None means the
    source is ordered by sequence number (the database), so a gap can only be a deletion.
    ``partial`` checks each record alone (MAC, payload, increasing order) — for filtered exports.
    """
    report = VerifyReport(ok=True, checked=0)
    try:
        _walk(iter(entries), keys, ctx, report, present, partial)
    except _Bad as bad:
        report.ok, report.first_bad_seq, report.kind, report.problem = (
            False, bad.seq, bad.kind, bad.problem)
    return report


def _peekable(it: Iterator[Entry]) -> tuple[Iterator[Entry], list[Entry]]:
    buffer: list[Entry] = []

    def gen() -> Iterator[Entry]:
        while True:
            if buffer:
                yield buffer.pop(0)
                continue
            try:
                yield next(it)
            except StopIteration:
                return
    return gen(), buffer


def _peek(it: Iterator[Entry], buffer: list[Entry]) -> Entry | None:
    if not buffer:
        try:
            buffer.append(next(it))
        except StopIteration:
            return None
    return buffer[0]


def _walk(raw: Iterator[Entry], keys: ChainKeys, ctx: CheckpointContext, report: VerifyReport,
          present: set[int] | None, partial: bool) -> None:
    entries, buffer = _peekable(raw)
    prev_mac: str | None = None
    expected: int | None = None
    seen: set[int] = set()
    blanked: list[Entry] = []
    deleted_sessions: set[str] = set()
    checkpoint = ctx.checkpoint
    mac_at_checkpoint: str | None = None

    for entry in entries:
        here = entry.where or f"record {entry.seq}"
        if keys.mac(entry.header()) != entry.mac:
            raise _classify_bad_mac(entry, keys, prev_mac, _peek(raw, buffer), here, seen)
        if entry.payload is None:
            blanked.append(entry)
        elif keys.payload_hash(entry.payload) != entry.payload_hash:
            raise _Bad(entry.seq, "modified",
                       f"{here}: payload does not match its hash (the content was modified)")
        if entry.seq in seen:
            raise _Bad(entry.seq, "inserted",
                       f"{here}: a second copy of record {entry.seq} (duplicated or replayed)")
        if expected is None:  # the first record anchors the walk
            first_expected = ctx.expected_first if not partial else None
            if first_expected is not None and entry.seq != first_expected:
                if entry.seq > first_expected and (present is None
                                                   or first_expected not in present):
                    raise _Bad(first_expected, "deleted",
                               f"record {first_expected} is missing: the log starts at "
                               f"record {entry.seq}")
                raise _Bad(entry.seq, "reordered",
                           f"{here}: record {entry.seq} comes first, expected record "
                           f"{first_expected}")
            if entry.seq == 1 and entry.prev_mac != GENESIS:
                raise _Bad(1, "modified", f"{here}: the first record does not start the chain")
            report.first_seq = entry.seq
        elif partial:
            if entry.seq <= expected - 1:
                raise _Bad(entry.seq, "reordered",
                           f"{here}: record {entry.seq} comes after record {expected - 1}")
        elif entry.seq != expected:
            if entry.seq < expected:
                raise _Bad(entry.seq, "reordered",
                           f"{here}: record {entry.seq} comes after record {expected - 1}")
            if present is not None and expected in present:
                raise _Bad(entry.seq, "reordered",
                           f"{here}: record {entry.seq} comes before record {expected} "
                           "(records were swapped or moved)")
            missing = (f"record {expected}" if entry.seq == expected + 1
                       else f"records {expected}–{entry.seq - 1}")
            raise _Bad(expected, "deleted",
                       f"{missing} missing: record {entry.seq} follows record {expected - 1}")
        elif entry.prev_mac != prev_mac:
            raise _Bad(entry.seq, "modified",
                       f"{here}: does not link to record {expected - 1} (chain broken)")
        if entry.category == "user" and entry.action == "delete" and entry.payload is not None:
            target = json.loads(entry.payload).get("session_id")
            if isinstance(target, str):
                deleted_sessions.add(target)
        if checkpoint is not None and entry.seq == checkpoint.seq:
            mac_at_checkpoint = entry.mac
        seen.add(entry.seq)
        prev_mac, expected = entry.mac, entry.seq + 1
        report.checked += 1
        report.head_seq = entry.seq

    for entry in blanked:
        if entry.session_id is None or entry.session_id not in deleted_sessions:
            raise _Bad(entry.seq, "blanked",
                       f"{entry.where or f'record {entry.seq}'}: payload removed but no "
                       "recorded deletion of its session")
    report.blanked = len(blanked)
    _check_checkpoint(ctx, report, mac_at_checkpoint)


def _written_as(entry: Entry, keys: ChainKeys) -> int | None:
    """The sequence number ``entry`` was MACed under, searched near its claimed one."""
    if keys.mac(entry.header()) == entry.mac:
        return entry.seq
    for delta in range(1, _REORDER_SEARCH + 1):
        for other in (entry.seq + delta, entry.seq - delta):
            if other > 0 and keys.mac(entry.header(other)) == entry.mac:
                return other
    return None


def _classify_bad_mac(entry: Entry, keys: ChainKeys, prev_mac: str | None, nxt: Entry | None,
                      here: str, seen: set[int]) -> _Bad:
    # A database row holding a record that was MACed under another sequence number: a copy
    # of an earlier record, or a record moved from elsewhere.
    other = _written_as(entry, keys)
    if other is not None and other in seen:
        return _Bad(entry.seq, "inserted", f"{here}: a copy of record {other} was inserted")
    if other is not None:
        return _Bad(entry.seq, "reordered",
                    f"{here}: holds record {other} (records were swapped or moved)")
    # The following record (perhaps renumbered to make room) links straight over this one:
    # this one was slipped in.
    if (nxt is not None and prev_mac is not None and nxt.prev_mac == prev_mac
            and _written_as(nxt, keys) is not None):
        return _Bad(entry.seq, "inserted",
                    f"{here}: not part of the chain (a record was inserted)")
    return _Bad(entry.seq, "modified",
                f"{here}: MAC does not match (a header field was modified)")


def _check_checkpoint(ctx: CheckpointContext, report: VerifyReport,
                      mac_at_checkpoint: str | None) -> None:
    if ctx.checkpoint_problem:
        raise _Bad(None, "checkpoint", ctx.checkpoint_problem)
    checkpoint = ctx.checkpoint
    if checkpoint is None:
        return
    report.checkpoint_seq = checkpoint.seq
    head = report.head_seq or 0
    if head < checkpoint.seq:
        if not ctx.must_reach_checkpoint:
            report.notes.append(f"ends at record {head}; the log continued to at least "
                                f"record {checkpoint.seq} (signed {checkpoint.time})")
            return
        first_missing = head + 1
        if ctx.db_checkpoint_seq is not None and ctx.db_checkpoint_seq < checkpoint.seq:
            raise _Bad(first_missing, "rolled_back",
                       f"log ends at record {head} but the signed checkpoint of "
                       f"{checkpoint.time} covers record {checkpoint.seq}: the log was rolled "
                       "back to an older copy")
        raise _Bad(first_missing, "truncated",
                   f"log ends at record {head} but the signed checkpoint of {checkpoint.time} "
                   f"covers record {checkpoint.seq}: records {first_missing}–{checkpoint.seq} "
                   "were cut off")
    if report.first_seq is not None and report.first_seq > checkpoint.seq:
        return  # a file that starts after the checkpoint cannot be compared with it
    if mac_at_checkpoint != checkpoint.mac:
        raise _Bad(checkpoint.seq, "rolled_back",
                   f"record {checkpoint.seq} is not the record signed in the checkpoint of "
                   f"{checkpoint.time}: the log was rolled back and rewritten")
