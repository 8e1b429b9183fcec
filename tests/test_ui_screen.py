"""A steady screen: the transport is one line at any width, a renamed playing slot shows its
new name, an imported file says so in one line, and the grid uses the height it is given."""

from __future__ import annotations

import logging
import shutil
import sys
import time
from pathlib import Path

import pytest
from support.fakes import FakeEngine
from support.patterns import LEGACY_DIR
from support.ui import make_app, screen_text, settle, spy_notifications

from chronus_tui import headless, patternfile
from chronus_tui.chain import parse_chain
from chronus_tui.model import MAX_TRACKS, Pattern, Step, Track
from chronus_tui.session import Session
from chronus_tui.store import SlotStore
from chronus_tui.ui.app import imported_summary

OSC = "osc 127.0.0.1:9000"
LONG_NAME = "a long pattern name, 32 cells ok"  # the most a name may be


def transport_line(app) -> str:
    return app.transport.render().plain


@pytest.mark.parametrize("width", [80, 100, 200])
async def test_the_transport_is_one_line_at_every_width(patterns_dir: Path, width: int) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=(width, 30)) as pilot:
        session.set_name(LONG_NAME, source=OSC)
        session.save_slot(1, source=OSC)
        session.load_slot(1, at="now", source=OSC)
        await pilot.press("ctrl+r")  # recording: "● REC" joins the play state
        await pilot.pause()
        seen = [transport_line(app)]
        session.set_bpm(140, source=OSC)
        session.undo(1, source=OSC)  # "undo: …" takes the place of the fields after the position
        await pilot.pause()
        await pilot.pause()
        seen.append(transport_line(app))
        app.transport._end_flash()
        session.stop_engine()
        await pilot.pause()
        seen.append(transport_line(app))
        for line in seen:
            assert "\n" not in line and len(line) <= width - 2  # the width less the padding
            assert "001:01" in line and "BPM" in line and "swing" in line
            assert app.transport.size.height == 1
        assert "● REC 0:00" in seen[0] and "undo: bpm" in seen[1] and "AUDIO STOPPED" in seen[2]
        if width >= 200:  # room for every field, the whole name among them
            assert f"A01 {LONG_NAME}  │  audio jack 48k/256  │  OSC off" in seen[0]
        else:  # the OSC address and the backend make room, the separators narrow; at 80 the name is cut
            assert "OSC" not in seen[0] and "audio" not in seen[0] and "  │  " not in seen[0]
            if width == 100:
                assert seen[0].endswith(f"A01 {LONG_NAME}")
            else:
                assert "A01 a long" in seen[0] and seen[0].endswith("…") and len(seen[0]) == width - 2


async def test_the_no_sound_warning_is_shortened_never_left_out(patterns_dir: Path) -> None:
    app, _ = make_app(patterns_dir, engine=FakeEngine(), backend="null")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        line = transport_line(app)
        assert "⚠ NO SOUND" in line and "— test beat" in line
        assert "⚠ NO SOUND: null audio" in app.transport.line(200).plain


@pytest.mark.parametrize("width", [80, 120])
async def test_a_playing_chain_keeps_what_comes_next_readable_on_the_transport(
        patterns_dir: Path, width: int) -> None:
    """The queued slot, the chain's place and the launch quantize keep their words when they
    fit and take short forms when not: never cut to "◆ n…" and "⛓ 1…" at 80 columns, and the
    launch quantize not left out at 120 for the OSC address."""
    for slot, name in ((1, "intro"), (2, "verse")):
        SlotStore(patterns_dir).save(slot, patternfile.pattern_to_dict(Pattern(name=name, bpm=124.0)))
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine, backend="null")
    async with app.run_test(size=(width, 30)) as pilot:
        session.start()
        session.set_quantize("bar4")
        session.set_chain(parse_chain("A01x4 A02x2"))
        session.start_chain()
        session.on_engine_event(FakeEngine.switch(engine.ops("pattern")[-1]["token"]))
        deadline = time.monotonic() + 5
        while session.pending is None or session.transport.queued_slot != 2:  # the chain's thread
            assert time.monotonic() < deadline, "the chain never queued A02"
            await pilot.pause(0.01)
        await settle(pilot)
        line = transport_line(app)
        assert len(line) <= width - 2 and "⚠ NO SOUND" in line and "A01" in line
        assert "◆ A02 005:01" in line or "◆ next A02 at 005:01" in line
        assert "⛓ 1/2 ×1/4" in line
        if width == 120:
            assert "launch bar4" in line and "A01 intro" in line and "BPM" in line


async def test_the_follow_prompt_shows_its_whole_question_and_examples_at_80_columns(
        patterns_dir: Path) -> None:
    """A long question wraps in the prompt and the examples fit its field (both were cut)."""
    app, _ = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        app.slots.focus()
        await pilot.press("F")
        await pilot.pause()
        screen = screen_text(app)
        assert "random S S …; off clears it" in screen
        assert "4 next, 2 slot A03, 1 random A03 B07, off" in screen


async def test_a_message_repeated_while_its_toast_is_on_screen_is_one_toast(patterns_dir: Path) -> None:
    """A looping chain says an empty entry is passed over on every turn: one toast, not a stack."""
    app, _ = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        for _ in range(4):
            app.notify("chain entry 2 passed over: A05 is empty", title="from chain", severity="warning")
            await pilot.pause()
        app.notify("chain entry 3 passed over: A06 is empty", title="from chain", severity="warning")
        await pilot.pause()
        shown = [toast.render().plain for toast in app.screen.query("Toast")]
        assert sum("A05 is empty" in toast for toast in shown) == 1, shown
        assert sum("A06 is empty" in toast for toast in shown) == 1, shown


async def test_a_tiny_terminal_still_gets_one_cut_line(patterns_dir: Path) -> None:
    app, _ = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=(40, 20)) as pilot:
        await pilot.pause()
        line = transport_line(app)
        assert len(line) == 38 and line.endswith("…") and app.transport.size.height == 1


@pytest.mark.parametrize("size", [(40, 12), (40, 20), (60, 16), (80, 24)])
async def test_a_small_terminal_never_hides_the_focus(patterns_dir: Path, size: tuple[int, int]) -> None:
    """Whatever has the focus is on screen with room to read it: a short screen scrolls to it
    under the transport line, and on a narrow one the slot browser makes way for the panel beside
    it (the step detail, the sound panel, the song view) while that one has the focus."""
    width, height = size
    app, _ = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        for keys in ((), ("i",), ("tab",), ("tab",), ("tab",), ("tab",), ("i",), ("tab",), ("tab",),
                     ("f3",), ("f3",)):
            await pilot.press(*keys)
            await pilot.pause()
            focused = app.focused
            shown = focused.region
            seen = (keys, focused, shown)
            assert shown.y >= 1 and shown.bottom <= height - 1 and shown.right <= width, seen
            assert shown.width >= min(width - 1, 36) and shown.height >= 4, seen
            assert app.transport.region.y == 0 and transport_line(app).strip()


async def test_renaming_the_playing_slot_renames_the_live_pattern_on_screen(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=(120, 40)) as pilot:
        session.save_slot(1)
        session.load_slot(1, at="now")
        await settle(pilot)
        assert "A01 test beat" in transport_line(app)
        await pilot.press("R")  # the slot browser's selection is the playing slot
        await pilot.pause()
        for _ in range(len("test beat")):
            await pilot.press("backspace")
        await pilot.press(*"new name", "enter")
        await settle(pilot)
        assert session.pattern.name == "new name"
        assert "A01 new name" in transport_line(app)
        session.rename_slot(1, "from afar", source=OSC)
        await pilot.pause()
        assert session.pattern.name == "from afar" and "A01 from afar" in transport_line(app)
        session.undo(1, source=OSC)  # the rename of the live pattern is one edit of its own
        await pilot.pause()
        assert session.pattern.name == "new name"


async def test_an_imported_file_is_one_line_on_screen_and_its_fields_go_to_the_log(
        patterns_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    shutil.copy(LEGACY_DIR / "slot_001.json", SlotStore(patterns_dir).slot_path(1))
    app, _ = make_app(patterns_dir, engine=FakeEngine())
    notes = spy_notifications(app)
    with caplog.at_level(logging.WARNING):
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await pilot.press("L")
            await settle(pilot)
            await pilot.pause()
            warnings = [message for message, severity in notes if severity == "warning"]
            fields = [r.getMessage() for r in caplog.records if "field not carried over" in r.getMessage()]
            assert len(fields) > 1
            assert warnings == [imported_summary(len(fields))]
            assert warnings[0] == (f"imported from Music Chronus; {len(fields)} fields not carried over"
                                   " — details in the log")
            assert any("hats.filter_freq (12000 clamped to 8000)" in f and f.startswith("A01: ")
                       for f in fields)
            toast = next(t for t in app.screen.query("Toast") if "imported" in str(t.render()))
            assert toast.size.height == 1 and warnings[0] in screen_text(app)
    assert imported_summary(1) == "imported from Music Chronus; 1 field not carried over — details in the log"


def long_pattern(tracks: int, length: int) -> Pattern:
    return Pattern(name="long", bpm=120.0, swing=0.0, tracks=[
        Track(f"t{index + 1}", "voice1", [Step(on=index == 0) for _ in range(length)])
        for index in range(tracks)])


def grid_pages(app) -> list[str]:
    return [line.split()[1] for line in app.grid.render().plain.splitlines() if line.startswith("page ")]


def grid_tracks(app) -> set[str]:
    return {line.split()[0] for line in app.grid.render().plain.splitlines() if line.startswith("t")}


async def test_a_taller_terminal_shows_all_64_steps(patterns_dir: Path) -> None:
    for size, pages in (((100, 20), ["1/4"]), ((120, 60), ["1/4", "2/4", "3/4", "4/4"])):
        app, _ = make_app(patterns_dir, engine=FakeEngine(), pattern=long_pattern(4, 64))
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            assert grid_pages(app) == pages
            assert grid_tracks(app) == {"t1", "t2", "t3", "t4"}
            await pilot.press(*["right"] * 40)  # the cursor on page 3: that page is among those shown
            await pilot.pause()
            assert "3/4" in grid_pages(app)


async def test_a_taller_terminal_shows_more_tracks(patterns_dir: Path) -> None:
    shown = []
    for size in ((80, 24), (80, 50)):
        app, _ = make_app(patterns_dir, engine=FakeEngine(), pattern=long_pattern(MAX_TRACKS, 16))
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            shown.append(grid_tracks(app))
    assert len(shown[0]) < len(shown[1]) == MAX_TRACKS


async def test_a_line_written_to_stderr_inside_the_app_does_not_break_it(patterns_dir: Path) -> None:
    # Textual captures stderr while it runs and flushes it through App._flush(stderr=True):
    # the app's own redraw method must not take that name.
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        print("a stray line", file=sys.stderr, flush=True)
        session.set_bpm(133, source=OSC)
        await pilot.pause()
        assert "133.0 BPM" in transport_line(app)


async def test_the_latency_benchmark_measures_every_perform_load(tmp_path: Path) -> None:
    # The benchmark's key-to-engine part, short, so it cannot rot.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_latency import perform_loads

    result = await perform_loads(tmp_path, 8)
    assert result["loads"] == 8
    for kind in ("now", "queued", "to_action"):
        assert 0 < result[kind]["p50_ms"] <= result[kind]["p95_ms"] <= result[kind]["max_ms"]


def test_headless_logs_each_field_an_imported_file_left_behind(
        patterns_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    shutil.copy(LEGACY_DIR / "slot_001.json", SlotStore(patterns_dir).slot_path(1))
    session = Session(SlotStore(patterns_dir), engine=FakeEngine())
    session.subscribe(headless._log_change)
    with caplog.at_level(logging.WARNING):
        session.load_slot(1, at="now", source="osc")
    fields = [r.getMessage() for r in caplog.records if "field not carried over" in r.getMessage()]
    assert len(fields) == 11 and "A01: original Music Chronus field not carried over: " in fields[0]


async def test_lengthening_a_track_by_key_grows_the_grid_to_its_pages(patterns_dir: Path) -> None:
    app, _ = make_app(patterns_dir, engine=FakeEngine(), pattern=long_pattern(4, 16))
    async with app.run_test(size=(120, 60)) as pilot:
        await pilot.pause()
        assert grid_pages(app) == ["1/1"]
        await pilot.press(">", ">", ">")  # the cursor's track: 16 → 64 steps
        await pilot.pause()
        await pilot.pause()
        assert grid_pages(app) == ["1/4", "2/4", "3/4", "4/4"]
