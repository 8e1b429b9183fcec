"""Expressive steps at the keyboard: the step detail panel (probability, condition, micro-timing,
ratchets and locks, each key one Session edit and one undo), fill mode on the transport line,
the grid's mark; a snapshot of the panel and hostile patterns (the real `chronus` in tmux
edits a probability in test_ui_tmux.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from support.fakes import FakeEngine
from support.ui import (
    fixed_pattern,
    make_app,
    palette,
    paste_value,
    screen_text,
    spy_notifications,
    type_value,
)
from textual.pilot import Pilot

from chronus_tui import patternfile
from chronus_tui.model import (
    CONDITION_NAMES,
    MAX_LOCKS,
    Pattern,
    Step,
    Track,
    lock_spec,
    lockable_params,
    parse_steps,
    step_value,
)
from chronus_tui.store import SlotStore
from chronus_tui.ui.app import ChronusApp
from chronus_tui.ui.screens.choice import ChoiceScreen
from chronus_tui.ui.screens.prompt import PromptScreen
from chronus_tui.ui.widgets.grid import EXPRESSIVE_MARK
from chronus_tui.ui.widgets.stepdetail import CONDITIONS, MAX_VALUE, cycle_condition, lock_value_text

SIZE = (120, 40)
BASS_STEP_4 = ("down", "down", "right", "right", "right")  # the grid's cursor to bass, step 4


def bass_step(app: ChronusApp, index: int = 3) -> Step:
    return app.session.pattern.track("bass").steps[index]


async def open_detail(pilot: Pilot, *cursor: str) -> None:
    """The grid's cursor moved by `cursor`, then the step detail opened (it takes the focus)."""
    await pilot.press(*cursor, "i")
    await pilot.pause()


def detail_lines(app: ChronusApp) -> list[str]:
    """The step detail's rows on screen (right of the slot browser), under its border title."""
    lines = screen_text(app).splitlines()
    top = next(index for index, line in enumerate(lines) if "─ Step " in line)
    return [line[36:].strip("│ ") for line in lines[top + 1:] if "╰" not in line[36:]]


def grid_row(app: ChronusApp, name: str) -> str:
    return next(line for line in screen_text(app).splitlines() if f"│ {name} " in line and "··" in line)


# -- the panel ------------------------------------------------------------------------------------


async def test_i_opens_the_detail_of_the_cursors_step_and_closes_it(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, *BASS_STEP_4)
        assert app.detail.display and app.detail.has_focus and not app.params.display
        lines = detail_lines(app)
        assert "─ Step 4/16 · bass (voice2) ─" in screen_text(app)
        assert lines[:5] == ["on · accent · C3 · slide", "probability            100 % · seed 0",
                             "condition              always", "micro                  0",
                             "ratchet                1 (no ratchet)"], lines
        # It follows the grid's cursor: the pattern focused, a step right.
        app.grid.focus()
        await pilot.press("right")
        await pilot.pause()
        assert "─ Step 5/16 · bass (voice2) ─" in screen_text(app)
        assert detail_lines(app)[0] == "rest · voice freq"
        session.set_step_options("bass", 4, {"prob": 25, "cond": "PRE"}, source="osc")  # from elsewhere
        await pilot.pause()
        assert detail_lines(app)[1:3] == ["probability            25 % · seed 0",
                                          "condition              PRE"]
        await pilot.press("i", "i")                 # focus it, then close it: the Sound panel again
        await pilot.pause()
        assert not app.detail.display and app.params.display and app.grid.has_focus


async def test_probability_fine_and_coarse_each_one_undo(patterns_dir: Path) -> None:
    app, _ = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, *BASS_STEP_4)
        await pilot.press("left")
        assert bass_step(app).prob == 99
        await pilot.press("shift+left")
        assert bass_step(app).prob == 89
        await pilot.pause()
        assert "probability            89 % · seed 0" in detail_lines(app)
        assert "89 %" in screen_text(app).split("bass (voice2) · step 4/16")[1]  # the grid's step line
        for _ in range(10):
            await pilot.press("shift+left")
        assert bass_step(app).prob == 0             # kept in range
        await pilot.press("u")
        assert bass_step(app).prob == 9
        for _ in range(10):
            await pilot.press("u")
        assert bass_step(app).prob == 100           # every key was one undo
        assert bass_step(app) == Step(on=True, accent=True, note=48, slide=True)


def test_the_conditions_cycle_in_the_musicians_order() -> None:
    assert CONDITIONS[:4] == (None, "1:2", "2:2", "1:3") and CONDITIONS[35] == "8:8"
    assert CONDITIONS[36:] == ("FILL", "!FILL", "PRE", "!PRE", "NEI", "!NEI", "1ST", "!1ST")
    assert set(CONDITIONS[36:]) == set(CONDITION_NAMES)
    assert cycle_condition("!1ST", 1) is None and cycle_condition(None, -1) == "!1ST"
    assert cycle_condition("1:1", 1) == "1:2"        # a file's 1:1 (always) goes on from always


async def test_condition_cycles_both_ways(patterns_dir: Path) -> None:
    app, _ = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, *BASS_STEP_4)
        await pilot.press("down", "right", "right", "right")
        assert bass_step(app).cond == "1:3"
        await pilot.press("left", "left", "left", "left")
        assert bass_step(app).cond == "!1ST"
        await pilot.pause()
        assert "condition              !1ST" in detail_lines(app)
        await pilot.press("left")
        assert bass_step(app).cond == "1ST"
        await pilot.press("z")              # the field's default: always
        assert bass_step(app).cond is None
        await pilot.press("u")
        assert bass_step(app).cond == "1ST"


async def test_micro_and_ratchet_keys(patterns_dir: Path) -> None:
    app, _ = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, *BASS_STEP_4)
        await pilot.press("down", "down", "right", "shift+right")
        assert bass_step(app).micro == 7
        await pilot.pause()
        assert "micro                  +7/24" in detail_lines(app)
        for _ in range(6):
            await pilot.press("shift+left")
        assert bass_step(app).micro == -23          # −29/24 kept to the range
        await pilot.pause()
        assert "micro                  −23/24" in detail_lines(app)
        await pilot.press("down", "right")
        assert bass_step(app).ratchet == 2
        await pilot.press("shift+right", "shift+right", "shift+right")
        assert bass_step(app).ratchet == 8          # ×2 a coarse step, up to 8
        await pilot.press("shift+left", "left")
        assert bass_step(app).ratchet == 3
        await pilot.pause()
        assert "ratchet                3 hits" in detail_lines(app)
        await pilot.press("u", "u")
        assert bass_step(app).ratchet == 8


async def test_a_lock_added_starts_at_the_voices_value_steps_and_goes(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    voice_freq = session.pattern.modules["voice2"]["filter/freq"]
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, *BASS_STEP_4)
        await pilot.press("n")
        await pilot.pause()
        choice = app.screen
        assert isinstance(choice, ChoiceScreen) and choice.options == lockable_params("voice2")
        await pilot.press("down", "enter")          # amp, filter/freq: the second
        await pilot.pause()
        assert bass_step(app).locks == {"filter/freq": voice_freq}
        assert app.detail.current().lock == "filter/freq"   # the cursor on the new lock
        await pilot.press("right")
        up = step_value(lock_spec("voice2", "filter/freq"), voice_freq, 1)
        assert bass_step(app).locks == {"filter/freq": up}
        await pilot.press("n")
        await pilot.pause()
        assert "filter/freq" not in app.screen.options    # a locked parameter is not offered again
        await pilot.press("end", "enter")                  # the last: acid1/accent_decay
        await pilot.pause()
        acid = session.pattern.modules["acid1"]["accent_decay"]
        assert bass_step(app).locks == {"filter/freq": up, "acid1/accent_decay": acid}
        lines = detail_lines(app)
        assert "locks 2/16" in lines and f"acid1/accent_decay     {acid:g} s" in lines, lines
        await pilot.press("z")
        assert bass_step(app).locks == {"filter/freq": up}
        await pilot.press("u")
        assert bass_step(app).locks == {"filter/freq": up, "acid1/accent_decay": acid}
        await pilot.press("u", "u", "u")
        assert bass_step(app).locks == {}
        await pilot.pause()
        assert any("locks: none (n locks a parameter on this step)" in line for line in detail_lines(app))


async def test_equals_types_the_selected_field_and_bad_text_changes_nothing(patterns_dir: Path) -> None:
    app, _ = make_app(patterns_dir, engine=FakeEngine())
    seen = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, *BASS_STEP_4)
        await type_value(pilot, "37")
        await pilot.press("down")
        await type_value(pilot, "!fill")
        await pilot.press("down")
        await type_value(pilot, "-12")
        await pilot.press("down")
        await type_value(pilot, "5")
        step = bass_step(app)
        assert (step.prob, step.cond, step.micro, step.ratchet) == (37, "!FILL", -12, 5)
        await pilot.press("n")
        await pilot.pause()
        await pilot.press("down", "enter")          # filter/freq
        await pilot.pause()
        await type_value(pilot, "Eb4")
        assert bass_step(app).locks == {"filter/freq": pytest.approx(311.13, abs=0.01)}
        before = bass_step(app)
        for bad in ("9000", "banana", "[b]x", "nan"):  # the lock: out of range, no number
            await type_value(pilot, bad)
            assert seen[-1][1] == "error" and seen[-1][0].startswith("filter/freq: "), seen[-1]
        await pilot.press("up", "up", "up", "up")    # probability
        for bad in ("101", "50.5", "-1", "1e999"):
            await type_value(pilot, bad)
            assert seen[-1][1] == "error", bad
        await pilot.press("down")                    # condition
        # (ﬁll and 1ſt upper-case to FILL and 1ST: not ASCII, so not names)
        for bad in ("9:8", "2:1", "sometimes", "[/x]" * 20, "\ufb01ll", "1\u017ft"):
            await type_value(pilot, bad)
            assert seen[-1][1] == "error", bad
        assert bass_step(app) == before and app.is_running
        await pilot.press("equals_sign", "enter")   # an empty condition: always
        await pilot.pause()
        assert bass_step(app).cond is None
        await pilot.press("u")
        assert bass_step(app).cond == "!FILL"


async def test_micro_is_typed_as_the_panel_shows_it(patterns_dir: Path) -> None:
    """The panel and the step line write micro-timing as −5/24; typed back so (or bare), it is
    taken; anything else is refused by name and changes nothing."""
    app, _ = make_app(patterns_dir, engine=FakeEngine())
    seen = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, *BASS_STEP_4)
        await pilot.press("down", "down")           # micro
        for typed, micro in (("−5/24", -5), ("+3/24", 3), ("-7/24", -7), ("−2", -2), ("4", 4)):
            await paste_value(pilot, typed)
            assert bass_step(app).micro == micro, (typed, seen[-1:])
        for bad in ("−5/12", "24/24", "5/24/24", "/24", "−"):
            await paste_value(pilot, bad)
            assert seen[-1][1] == "error" and seen[-1][0].startswith("micro: "), (bad, seen[-1])
        assert bass_step(app).micro == 4 and app.is_running


async def test_the_seed_is_shown_and_typed_with_its_key_or_the_seed_word(patterns_dir: Path) -> None:
    """The seed (a pattern's, not a step's) beside the probability it rolls; # or `= seed N`
    sets it, one undo each; bad text changes nothing; a seed from OSC shows at once."""
    app, session = make_app(patterns_dir, engine=FakeEngine())
    seen = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, *BASS_STEP_4)
        assert "# seed" in screen_text(app)         # the panel's key line names the key
        await pilot.press("number_sign")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen) and "a whole number in 0–2147483647" in screen_text(app)
        await pilot.press(*"4242", "enter")
        await pilot.pause()
        assert session.pattern.seed == 4242
        assert "probability            100 % · seed 4242" in detail_lines(app)
        await type_value(pilot, "seed 7")           # the typed-entry word, whatever is selected
        assert session.pattern.seed == 7 and bass_step(app).prob == 100
        for bad in ("-1", "2147483648", "7.5", "lucky", "[/x]"):
            await pilot.press("number_sign")
            await pilot.pause()
            await pilot.press(*bad, "enter")
            await pilot.pause()
            assert seen[-1][1] == "error" and seen[-1][0].startswith("seed: "), (bad, seen[-1])
        assert session.pattern.seed == 7 and app.is_running
        await pilot.press("u")
        assert session.pattern.seed == 4242
        await pilot.pause()
        assert "probability            100 % · seed 4242" in detail_lines(app)
        session.set_seed(99, source="osc")
        await pilot.pause()
        assert "probability            100 % · seed 99" in detail_lines(app)


async def test_a_detail_key_from_the_palette_opens_the_panel_it_edits(patterns_dir: Path) -> None:
    app, _ = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*BASS_STEP_4)
        assert not app.detail.display
        await palette(pilot, "Step detail: Value down (fine)")
        assert bass_step(app).prob == 99 and app.detail.display and app.detail.has_focus
        assert "probability            99 % · seed 0" in detail_lines(app)
        await pilot.press("i")                      # closed again, the pattern focused
        await pilot.pause()
        await palette(pilot, "Step detail: Next field")
        assert app.detail.display and app.detail.current().field == "cond"


async def test_the_grid_marks_an_expressive_step(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert EXPRESSIVE_MARK not in grid_row(app, "bass")
        session.set_step_options("hat", 2, {"ratchet": 2}, source="osc")   # from OSC, off the cursor
        await pilot.pause()
        row = grid_row(app, "hat")
        assert row.split("hat")[1].split()[1:4] == ["·", "·", f"x{EXPRESSIVE_MARK}"], row
        session.set_step_options("hat", 2, {"ratchet": 1}, source="osc")
        await pilot.pause()
        assert EXPRESSIVE_MARK not in grid_row(app, "hat")


async def test_a_full_wide_cell_keeps_its_slide_mark_beside_the_expressive_one(patterns_dir: Path) -> None:
    """A wide cell full with a four-letter note (C#-1) and a slide gives up a letter of the
    note to the expressive mark, not the slide's ~."""
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=(200, 50)) as pilot:
        session.set_step("hat", 2, True, note=1, slide=True, source="osc")
        session.set_step_options("hat", 2, {"ratchet": 2}, source="osc")
        await pilot.pause()
        row = grid_row(app, "hat")
        assert f"C#-~{EXPRESSIVE_MARK}" in row, row


# -- fill ----------------------------------------------------------------------------------------


async def test_f_toggles_fill_and_the_transport_line_shows_it_from_osc_too(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "FILL" not in screen_text(app).splitlines()[0]
        await pilot.press("f")
        await pilot.pause()
        assert session.fill and "FILL" in screen_text(app).splitlines()[0]
        await pilot.press("f")
        await pilot.pause()
        assert not session.fill and "FILL" not in screen_text(app).splitlines()[0]
        osc = threading.Thread(target=session.set_fill, args=(True,), kwargs={"source": "osc"})
        osc.start()
        osc.join()
        await pilot.pause()
        await pilot.pause()
        assert "FILL" in screen_text(app).splitlines()[0]


# -- hostile and wrong input -------------------------------------------------------------------


def test_a_lock_value_is_shown_cut_or_as_it_is_never_an_error() -> None:
    assert lock_value_text("voice2", "filter/freq", 880.0) == "A5 880 Hz"
    assert lock_value_text("voice2", "acid1/res", 0.8) == "0.8"
    huge = lock_value_text("voice1", "amp", 10.0 ** 300)
    assert len(huge) == MAX_VALUE and huge.endswith("…")
    assert lock_value_text("voice1", "filter/freq", float("nan")) == "nan"
    assert lock_value_text("voice1", "acid1/res", 0.5) == "0.5 (not a lock of voice1)"
    assert lock_value_text("voice1", "[bold]\x1b", "x") == "'x' (not a lock of voice1)"


async def test_sixteen_locks_from_a_file_render_and_scroll_in_a_small_terminal(patterns_dir: Path) -> None:
    keys = lockable_params("voice2")[:MAX_LOCKS]
    step = Step(on=True, prob=7, cond="!NEI", micro=-23, ratchet=8,
                locks={key: lock_spec("voice2", key).high for key in keys})
    bass = Track("bass", "voice2", [step, *parse_steps("x" * 15)])
    SlotStore(patterns_dir).save(1, patternfile.pattern_to_dict(Pattern(name="locked", tracks=[bass])))
    app, session = make_app(patterns_dir, engine=FakeEngine())
    session.load_slot(1, "now")
    seen = spy_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot)
        assert len(bass_step(app, 0).locks) == MAX_LOCKS
        for _ in range(4 + MAX_LOCKS):              # down past the last lock: it stays in view
            await pilot.press("down")
        await pilot.pause()
        assert app.detail.current().lock == keys[-1]
        assert any(line.startswith(keys[-1]) for line in detail_lines(app)), detail_lines(app)
        await pilot.press("shift+right")             # at the top of its range: stays, no error
        assert bass_step(app, 0).locks[keys[-1]] == lock_spec("voice2", keys[-1]).high
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceScreen)  # 22 lockable, 16 locked: six offered
        assert len(app.screen.options) == len(lockable_params("voice2")) - MAX_LOCKS
        await pilot.press("enter")                   # a 17th: refused by the Session, as a toast
        await pilot.pause()
        assert len(bass_step(app, 0).locks) == MAX_LOCKS and app.is_running
        assert seen[-1][1] == "error" and f"at most {MAX_LOCKS}" in seen[-1][0], seen


async def test_a_lock_the_voice_cannot_take_is_shown_and_refused_without_a_crash(patterns_dir: Path) -> None:
    """A pattern built in code (as a future file might hold) with locks no voice1 has,
    markup-like names and values no range holds: drawn literally, cut, and a key on them is a
    toast, never a crash."""
    pattern = fixed_pattern()
    kick = pattern.track("kick")
    kick.name = "[/x]kick"                           # the panel's border title is no markup either
    kick.steps[0] = Step(on=True, cond="[/x]\x1b[2J", locks={
        "acid1/cutoff": 900.0, "[bold]" * 20: 1.0, "amp": 10 ** 400, "pan": float("inf")})
    app, _ = make_app(patterns_dir, engine=FakeEngine(), pattern=pattern)
    seen = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot)
        assert "─ Step 1/16 · [/x]kick (voice1) ─" in screen_text(app)
        lines = detail_lines(app)
        assert "condition              [/x]␛[2J" in lines, lines
        assert "acid1/cutoff           900.0 (not a lock of voice1)" in lines, lines
        assert any(line.startswith("[bold][bold]") and "…" in line for line in lines), lines
        assert any(line.startswith("amp") and line.endswith("…") for line in lines), lines
        before = dict(kick.steps[0].locks)
        await pilot.press("down", "down", "down", "down", "right")   # on acid1/cutoff
        await pilot.pause()
        assert kick.steps[0].locks == before and app.is_running
        assert seen and seen[-1][1] == "error" and "not a lockable parameter of voice1" in seen[-1][0]
        seen.clear()
        await pilot.press("equals_sign")             # nothing to type for it either: said, no prompt
        await pilot.pause()
        assert not isinstance(app.screen, PromptScreen) and "not a lockable parameter" in seen[-1][0]


# -- the screen ---------------------------------------------------------------------------------


def test_detail_panel_snapshot(snap_compare, patterns_dir: Path) -> None:
    """The panel open on bass step 4 with a probability, a condition, micro-timing, ratchets
    and two locks; the grid marks that step and a ratcheted hat."""
    pattern = fixed_pattern()
    bass = pattern.track("bass")
    bass.steps[3] = Step(on=True, accent=True, note=48, slide=True, prob=60, cond="3:4", micro=-5,
                         ratchet=3, locks={"filter/freq": 440.0, "acid1/res": 0.85})
    pattern.track("hat").steps[2].ratchet = 2
    app, _ = make_app(patterns_dir, engine=FakeEngine(), pattern=pattern)
    assert snap_compare(app, terminal_size=SIZE, press=[*BASS_STEP_4, "i", "down", "down"])
