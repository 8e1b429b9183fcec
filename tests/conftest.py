"""Shared fixtures for the whole test suite (helpers live in the `support` package).

Fixtures (use them by naming them as test arguments):
- `patterns_dir`: an empty storage root in a temporary folder (a `--patterns-dir`).
- `store`: a SlotStore on `patterns_dir`.
- `engine`: a FakeEngine (support.fakes) that records every command the Session sends.
- `session`: a Session over `store` and `engine`, starting on an empty Pattern.
- `changes`: a list that receives every Change the `session` tells its listeners.
- `legacy_dir`: the folder of original Music Chronus files (tests/fixtures/legacy).
- `root_logging`: puts the root logger back as it was after a test that sets up logging.
- every test (autouse): `$CHRONUS_CONFIG_DIR` points into its temporary folder, so no test
  reads or writes the user's own UI settings.

Helpers (import them by module):
- `support.fakes.FakeEngine`: stands in for the engine client; `.commands` holds what was
  sent, `.ops(name)` the commands of one op, `.switch(token)` builds the "switched" event.
- `support.patterns.full_pattern()`: the largest common session, 8 tracks of 64 steps with
  notes, accents and slides, every module set off its default; the benchmarks use it too.
- `support.damage.damage(document, data)`: with Hypothesis' `st.data()`, replace or delete one
  value anywhere in a JSON-like document; `set_in(document, path, value)` changes one value
  by path (`DELETE` removes it).
- `support.osc`, `support.headless`, `support.engine`, `support.render`, `support.ui`,
  `support.tmux`, `support.jack`: OSC client and server fixture, the real `chronus --no-ui`,
  real engine processes, offline renders, the UI app, the UI in tmux, a private JACK server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fakes import FakeEngine
from support.patterns import LEGACY_DIR

from chronus_tui.session import Change, ChangeKind, Session
from chronus_tui.store import SlotStore


@pytest.fixture(autouse=True)
def private_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHRONUS_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))


@pytest.fixture
def patterns_dir(tmp_path: Path) -> Path:
    """An empty storage root: what --patterns-dir points at."""
    root = tmp_path / "patterns"
    root.mkdir()
    return root


@pytest.fixture
def store(patterns_dir: Path) -> SlotStore:
    return SlotStore(patterns_dir)


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def session(store: SlotStore, engine: FakeEngine) -> Session:
    return Session(store, engine)


@pytest.fixture
def changes(session: Session) -> list[Change]:
    """Every Change the `session` fixture tells its listeners, in order, but for the history's
    (an edit's own change follows its history entry; `history_changes` has those)."""
    seen: list[Change] = []
    session.subscribe(lambda change: change.kind == ChangeKind.HISTORY or seen.append(change))
    return seen


@pytest.fixture
def history_changes(session: Session) -> list[Change]:
    """The `session` fixture's history changes: an edit entered, one undone or redone."""
    seen: list[Change] = []
    session.subscribe(lambda change: change.kind == ChangeKind.HISTORY and seen.append(change))
    return seen


@pytest.fixture
def legacy_dir() -> Path:
    return LEGACY_DIR


@pytest.fixture(name="root_logging")
def root_logging_fixture() -> Iterator[None]:
    """Put the root logger back as it was: the code under test replaces its handlers."""
    root = logging.getLogger()
    saved, level, raise_exceptions = root.handlers[:], root.level, logging.raiseExceptions
    yield
    for handler in root.handlers:
        if handler not in saved:
            handler.close()
    root.handlers[:], root.level, logging.raiseExceptions = saved, level, raise_exceptions
