"""Start-up shared by the terminal UI and `--no-ui`: store, engine process, Session.

The session opens on the autosave (slot 0) when there is one, else on the
factory demo pattern, so a new user presses play and hears music.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from chronus_tui.model import Pattern
from chronus_tui.session import Session, SessionError
from chronus_tui.store import AUTOSAVE_SLOT, SlotStore, StoreError

if TYPE_CHECKING:
    from chronus_tui.engine.client import EngineClient

log = logging.getLogger(__name__)

DEMO_PATTERN = "demo"


def log_path() -> Path:
    """Where the engine's (pyo, PortAudio, ALSA) output goes, never the terminal."""
    return platformdirs.user_log_path("chronus") / "engine.log"


@dataclass
class Runtime:
    store: SlotStore
    session: Session
    engine: EngineClient | None
    notices: list[str]  # things the user should be told at start (dropped fields, a bad autosave)

    def close(self) -> Path | None:
        """Autosave the live session to slot 0, then stop the engine process.

        Returns the autosave's path, or None when it failed (the reason is logged).
        """
        saved = None
        try:
            saved = self.session.autosave()
        except SessionError as exc:
            log.error("autosave failed: %s", exc)
        if self.engine is not None:
            self.engine.close()
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


def open_runtime(args: argparse.Namespace, *, with_engine: bool = True) -> Runtime:
    """Store, Session and (unless with_engine is False) a running engine process."""
    store = SlotStore(args.patterns_dir)
    notices: list[str] = []
    session = Session(store, pattern=initial_pattern(store, notices))
    engine = None
    if with_engine:
        from chronus_tui.engine.client import EngineClient

        path = log_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = EngineClient(audio=args.audio, sr=args.sr, buffer=args.buffer, log_path=path)
        session.engine = engine
        engine.start(session.on_engine_event)
        session.resync()
    return Runtime(store, session, engine, notices)
