"""A journal kept in memory, for tests of the Session's journal and of recovery."""

from __future__ import annotations

import json
from typing import Any

from chronus_tui import patternfile
from chronus_tui.session import JOURNAL_REBASE_BYTES, Session
from chronus_tui.store import SlotStore


def as_read(record: dict[str, Any]) -> dict[str, Any]:
    """A record as a journal file gives it back (JSON, which has no NaN)."""
    return json.loads(json.dumps(record, allow_nan=False))


class JournalRecorder:
    """A JournalLink that keeps its header and records as a file would give them back; with
    rebase_every, it says it is full every that many records (the Session then rebases it)."""

    def __init__(self, session: Session, rebase_every: int = 0) -> None:
        self.header = as_read(session.journal_header())
        self.records: list[dict[str, Any]] = []
        self.rebase_every = rebase_every
        self.appended = 0
        session.journal = self

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(as_read(record))
        self.appended += 1

    def rebase(self, header: dict[str, Any]) -> None:
        self.header, self.records = as_read(header), []

    @property
    def bytes_since_base(self) -> int:
        full = self.rebase_every and self.appended % self.rebase_every == 0
        return JOURNAL_REBASE_BYTES + 1 if full else 0

    def recover(self, store: SlotStore) -> Session:
        """A new Session on the header's state, the records replayed (as recovery does)."""
        base = self.header["base"]
        recovered = Session(store, pattern=patternfile.pattern_from_dict(base["pattern"]))
        recovered.transport.playing_slot = base["slot"]
        for record in self.records:
            recovered.replay(record)
        return recovered
