"""Start-up shared by the terminal UI and `--no-ui`: folder lock, store, engine process, Session.

The session opens on the session a journal left behind (an unclean end: recovery.py), else
on the autosave (slot 0) when there is one, else on the factory demo pattern, so a new user
presses play and hears music. The patterns folder is locked before anything starts, so a
second instance on it stops at once; a start that fails before serving writes nothing there,
and leaves a journal as it was (Runtime.serving).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chronus_tui.folderlock import FolderLock
from chronus_tui.journalfile import JournalWriter
from chronus_tui.logs import LogCap
from chronus_tui.model import Pattern
from chronus_tui.recovery import Recovery, journal_location, read_recovery
from chronus_tui.session import Session, SessionError
from chronus_tui.store import AUTOSAVE_SLOT, SlotStore, StoreError, default_root

if TYPE_CHECKING:
    from chronus_tui.engine.client import EngineClient

log = logging.getLogger(__name__)

DEMO_PATTERN = "demo"


@dataclass
class Runtime:
    store: SlotStore
    session: Session
    engine: EngineClient | None
    notices: list[str]  # things the user should be told at start (dropped fields, a bad autosave)
    lock: FolderLock | None = None
    log_cap: LogCap | None = None
    # Whether close() autosaves. open_runtime's Runtime starts without: its caller calls
    # serving() once the instance serves, so a start that fails (port taken, …) leaves the
    # folder as it was.
    autosave: bool = True
    recovery: Recovery | None = None  # what open_runtime found in the journal's place
    journal: JournalWriter | None = None  # the live session's journal, once serving

    def serving(self) -> None:
        """The instance serves: from now on the session is the user's set. close() autosaves,
        and the journal is kept (a recovered session is first saved to slot 0; see recovery.py).
        Anything to tell the user is logged and added to notices."""
        self.autosave = True
        if self.recovery is not None and self.journal is None:
            self.journal = self.recovery.begin(self.session, self.notices)

    def close(self) -> Path | None:
        """Autosave the live session to slot 0 (if self.autosave), close the journal, stop the
        engine process, then let the patterns folder go. The journal is removed only when the
        autosave holds its edits; else the next start recovers them from it.

        Returns the autosave's path, or None when it failed (the reason is logged) or was not due.
        """
        saved = None
        try:
            if self.autosave:
                saved = self.session.autosave()
        except SessionError as exc:
            log.error("autosave failed: %s", exc)
        finally:
            if self.journal is not None:
                self.journal.close(remove=saved is not None)
            if self.engine is not None:
                self.engine.close()
            if self.log_cap is not None:
                self.log_cap.stop()
            if self.lock is not None:
                self.lock.release()
        return saved


def initial_pattern(store: SlotStore, notices: list[str]) -> Pattern:
    """The autosave, else the factory demo. An autosave that cannot be read is reported and
    left alone: the first autosave moves it aside (or refuses a link), never overwrites it."""
    if store.exists(AUTOSAVE_SLOT):
        try:
            return store.load(AUTOSAVE_SLOT)
        except StoreError as exc:
            notices.append(f"autosave not loaded: {exc}; the file is kept, never overwritten")
    try:
        return store.load_library(DEMO_PATTERN)
    except StoreError as exc:
        notices.append(f"demo pattern not loaded: {exc}")
        return Pattern()


def open_runtime(args: argparse.Namespace, *, with_engine: bool = True,
                 engine_log: Path | None = None) -> Runtime:
    """The patterns folder locked, then Store, Session and (unless with_engine is False) a
    running engine process writing to engine_log (None: its output is discarded).

    The audio options are checked first, then the lock is taken: EngineError (bad options)
    or FolderInUse (another chronus holds the folder) come before any engine starts or
    anything in the folder is written. A journal left by an unclean end is read and its
    session rebuilt here, before the engine starts (it plays the recovered state at once);
    nothing on disk changes until the caller calls `serving()`, and only then does the
    returned Runtime autosave on close.
    """
    engine = None
    if with_engine:
        from chronus_tui.engine.client import EngineClient

        engine = EngineClient(audio=args.audio, sr=args.sr, buffer=args.buffer, log_path=engine_log)
    lock = FolderLock.acquire(args.patterns_dir if args.patterns_dir is not None else default_root())
    log_cap = None
    try:
        store = SlotStore(lock.root)
        recovery = read_recovery(store, journal_location(lock.root))
        notices = list(recovery.notices)
        session = recovery.session or Session(store, pattern=initial_pattern(store, notices))
        if engine is not None:
            if engine_log is not None:
                log_cap = LogCap(engine_log).start()
            session.engine = engine
            engine.start(session.on_engine_event)
            session.resync()
    except BaseException:
        if log_cap is not None:
            log_cap.stop()
        lock.release()
        raise
    return Runtime(store, session, engine, notices, lock, log_cap, autosave=False, recovery=recovery)
