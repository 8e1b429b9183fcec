"""Hz notes keep their pitch: a step's fine tune in cents, from a frequency to the file, the
journal, the OSC routes and the sound; notes typed by key or name stay on the semitone grid."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
from support.fakes import FakeEngine
from support.osc import OscClient, osc_fixture  # noqa: F401
from support.patterns import LEGACY_DIR
from support.render import SR, click_modules, period_frequencies, render_array
from support.ui import make_app

from chronus_tui import history, patternfile
from chronus_tui.model import (
    Pattern,
    PatternError,
    Step,
    Track,
    check_cents,
    hz_to_pitch,
    midi_to_hz,
    parse_note,
    parse_pitch,
    parse_steps,
)
from chronus_tui.session import Session, SessionError

C4_HZ = midi_to_hz(60)  # 261.63 Hz: where 262.15 Hz landed when notes were rounded to semitones
HOSTILE_CENTS = [math.nan, math.inf, 1e9, -50.5, True, "3", None, [3]]


def sounding(pitch: tuple[int, float]) -> float:
    return midi_to_hz(pitch[0] + pitch[1] / 100)


# -- the model ---------------------------------------------------------------------


@pytest.mark.parametrize("hz", [262.15, 49.0, 61.7, 440.0, 8.2, 12543.0, 1000.0])
def test_a_frequency_is_its_nearest_note_and_the_cents_to_it(hz):
    note, cents = hz_to_pitch(hz)
    assert -50 <= cents <= 50 and type(cents) is float
    assert sounding((note, cents)) == pytest.approx(hz, rel=1e-5)  # cents are kept to 0.01
    assert parse_pitch(f"{hz}") == (note, cents)  # text with a point is Hz
    assert parse_note(f"{hz}") == note  # the semitone grid's reading stays what it was


def test_262_15_hz_is_c4_and_3_46_cents():
    assert parse_pitch(262.15) == (60, 3.47)
    assert parse_pitch("262.15") == (60, 3.47)


@pytest.mark.parametrize("token, pitch", [("C4", (60, 0.0)), ("F#2", (42, 0.0)), (60, (60, 0.0)),
                                          ("60", (60, 0.0)), (60.0, (60, 0.0)), (440.0, (69, 0.0))])
def test_names_and_midi_numbers_have_no_cents(token, pitch):
    assert parse_pitch(token) == pitch


def test_frequencies_past_the_midi_range_keep_the_nearest_pitch_they_can():
    assert hz_to_pitch(5.0) == (0, -50.0)
    assert hz_to_pitch(30000.0) == (127, 50.0)


@pytest.mark.parametrize("value", HOSTILE_CENTS)
def test_hostile_cents_are_refused_naming_the_field(value):
    with pytest.raises(PatternError) as caught:
        check_cents(value, "steps[1].cents")
    assert caught.value.path == "steps[1].cents"


# -- the sound ---------------------------------------------------------------------


def measured_hz(tmp_path, step: Step) -> float:
    """The pitch of a held sine on one step (zero crossings, the middle of the note)."""
    modules = click_modules(voice1={"adsr/attack": 0.005, "slide_time": 0.0})
    track = Track("tone", "voice1", [step] + [Step() for _ in range(15)], gate=0.9)
    data = patternfile.pattern_to_dict(Pattern(name="tone", bpm=60.0, tracks=[track], modules=modules))
    audio, _ = render_array(tmp_path, data, bars=1, name=f"tone{step.cents}.wav")
    return float(np.median(period_frequencies(audio[:, 0], int(0.03 * SR), int(0.2 * SR))))


def test_a_step_of_262_15_hz_sounds_at_262_15_hz(tmp_path):
    note, cents = hz_to_pitch(262.15)
    fine = measured_hz(tmp_path, Step(on=True, note=note, cents=cents))
    assert fine == pytest.approx(262.15, abs=0.5)
    assert abs(fine - C4_HZ) > 0.3  # not the semitone it used to be rounded to
    assert measured_hz(tmp_path, Step(on=True, note=note)) == pytest.approx(C4_HZ, abs=0.3)


# -- original files ----------------------------------------------------------------


def test_legacy_notes_keep_their_frequencies():
    data = json.loads((LEGACY_DIR / "slot_002.json").read_text())
    hz = data["sequencer"]["tracks"]["acid"]["notes"]
    pattern = patternfile.loads((LEGACY_DIR / "slot_002.json").read_bytes())
    hits = [s for s in pattern.track("acid").steps if s.on]
    for k, step in enumerate(hits):
        assert sounding((step.note, step.cents)) == pytest.approx(hz[k % len(hz)], rel=1e-5)
    assert any(step.cents for step in hits)  # 61.7 Hz and 73.4 Hz are not on the grid


# -- the file ----------------------------------------------------------------------


def tuned_pattern() -> Pattern:
    steps = parse_steps("x.x.x...")
    steps[0].note, steps[0].cents = hz_to_pitch(262.15)
    steps[2].note, steps[2].cents = 33, -12.5
    steps[4].note = 36
    return Pattern(name="tuned", tracks=[Track("bass", "voice2", steps)])


def test_cents_round_trip_through_the_file():
    pattern = tuned_pattern()
    text = patternfile.dumps(patternfile.pattern_to_dict(pattern))
    assert json.loads(text) == patternfile.pattern_to_dict(pattern)  # the fast writer is JSON
    assert '"cents": 3.47' in text and '"cents": -12.5' in text
    again = patternfile.loads(text)
    assert again == pattern
    assert patternfile.dumps(patternfile.pattern_to_dict(again)) == text


def test_a_step_without_cents_is_written_as_before():
    pattern = tuned_pattern()
    pattern.tracks[0].steps[0].cents = pattern.tracks[0].steps[2].cents = 0.0
    text = patternfile.dumps(patternfile.pattern_to_dict(pattern))
    assert "cents" not in text
    assert patternfile.loads(text).tracks[0].steps[0].cents == 0.0


@pytest.mark.parametrize("value", HOSTILE_CENTS)
def test_hostile_cents_in_a_file_are_refused_naming_the_field(value):
    data = patternfile.pattern_to_dict(tuned_pattern())
    data["sequencer"]["tracks"][0]["steps"][2]["cents"] = value
    with pytest.raises(PatternError) as caught:
        patternfile.pattern_from_dict(copy.deepcopy(data))
    assert caught.value.path == "sequencer.tracks[0].steps[2].cents"


def test_cents_without_a_note_are_refused():
    data = patternfile.pattern_to_dict(tuned_pattern())
    data["sequencer"]["tracks"][0]["steps"][1]["cents"] = 10.0  # a rest without a note
    with pytest.raises(PatternError, match=r"steps\[1\]\.cents: a fine tune needs a note"):
        patternfile.pattern_from_dict(data)


# -- the session, the journal and undo ----------------------------------------------


def test_a_hz_note_set_on_a_step_keeps_its_cents_and_a_midi_note_clears_them(session: Session):
    session.add_track("bass", "voice1", "x.x.x.x.")
    step = session.set_step("bass", 0, note=hz_to_pitch(262.15))
    assert (step.note, step.cents) == (60, 3.47)
    assert session.set_step("bass", 0, accent=True).cents == 3.47  # a note left out is kept, cents too
    assert session.set_step("bass", 0, note=61).cents == 0.0
    session.set_step("bass", 0, note=(60, 3.47))
    assert session.set_step("bass", 0, note=None).cents == 0.0


@pytest.mark.parametrize("value", HOSTILE_CENTS)
def test_hostile_cents_from_a_caller_change_nothing(session: Session, value):
    session.add_track("bass", "voice1", "x.x.x.x.")
    before = session.snapshot()
    with pytest.raises(SessionError, match=r"note\.cents"):
        session.set_step("bass", 0, note=(60, value))
    with pytest.raises(SessionError, match=r"note\.cents"):
        session.update_notes("bass", [36, (60, value)])
    assert session.snapshot() == before


def test_undo_redo_and_the_journal_keep_cents(store, session: Session):
    session.add_track("bass", "voice1", "x.x.x.x.")
    base = session.snapshot()
    session.update_notes("bass", [hz_to_pitch(262.15), (33, 0.0), hz_to_pitch(61.7)])
    session.set_step("bass", 2, note=hz_to_pitch(55.5))
    tuned = session.snapshot()
    assert session.history.entries[-1].summary.endswith("note A1+15.67c")
    records = [json.loads(json.dumps({"edit": entry.record()})) for entry in session.history.entries]
    session.undo(2)
    assert session.snapshot() == base
    session.redo(2)
    assert session.snapshot() == tuned
    replayed = Session(store, FakeEngine())  # recovery: the journal's records from the same start
    for record in records:
        replayed.replay(record)
    assert replayed.snapshot()["sequencer"] == tuned["sequencer"]


def test_a_journal_step_of_four_values_reads_as_0_cents():
    pattern = tuned_pattern()
    history.write(pattern, ("step", "bass", 0), [True, False, 60, False])
    assert pattern.tracks[0].steps[0] == Step(True, False, 60, False, 0.0)
    history.write(pattern, ("step", "bass", 0), [True, False, 60, False, 3.47])
    assert history.read(pattern, None, ("step", "bass", 0)) == [True, False, 60, False, 3.47]
    assert history.read(pattern, None, ("step", "bass", 4)) == [True, False, 36, False]


@pytest.mark.parametrize("value", [[True, False, 60, False, math.nan], [True, False, 60, False, "3"],
                                   [True, False, 60, False, 1e9], [True, False, None, False, 3.0],
                                   [True, False, 60, False, 3.0, 1]])
def test_a_hostile_journal_step_is_refused_and_changes_nothing(value):
    pattern = tuned_pattern()
    before = pattern.copy()
    with pytest.raises(history.HistoryError):
        history.write(pattern, ("step", "bass", 0), value)
    assert pattern == before


# -- OSC -------------------------------------------------------------------------------


def test_osc_notes_in_hz_keep_their_cents(osc, session: Session):
    _, client = osc
    client.ok("/seq/add", "bass", "voice1", "x.x.x.x.", "notes=262.15,C4,61.7")
    bass = session.pattern.track("bass")
    hits = [(s.note, s.cents) for s in bass.steps if s.on]
    assert hits == [(60, 3.47), (60, 0.0), hz_to_pitch(61.7), (60, 3.47)]
    assert client.ok("/seq/update/notes", "bass", "262.15,60") == ["bass", "C4+3.47c,C4"]
    assert [s.cents for s in bass.steps if s.on] == [3.47, 0.0, 3.47, 0.0]
    client.ok("/seq/step", "bass", 1, 1, 262.15)
    assert (bass.steps[1].note, bass.steps[1].cents) == (60, 3.47)
    client.ok("/seq/step", "bass", 1, 1, "C#4")
    assert (bass.steps[1].note, bass.steps[1].cents) == (61, 0.0)
    status = client.query("/seq/status")["tracks"][0]
    assert status["cents"][:3] == [3.47, 0.0, 0.0]


# -- the keyboard ----------------------------------------------------------------------


async def test_a_note_typed_by_key_is_on_the_semitone_grid(patterns_dir):
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=(120, 40)) as pilot:
        bass = session.pattern.track("bass")
        session.set_step("bass", 0, note=hz_to_pitch(67.0))  # C2 +41.68 cents, as a script set it
        assert bass.steps[0].cents == 41.68
        await pilot.press("down", "down", "k")  # bass, step 1: a semitone up
        assert (bass.steps[0].note, bass.steps[0].cents) == (37, 0.0)

