"""Perform keys and the bank strip: Pilot tests, keys in, Session state and engine commands out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.fakes import FakeEngine
from support.osc import OscClient
from support.slotreads import spy_reads
from support.ui import fixed_pattern, help_rows, make_app, screen_text, settle, spy_notifications

from chronus_tui import patternfile
from chronus_tui.engine.protocol import ReplacePattern
from chronus_tui.model import Pattern
from chronus_tui.osc.server import serve_in_thread
from chronus_tui.session import Session
from chronus_tui.store import SlotStore, StoreError, parse_slot
from chronus_tui.ui.actions import ACTIONS, BANK_KEYS, PAD_KEYS, PERFORM
from chronus_tui.ui.app import ChronusApp
from chronus_tui.ui.screens.help import HelpScreen

SIZE = (120, 40)


def strip_rows(app: ChronusApp, title: str) -> list[str]:
    """The bank strip's two rows on screen, found under its border title."""
    lines = screen_text(app).splitlines()
    top = next(index for index, line in enumerate(lines) if title in line)
    return lines[top + 1:top + 3]


def save(patterns_dir: Path, slot: int, name: str) -> Pattern:
    pattern = fixed_pattern()
    pattern.name = name
    SlotStore(patterns_dir).save(slot, patternfile.pattern_to_dict(pattern))
    return pattern


async def test_one_pad_key_queues_the_slot_as_one_bar_command(patterns_dir: Path) -> None:
    acid = save(patterns_dir, 3, "acid line")
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    async with app.run_test(size=SIZE) as pilot:
        session.start()  # playing: a load waits for the bar line (stopped, it starts at once)
        await pilot.press("f2")
        assert app.strip.has_focus
        engine.clear()
        await pilot.press("e")  # the third key of the top row: pad 3, A03
        await settle(pilot)
        assert len(engine.sent) == 1, engine.commands
        command = engine.sent[0]
        assert isinstance(command, ReplacePattern) and command.mode == "bar"
        saved = SlotStore(patterns_dir).load(3)
        assert saved.name == acid.name
        assert patternfile.pattern_to_dict(command.pattern) == patternfile.pattern_to_dict(saved)
        assert session.transport.queued_slot == 3
        assert app.slots.selected == 3
        assert "e ◆acid line" in strip_rows(app, "PERFORM KEYS ON · bank A")[0]


async def test_shift_and_a_pad_key_loads_now(patterns_dir: Path) -> None:
    save(patterns_dir, 12, "breakdown")
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        engine.clear()
        await pilot.press("F")  # home row, fourth key: pad 12
        await settle(pilot)
        assert [c["mode"] for c in engine.ops("pattern")] == ["now"]
        assert session.transport.playing_slot == 12 and session.pattern.name == "breakdown"
        assert session.transport.queued_slot is None


async def test_a_digit_picks_the_bank_the_pads_play(patterns_dir: Path) -> None:
    save(patterns_dir, 1, "A one")
    save(patterns_dir, parse_slot("G02"), "G02 groove")
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    async with app.run_test(size=SIZE) as pilot:
        session.start()
        await pilot.press("f2", "7")
        await pilot.pause()
        assert app.slots.bank_first() == 97
        assert "w ■G02 groove" in strip_rows(app, "PERFORM KEYS ON · bank G")[0]
        await pilot.press("w")
        await settle(pilot)
        assert session.transport.queued_slot == parse_slot("G02") == 98
        await pilot.press("1", "q")  # back to bank A, pad 1
        await settle(pilot)
        assert session.transport.queued_slot == 1


async def test_an_empty_or_unreadable_slot_says_so_and_queues_nothing(patterns_dir: Path) -> None:
    save(patterns_dir, 1, "A one")
    (patterns_dir / "slots" / "slot_002.json").write_text("{ not json")
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    seen = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        engine.clear()
        await pilot.press("e", "w")  # A03 empty, A02 unreadable
        await settle(pilot)
        assert engine.commands == []
        assert session.transport.queued_slot is None
        assert ("A03 is empty: nothing loaded", "warning") in seen
        assert ("A02 is unreadable: nothing loaded", "warning") in seen


async def test_pad_keys_are_live_only_while_the_strip_has_focus(patterns_dir: Path) -> None:
    save(patterns_dir, 1, "A one")
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    async with app.run_test(size=SIZE) as pilot:
        assert "Perform · bank A" in screen_text(app)
        await pilot.press("f2")
        await pilot.pause()
        assert "PERFORM KEYS ON · bank A" in screen_text(app)
        await pilot.press("f2")  # off again: back to the pattern, where a is the accent key
        await pilot.pause()
        assert app.grid.has_focus and "Perform · bank A" in screen_text(app)
        kick = session.pattern.track("kick")
        await pilot.press("right", "a")
        await settle(pilot)
        assert kick.steps[1].accent and session.transport.queued_slot is None


async def test_the_strip_shows_keys_names_cut_and_the_playing_slot(patterns_dir: Path) -> None:
    save(patterns_dir, 1, "Demo Groove, the long version")
    save(patterns_dir, 9, "[bold]x")
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        session.load_slot(1, "now")
        await settle(pilot)
        top, home = strip_rows(app, "Perform · bank A")
        assert "q ▶Demo Groo… w ·" in top and "long version" not in top
        assert [word for word in top.split() if len(word) == 1 and word.isalpha()] == list("qwertyui")
        assert "a ■[bold]x" in home  # names are shown as typed, never as markup


async def test_help_shows_the_bank_strip_and_the_perform_rows(patterns_dir: Path) -> None:
    save(patterns_dir, 5, "fifth")
    app, _ = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        top, home = strip_rows(app, "Perform keys")
        assert "q ·A01  w ·A02  e ·A03  r ·A04  t ■A05" in top and "k ·A16" in home
    rows = help_rows(70)
    assert "q w e r t y u i Queue pad 1–8 for the next bar · Perform strip" in rows
    assert "A S D F G H J K Load pad 9–16 now · Perform strip" in rows
    assert "1 2 3 4 5 6 7 8 Bank A–H · Perform strip" in rows


def test_the_perform_keys_are_two_letter_rows_and_their_capitals_and_eight_digits() -> None:
    perform = [a for a in ACTIONS if a.scope == PERFORM]
    actions = {key: each.action for a in perform for each in a.each_key() for key in each.keys}
    assert len(actions) == sum(len(a.keys) for a in perform) == 16 + 16 + 8
    assert [actions[key] for key in PAD_KEYS] == [f"perform_pad({pad}, 'bar')" for pad in range(16)]
    assert [actions[key.upper()] for key in PAD_KEYS] == [f"perform_pad({pad}, 'now')" for pad in range(16)]
    assert [actions[key] for key in BANK_KEYS] == [f"perform_bank({bank})" for bank in range(8)]


async def test_a_pad_loads_its_preloaded_slot_without_reading_the_file(
        patterns_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads = spy_reads(monkeypatch)
    save(patterns_dir, 1, "A one")
    save(patterns_dir, parse_slot("G02"), "G02 groove")
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    store = session.store
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")  # the bank on the strip is read into memory meanwhile
        await settle(pilot)
        reads.clear()
        workers: list[str] = []
        run_worker = app.run_worker
        monkeypatch.setattr(app, "run_worker", lambda work, **kw: workers.append(kw["group"]) or
                            run_worker(work, **kw))
        await pilot.press("Q")
        assert workers == [] and len(engine.ops("pattern")) == 1  # on the key's own turn, no thread
        await settle(pilot)
        assert reads == []
        saved = SlotStore(patterns_dir).load(1)
        assert patternfile.pattern_to_dict(session.pattern) == patternfile.pattern_to_dict(saved)
        assert session.transport.playing_slot == 1 and len(engine.ops("pattern")) == 1
        assert [entry.author for entry in session.undo(source="ui")] == ["ui"]  # one undoable edit
        assert session.pattern.name == "test beat"
        reads.clear()
        await pilot.press("7")  # bank G: its slots are read now, not at the key
        await settle(pilot)
        assert store.slot_path(98) in reads and all(97 <= int(p.stem[5:]) <= 112 for p in reads)
        reads.clear()
        session.start()
        await pilot.press("w")
        await settle(pilot)
        assert reads == [] and session.transport.queued_slot == 98
        assert engine.last("pattern")["pattern"]["name"] == "G02 groove"


async def test_a_slot_saved_over_osc_or_replaced_on_disk_loads_its_new_content(
        patterns_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spy_reads(monkeypatch)
    save(patterns_dir, 1, "before")
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await settle(pilot)
        assert session.store.load_kept(1).name == "before"
        session.set_bpm(99)  # the live pattern, which OSC saves over A01
        with serve_in_thread(session) as server:
            client = OscClient(server.port)
            client.ok("/pattern/save", 1, "over OSC")
            client.close()
        await pilot.press("Q")
        await settle(pilot)
        assert (session.pattern.name, session.pattern.bpm) == ("over OSC", 99)
        outside = save(patterns_dir, 1, "from outside")  # another program's store, behind our back
        outside_bpm = outside.bpm
        await pilot.press("Q")
        await settle(pilot)
        assert (session.pattern.name, session.pattern.bpm) == ("from outside", outside_bpm)


async def test_a_preloaded_pad_whose_file_went_bad_says_why_and_changes_nothing(
        patterns_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spy_reads(monkeypatch)
    save(patterns_dir, 1, "good once")
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    seen = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await settle(pilot)
        assert session.store.load_kept(1) is not None
        (patterns_dir / "slots" / "slot_001.json").write_text("{ not json")
        with pytest.raises(StoreError) as fresh:
            SlotStore(patterns_dir).load(1)
        before = patternfile.pattern_to_dict(session.pattern)
        engine.clear()
        await pilot.press("Q")
        await settle(pilot)
        assert (str(fresh.value), "error") in seen
        assert engine.commands == [] and session.transport.playing_slot is None
        assert patternfile.pattern_to_dict(session.pattern) == before


def test_a_load_now_reaches_the_engine_before_its_history_entry_is_journaled(patterns_dir: Path) -> None:
    # The entry holds the whole pattern before and after; serialising it must not delay the engine.
    engine = FakeEngine()
    session = Session(SlotStore(patterns_dir), engine=engine, pattern=fixed_pattern())
    sent_at_append: list[list[str]] = []

    class Journal:
        bytes_since_base = 0

        def append(self, record: dict[str, Any]) -> None:
            sent_at_append.append([command["op"] for command in engine.commands])

        def rebase(self, header: dict[str, Any]) -> None:
            pass

    session.journal = Journal()
    session.apply_snapshot(save(patterns_dir, 1, "next"), "now", source="ui")
    assert sent_at_append == [["pattern"]]
    assert session.pattern.name == "next" and [entry.author for entry in session.undo(source="ui")] == ["ui"]
