"""Undo and redo from the keyboard and the palette: the keyboard takes back its own edits,
the palette anyone's, the panels show what was put back, and the transport line says it."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from support.fakes import FakeEngine
from support.ui import fixed_pattern, make_app, palette, screen_text, settle, spy_notifications
from textual.pilot import Pilot

from chronus_tui import patternfile
from chronus_tui.store import SlotStore
from chronus_tui.ui.actions import ACTIONS, APP, PERFORM
from chronus_tui.ui.app import ChronusApp
from chronus_tui.ui.screens.help import actions_table

SIZE = (120, 40)
OSC = "osc 127.0.0.1:9"


def grid_row(app: ChronusApp, track: str) -> list[str]:
    """What the grid draws for a track's first page after its flags: the steps, then its length."""
    row = next(line for line in app.grid.render().plain.splitlines() if line.startswith(track))
    return row[len(track):].split()[1:]


def transport_text(app: ChronusApp) -> str:
    return app.transport.render().plain


async def until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Pause until condition() holds (a loaded machine may be slow); fail after timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await pilot.pause(0.05)


async def test_u_and_ctrl_z_undo_the_keyboards_edit_U_and_ctrl_y_redo_it(patterns_dir: Path) -> None:
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    async with app.run_test(size=SIZE) as pilot:
        kick = session.pattern.track("kick")
        assert grid_row(app, "kick")[:2] == ["X", "·"]
        await pilot.press("right", "x")                 # kick step 2 on
        assert kick.steps[1].on and grid_row(app, "kick")[:2] == ["X", "x"]
        for undo, redo in (("u", "U"), ("ctrl+z", "ctrl+y")):
            await pilot.press(undo)
            await pilot.pause()
            assert not kick.steps[1].on and grid_row(app, "kick")[:2] == ["X", "·"]
            assert engine.last("track")["track"]["steps"][1]["on"] is False   # the engine heard it
            await pilot.press(redo)
            await pilot.pause()
            assert kick.steps[1].on and grid_row(app, "kick")[:2] == ["X", "x"]
        # One press, one edit: the tempo keys' run of changes is one entry (it coalesces; the
        # window is widened, as a loaded machine may pause longer than a person between presses)
        session.history.coalesce_after = 3600.0
        await pilot.press("plus", "plus", "plus")
        assert session.pattern.bpm == 129.0
        await pilot.press("u")
        await pilot.pause()
        assert session.pattern.bpm == 126.0 and "126.0 BPM" in transport_text(app)
        assert kick.steps[1].on                         # the step edit before it stays


async def test_the_keyboard_undoes_its_own_edit_not_an_osc_clients(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    notes = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        kick = session.pattern.track("kick")
        await pilot.press("x")                          # the keyboard: kick step 1 off
        session.set_bpm(140, source=OSC)                # a client's edit, newer
        session.set_mute("hat", True, source=OSC)
        await pilot.press("u")
        await pilot.pause()
        assert kick.steps[0].on and grid_row(app, "kick")[0] == "X"
        assert session.pattern.bpm == 140.0 and session.pattern.track("hat").mute
        # Nothing more of the keyboard's: a short error, and nothing changes.
        await pilot.press("u")
        await pilot.pause()
        message, severity = notes[-1]
        assert severity == "error" and message.startswith("nothing of yours (ui) to undo")
        assert session.pattern.bpm == 140.0 and session.pattern.track("hat").mute
        await pilot.press("U")                          # redo is the keyboard's too
        await pilot.pause()
        assert not kick.steps[0].on
        await pilot.press("U")
        await pilot.pause()
        assert notes[-1][1] == "error" and notes[-1][0].startswith("nothing of yours (ui) to redo")


async def test_the_palette_undoes_and_redoes_everyones_last_edit(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("x")
        session.set_bpm(140, source=OSC)
        await palette(pilot, "undo everyone")
        assert session.pattern.bpm == 126.0 and "126.0 BPM" in transport_text(app)
        assert not session.pattern.track("kick").steps[0].on   # the keyboard's edit stays
        assert "undo: bpm 140 → 126" not in transport_text(app)
        assert "undo: bpm 126 → 140" in transport_text(app)
        await palette(pilot, "undo everyone")              # then the keyboard's, the next newest
        assert session.pattern.track("kick").steps[0].on
        await palette(pilot, "redo everyone")
        assert not session.pattern.track("kick").steps[0].on and session.pattern.bpm == 126.0
        await palette(pilot, "redo everyone")
        assert session.pattern.bpm == 140.0 and "140.0 BPM" in transport_text(app)
        assert "redo: bpm 126 → 140" in transport_text(app)


async def test_the_transport_line_shows_an_undo_briefly_on_one_line(patterns_dir: Path) -> None:
    pattern = fixed_pattern()
    pattern.tracks[0].name = "[bold]k"                  # names are shown as typed, never markup
    app, session = make_app(patterns_dir, engine=FakeEngine(), pattern=pattern)
    app.transport.flash_seconds = 0.5
    async with app.run_test(size=SIZE) as pilot:
        normal = transport_text(app)
        await pilot.press("x", "u")
        await pilot.pause()
        line = transport_text(app)
        assert "undo: [bold]k step 1 off" in line and "\n" not in line   # the edit it took back
        assert "audio jack" not in line                 # the undo takes the fields after the position
        assert app.transport.size.height == 1
        await until(pilot, lambda: transport_text(app) == normal)   # then the line is as before
        # A plain edit shows nothing here; an OSC client's undo says whose it was.
        session.set_bpm(140, source=OSC)
        await pilot.pause()
        assert "undo" not in transport_text(app)
        session.undo(source=OSC)
        await pilot.pause()
        assert f"undo: bpm 126 → 140 (by {OSC})" in transport_text(app)   # the edit taken back


async def test_a_long_summary_is_cut_to_the_line_and_several_undos_are_counted(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=(80, 30)) as pilot:
        long_name = "a name 32 characters long ......"
        session.set_name(long_name, source=OSC)
        session.set_bpm(140, source=OSC)
        session.set_swing(0.3, source=OSC)
        await pilot.pause()
        await pilot.pause()
        assert "a name 32 char" in transport_text(app)  # the usual fields, the name cut to fit
        session.undo(3, source=OSC)
        await pilot.pause()
        await pilot.pause()
        lines = transport_text(app).splitlines()
        assert len(lines) == 1 and len(lines[0]) <= 80 - 2    # the width less the padding
        assert lines[0].endswith("…") and "undo: name 'test beat' →" in lines[0]
        assert app.transport.size.height == 1
        # Too little room beside the position: the line is cut, still one line.
        narrow = app.transport.line(52).plain
        assert len(narrow) == 52 and narrow.endswith("…") and "undo: name" not in narrow
        # Three redone by one request: the last shown (the newest edit), the others counted.
        session.redo(3, source=OSC)
        await pilot.pause()
        await pilot.pause()
        text = app.transport.flashed.plain if app.transport.flashed else ""
        assert text == f"redo: swing 0.1 → 0.3 and 2 more (by {OSC})"


async def test_undoing_a_load_plays_the_previous_slot_again(patterns_dir: Path) -> None:
    store = SlotStore(patterns_dir)
    for slot, name, bpm in ((1, "first", 100.0), (2, "second", 150.0)):
        other = fixed_pattern()
        other.name, other.bpm = name, bpm
        store.save(slot, patternfile.pattern_to_dict(other))
    app, session = make_app(patterns_dir, engine=FakeEngine())
    notes = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("L")                           # A01 now
        await settle(pilot)
        await pilot.press("right_square_bracket", "L")   # A02 now
        await settle(pilot)
        assert app.slots.state(2) == "playing" and session.pattern.bpm == 150.0
        loaded = len(notes)
        await pilot.press("u")
        await pilot.pause()
        assert session.pattern.name == "first" and session.pattern.bpm == 100.0
        assert app.slots.state(1) == "playing" and app.slots.state(2) == "saved"
        bank_a = next(line for line in app.slots.render().plain.splitlines() if line.startswith("A "))
        assert bank_a.split()[1:3] == ["▶", "■"]
        line = transport_text(app)
        assert "100.0 BPM" in line and "undo: load A02 'second'" in line
        assert len(notes) == loaded                       # the transport says it; no "Loaded" toast
        await pilot.press("U")
        await pilot.pause()
        assert app.slots.state(2) == "playing" and session.pattern.name == "second"


async def test_undo_shows_hidden_steps_a_removed_track_and_a_parameter_again(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        kick = grid_row(app, "kick")
        assert len(kick) == 17 and kick[-1] == "16"
        await pilot.press("less_than_sign")              # length 16 → 1
        assert grid_row(app, "kick") == ["X", "1"]
        await pilot.press("u")
        await pilot.pause()
        assert session.pattern.track("kick").length == 16 and grid_row(app, "kick") == kick
        session.remove_track("stab", source="ui")
        await pilot.pause()
        assert "stab" not in app.grid.render().plain
        await pilot.press("u")
        await pilot.pause()
        assert grid_row(app, "stab")[:2] == ["xC4", "·"] and app.grid.size.height == 4 + 2
        await pilot.press("tab", "tab", "tab")           # the sound panel: kick's level
        before = app.params.render().plain
        value = session.pattern.track("kick").level
        await pilot.press("shift+left")
        await pilot.pause()
        assert app.params.render().plain != before
        await pilot.press("u")
        await pilot.pause()
        assert session.pattern.track("kick").level == value and app.params.render().plain == before


async def test_help_lists_the_undo_keys_and_no_two_actions_share_a_key() -> None:
    console = Console(width=100, file=io.StringIO())
    console.print(actions_table())
    listed = console.file.getvalue()
    for keys, title in (("u ctrl+z", "Undo your last edit"), ("U ctrl+y", "Redo your last undone edit"),
                        ("(palette)", "Undo everyone's last edit"),
                        ("(palette)", "Redo everyone's last undone edit")):
        assert any(keys in line and title in line for line in listed.splitlines()), title
    app_keys = [key for a in ACTIONS if a.scope == APP for key in a.keys]
    assert len(app_keys) == len(set(app_keys))
    for scope in {a.scope for a in ACTIONS} - {APP, PERFORM}:
        panel_keys = [key for a in ACTIONS if a.scope == scope for key in a.keys]
        assert len(panel_keys) == len(set(panel_keys)) and not set(panel_keys) & set(app_keys)
    # The perform strip is a mode: its keys stand in for app keys while it has focus, except the
    # ones a set needs (play, cancel, perform off, undo, help, quit).
    perform_keys = [key for a in ACTIONS if a.scope == PERFORM for key in a.keys]
    assert len(perform_keys) == len(set(perform_keys))
    assert not set(perform_keys) & {"space", "escape", "f2", "ctrl+z", "question_mark", "ctrl+q"}


async def test_the_help_screen_shows_the_undo_keys(patterns_dir: Path) -> None:
    app, _ = make_app(patterns_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        app.screen.query_one("#help-body").scroll_end(animate=False)
        await pilot.pause()
        screen = screen_text(app)
        assert "Edit history" in screen and "Undo your last edit" in screen and "u ctrl+z" in screen
