"""Pilot tests of every UI action: keys in, Session model and slot files checked after."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console
from support.fakes import FakeEngine
from support.patterns import LEGACY_DIR
from support.ui import fixed_pattern, help_rows, make_app, settle, spy_notifications

from chronus_tui import patternfile
from chronus_tui.engine.protocol import EngineMessage, Position
from chronus_tui.model import MODULE_PARAMS, steps_text
from chronus_tui.session import Change
from chronus_tui.store import SlotStore
from chronus_tui.ui.actions import ACTIONS
from chronus_tui.ui.app import ChronusApp
from chronus_tui.ui.screens.help import HelpScreen, actions_table
from chronus_tui.ui.widgets.params import TRACK

SIZE = (120, 40)


def slot_file(patterns_dir: Path, slot: int) -> dict:
    return json.loads((patterns_dir / "slots" / f"slot_{slot:03d}.json").read_text())


async def test_step_keys_edit_the_step_under_the_cursor(patterns_dir: Path) -> None:
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    async with app.run_test(size=SIZE) as pilot:
        kick = session.pattern.track("kick")
        assert steps_text(kick.steps) == "X...x...X...x..."
        await pilot.press("right", "x")            # kick step 2 on
        assert kick.steps[1].on and not kick.steps[1].accent
        await pilot.press("a")                     # accent it
        assert kick.steps[1].accent
        await pilot.press("a", "x")                # accent off, then step off
        assert not kick.steps[1].on and not kick.steps[1].accent
        await pilot.press("a")                     # accenting a rest makes an accented hit
        assert kick.steps[1].on and kick.steps[1].accent
        await pilot.press("s")
        assert kick.steps[1].slide
        await pilot.press("s")
        assert not kick.steps[1].slide
        edits = engine.ops("track")  # each key sends the edited track alone
        assert len(edits) == 7 and {c["index"] for c in edits} == {0}
        assert edits[-1]["track"]["steps"][1]["on"] is True


async def test_note_keys_move_by_semitone_and_octave(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "down")          # bass, step 1 (note 36)
        bass = session.pattern.track("bass")
        await pilot.press("k")
        assert bass.steps[0].note == 37
        await pilot.press("K")
        assert bass.steps[0].note == 49
        await pilot.press("J", "j", "j")
        assert bass.steps[0].note == 35
        await pilot.press("backspace")
        assert bass.steps[0].note is None
        await pilot.press("k")                     # from the voice's own freq (440 Hz = A4 = 69)
        assert bass.steps[0].note == 70
        for _ in range(6):
            await pilot.press("K")
        assert bass.steps[0].note == 127           # held at the top of the MIDI range


async def test_mute_solo_and_length(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down")                  # hat
        hat = session.pattern.track("hat")
        await pilot.press("m")
        assert hat.mute
        await pilot.press("m", "o")
        assert not hat.mute and hat.solo
        await pilot.press("full_stop")
        assert hat.length == 17 and not hat.steps[16].on
        await pilot.press("greater_than_sign", "greater_than_sign", "greater_than_sign",
                          "greater_than_sign")
        assert hat.length == 64                    # clamped to 64
        await pilot.press("pagedown", "pagedown", "pagedown", "x")
        assert app.grid.step_index == 48 and hat.steps[48].on
        await pilot.press("less_than_sign", "comma")
        assert hat.length == 47
        assert app.grid.current() == (hat, 46)     # the cursor stays on the track


async def test_tempo_swing_and_transport(patterns_dir: Path) -> None:
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("plus", "plus", "asterisk", "minus")
        assert session.pattern.bpm == 137.0
        await pilot.press("slash")
        assert session.pattern.bpm == 127.0
        await pilot.press("right_parenthesis", "right_parenthesis", "left_parenthesis")
        assert session.pattern.swing == pytest.approx(0.15)
        assert engine.last("tempo") == {"op": "tempo", "bpm": 127.0, "swing": 0.15}
        for _ in range(12):
            await pilot.press("right_parenthesis")
        assert session.pattern.swing == 0.6        # clamped
        await pilot.press("space")
        assert session.transport.playing and engine.last("transport")["playing"] is True
        await pilot.press("space")
        assert not session.transport.playing and engine.last("transport")["playing"] is False


async def test_parameter_keys_fine_and_coarse(patterns_dir: Path) -> None:
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("tab", "tab", "tab")     # grid -> bank strip -> slots -> params
        assert app.focused is app.params
        row = app.params.current()
        assert (row.module, row.spec.name) == (TRACK, "level")
        await pilot.press("left")
        assert session.pattern.track("kick").level == pytest.approx(0.99)
        # The voice rows follow MODULE_PARAMS for the selected track's voice.
        names = [r.spec.name for r in app.params.rows() if r.module == "voice1"]
        assert names == [spec.name for spec in MODULE_PARAMS["voice1"]]
        await pilot.press("down", "down", "down")  # gate, osc/type, freq
        assert app.params.current().spec.name == "freq"
        await pilot.press("right")                 # fine: a semitone (tests/test_ui_values.py)
        assert session.pattern.modules["voice1"]["freq"] == pytest.approx(466.164, abs=1e-3)
        await pilot.press("shift+left")            # coarse: an octave
        assert session.pattern.modules["voice1"]["freq"] == pytest.approx(233.082, abs=1e-3)
        assert engine.last("param") == {"op": "param", "module": "voice1", "param": "freq",
                                        "value": session.pattern.modules["voice1"]["freq"]}
        await pilot.press("up")                    # osc/type moves one waveform a press
        await pilot.press("right", "right")
        assert session.pattern.modules["voice1"]["osc/type"] == 2
        # Another track's voice shows when the grid cursor moves to it.
        await pilot.press("shift+tab", "shift+tab", "shift+tab", "down", "down")
        assert app.params.track is session.pattern.track("bass")
        assert any(r.module == "voice2" for r in app.params.rows())
        acid = [r for r in app.params.rows() if r.module == "acid1"]
        assert [r.spec.name for r in acid] == [s.name for s in MODULE_PARAMS["acid1"]]


async def test_save_and_rename_write_the_slot_file(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    notes = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right_square_bracket", "right_square_bracket")   # A03
        assert app.slots.selected == 3
        await pilot.press("S")
        await settle(pilot)
        saved = slot_file(patterns_dir, 3)
        assert saved["name"] == "test beat"
        assert saved["sequencer"] == patternfile.pattern_to_dict(session.pattern)["sequencer"]
        assert app.slots.state(3) == "saved"
        assert ("Saved A03 “test beat”", "information") in notes
        await pilot.press("R")
        await pilot.pause()
        for _ in range(len("test beat")):
            await pilot.press("backspace")
        await pilot.press(*"acid jam", "enter")
        await settle(pilot)
        assert slot_file(patterns_dir, 3)["name"] == "acid jam"
        assert app.slots.entries[3].name == "acid jam"
        await pilot.press("right_square_bracket", "R")   # A04 is empty: refused, nothing written
        await pilot.pause()
        assert not (patterns_dir / "slots" / "slot_004.json").exists()
        assert notes[-1] == ("A04 is empty: save to it first", "error")


async def test_bar_aligned_load_stays_queued_until_the_switch(patterns_dir: Path) -> None:
    store = SlotStore(patterns_dir)
    other = fixed_pattern()
    other.name, other.bpm = "second", 140.0
    store.save(17, patternfile.pattern_to_dict(other))
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    async with app.run_test(size=SIZE) as pilot:
        assert app.slots.state(17) == "saved"
        await pilot.press("space", "right_curly_bracket")   # play; select B01
        assert app.slots.selected == 17
        await pilot.press("enter")
        await settle(pilot)
        load = engine.last("pattern")
        assert load["mode"] == "bar" and load["pattern"]["name"] == "second"
        assert session.pattern.name == "test beat"           # not yet: waits for the bar
        assert app.slots.state(17) == "queued"
        assert "next B01" in app.query_one("#transport").render().plain
        # The engine reports the switch from its reader thread.
        thread = threading.Thread(target=session.on_engine_event,
                                  args=(FakeEngine.switch(load["token"], 96000),))
        thread.start()
        thread.join()
        await pilot.pause()
        assert session.pattern.name == "second" and session.pattern.bpm == 140.0
        assert app.slots.state(17) == "playing"
        assert "B01 second" in app.query_one("#transport").render().plain


async def test_immediate_load_and_cancel(patterns_dir: Path) -> None:
    store = SlotStore(patterns_dir)
    other = fixed_pattern()
    other.name = "now"
    store.save(1, patternfile.pattern_to_dict(other))
    store.save(2, patternfile.pattern_to_dict(other), name="later")
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    notes = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "L")
        await settle(pilot)
        assert engine.last("pattern")["mode"] == "now"
        assert session.pattern.name == "now" and app.slots.state(1) == "playing"
        assert ("Loaded A01 “now”", "information") in notes
        await pilot.press("right_square_bracket", "enter")
        await settle(pilot)
        assert app.slots.state(2) == "queued"
        await pilot.press("escape")
        await pilot.pause()
        assert engine.last("cancel") == {"op": "cancel"}
        assert session.pending is None and app.slots.state(2) == "saved"
        await pilot.press("right_square_bracket", "enter")   # A03 is empty
        await settle(pilot)
        assert notes[-1] == ("A03 is empty", "error")


async def test_goto_slot_prompt(patterns_dir: Path) -> None:
    app, _ = make_app(patterns_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g", *"c05", "enter")
        assert app.slots.selected == 37
        await pilot.press("g", *"128", "enter")
        assert app.slots.selected == 128
        await pilot.press("g", *"z9", "enter")
        assert app.slots.selected == 128


async def test_changes_from_other_threads_show_at_once(patterns_dir: Path) -> None:
    """What OSC (or the engine) changes appears on screen, with a notification for saves/errors."""
    app, session = make_app(patterns_dir, engine=FakeEngine())
    notes = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        def remote() -> None:
            session.set_bpm(141, source="osc")
            session.add_track("lead", "voice5", "x.x.x.x.", source="osc")
            session.set_param("acid1", "cutoff", 1234.0, source="osc")
            session.save_slot(9, "from script", source="osc")
            session.on_engine_event(EngineMessage(message="engine hiccup"))
            session.start(source="osc")
            session.on_engine_event(Position(bar=2, step=7, sample=0))

        thread = threading.Thread(target=remote)
        thread.start()
        thread.join()
        await pilot.pause()
        transport = app.query_one("#transport").render().plain
        assert "141.0 BPM" in transport and "003:08" in transport and "PLAY" in transport
        assert "lead" in app.grid.render().plain
        assert app.grid.size.height == 5 + 2  # grew a row for the new track
        assert app.slots.state(9) == "saved" and app.slots.entries[9].name == "from script"
        assert ("from osc: Saved A09 “from script”", "information") in notes
        assert ("from engine: engine hiccup", "error") in notes
        # The playhead follows the engine's position: bar 2 step 7 = step 39 of the song.
        kick = session.pattern.track("kick")
        assert app.grid.playhead(kick) == 39 % 16
        assert app.grid.playhead(session.pattern.track("stab")) == 39 % 12


async def test_loading_an_original_file_warns_what_was_not_carried_over(patterns_dir: Path) -> None:
    shutil.copy(LEGACY_DIR / "slot_001.json", SlotStore(patterns_dir).slot_path(1))
    app, session = make_app(patterns_dir)
    notes = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("L")
        await settle(pilot)
        assert session.pattern.bpm == 125.0
        warnings = [message for message, severity in notes if severity == "warning"]
        # One line; the fields themselves go to the log (tests/test_ui_screen.py).
        assert [m for m in warnings if m.startswith("imported from Music Chronus; ")] == [
            "imported from Music Chronus; 11 fields not carried over — details in the log"]


async def test_a_flood_of_changes_is_drawn_at_most_once_a_frame(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    app.redraw_interval = ChronusApp.redraw_interval
    flushes = []
    flush = app._draw_changes

    def counted() -> None:
        flushes.append(1)
        flush()

    app._draw_changes = counted  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        def flood() -> float:
            started = time.monotonic()
            for i in range(300):  # about 1 ms apart, while the UI runs
                session.set_bpm(100 + i / 10, source="osc")
                time.sleep(0.001)
            return time.monotonic() - started

        elapsed = await asyncio.to_thread(flood)
        await pilot.pause(3 * ChronusApp.redraw_interval)
        assert not app._inbox                                  # every change was drawn
        assert 2 <= len(flushes) <= elapsed / ChronusApp.redraw_interval + 3


async def test_changes_while_a_modal_screen_is_open(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    notes = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        for key in ("question_mark", "R", "g"):   # help, rename prompt (slot empty: refused), go-to prompt
            await pilot.press(key)
            await asyncio.to_thread(session.save_slot, 2, f"while {key}", source="osc")
            await asyncio.to_thread(session.set_bpm, 150, source="osc")
            await pilot.pause()
            assert app.slots.entries[2].name == f"while {key}"
            assert notes[-1] == (f"from osc: Saved A02 “while {key}”", "information")
            await pilot.press("escape")
        assert "150.0 BPM" in app.transport.render().plain


async def test_playhead_moves_only_with_engine_positions(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        kick = session.pattern.track("kick")
        assert app.grid.playhead(kick) is None            # stopped: no playhead
        await pilot.press("space")
        assert app.grid.playhead(kick) == 0
        await pilot.pause(0.3)
        assert app.grid.playhead(kick) == 0               # no UI timer moves it
        session.on_engine_event(Position(bar=0, step=5, sample=0))
        await pilot.pause()
        assert app.grid.playhead(kick) == 5


async def test_help_and_palette_list_every_action(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=100, file=io.StringIO())
        console.print(actions_table())
        listed = console.file.getvalue()
        for action in ACTIONS:
            assert f"{action.keys_display} " in listed and action.row_title in listed, action
            # Every registry action runs an action of the app.
            assert callable(getattr(app, "action_" + action.action.split("(")[0], None)), action
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        # The palette runs registry actions.
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"tempo +10", "enter")
        await pilot.pause()
        await pilot.pause()
        assert session.pattern.bpm == 136.0


def test_the_help_says_where_a_key_works_unless_its_heading_does() -> None:
    """As the README's Works column: `l` in the chain keys works only in the slot browser
    (pressed in the grid it does nothing), `P` anywhere; the Slots panel heading says it once."""
    rows = help_rows(120)
    assert "l Add the slot to the chain (again: once more) · Slots panel" in rows
    assert "z Take the entry off · Song view" in rows
    assert "F Follow action of the playing pattern (4 next, 2 slot A03, off) · Slots panel" in rows
    assert "P Play the chain from the next launch line" in rows
    assert "← Slot left" in rows  # under the "Slots panel" heading


async def test_quit_closes_the_osc_server_and_exits_zero(patterns_dir: Path) -> None:
    class Osc:
        started = closed = False

        async def start(self) -> None:
            self.started = True

        def close(self) -> None:
            self.closed = True

    osc = Osc()
    app, session = make_app(patterns_dir)
    app.osc_server = osc
    async with app.run_test(size=SIZE) as pilot:
        assert osc.started
        assert "OSC 127.0.0.1:5005" in app.query_one("#transport").render().plain
        await pilot.press("q")
        await pilot.pause()
    assert osc.closed and app.return_code == 0
    seen: list[Change] = []
    session.subscribe(seen.append)
    session.set_bpm(100)          # the app no longer listens: nothing breaks
    assert [c.kind for c in seen] == ["history", "tempo"]


async def test_osc_port_in_use_is_reported_not_fatal(patterns_dir: Path) -> None:
    class BusyOsc:
        async def start(self) -> None:
            raise OSError(98, "Address already in use")

        def close(self) -> None:
            raise AssertionError("never started, never closed")

    app, _ = make_app(patterns_dir)
    app.osc_server = BusyOsc()
    notes = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "OSC off" in app.query_one("#transport").render().plain
        assert notes[-1][1] == "error" and "Address already in use" in notes[-1][0]
        await pilot.press("q")


async def test_null_backend_warning(patterns_dir: Path) -> None:
    app, _ = make_app(patterns_dir, engine=FakeEngine(), backend="null")
    async with app.run_test(size=(80, 24)):  # shortened to fit 80 columns, never left out
        assert "⚠ NO SOUND" in app.query_one("#transport").render().plain
