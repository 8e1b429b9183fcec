"""Musical values: pitches step by semitone and octave and show their note, times and rates
step by ratio, `=` types any value, and notes can be shown with flats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.fakes import FakeEngine
from support.ui import make_app, palette, spy_notifications, type_value
from textual.pilot import Pilot

from chronus_tui.model import LOG, PITCH, param_spec, step_value
from chronus_tui.ui.app import ChronusApp
from chronus_tui.ui.screens.prompt import PromptScreen
from chronus_tui.ui.widgets.params import TRACK

SIZE = (120, 40)
SEMITONE = 2 ** (1 / 12)


# -- step_value: the stepping rule itself ---------------------------------------------------


def test_one_fine_step_from_69_8_hz_is_the_next_semitone_never_the_bottom_of_the_range() -> None:
    freq = param_spec("voice1", "freq")  # 20–5000 Hz: 1 % of it was 49.8 Hz a step
    assert freq.scale == PITCH
    assert step_value(freq, 69.8, 1) == pytest.approx(73.95, abs=0.01)
    assert step_value(freq, 69.8, -1) == pytest.approx(65.88, abs=0.01)
    assert step_value(freq, 69.8, 1, coarse=True) == pytest.approx(139.6)
    assert step_value(freq, 69.8, -1, coarse=True) == pytest.approx(34.9)
    # Held at the ends of the range.
    assert step_value(freq, 20.5, -1) == 20.0
    assert step_value(freq, 4900.0, 1, coarse=True) == 5000.0


@pytest.mark.parametrize(("module", "param"), [("voice1", "adsr/attack"), ("voice1", "adsr/release"),
                                               ("acid1", "decay"), ("lfo1", "rate"), ("delay1", "time")])
def test_times_and_rates_step_by_a_ratio(module: str, param: str) -> None:
    spec = param_spec(module, param)
    assert spec.scale == LOG
    value = spec.default
    assert step_value(spec, value, 1) == pytest.approx(value * 1.1, rel=1e-4)
    assert step_value(spec, value, -1) == pytest.approx(value / 1.1, rel=1e-4)
    assert step_value(spec, value, 1, coarse=True) == pytest.approx(min(value * 2, spec.high), rel=1e-4)
    assert step_value(spec, value, -1, coarse=True) == pytest.approx(max(value / 2, spec.low), rel=1e-4)


def test_a_time_whose_range_starts_at_zero_steps_up_from_zero_and_back_down_to_it() -> None:
    decay = param_spec("voice1", "adsr/decay")  # 0–2 s
    assert step_value(decay, 0.0, -1) == 0.0
    first = step_value(decay, 0.0, 1)
    assert first == pytest.approx(0.002)
    assert step_value(decay, first, 1) == pytest.approx(0.0022)
    assert step_value(decay, first, -1) == 0.0


def test_linear_and_whole_number_parameters_step_as_before() -> None:
    amp, wave = param_spec("voice1", "amp"), param_spec("voice1", "osc/type")
    assert step_value(amp, 0.3, 1) == pytest.approx(0.31)
    assert step_value(amp, 0.3, -1, coarse=True) == pytest.approx(0.2)
    assert step_value(amp, 0.05, -1, coarse=True) == 0.0
    assert (step_value(wave, 0, 1), step_value(wave, 0, -1), step_value(wave, 5, 1, coarse=True)) == (1, 0, 5)
    with pytest.raises(ValueError, match="not 1 or -1"):
        step_value(amp, 0.3, 0)


# -- the Sound panel's keys ----------------------------------------------------------------


async def focus_params_row(pilot: Pilot, app: ChronusApp, module: str, param: str) -> None:
    """Focus the Sound panel (grid → bank strip → slots → params) and walk down to the row."""
    await pilot.press("tab", "tab", "tab")
    assert app.focused is app.params
    for _ in app.params.rows():
        row = app.params.current()
        if (row.module, row.spec.name) == (module, param):
            return
        await pilot.press("down")
    raise AssertionError(f"no row {module} {param}")


def panel_text(app: ChronusApp) -> str:
    return app.params.render().plain


async def test_arrow_keys_step_a_frequency_by_semitone_and_octave(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    session.history.coalesce_after = 3600.0  # a loaded machine may pause longer than a person between presses
    async with app.run_test(size=SIZE) as pilot:
        session.set_param("voice1", "freq", 69.8)
        await focus_params_row(pilot, app, "voice1", "freq")
        await pilot.pause()
        assert "C#2 69.8 Hz" in panel_text(app)
        freq = lambda: session.pattern.modules["voice1"]["freq"]  # noqa: E731
        await pilot.press("right")
        assert freq() == pytest.approx(69.8 * SEMITONE, abs=1e-4)
        await pilot.press("left")
        assert freq() == pytest.approx(69.8, abs=1e-4)
        await pilot.press("left")
        assert freq() == pytest.approx(69.8 / SEMITONE, abs=1e-4)
        await pilot.press("shift+right")
        assert freq() == pytest.approx(2 * 69.8 / SEMITONE, abs=1e-3)
        await pilot.press("shift+left", "shift+left")
        assert freq() == pytest.approx(69.8 / SEMITONE / 2, abs=1e-3)
        await pilot.pause()
        assert "C1 32.9 Hz" in panel_text(app)
        await pilot.press("u")  # the run of presses on one parameter is one undo
        assert freq() == 69.8


async def test_arrow_keys_step_attack_decay_and_lfo_rate_by_a_ratio(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        await focus_params_row(pilot, app, "voice1", "adsr/attack")
        await pilot.press("right")
        assert session.pattern.modules["voice1"]["adsr/attack"] == pytest.approx(0.011)
        await pilot.press("down", "shift+right")
        assert session.pattern.modules["voice1"]["adsr/decay"] == pytest.approx(0.2)
        while app.params.current().module != "lfo1":
            await pilot.press("down")
        await pilot.press("shift+left", "left")
        assert session.pattern.modules["lfo1"]["rate"] == pytest.approx(0.125 / 1.1, rel=1e-4)


async def test_the_palette_shows_notes_with_flats_or_sharps(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        session.set_param("voice1", "freq", 77.78)
        await pilot.pause()
        assert "D#2 77.8 Hz" in panel_text(app)
        await palette(pilot, "flats / sharps")
        assert "Eb2 77.8 Hz" in panel_text(app)
        await palette(pilot, "flats / sharps")
        assert "D#2 77.8 Hz" in panel_text(app)


# -- `=`: typed entry ------------------------------------------------------------------------


async def test_typing_a_parameter_takes_a_number_a_unit_or_a_note_name(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        await focus_params_row(pilot, app, "voice1", "freq")
        await type_value(pilot, "Eb2")
        assert session.pattern.modules["voice1"]["freq"] == pytest.approx(77.78, abs=0.01)
        await type_value(pilot, "110 Hz")
        assert session.pattern.modules["voice1"]["freq"] == 110.0
        await pilot.press("u")
        assert session.pattern.modules["voice1"]["freq"] == pytest.approx(77.78, abs=0.01)
        await pilot.press("up")                       # osc/type: a waveform name or its number
        await type_value(pilot, "square")
        assert session.pattern.modules["voice1"]["osc/type"] == 2
        await pilot.press("up", "up")                 # the track's level
        assert (app.params.current().module, app.params.current().spec.name) == (TRACK, "level")
        await type_value(pilot, "0.25")
        assert session.pattern.track("kick").level == 0.25


@pytest.mark.parametrize("text", ["banana", "9000", "nan", "inf", "Eb", "H2", "110 s", "1e999", "[b]x"])
async def test_bad_typed_text_is_refused_and_changes_nothing(patterns_dir: Path, text: str) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        notes = spy_notifications(app)
        await focus_params_row(pilot, app, "voice1", "freq")
        before = session.snapshot()
        await type_value(pilot, text)
        assert session.snapshot() == before
        assert notes[-1][1] == "error" and notes[-1][0].startswith("freq: ")
        assert not isinstance(app.screen, PromptScreen)


async def test_typing_the_tempo_a_track_length_and_a_step_note(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        notes = spy_notifications(app)
        await type_value(pilot, "length 32")          # the grid has the focus: the kick track
        assert session.pattern.track("kick").length == 32
        await type_value(pilot, "Eb2")                # a bare value on the grid: the step's note
        assert session.pattern.track("kick").steps[0].note == 39
        await type_value(pilot, "note 60")
        assert session.pattern.track("kick").steps[0].note == 60
        await type_value(pilot, "bpm 133.5")
        assert session.pattern.bpm == 133.5
        await type_value(pilot, "swing 0.2")
        assert session.pattern.swing == 0.2
        await pilot.press("tab", "tab")               # the slots panel: a bare number is the tempo
        await type_value(pilot, "120")
        assert session.pattern.bpm == 120.0
        before = session.snapshot()
        for bad in ("length 0", "length 3.5", "length many", "bpm 900", "note X9", "swing -1", "note 1e999"):
            await type_value(pilot, bad)
            assert notes[-1][1] == "error", bad
        assert session.snapshot() == before
        await pilot.press("equals_sign", "escape")  # Escape: nothing changes
        await pilot.pause()
        assert session.snapshot() == before and not isinstance(app.screen, PromptScreen)


# -- note names everywhere: flats, cents, the saved setting -----------------------------------


def grid_text(app: ChronusApp) -> str:
    return app.grid.render().plain


async def test_flats_name_every_note_on_screen_the_grid_its_info_line_the_panel_and_the_prompt(
        patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        session.set_param("voice2", "freq", 77.78)
        await pilot.press("down", "down", *["right"] * 6)  # bass step 7: D#2
        await pilot.pause()
        assert "xD#2" in grid_text(app) and "· D#2 ·" in grid_text(app)
        assert "D#2 77.8 Hz" in panel_text(app)
        await palette(pilot, "flats / sharps")
        grid = grid_text(app)
        assert "xEb2" in grid and "· Eb2 ·" in grid and "#" not in grid
        assert "Eb2 77.8 Hz" in panel_text(app)
        await pilot.press("equals_sign")
        assert isinstance(app.screen, PromptScreen)
        assert app.screen.query_one("Input").placeholder == "Eb2"
        await pilot.press("escape")
        await palette(pilot, "flats / sharps")
        assert "· D#2 ·" in grid_text(app) and "D#2 77.8 Hz" in panel_text(app)


async def test_a_detuned_step_shows_its_cents_on_the_info_line_and_a_mark_in_its_cell(
        patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        session.set_step("kick", 0, note=(60, 3.47))   # 262.15 Hz: C4 +3.47 cents
        session.set_step("kick", 4, note=(63, -12.5))
        session.set_step("kick", 8, note=(62, 0.0))
        await pilot.pause()
        kick = next(line for line in grid_text(app).splitlines() if line.startswith("kick"))
        assert "XC4⁺" in kick and "xD#4⁻" in kick and "XD4 " in kick
        assert "· C4 +3.47¢ ·" in grid_text(app)
        await pilot.press(*["right"] * 4)
        await pilot.pause()
        assert "· D#4 -12.5¢ ·" in grid_text(app)
        await palette(pilot, "flats / sharps")
        assert "· Eb4 -12.5¢ ·" in grid_text(app) and "xEb4⁻" in grid_text(app)
        await pilot.press(*["right"] * 4)
        await pilot.pause()
        assert "· D4 ·" in grid_text(app)  # on the semitone: no cents


async def test_the_flats_setting_is_kept_for_the_next_run(patterns_dir: Path) -> None:
    app, _ = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        await palette(pilot, "flats / sharps")
    settings = app.config / "settings.json"
    assert json.loads(settings.read_text()) == {"flats": True, "quantize": "bar"}
    again, _ = make_app(patterns_dir, engine=FakeEngine())
    async with again.run_test(size=SIZE) as pilot:
        await pilot.press("down", "down", *["right"] * 6)
        await pilot.pause()
        assert "· Eb2 ·" in grid_text(again)
        await palette(pilot, "flats / sharps")
    assert json.loads(settings.read_text()) == {"flats": False, "quantize": "bar"}


async def test_a_config_folder_that_cannot_be_written_keeps_the_toggle_for_the_run_and_says_so_once(
        patterns_dir: Path, tmp_path: Path) -> None:
    app, _ = make_app(patterns_dir, engine=FakeEngine())
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the config folder's parent should be")
    app.config = blocker / "chronus"  # mkdir fails (ENOTDIR), as a read-only folder would
    async with app.run_test(size=SIZE) as pilot:
        notes = spy_notifications(app)
        await palette(pilot, "flats / sharps")
        await palette(pilot, "flats / sharps")
        await palette(pilot, "flats / sharps")
        assert app.preferences.flats and "Eb" in panel_text(app) + grid_text(app)
        warnings = [message for message, severity in notes if severity == "warning"]
        assert len(warnings) == 1 and "settings not saved in" in warnings[0]
        assert warnings[0].startswith("notes shown with flats (Eb) for this run")
        assert [m for m, s in notes if s == "information"] == [
            "notes shown with sharps (D#) for this run", "notes shown with flats (Eb) for this run"]
    assert blocker.read_text() == "a file where the config folder's parent should be"
