"""Snapshot tests of the main screen, a queued slot, the help screen and the 80×24 layout.

Deterministic: a fixed pattern on an empty patterns folder, no clock text, no random.
Update after an intended change with `pytest tests/test_ui_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

from support.fakes import FakeEngine
from support.ui import fixed_pattern, make_app
from textual.pilot import Pilot

from chronus_tui import patternfile
from chronus_tui.engine.protocol import Position
from chronus_tui.store import SlotStore


def _playing_app(patterns_dir: Path, backend: str = "jack"):
    store = SlotStore(patterns_dir)
    second = fixed_pattern()
    second.name = "acid line"
    store.save(1, patternfile.pattern_to_dict(fixed_pattern()))
    store.save(3, patternfile.pattern_to_dict(second))
    app, session = make_app(patterns_dir, engine=FakeEngine(), backend=backend)
    session.load_slot(1, "now")
    session.start()
    session.on_engine_event(Position(bar=1, step=5, sample=0))
    return app, session


def test_main_screen(snap_compare, patterns_dir: Path) -> None:
    app, _ = _playing_app(patterns_dir)
    assert snap_compare(app, terminal_size=(120, 40), press=["right", "down", "down"])


def test_slot_queued(snap_compare, patterns_dir: Path) -> None:
    app, session = _playing_app(patterns_dir)

    async def queue_slot_3(pilot: Pilot) -> None:
        await pilot.press("right_square_bracket", "right_square_bracket", "enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert session.transport.queued_slot == 3

    assert snap_compare(app, terminal_size=(120, 40), run_before=queue_slot_3)


def test_help_screen(snap_compare, patterns_dir: Path) -> None:
    app, _ = make_app(patterns_dir, engine=FakeEngine())
    assert snap_compare(app, terminal_size=(120, 40), press=["question_mark"])


def test_small_terminal_null_backend(snap_compare, patterns_dir: Path) -> None:
    app, _ = _playing_app(patterns_dir, backend="null")
    assert snap_compare(app, terminal_size=(80, 24), press=["tab", "tab", "tab"])
