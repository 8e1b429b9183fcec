"""Tracks, copy and paste from the keyboard: each key's state after, and what one undo puts back."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console
from support.fakes import FakeEngine
from support.ui import fixed_pattern, make_app, screen_text, settle, spy_notifications
from test_history import JournalRecorder
from textual.pilot import Pilot

from chronus_tui import patternfile
from chronus_tui.model import MAX_TRACKS, Pattern, Step, Track, parse_steps
from chronus_tui.session import Session, SessionError
from chronus_tui.store import SlotStore
from chronus_tui.ui.screens.choice import ChoiceScreen
from chronus_tui.ui.screens.help import actions_table
from chronus_tui.ui.screens.prompt import PromptScreen

SIZE = (120, 40)


def names(session: Session) -> list[str]:
    return [t.name for t in session.pattern.tracks]


def marks(track: Track) -> str:
    """A track's steps as a pattern string with notes: what a paste must carry over."""
    return " ".join(f"{'X' if s.accent else 'x' if s.on else '.'}{s.note or ''}{'~' if s.slide else ''}"
                    for s in track.steps)


async def typed(pilot: Pilot, text: str, *, clear: int = 0) -> None:
    """Answer the open prompt: erase `clear` characters, type text, Enter."""
    await pilot.pause()
    assert isinstance(pilot.app.screen, PromptScreen)
    await pilot.press(*["backspace"] * clear, *text, "enter")
    await pilot.pause()


async def undo_redo(pilot: Pilot, before: object, after: object, state: Callable[[], object]) -> None:
    """One u puts `before` back, one U makes `after` again (state() reads the state)."""
    await pilot.press("u")
    await pilot.pause()
    assert state() == before
    await pilot.press("U")
    await pilot.pause()
    assert state() == after


async def test_t_adds_a_track_by_name_and_a_voice_from_the_list(patterns_dir: Path) -> None:
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await typed(pilot, "lead")
        assert isinstance(app.screen, ChoiceScreen)
        shown = screen_text(app)
        assert all(f"voice{i}" in shown for i in range(1, 9))
        await pilot.press("down", "enter")            # the first free voice is voice5; one down
        await pilot.pause()
        lead = session.pattern.track("lead")
        assert (lead.voice, lead.length, any(s.on for s in lead.steps)) == ("voice6", 16, False)
        assert names(session)[-1] == "lead" and app.grid.current() == (lead, 0)  # the cursor is on it
        sent = engine.last("pattern")["pattern"]["sequencer"]["tracks"]   # the engine heard it
        assert sent[-1]["name"] == "lead"
        await undo_redo(pilot, ["kick", "hat", "bass", "stab"], ["kick", "hat", "bass", "stab", "lead"],
                        lambda: names(session))


async def test_adding_refuses_a_name_in_use_a_bad_name_and_a_17th_track(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    notes = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await typed(pilot, "bass")
        assert not isinstance(app.screen, ChoiceScreen)
        assert notes[-1] == ("there is already a track named “bass”", "error")
        await pilot.press("t")
        await typed(pilot, "x" * 40)
        await pilot.press("enter")
        await pilot.pause()
        assert notes[-1][1] == "error" and "1–32 printable characters" in notes[-1][0]
        await pilot.press("t")
        await pilot.pause()
        await pilot.press("escape")                   # a cancelled prompt adds nothing
        await pilot.pause()
        assert names(session) == ["kick", "hat", "bass", "stab"] and len(session.history) == 0

    full = Pattern(tracks=[Track(f"t{i}", "voice1", parse_steps("x...")) for i in range(MAX_TRACKS)])
    app, session = make_app(patterns_dir, engine=FakeEngine(), pattern=full)
    notes = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        for key in ("t", "d"):                        # adding and duplicating both stop at 16
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, PromptScreen)
            assert notes[-1][1] == "error" and "already 16 tracks" in notes[-1][0]
        assert len(session.pattern.tracks) == MAX_TRACKS


async def test_D_removes_the_track_naming_it_and_u_puts_it_back_in_its_place(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    notes = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        hat = marks(session.pattern.track("hat"))
        await pilot.press("down", "D")
        await pilot.pause()
        assert names(session) == ["kick", "bass", "stab"]
        assert notes[-1] == ("Removed track “hat” (u brings it back)", "information")
        await undo_redo(pilot, ["kick", "hat", "bass", "stab"], ["kick", "bass", "stab"],
                        lambda: names(session))
        await pilot.press("u")
        await pilot.pause()
        assert marks(session.pattern.track("hat")) == hat


async def test_T_renames_the_track_as_one_undoable_edit(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    notes = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        hat = patternfile.track_to_dict(session.pattern.track("hat"))
        await pilot.press("down", "T")
        await typed(pilot, "hats", clear=3)           # the prompt offers the old name
        assert names(session) == ["kick", "hats", "bass", "stab"]
        assert session.history.last(1)[0].summary == "rename track hat to hats"
        assert len(session.history) == 1
        await undo_redo(pilot, ["kick", "hat", "bass", "stab"], ["kick", "hats", "bass", "stab"],
                        lambda: names(session))
        assert {**patternfile.track_to_dict(session.pattern.track("hats")), "name": "hat"} == hat
        # A name in use is refused and changes nothing.
        await pilot.press("T")
        await typed(pilot, "kick", clear=4)
        assert notes[-1] == ("there is already a track named 'kick'", "error")
        assert names(session) == ["kick", "hats", "bass", "stab"] and len(session.history) == 1


async def test_v_changes_the_voice_from_the_list(patterns_dir: Path) -> None:
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("down", "down", "enter")    # from kick's voice1 to voice3
        await pilot.pause()
        assert session.pattern.track("kick").voice == "voice3"
        assert engine.last("track")["track"]["voice"] == "voice3"
        await undo_redo(pilot, "voice1", "voice3", lambda: session.pattern.track("kick").voice)


async def test_d_duplicates_next_to_it_and_e_clears_the_steps(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        bass = marks(session.pattern.track("bass"))
        await pilot.press("down", "down", "d")
        await pilot.pause()
        assert names(session) == ["kick", "hat", "bass", "bass 2", "stab"]
        copy = session.pattern.track("bass 2")
        assert marks(copy) == bass and copy.voice == "voice2" and app.grid.current() == (copy, 0)
        await pilot.press("d")                        # a copy of the copy: the next number
        await pilot.pause()
        assert names(session) == ["kick", "hat", "bass", "bass 2", "bass 3", "stab"]
        await pilot.press("u", "u")
        await pilot.pause()
        assert names(session) == ["kick", "hat", "bass", "stab"]

        await pilot.press("up", "e")                  # the cursor was on the last copy: now stab
        await pilot.pause()
        cleared = session.pattern.track("bass")
        assert marks(cleared) == " ".join(["."] * 16) and cleared.voice == "voice2"
        await undo_redo(pilot, bass, marks(cleared), lambda: marks(session.pattern.track("bass")))


async def test_ctrl_n_starts_an_empty_pattern_at_the_same_tempo_and_u_brings_the_old_back(
        patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        before = session.snapshot()
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert session.pattern.tracks == [] and (session.pattern.bpm, session.pattern.swing) == (126.0, 0.1)
        # The empty grid names the key that fills it, not only OSC.
        assert "no tracks: t adds one (or /seq/add over OSC), or load a slot" in app.grid.render().plain
        await pilot.press("u")
        await pilot.pause()
        assert session.snapshot() == before


async def test_a_marked_step_range_pastes_onto_another_track_as_one_undo(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    notes = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "down", "b", "right", "right", "right")    # bass steps 1–4
        await pilot.pause()
        assert "marked 1–4" in app.grid.render().plain
        await pilot.press("c")
        await pilot.pause()
        assert "clipboard: 4 steps of bass 1–4" in app.grid.render().plain
        bass, hat = session.pattern.track("bass"), session.pattern.track("hat")
        before = marks(hat)
        await pilot.press("up", "p")                  # onto hat at the cursor, its step 4
        await pilot.pause()
        assert hat.steps[3:7] == bass.steps[0:4] and hat.steps[:3] == parse_steps("..x")
        assert len(session.history) == 1
        await undo_redo(pilot, before, marks(hat), lambda: marks(session.pattern.track("hat")))

        # shift+→ marks and extends (from hat's step 4); a paste near the end keeps what fits
        # and says so.
        hat = session.pattern.track("hat")
        fourth = Step(**vars(hat.steps[3]))
        await pilot.press("shift+right", "shift+right", "c", "pagedown", "p")
        await pilot.pause()
        assert session.pattern.track("hat").steps[15] == fourth
        assert notes[-1] == ("pasted 1 of 3 steps: “hat” ends at step 16", "warning")


async def test_steps_paste_onto_another_page(patterns_dir: Path) -> None:
    long = Pattern(tracks=[Track("arp", "voice5", parse_steps("X.x." * 4 + "." * 16))])
    app, session = make_app(patterns_dir, engine=FakeEngine(), pattern=long)
    async with app.run_test(size=SIZE) as pilot:
        # Marked from step 8 back to 1, copied, pasted at the same place on page 2: 17–24.
        await pilot.press(*["right"] * 7, "b", *["left"] * 7, "c", "pagedown", "p")
        await pilot.pause()
        arp = session.pattern.track("arp")
        assert "page 2/2" in app.grid.render().plain
        assert arp.steps[16:24] == arp.steps[0:8] and not any(s.on for s in arp.steps[24:])
        await pilot.press("u")
        await pilot.pause()
        assert not any(s.on for s in session.pattern.track("arp").steps[16:])


async def test_a_copied_track_pastes_over_one_of_another_slot_the_clipboard_outliving_the_load(
        patterns_dir: Path) -> None:
    other = Pattern(name="other", tracks=[Track("pad", "voice7", parse_steps("x" * 8))])
    SlotStore(patterns_dir).save(2, patternfile.pattern_to_dict(other))
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "down", "C")         # bass, 16 steps with notes and a slide
        await pilot.pause()
        bass = marks(session.pattern.track("bass"))
        await pilot.press("g")                         # go to A02 and load it now
        await typed(pilot, "A02")
        await pilot.press("L")
        await settle(pilot)
        assert session.pattern.name == "other"
        assert "clipboard: track “bass” (16 steps)" in app.grid.render().plain
        entries = len(session.history)
        await pilot.press("p")
        await pilot.pause()
        pad = session.pattern.track("pad")
        assert (marks(pad), pad.voice, pad.length) == (bass, "voice7", 16)   # name, voice stay
        assert len(session.history) == entries + 1     # clear, length and steps: one entry
        await pilot.press("u")
        await pilot.pause()
        assert marks(session.pattern.track("pad")) == " ".join(["x"] * 8)


async def test_W_copies_the_whole_pattern_and_p_puts_it_over_the_live_one(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    notes = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")                        # nothing copied yet
        await pilot.pause()
        assert notes[-1][1] == "warning" and notes[-1][0].startswith("nothing copied yet")
        before = session.snapshot()
        await pilot.press("W", "ctrl+n")
        await pilot.pause()
        assert "clipboard: pattern “test beat” (4 tracks)" in app.grid.render().plain
        await pilot.press("p")
        await pilot.pause()
        assert session.snapshot() == before
        await pilot.press("u")
        await pilot.pause()
        assert session.pattern.tracks == []


def test_the_help_screen_lists_the_track_and_clipboard_keys() -> None:
    console = Console(file=io.StringIO(), width=100)
    console.print(actions_table())
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    for keys, title in (("t", "Add a track (name, then voice)"), ("D", "Remove track (u undoes)"),
                        ("C", "Copy track"), ("shift+→", "Mark and extend right"),
                        ("ctrl+n", "New empty pattern (keeps tempo)"),
                        ("p", "Paste at the cursor (a pattern: replaces it)")):
        assert any(line.split()[:1] == [keys] and title in line for line in shown.splitlines()), title


TRACK_EDITS: dict[str, Callable[[Session], object]] = {
    "rename": lambda s: s.rename_track("hat", "hats", source="ui"),
    "voice": lambda s: s.set_voice("bass", "voice8", source="ui"),
    "duplicate": lambda s: s.duplicate_track("kick", source="ui"),
    "clear": lambda s: s.clear_track("bass", source="ui"),
    "paste": lambda s: s.paste_steps("stab", 10, [Step(True, True, 50, True)] * 4, source="ui"),
}


@pytest.mark.parametrize("edit", TRACK_EDITS)
def test_each_track_edit_is_one_entry_that_undoes_redoes_and_replays_from_the_journal(
        patterns_dir: Path, edit: str) -> None:
    session = Session(SlotStore(patterns_dir), pattern=fixed_pattern())
    journal = JournalRecorder(session)
    before = session.snapshot()
    TRACK_EDITS[edit](session)
    after = session.snapshot()
    assert after != before and len(session.history) == 1 and len(journal.records) == 1
    assert journal.recover(session.store).snapshot() == after    # a crash now loses nothing
    session.undo(source="ui")
    assert session.snapshot() == before
    session.redo(source="ui")
    assert session.snapshot() == after
    assert journal.recover(session.store).snapshot() == after


@pytest.mark.parametrize(("edit", "message"), [
    (lambda s: s.rename_track("hat", "kick"), "there is already a track named 'kick'"),
    (lambda s: s.rename_track("hat", ""), "track name"),
    (lambda s: s.rename_track("nope", "x"), "no track named 'nope'"),
    (lambda s: s.set_voice("bass", "voice9"), "is not a voice"),
    (lambda s: s.duplicate_track("nope"), "no track named 'nope'"),
    (lambda s: s.clear_track("nope"), "no track named 'nope'"),
    (lambda s: s.paste_steps("stab", 12, [Step(True)]), "step 12 is outside track 'stab'"),
])
def test_bad_track_edits_are_refused_and_change_nothing(
        patterns_dir: Path, edit: Callable[[Session], object], message: str) -> None:
    session = Session(SlotStore(patterns_dir), pattern=fixed_pattern())
    before = json.dumps(session.snapshot())
    with pytest.raises(SessionError, match=message):
        edit(session)
    assert json.dumps(session.snapshot()) == before and len(session.history) == 0


def test_a_duplicate_takes_the_next_free_number_and_fits_32_characters(patterns_dir: Path) -> None:
    long = "n" * 32
    pattern = Pattern(tracks=[Track(long, "voice1", parse_steps("x")),
                              Track("bass 2", "voice2", parse_steps("x"))])
    session = Session(SlotStore(patterns_dir), pattern=pattern)
    assert session.duplicate_track(long).name == "n" * 30 + " 2"
    assert session.duplicate_track("bass 2").name == "bass 3"
    assert session.duplicate_track("bass 2").name == "bass 4"
    assert names(session) == [long, "n" * 30 + " 2", "bass 2", "bass 4", "bass 3"]
