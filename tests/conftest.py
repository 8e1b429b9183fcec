"""Shared fixtures and helpers for the whole test suite.

Fixtures (use them by naming them as test arguments):
- `patterns_dir`: an empty storage root in a temporary folder (a `--patterns-dir`).
- `store`: a SlotStore on `patterns_dir`.
- `engine`: a FakeEngine that records every command the Session sends.
- `session`: a Session over `store` and `engine`, starting on an empty Pattern.
- `changes`: a list that receives every Change the `session` tells its listeners.
- `legacy_dir`: the folder of original Music Chronus files (a copy of shared/fixtures/legacy).

Helpers (import them: `from conftest import FakeEngine, full_pattern`):
- `FakeEngine`: stands in for the engine client; `.commands` holds what was sent,
  `.ops(name)` the commands of one op, `.switch(token)` builds the "switched" event.
- `full_pattern()`: the largest common session, 8 tracks of 64 steps with notes,
  accents and slides, every module set off its default; the benchmarks use it too.
- `damage(document, data)`: with Hypothesis' `st.data()`, replace or delete one value
  anywhere in a JSON-like document (for "any bad input gives a clear error" tests);
  `set_in(document, path, value)` changes one value by path (`DELETE` removes it).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from chronus_tui.model import MODULE_PARAMS, VOICES, Pattern, Step, Track
from chronus_tui.session import Change, Session
from chronus_tui.store import SlotStore

# A copy of shared/fixtures/legacy kept in the repository, so the tests never depend on a
# folder outside the clone; test_legacy checks it still matches shared/ where that exists.
LEGACY_DIR = Path(__file__).resolve().parent / "fixtures" / "legacy"


class FakeEngine:
    """Records the commands a Session sends; thread-safe, like the real client."""

    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def send(self, command: dict[str, Any]) -> None:
        with self._lock:
            self.commands.append(command)

    def ops(self, op: str) -> list[dict[str, Any]]:
        """The commands of one op ("pattern", "param", "tempo", "transport", …), in order."""
        with self._lock:
            return [c for c in self.commands if c["op"] == op]

    def last(self, op: str) -> dict[str, Any]:
        found = self.ops(op)
        assert found, f"no {op!r} command was sent (sent: {[c['op'] for c in self.commands]})"
        return found[-1]

    def clear(self) -> None:
        with self._lock:
            self.commands.clear()

    @staticmethod
    def switch(token: int, sample: int = 0) -> dict[str, Any]:
        """The event the engine sends when the queued load `token` took effect."""
        return {"event": "switched", "token": token, "sample": sample}


def full_pattern(tracks: int = 8, steps: int = 64, name: str = "full session") -> Pattern:
    """A session as big as a live set gets: every track 64 steps with hits, accents,
    notes and slides that differ per track, and every module parameter off its default
    (so a field lost on the way through a file shows)."""
    pattern = Pattern(name=name, bpm=127.5, swing=0.12)
    for t in range(tracks):
        pattern.tracks.append(Track(
            name=f"track{t + 1}", voice=VOICES[t % len(VOICES)],
            steps=[Step(on=(i + t) % 3 != 1, accent=(i * (t + 1)) % 5 == 0,
                        note=None if (i + t) % 4 == 3 else 24 + (i * 7 + t * 5) % 60,
                        slide=(i + t) % 7 == 0)
                   for i in range(steps)],
            mute=t == 5, solo=t == 6, level=round(0.5 + t * 0.05, 2), gate=round(0.25 + t * 0.1, 2)))
    for module, specs in MODULE_PARAMS.items():
        for k, spec in enumerate(specs):
            span = spec.high - spec.low
            value = spec.low + span * ((k + len(module)) % 7 + 1) / 9
            pattern.modules[module][spec.name] = round(value) if spec.integer else round(value, 4)
    return pattern


DELETE = object()

# Any JSON value, small: what a damaged or hostile file can hold in place of a field.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda children: (st.lists(children, max_size=3)
                      | st.dictionaries(st.text(max_size=6), children, max_size=3)),
    max_leaves=6)


def set_in(document: Any, path: list, value: object) -> Any:
    """Set (or with DELETE remove) the value at `path`, a list of keys and indexes."""
    target = document
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


def paths_of(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every path in a JSON-like document, the document itself first."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths_of(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += paths_of(child, (*prefix, i))
    return found


def damage(document: Any, data: st.DataObject) -> tuple:
    """Replace or delete one value anywhere below the top of `document`; returns its path."""
    path = data.draw(st.sampled_from(paths_of(document)[1:]))
    set_in(document, list(path), data.draw(st.just(DELETE) | JSON_VALUES))
    return path


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
    """Every Change the `session` fixture tells its listeners, in order."""
    seen: list[Change] = []
    session.subscribe(seen.append)
    return seen


@pytest.fixture
def legacy_dir() -> Path:
    return LEGACY_DIR
