"""End to end: the real `chronus` command in tmux, driven by OSC and by keystrokes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pythonosc.udp_client import SimpleUDPClient
from support.osc import OscClient
from support.tmux import TmuxChronus, engine_unavailable_reason, free_udp_port

from chronus_tui import patternfile
from chronus_tui.model import Pattern, Track, parse_steps
from chronus_tui.store import SlotStore
from chronus_tui.ui.widgets.grid import EXPRESSIVE_MARK


@pytest.fixture(scope="module")
def engine_ready() -> None:
    reason = engine_unavailable_reason("null")
    if reason:
        pytest.skip(reason)


def chronus_on_autosave(tmp_path: Path, pattern: Pattern) -> tuple[TmuxChronus, Path]:
    """`chronus` (null audio, a free OSC port) opening on `pattern`, saved as the autosave;
    and its patterns folder."""
    patterns = tmp_path / "patterns"
    SlotStore(patterns).save(0, patternfile.pattern_to_dict(pattern))
    return TmuxChronus(tmp_path, ["--audio", "null", "--patterns-dir", str(patterns),
                                  "--osc-port", str(free_udp_port())]), patterns


def test_chronus_in_tmux_osc_keys_and_clean_exit(engine_ready: None, tmp_path: Path) -> None:
    patterns = tmp_path / "patterns"
    port = free_udp_port()
    app = TmuxChronus(tmp_path, ["--audio", "null", "--patterns-dir", str(patterns),
                                 "--osc-port", str(port)])
    try:
        app.wait_for(f"OSC 127.0.0.1:{port}", "NO SOUND: null audio")
        osc = SimpleUDPClient("127.0.0.1", port)
        osc.send_message("/seq/bpm", 133.0)
        osc.send_message("/seq/add", ["zapline", "voice5", "x.x.X.x.x.x.X.x."])
        screen = app.wait_for("133.0 BPM", "zapline")
        row = next(line for line in screen.splitlines() if "zapline" in line)
        assert row.split("zapline")[1].split()[1:6] == ["x", "·", "x", "·", "X"], row
        app.keys("S")
        app.wait_for("Saved A01")
        saved = json.loads((patterns / "slots" / "slot_001.json").read_text())
        assert saved["sequencer"]["bpm"] == 133.0
        assert "zapline" in [t["name"] for t in saved["sequencer"]["tracks"]]
        app.keys("q")
        assert app.exit_status() == "EXIT=0"
        # Quitting autosaved the live session (slot 0) and printed nothing over the terminal.
        assert json.loads((patterns / "slots" / "slot_000.json").read_text())["sequencer"]["bpm"] == 133.0
        assert "Traceback" not in app.screen()
    finally:
        app.close()


def test_markup_and_escape_codes_from_files_and_osc_are_shown_literally(engine_ready: None,
                                                                        tmp_path: Path) -> None:
    """Hostile text in slot files and OSC neither ends the set nor reaches the terminal raw."""
    patterns = tmp_path / "patterns"
    store = SlotStore(patterns)
    store.save(1, patternfile.pattern_to_dict(Pattern(name="x", bpm=97.0)), name="[/x] [bold]")
    broken = patternfile.pattern_to_dict(Pattern(name="x"))
    broken["modules"]["\x1b[2J\x1b[31m[/x]"] = {}          # the error names this field
    store.slot_path(2).write_text(json.dumps(broken))
    original = {"schema_version": "1.0", "sequencer": {"bpm": 120, "tracks": {}}, "modules": {},
                "\x1b[2J[@click=app.quit]q[/]": 1}        # an original file: dropped fields are listed
    store.slot_path(3).write_text(json.dumps(original))
    port = free_udp_port()
    app = TmuxChronus(tmp_path, ["--audio", "null", "--patterns-dir", str(patterns), "--osc-port", str(port)])
    osc = OscClient(port)
    try:
        app.wait_for(f"OSC 127.0.0.1:{port}", "A01 saved   [/x] [bold]")
        assert osc.error("/x[/x]", "[bold]oops").startswith("unknown address")
        app.wait_for("OSC /x[/x]: unknown address")
        app.keys("]", "L")                                     # A02: a broken file says why
        app.wait_for("A02 broken  A02: modules.␛[2", "modules.␛[2J␛[31m[/x]: unknown module")
        app.keys("]", "L")                                     # A03: load the original file
        app.wait_for("imported from Music Chronus; 1 field not carried over")  # named in the log
        app.keys("[", "[", "L")                                # A01: load the markup name
        screen = app.wait_for("Loaded A01 “[/x] [bold]”", "A01 [/x] [bold]", "97.0 BPM")
        # Still the whole UI: no escape code cleared the screen or reached the terminal raw.
        assert "Pattern" in screen and "Slots" in screen and "Sound" in screen and "Quit" in screen
        assert screen.splitlines()[0].startswith("  ■ STOP")
        assert osc.query("/seq/status")["bpm"] == 97.0         # alive and answering
        app.keys("q")
        assert app.exit_status() == "EXIT=0"
    finally:
        osc.close()
        app.close()


def test_undo_and_redo_keys_in_a_real_terminal(engine_ready: None, tmp_path: Path) -> None:
    """u and U, and ctrl+z and ctrl+y as the terminal sends them (ctrl+z must not suspend)."""
    kick = Track("kick", "voice1", parse_steps("x..." * 4))
    app, _ = chronus_on_autosave(tmp_path, Pattern(name="undo here", tracks=[kick]))

    def after(*keys: str, step: str, transport: str) -> None:
        """Press keys; the grid's row, the cursor's step (drawn with it) and the transport line."""
        app.keys(*keys)
        screen = app.wait_for(f"step 2/16 · {step}", transport)
        row = next(line for line in screen.splitlines() if "kick" in line and "··" in line)
        assert row.split("kick")[1].split()[1:3] == ["x", "x" if step == "on" else "·"], screen
        assert transport in screen.splitlines()[0], screen

    try:
        app.wait_for("undo here", "NO SOUND: null audio")
        after("Right", "x", step="on", transport="STOP")
        after("u", step="rest", transport="undo: kick step 2 on")
        after("U", step="on", transport="redo: kick step 2 on")
        after("C-z", step="rest", transport="undo: kick step 2 on")
        after("C-y", step="on", transport="redo: kick step 2 on")
        app.keys("q")
        assert app.exit_status() == "EXIT=0"
    finally:
        app.close()


def test_add_a_track_and_paste_steps_into_it_by_keys(engine_ready: None, tmp_path: Path) -> None:
    """t, a name, a voice from the list; then kick's first four steps marked, copied and
    pasted into the new track, which the autosave on quit keeps."""
    kick = Track("kick", "voice1", parse_steps("X.x." * 4))
    app, patterns = chronus_on_autosave(tmp_path, Pattern(name="paste here", tracks=[kick]))
    try:
        app.wait_for("paste here", "NO SOUND: null audio")
        app.keys("t")
        app.wait_for("New track name")
        app.keys("lead", "Enter")
        app.wait_for("Voice for “lead”", "voice8")
        app.keys("Down", "Enter")                      # the first free voice is voice2: one down
        app.wait_for("lead (voice3) · step 1/16")
        app.keys("Up", "b", "Right", "Right", "Right", "c")
        app.wait_for("clipboard: 4 steps of kick 1–4")
        app.keys("Down", "Left", "Left", "Left", "p")
        screen = app.wait_for("lead (voice3) · step 1/16 · on · accent")
        row = next(line for line in screen.splitlines() if "lead " in line and "··" in line)
        assert row.split("lead")[1].split()[1:6] == ["X", "·", "x", "·", "·"], screen
        app.keys("q")
        assert app.exit_status() == "EXIT=0"
        saved = json.loads((patterns / "slots" / "slot_000.json").read_text())["sequencer"]["tracks"]
        lead = next(track for track in saved if track["name"] == "lead")
        assert lead["voice"] == "voice3" and [s["on"] for s in lead["steps"][:5]] == [True, False, True,
                                                                                       False, False]
    finally:
        app.close()


def test_perform_keys_queue_and_load_slots_in_a_real_terminal(engine_ready: None, tmp_path: Path) -> None:
    """f2, then one key queues a slot of the bank for the bar line and shift+key loads one now;
    an empty slot says so; f2 again gives the letters back (q quits)."""
    patterns = tmp_path / "patterns"
    store = SlotStore(patterns)
    for slot, name in ((1, "first groove"), (2, "second groove")):
        store.save(slot, patternfile.pattern_to_dict(Pattern(name=name, bpm=300.0)))
    app = TmuxChronus(tmp_path, ["--audio", "null", "--patterns-dir", str(patterns),
                                 "--osc-port", str(free_udp_port())])
    try:
        app.wait_for("Perform · bank A", "NO SOUND: null audio")
        app.keys("Space", "F2")
        app.wait_for("PERFORM KEYS ON · bank A", "▶ PLAY")
        app.keys("w")
        app.wait_for("A02 “second groove” queued for the next bar")
        app.wait_for("Now playing A02 “second groove”")
        app.keys("Q")
        app.wait_for("Loaded A01 “first groove”")
        app.keys("e")
        app.wait_for("A03 is empty: nothing loaded")
        app.keys("F2")
        app.wait_for("Perform · bank A")
        app.keys("q")
        assert app.exit_status() == "EXIT=0"
    finally:
        app.close()


def test_a_narrow_terminal_keeps_one_transport_line_and_a_tall_one_shows_every_page(
        engine_ready: None, tmp_path: Path) -> None:
    """80 columns: the transport is one line, a long name cut with "…"; 60 rows: all four
    16-step pages of a 64-step pattern at once."""
    patterns = tmp_path / "patterns"
    long_name = "a very long name for 80 columns"
    SlotStore(patterns).save(1, patternfile.pattern_to_dict(Pattern(name=long_name, bpm=121.0, tracks=[
        Track(f"t{index}", "voice1", parse_steps("x..." * 16)) for index in range(6)])))
    for height, pages in ((24, ["page 1/4"]), (60, ["page 1/4", "page 2/4", "page 3/4", "page 4/4"])):
        app = TmuxChronus(tmp_path, ["--audio", "null", "--patterns-dir", str(patterns),
                                     "--osc-port", str(free_udp_port())], width=80, height=height)
        try:
            app.wait_for("NO SOUND", "BPM")
            app.keys("L")
            screen = app.wait_for("121.0 BPM", "A01 a very")
            first = screen.splitlines()[0]
            assert "A01 a very long nam… │ ⚠ NO SOUND" in first and "001:01" in first
            assert "121.0 BPM" not in screen.splitlines()[1]  # nothing of the transport wrapped
            assert re.findall(r"page \d/4", screen) == pages
            app.keys("q")
            assert app.exit_status() == "EXIT=0"
        finally:
            app.close()


def test_musical_value_keys_name_the_note_and_the_flats_setting_is_kept(engine_ready: None,
                                                                       tmp_path: Path) -> None:
    """voice1's freq in the Sound panel: → is the next semitone (A1 55 Hz → A#1 58.3 Hz), the
    palette names it Bb1, shift+→ an octave, `=` Eb2 types a note; one step down from 69.8 Hz
    is C2 65.9 Hz, never the bottom of the range. The flats choice is in settings.json after."""
    pattern = Pattern(name="freq walk", bpm=111.0, tracks=[Track("bass", "voice1", parse_steps("x..."))])
    pattern.modules["voice1"]["freq"] = 55.0
    app, _ = chronus_on_autosave(tmp_path, pattern)
    try:
        app.wait_for("111.0 BPM", "A1 55 Hz")
        app.keys("Tab", "Tab", "Tab", "Down", "Down", "Down")  # Sound panel: level, gate, osc/type, freq
        app.keys("Right")
        app.wait_for("A#1 58.3 Hz")
        app.keys("C-p")
        app.wait_for("Search for commands")
        app.keys("flats / sharps")
        app.wait_for("Show notes with flats")
        app.keys("Enter")
        app.wait_for("Bb1 58.3 Hz", "notes shown with flats (Eb)")
        app.keys("S-Right")
        app.wait_for("Bb2 117 Hz")
        app.keys("=")
        app.wait_for("freq: a number in Hz or a note name")
        app.keys("Eb2", "Enter")
        app.wait_for("Eb2 77.8 Hz")
        app.keys("=")
        app.wait_for("freq: a number in Hz or a note name")
        app.keys("69.8", "Enter")
        app.wait_for("Db2 69.8 Hz")
        app.keys("Left")
        screen = app.wait_for("C2 65.9 Hz")
        assert " 20 Hz" not in screen
        app.keys("q")
        assert app.exit_status() == "EXIT=0"
    finally:
        app.close()
    settings = json.loads((tmp_path / "config" / "chronus" / "settings.json").read_text())
    assert settings == {"flats": True, "quantize": "bar"}


def test_edit_a_probability_in_a_real_terminal(engine_ready: None, tmp_path: Path) -> None:
    """i opens the panel on the cursor's step, ← takes 1 %, shift+← 10 %: on screen, and kept
    by the autosave on quit."""
    kick = Track("kick", "voice1", parse_steps("x..." * 4))
    app, patterns = chronus_on_autosave(tmp_path, Pattern(name="chance", tracks=[kick]))
    try:
        app.wait_for("chance", "NO SOUND: null audio")
        app.keys("i")
        app.wait_for("Step 1/16 · kick (voice1)", "probability            100 %")
        app.keys("Left", "S-Left")
        screen = app.wait_for("probability            89 %", "step 1/16 · on · voice freq · 89 %")
        row = next(line for line in screen.splitlines() if "kick " in line and "··" in line)
        assert row.split("kick")[1].split()[1] == f"x{EXPRESSIVE_MARK}", screen
        app.keys("q")
        assert app.exit_status() == "EXIT=0"
        saved = SlotStore(patterns).load(0)
        assert saved.tracks[0].steps[0].prob == 89
    finally:
        app.close()
