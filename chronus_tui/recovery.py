"""Crash recovery: the live session's journal, read back when Chronus starts after an unclean end.

While Chronus serves, every edit of the live session is appended to a journal on disk
(journalfile.JournalWriter: a background thread fsyncs it at most every 100 ms), and a
clean quit autosaves to slot 0 and removes it. So a journal found at start is what is left
of a session that did not end cleanly (SIGKILL, SIGHUP, a closed terminal, power lost):
the start rebuilds that session from the journal's base state and records, saves it to
slot 0 (the store keeps the slot 0 before as a backup) and says so.

Reading changes nothing on disk. Only an instance that serves commits (`Recovery.begin`):
it moves aside a file that is no journal, saves the recovered session and starts the new
journal, so a second instance that fails to start (its OSC port taken) leaves a crashed
session's journal, and slot 0, as it found them.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

from chronus_tui import patternfile
from chronus_tui.history import HISTORY_LIMIT, History, HistoryError, entry_from_record
from chronus_tui.journalfile import JournalWriter, journal_path, read_journal
from chronus_tui.model import PatternError
from chronus_tui.session import Session, SessionError
from chronus_tui.store import AUTOSAVE_SLOT, SlotStore, StoreError, check_slot

log = logging.getLogger(__name__)

JOURNAL_FOLDER = "journal"  # in a patterns folder named by --patterns-dir or $CHRONUS_PATTERNS_DIR
JOURNAL_VERSION = 1  # the header's "version" this Chronus reads (session.journal_header writes it)
LOGGED_SKIPS = 10  # records that could not apply, logged one by one; the rest are only counted
START_WAIT = 1.0  # seconds a start waits for the new journal's first line to be on disk
CARRIED_HISTORY_BYTES = 256 * 1024  # the newest history a new journal's first line carries


def journal_location(patterns_root: Path) -> Path:
    """Where the journal of the session playing `patterns_root` lives: the user state folder
    for the default patterns folder, else `journal/` inside the patterns folder, whose lock
    makes one running Chronus its only writer."""
    if patterns_root == platformdirs.user_data_path("chronus") / "patterns":
        return journal_path(platformdirs.user_state_path("chronus"))
    return journal_path(patterns_root / JOURNAL_FOLDER)


@dataclass
class Recovery:
    """What a start found in the journal's place; nothing on disk changes until begin()."""

    path: Path
    session: Session | None = None  # the session rebuilt from the journal; None: start as usual
    started: float = 0.0  # when the recovered session began (epoch seconds)
    edits: int = 0  # edits, undos and redos recovered (a coalesced run counts once)
    skipped: int = 0  # records that could not be applied
    unread: int = 0  # lines not read: a last record cut off (1), or a damaged one and all after it
    read_error: str | None = None  # why the read stopped short of a whole file (its size)
    unusable: str | None = None  # why the file in the journal's place is no journal: moved aside
    folder_problem: str | None = None  # why the journal's folder cannot be used at all
    notices: list[str] = field(default_factory=list)  # what the user is told at start

    def begin(self, session: Session, notices: list[str]) -> JournalWriter | None:
        """The instance serves: move aside what is no journal, save a recovered session to
        slot 0, then journal `session` from its state now. Returns the writer (None when the
        journal cannot be kept). What the user should know is logged and added to notices."""
        said: list[str] = []
        try:
            if self.folder_problem is not None:
                said.append(f"edits are not journaled this session: {self.folder_problem}")
                return None
            if self.unusable is not None and not self._move_aside(said):
                return None
            if self.session is not None and _differs_from_autosave(session):
                try:
                    session.autosave()
                except SessionError as exc:
                    said.append(f"the recovered session was not saved to slot 0: {exc}; "
                                "the journal keeps it")
            writer = JournalWriter(self.path, on_error=session.report_error)
            writer.start(_journal_start(session))
            session.journal = writer
            # No one listens yet (the UI subscribes once it runs): a journal that cannot even
            # start is told as a notice (the writer has logged it).
            if not writer.flush(START_WAIT) and writer.error is not None:
                notices.append(writer.error)
            return writer
        finally:
            for notice in said:
                log.warning("%s", notice)
            notices.extend(said)

    def _move_aside(self, said: list[str]) -> bool:
        """Rename the file in the journal's place (a link itself, never its target) to
        journal.jsonl.unreadable-<UTC time>; never delete it. False if it stays there."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        aside = self.path.with_name(f"{self.path.name}.unreadable-{stamp}")
        try:
            os.rename(self.path, aside)
        except OSError as exc:
            said.append(f"journal {self.path} is not a journal ({self.unusable}) and could not be moved "
                        f"aside ({exc.strerror or exc}); it is left as it is, and edits are not "
                        "journaled this session")
            return False
        said.append(f"journal {self.path} could not be used ({self.unusable}); moved aside to {aside.name}")
        return True


def read_recovery(store: SlotStore, path: Path) -> Recovery:
    """Read the journal at `path` and rebuild the session it holds (see the module).

    Never raises for what is on disk: a journal is hostile input. A record that cannot be
    applied is skipped and counted; a file that is no journal is marked to be moved aside.
    """
    with _collector_paused():
        return _read_recovery(store, path)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused: reading 100k records makes some million objects, all
    kept, and the collector walking them again and again took most of a recovery's time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read_recovery(store: SlotStore, path: Path) -> Recovery:
    found = Recovery(path)
    folder = _folder_problem(path.parent)
    if folder is not None:
        found.folder_problem = folder
        return found
    read = read_journal(path)
    if read.header is None:
        found.unusable = read.error  # None: there is no journal (the last session quit cleanly)
        return found
    try:
        session, found.started = _base_session(store, read.header)
    except (PatternError, StoreError, ValueError) as exc:
        found.unusable = f"its first line is no session to start from: {exc}"
        return found
    session.history, found.skipped = _restored(read.header.get("history", []))
    edit_ids: set[int] = set()
    ids = [_edit_id(record) for record in read.records]
    final = _final_writes(ids)
    runs: set[int] = set()
    for number, record in enumerate(read.records, start=2):
        ident = ids[number - 2]
        if ident is not None:
            if ident in runs:  # a run's later write, its last one replayed at its first place
                if isinstance(author := record["edit"].get("author"), str):
                    session.history.drop_redo_branch(author)  # what a later write does besides
                continue
            runs.add(ident)
            record = read.records[final[ident]]
        try:
            session.replay(record)
        except Exception as exc:  # HistoryError; anything else replay did not foresee must not stop a start
            found.skipped += 1
            if found.skipped <= LOGGED_SKIPS:
                reason = str(exc) if isinstance(exc, HistoryError) else f"{type(exc).__name__}: {exc}"
                log.warning("journal %s line %d skipped: %s", path, number, reason)
            continue
        if "edit" in record:
            edit_ids.add(record["edit"]["id"])
        else:
            found.edits += 1
    found.edits += len(edit_ids)
    found.session, found.unread, found.read_error = session, read.skipped, read.error
    found.notices.append(_recovery_notice(found))
    return found


def _edit_id(record: object) -> object:
    """The id of an edit record (None for any other record)."""
    if type(record) is dict:
        edit = record.get("edit")
        if type(edit) is dict and type(edit.get("id")) is int:
            return edit["id"]
    return None


def _final_writes(ids: list[object]) -> dict[object, int]:
    """The index of each edit id's last record (ids: each record's _edit_id). A run of
    changes to one value (a knob turned) writes its entry again at each change, with the
    same id and a newer `after`; only the last write is replayed, at the first one's place
    (the entry's place in the history). What lies between touches other values only
    (another author's change of this one ends the run), and an undo of the entry cannot
    come before its run ends."""
    final = {ident: index for index, ident in enumerate(ids)}
    final.pop(None, None)
    return final


def _folder_problem(folder: Path) -> str | None:
    """Why `folder` cannot hold the journal (a link or a file in its place); None if it can,
    or does not exist yet (the writer makes it)."""
    try:
        mode = os.lstat(folder).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"{folder}: {exc.strerror or exc}"
    if stat.S_ISDIR(mode):
        return None
    return f"{folder} is not a real folder ({'a link' if stat.S_ISLNK(mode) else 'not a folder'})"


def _base_session(store: SlotStore, header: dict[str, Any]) -> tuple[Session, float]:
    """The Session on the header's base pattern and slot, and when that session began;
    ValueError (or PatternError, StoreError) when the header is not one we wrote."""
    version, started, base = header.get("version"), header.get("started"), header.get("base")
    if version != JOURNAL_VERSION:
        raise ValueError(f"version {str(version)[:20]}, this Chronus reads {JOURNAL_VERSION}")
    if type(started) not in (int, float) or not (math.isfinite(started) and 0 < started < 1e11):
        raise ValueError(f"its start time {str(started)[:40]} is not a time")
    if type(base) is not dict:
        raise ValueError("it has no base state")
    pattern = patternfile.pattern_from_dict(base.get("pattern"))
    slot = base.get("slot")
    session = Session(store, pattern=pattern)
    session.transport.playing_slot = None if slot is None else check_slot(slot)
    session.started = float(started)
    return session, float(started)


def _journal_start(session: Session) -> dict[str, Any]:
    """The new journal's first line: the live state, and the newest history entries (up to
    CARRIED_HISTORY_BYTES), so that an undo or redo of a recovered entry journaled later names
    an entry the journal holds. The session keeps only those: an older one, undone after
    another crash, could not be recovered."""
    carried: list[dict[str, Any]] = []
    size = 0
    for entry in reversed(session.history.entries):
        record = {**entry.record(), "undone_by": entry.undone_by, "undo_order": entry.undo_order}
        size += len(json.dumps(record))
        if size > CARRIED_HISTORY_BYTES:
            break
        carried.append(record)
    carried.reverse()
    session.history = _restored(carried)[0]
    return {**session.journal_header(), "history": carried}


def _restored(records: object) -> tuple[History, int]:
    """A History holding the entries of a journal header's "history" (each an entry record,
    with who undid it and when), and how many of them were no entry (skipped)."""
    history, undone, bad = History(), [], 0
    for record in records[:HISTORY_LIMIT] if type(records) is list else []:
        try:
            entry = entry_from_record(record)
        except HistoryError:
            bad += 1
            continue
        history.add(entry)
        by, order = record.get("undone_by"), record.get("undo_order")
        if type(by) is str:
            undone.append((order if type(order) is int else 0, entry, by))
    for _order, entry, by in sorted(undone, key=lambda item: item[0]):
        history.mark_undone(entry, by)  # in the order they were undone: the newest is redone first
    return history, bad


def _differs_from_autosave(session: Session) -> bool:
    """Whether the live state is not what slot 0 holds (missing, unreadable or another pattern)."""
    try:
        saved = session.store.load(AUTOSAVE_SLOT)
    except StoreError:
        return True
    return patternfile.pattern_to_dict(saved) != session.snapshot()


def _session_time(started: float) -> str:
    """A session's start as a person says it: 14:02 today, else with its date."""
    when = datetime.fromtimestamp(started)
    return f"{when:%H:%M}" if when.date() == datetime.now().date() else f"{when:%Y-%m-%d %H:%M}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _recovery_notice(found: Recovery) -> str:
    text = (f"recovered {_plural(found.edits, 'edit')} from the session of "
            f"{_session_time(found.started)} (unclean exit)")
    if found.read_error is not None:
        text += f"; {found.read_error}"
    elif found.unread == 1:
        text += "; the last record was cut off by the crash"
    elif found.unread:
        text += f"; a damaged record stopped the read ({found.unread} lines from it on not read)"
    if found.skipped:
        text += f"; {_plural(found.skipped, 'record')} could not be applied, skipped"
    return text
