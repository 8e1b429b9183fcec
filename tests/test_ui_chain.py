"""Chains, the song view and the launch quantize from the keyboard: Pilot tests (keys in,
Session state, engine commands and screen out), a snapshot of the song view, and the real
`chronus` in tmux marking, starting and showing a chain."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from support.fakes import FakeEngine
from support.tmux import TmuxChronus, engine_unavailable_reason, free_udp_port
from support.ui import fixed_pattern, make_app, screen_text, settle, spy_notifications

from chronus_tui import patternfile
from chronus_tui.chain import ChainEntry, parse_chain
from chronus_tui.engine.protocol import Position
from chronus_tui.model import Pattern
from chronus_tui.session import Session, SessionError
from chronus_tui.store import SlotStore, parse_slot
from chronus_tui.ui.app import ChronusApp
from chronus_tui.ui.preferences import load_preferences
from chronus_tui.ui.widgets.slots import ChainView

SIZE = (120, 40)


def save(patterns_dir: Path, label: str, name: str) -> Pattern:
    pattern = fixed_pattern()
    pattern.name = name
    SlotStore(patterns_dir).save(parse_slot(label), patternfile.pattern_to_dict(pattern))
    return pattern


def saved_bank(patterns_dir: Path) -> None:
    """A01 "intro", A02 "verse", A03 "chorus" and B05 "break" saved."""
    for label, name in (("A01", "intro"), ("A02", "verse"), ("A03", "chorus"), ("B05", "break")):
        save(patterns_dir, label, name)


def chain_text(session: Session) -> str:
    return session.chain_status()["chain"]


def slot_lines(app: ChronusApp) -> list[str]:
    """The slot browser's rows on screen (its left 36 columns), under its border title."""
    lines = screen_text(app).splitlines()
    top = next(index for index, line in enumerate(lines) if "─ Slots ─" in line)
    return [line[:36] for line in lines[top + 1:]]


async def focus_slots(app: ChronusApp, pilot) -> None:
    app.slots.focus()
    await pilot.pause()


# -- marking a chain in the slot browser ---------------------------------------------------------


async def test_l_marks_slots_in_order_and_a_digit_sets_the_last_ones_plays(patterns_dir: Path) -> None:
    saved_bank(patterns_dir)
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        await focus_slots(app, pilot)
        await pilot.press("l", "4")                  # A01 ×4
        await pilot.press("right", "l", "2")         # A02 ×2
        await pilot.press("left", "l")               # A01 again, once
        await pilot.press("down", "right", "right", "right", "right", "l")  # B05
        await settle(pilot)
        assert chain_text(session) == "A01×4 A02×2 A01×1 B05×1"
        rows = slot_lines(app)
        # The bank's names show each slot's places in the chain; a line shows the chain.
        assert any("B05■ 4 break" in row for row in rows), rows
        await pilot.press("up")
        await settle(pilot)
        rows = slot_lines(app)
        assert any("A01■ 1,3 intro" in row for row in rows), rows
        assert any("A02■ 2 verse" in row for row in rows), rows
        assert any("│ ⛓ A01×4 A02×2 A01×1 B05×1 loop" in row for row in rows), rows


async def test_the_chain_line_shows_on_a_screen_too_short_for_the_names(patterns_dir: Path) -> None:
    """Without room for the bank's names the chain being marked is still seen: its line goes
    under the selected slot (the transport shows a chain only while it plays)."""
    saved_bank(patterns_dir)
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=(100, 30)) as pilot:
        await focus_slots(app, pilot)
        await pilot.press("l", "4", "right", "l")
        await settle(pilot)
        assert chain_text(session) == "A01×4 A02×1"
        rows = slot_lines(app)
        assert not any("A01■" in row for row in rows), rows  # no names at this height
        assert any("│ ⛓ A01×4 A02×1 loop" in row for row in rows), rows


async def test_x_types_the_plays_z_takes_the_last_off_and_Z_clears(patterns_dir: Path) -> None:
    saved_bank(patterns_dir)
    app, session = make_app(patterns_dir, engine=FakeEngine())
    seen = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await focus_slots(app, pilot)
        await pilot.press("l", "right", "l", "X")
        await pilot.press(*"16", "enter")
        await pilot.pause()
        assert chain_text(session) == "A01×1 A02×16"
        await pilot.press("X", *"65", "enter")       # out of range: refused, nothing changes
        await pilot.pause()
        assert chain_text(session) == "A01×1 A02×16"
        assert any("65 is out of range 1–64" in message for message, _ in seen), seen
        await pilot.press("X", *"two", "enter")
        await pilot.pause()
        assert chain_text(session) == "A01×1 A02×16"
        await pilot.press("X", "²", "enter")         # a digit int() cannot read: refused, no crash
        await pilot.pause()
        assert chain_text(session) == "A01×1 A02×16"
        assert any("'²'" in message for message, _ in seen), seen
        await pilot.press("z")
        await pilot.pause()
        assert chain_text(session) == "A01×1"
        await pilot.press("l", "l", "Z")
        await pilot.pause()
        assert session.chain_status()["entries"] == 0
        with pytest.raises(SessionError, match="no chain is set"):  # no empty song can be saved
            session.save_song("empty")
        assert not (patterns_dir / "songs" / "empty.json").exists()
        assert not any("⛓" in row for row in slot_lines(app))
        seen.clear()
        await pilot.press("z", "5")                  # nothing to take off or count: said, no change
        await pilot.pause()
        assert session.chain_status()["entries"] == 0
        assert [severity for _, severity in seen] == ["warning", "warning"]
        assert "the chain is empty: l in the slot browser adds the selected slot" in seen[0][0]


async def test_an_empty_or_unreadable_slot_is_not_marked(patterns_dir: Path) -> None:
    save(patterns_dir, "A01", "intro")
    (patterns_dir / "slots" / "slot_002.json").write_text("{not json")
    app, session = make_app(patterns_dir, engine=FakeEngine())
    seen = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await focus_slots(app, pilot)
        await pilot.press("right", "l", "right", "l")
        await pilot.pause()
        assert session.chain_status()["entries"] == 0
        assert [message for message, _ in seen] == ["A02 is unreadable: not added to the chain",
                                                    "A03 is empty: not added to the chain"]


async def test_the_chain_holds_at_most_64_entries(patterns_dir: Path) -> None:
    save(patterns_dir, "A01", "intro")
    app, session = make_app(patterns_dir, engine=FakeEngine())
    seen = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        session.set_chain(parse_chain("A01 " * 64))
        await focus_slots(app, pilot)
        await pilot.press("l")
        await pilot.pause()
        assert session.chain_status()["entries"] == 64
        assert seen[-1] == ("65 entries: a chain holds at most 64", "error")


# -- playing it ------------------------------------------------------------------------------------


def chain_app(patterns_dir: Path, chain: str) -> tuple[ChronusApp, Session, FakeEngine]:
    """The app on the saved bank with `chain` set, and its fake engine."""
    saved_bank(patterns_dir)
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    session.set_chain(parse_chain(chain))
    return app, session, engine


async def test_P_starts_the_chain_on_the_launch_line_and_the_browser_shows_playing_and_next(
        patterns_dir: Path) -> None:
    app, session, engine = chain_app(patterns_dir, "A01x2 A02 A03")
    async with app.run_test(size=SIZE) as pilot:
        session.start()
        engine.clear()
        await pilot.press("Q", "P")                 # launch bar2, then start the chain
        await settle(pilot)
        first = engine.ops("pattern")[0]
        assert first["mode"] == "bar" and first["every"] == 32
        assert session.transport.queued_slot == 1 and session.pending.lands == (2, 0)
        assert "◆ next A01 at 003:01" in screen_text(app)
        session.on_engine_event(FakeEngine.switch(first["token"]))
        await wait_until(pilot, lambda: len(engine.ops("pattern")) == 2)
        assert session.chain_status()["entry"] == 1 and session.chain_status()["next"] == "A02"
        rows = slot_lines(app)
        assert any("│ ⛓ A01×2 A02×1 A03×1 loop" in row for row in rows), rows
        assert "⛓ 1/3 ×1/2 → A02" in screen_text(app)
        # The entry playing and the next one are drawn apart in the cells and the chain line.
        line = chain_line_spans(app)
        assert line["A01×2"] == "bold black on green" and line["A02×1"] == "bold black on yellow"
        assert line["A03×1"] == "magenta"
        await pilot.press("O")
        await pilot.pause()
        assert not session.chain_status()["running"]
        assert session.transport.playing and session.pending is None  # its pattern plays on
        seen = spy_notifications(app)
        await pilot.press("O")
        assert seen == [("no chain is playing", "warning")]


async def test_P_with_no_chain_says_so_and_changes_nothing(patterns_dir: Path) -> None:
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    seen = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        engine.clear()
        await pilot.press("P")
        await settle(pilot)
        assert engine.sent == [] and not session.chain_status()["running"]
        assert seen[0][1] == "warning" and "the chain is empty" in seen[0][0]


async def test_a_chains_own_loads_are_not_a_toast_each(patterns_dir: Path) -> None:
    saved_bank(patterns_dir)
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    seen = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        session.start()
        session.set_chain(parse_chain("A01 A02"))
        await pilot.press("P")
        await settle(pilot)
        session.on_engine_event(FakeEngine.switch(engine.ops("pattern")[-1]["token"]))
        await wait_until(pilot, lambda: session.pending is not None and session.pending.slot == 2)
        assert seen == []


async def test_a_chain_that_fits_its_line_shows_whole_with_the_next_entry_after_the_last(
        patterns_dir: Path) -> None:
    """Playing the last entry of a looping chain, the next is the first: the line keeps it
    (it began at the entry before the one playing, hiding the next behind "…")."""
    app, session, engine = chain_app(patterns_dir, "A01 A02 A03")
    async with app.run_test(size=SIZE) as pilot:
        session.start()
        session.start_chain()
        for played in range(3):  # A01, A02, A03 switch in; each queues the one after it
            session.on_engine_event(FakeEngine.switch(engine.ops("pattern")[-1]["token"]))
            await wait_until(pilot, lambda played=played: len(engine.ops("pattern")) == played + 2)
        assert session.chain_status()["entry"] == 3 and session.chain_status()["next"] == "A01"
        rows = slot_lines(app)
        assert any("│ ⛓ A01×1 A02×1 A03×1 loop" in row for row in rows), rows
        line = chain_line_spans(app)
        assert line["A01×1"] == "bold black on yellow" and line["A03×1"] == "bold black on green"


def chain_line_spans(app: ChronusApp) -> dict[str, str]:
    """Each entry label of the browser's chain line with its style."""
    text = app.slots.render()
    line_start = text.plain.index("⛓")
    spans = {}
    for span in text.spans:
        if span.start >= line_start:
            spans[text.plain[span.start:span.end]] = str(span.style)
    return spans


async def wait_until(pilot, condition, timeout: float = 5.0) -> None:
    """The chain's own thread queues the next entry: wait for it, then for the screen."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.01)
    await pilot.pause()


# -- the launch quantize ------------------------------------------------------------------------


async def test_Q_cycles_the_launch_quantize_and_keeps_it_for_the_next_run(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    seen = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        shown = []
        for _ in range(5):
            await pilot.press("Q")
            await pilot.pause()
            shown.append(session.quantize)
        assert shown == ["bar2", "bar4", "bar8", "end", "bar"]
        assert seen[0] == ("loads and chains launch on the next 2-bar line", "information")
        assert seen[3] == ("loads and chains launch on the end of the playing pattern", "information")
        await pilot.press("Q", "Q")
        await pilot.pause()
        assert "launch bar4" in screen_text(app)
    assert load_preferences(app.config).quantize == "bar4"
    again, session = make_app(patterns_dir, engine=FakeEngine())
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert session.quantize == "bar4"           # applied to the session at start


async def test_a_load_at_bar4_says_where_it_lands(patterns_dir: Path) -> None:
    save(patterns_dir, "A02", "verse")
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    seen = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        session.start()
        session.on_engine_event(Position(bar=5, step=3, sample=0))
        await pilot.press("Q", "Q", "right_square_bracket", "enter")
        await settle(pilot)
        assert engine.last("pattern")["every"] == 64
        assert session.pending.lands == (8, 0)
        assert ("A02 “verse” queued for bar 009:01", "information") in seen
        assert "◆ next A02 at 009:01" in screen_text(app)


@pytest.mark.parametrize("value", ['"bar3"', "4", "null", "[1]", '{"a": 1}', '"BAR2"'])
def test_a_bad_quantize_in_the_settings_gives_bar(tmp_path: Path, value: str) -> None:
    (tmp_path / "settings.json").write_text(f'{{"flats": true, "quantize": {value}}}')
    preferences = load_preferences(tmp_path)
    assert preferences.quantize == "bar" and preferences.flats is True


# -- the song view ------------------------------------------------------------------------------


def song_rows(app: ChronusApp) -> list[str]:
    """The song view's entry rows as drawn (after its header)."""
    return app.song.render().plain.splitlines()[1:]


async def open_song_view(patterns_dir: Path, chain: str) -> tuple[ChronusApp, Session]:
    saved_bank(patterns_dir)
    app, session = make_app(patterns_dir, engine=FakeEngine())
    session.set_chain(parse_chain(chain))
    return app, session


async def test_f3_shows_the_chain_as_a_list_in_place_of_the_sound_panel(patterns_dir: Path) -> None:
    app, _ = await open_song_view(patterns_dir, "A01x4 A02x2 B05")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        assert app.song.display and app.song.has_focus and not app.params.display
        rows = song_rows(app)
        assert [row.split()[:4] for row in rows] == [["1", "A01", "intro", "×4"], ["2", "A02", "verse", "×2"],
                                                     ["3", "B05", "break", "×1"]]
        assert "Chain · 3 entries · loop" in screen_text(app)
        await pilot.press("up", "up")
        assert app.song.cursor == 0                                 # kept on the list
        await pilot.press(*["down"] * 5)
        assert app.song.cursor == 2
        await pilot.press("f3")
        await pilot.pause()
        assert not app.song.display and app.params.display and app.grid.has_focus


async def test_the_song_view_at_80_columns_narrows_the_names_to_show_the_muted_tracks(
        patterns_dir: Path) -> None:
    app, session = await open_song_view(patterns_dir, "A01x4 A02x2")
    async with app.run_test(size=(80, 24)) as pilot:
        session.set_song_entry(1, bpm=140.0, mute=["hat", "bass"])
        await pilot.press("f3")
        await pilot.pause()
        shown = [line for line in screen_text(app).splitlines() if "A02" in line]
        assert any("verse" in line and "×2" in line and "140" in line and "hat, bass" in line
                   for line in shown), shown
        assert any("muted" in line for line in screen_text(app).splitlines())


async def test_song_keys_edit_the_entry_under_the_cursor(patterns_dir: Path) -> None:
    app, session = await open_song_view(patterns_dir, "A01x4 A02x2 B05")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3", "down", "right", "right", "left")  # A02: ×3
        await pilot.pause()
        assert chain_text(session) == "A01×4 A02×3 B05×1"
        await pilot.press("shift+up")                              # A02 first, the cursor with it
        await pilot.pause()
        assert chain_text(session) == "A02×3 A01×4 B05×1" and app.song.cursor == 0
        await pilot.press("down", "down", "z")                     # B05 taken off
        await pilot.pause()
        assert chain_text(session) == "A02×3 A01×4"
        await pilot.press("l")
        await pilot.pause()
        assert chain_text(session) == "A02×3 A01×4 once"
        await pilot.press("up", "shift+down")
        await pilot.pause()
        assert chain_text(session) == "A01×4 A02×3 once" and app.song.cursor == 1
        for _ in range(70):
            await pilot.press("right")
        await pilot.pause()
        assert chain_text(session) == "A01×4 A02×64 once"          # held at 64


async def test_t_types_the_entrys_tempo_and_an_empty_answer_clears_it(patterns_dir: Path) -> None:
    app, session = await open_song_view(patterns_dir, "A01 A02")
    seen = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3", "down", "B", *"132.5", "enter")
        await pilot.pause()
        assert entries(session)[1].bpm == 132.5
        assert song_rows(app)[1].split()[4] == "132.5"
        await pilot.press("B", *"999", "enter")                    # out of range: refused
        await pilot.pause()
        assert entries(session)[1].bpm == 132.5
        assert seen[-1][1] == "error" and "20–300" in seen[-1][0]
        await pilot.press("B", "ctrl+u", "enter")                   # empty: the slot's own
        await pilot.pause()
        assert entries(session)[1].bpm is None


async def test_m_mutes_one_of_the_entrys_tracks(patterns_dir: Path) -> None:
    app, session = await open_song_view(patterns_dir, "A01 A02")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3", "M")
        await settle(pilot)
        assert "mute hat" in screen_text(app)
        await pilot.press("down", "enter")                          # the second track: hat
        await pilot.pause()
        assert entries(session)[0].mute == ("hat",)
        assert song_rows(app)[0].split()[-1] == "hat"
        await pilot.press("M")
        await settle(pilot)
        await pilot.press("down", "down", "enter")                  # bass too
        await pilot.pause()
        assert entries(session)[0].mute == ("hat", "bass")
        await pilot.press("M")
        await settle(pilot)
        assert "unmute hat" in screen_text(app)
        await pilot.press("end", "enter")                           # as the slot saved them
        await pilot.pause()
        assert entries(session)[0].mute is None


def entries(session: Session) -> tuple[ChainEntry, ...]:
    chain = ChainView.of(session.song_status()).chain
    return chain.entries if chain is not None else ()


def test_song_view(snap_compare, patterns_dir: Path) -> None:
    saved_bank(patterns_dir)
    app, session = make_app(patterns_dir, engine=FakeEngine())
    session.set_chain(parse_chain("A01x4 A02x2 A01 B05x8"))

    async def open_it(pilot) -> None:
        await pilot.press("f3", "down")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=open_it)


# -- the real chronus in tmux ---------------------------------------------------------------------


@pytest.fixture
def chronus_in_tmux(tmp_path: Path):
    reason = engine_unavailable_reason()
    if reason:
        pytest.skip(reason)
    patterns = tmp_path / "patterns"
    for label, name in (("A01", "intro"), ("A02", "verse"), ("A03", "chorus")):
        save(patterns, label, name)
    run = TmuxChronus(tmp_path, ["--audio", "null", "--patterns-dir", str(patterns),
                                 "--osc-port", str(free_udp_port())])
    yield run
    run.close()


def test_tmux_marks_three_slots_sets_plays_and_starts_the_chain(chronus_in_tmux: TmuxChronus) -> None:
    run = chronus_in_tmux
    run.wait_for("Slots")
    run.keys("Tab", "Tab")                    # pattern → perform strip → slot browser
    run.keys("l", "4", "Right", "l", "2", "Right", "l")
    run.wait_for("⛓ A01×4 A02×2 A03×1 loop")
    run.keys("P")                             # stopped: the first entry loads at once and plays
    screen = run.wait_for("▶ PLAY", "⛓ 1/3 ×1/4 → A02")
    assert "A01 intro" in screen


async def test_w_writes_the_chain_as_a_song_and_r_reads_one_back(patterns_dir: Path) -> None:
    app, session = await open_song_view(patterns_dir, "A01x4 A02x2 once")
    seen = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        session.set_song_entry(1, bpm=140.0, mute=["hat"])
        await pilot.press("f3", "w", *"bad name!", "enter")      # not a file name: refused
        await settle(pilot)
        assert not (patterns_dir / "songs").exists() or not list((patterns_dir / "songs").iterdir())
        assert seen[-1][1] == "error" and "not a song name" in seen[-1][0]
        await pilot.press("w", *"verse", "enter")
        await settle(pilot)
        saved = json.loads((patterns_dir / "songs" / "verse.json").read_text())
        assert saved["loop"] is False and saved["entries"] == [
            {"slot": "A01", "repeats": 4}, {"slot": "A02", "repeats": 2, "bpm": 140.0, "mute": ["hat"]}]
        assert session.chain_status()["song"] == "verse"
        assert "Song verse · 2 entries · once" in screen_text(app)
        await pilot.press("l")                                      # loop: changed since the save
        await pilot.pause()
        assert session.chain_status()["loop"] is True
        app.slots.focus()
        await pilot.press("Z")                                      # and then cleared
        await pilot.pause()
        assert session.chain_status()["entries"] == 0
        app.song.focus()
        await pilot.press("r")
        await settle(pilot)
        assert "verse" in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert chain_text(session) == "A01×4 A02×2 once" and session.chain_status()["song"] == "verse"
        assert entries(session)[1] == ChainEntry(2, 2, 140.0, ("hat",))


async def test_r_with_no_songs_saved_says_so(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    seen = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3", "r")
        await settle(pilot)
        assert seen == [("no songs saved yet: w in the song view saves the chain as one", "warning")]
        assert session.chain_status()["entries"] == 0
