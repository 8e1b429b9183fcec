"""The model: parameter table, value checks, pattern strings and note parsing."""

from __future__ import annotations

import math
import re

import pytest

from chronus_tui.model import (
    MODULE_PARAMS,
    PARAM_INDEX,
    VOICES,
    Pattern,
    PatternError,
    Step,
    Track,
    check_name,
    check_note,
    check_voice,
    default_modules,
    hz_to_midi,
    midi_to_hz,
    note_name,
    param_spec,
    parse_note,
    parse_steps,
    steps_text,
)

# The names and ranges the original Music Chronus scripts rely on, written out again on purpose:
# the table in model.py must match this contract.
VOICE_RANGES = {
    "osc/type": (0, 5), "freq": (20, 5000), "amp": (0, 1), "filter/freq": (50, 8000),
    "filter/q": (0.5, 10), "adsr/attack": (0.001, 2), "adsr/decay": (0, 2), "adsr/sustain": (0, 1),
    "adsr/release": (0.01, 3), "send/reverb": (0, 1), "send/delay": (0, 1), "slide_time": (0, 1.5),
    "pan": (-1, 1),
}
MODULE_RANGES = {
    "acid1": {"cutoff": (80, 5000), "res": (0, 0.98), "env_amount": (0, 5000), "decay": (0.02, 1),
              "drive": (0, 1), "mix": (0, 1), "vol_comp": (0, 1), "accent": (0, 1),
              "cutoff_offset": (0, 1000), "res_accent_boost": (0, 0.4), "accent_decay": (0.02, 0.15)},
    "dist1": {"drive": (0, 1), "mix": (0, 1), "tone": (0, 1)},
    "reverb1": {"mix": (0, 1), "room": (0, 1), "damp": (0, 1)},
    "delay1": {"time": (0.1, 0.6), "feedback": (0, 0.7), "mix": (0, 1), "lowcut": (20, 1000),
               "highcut": (1000, 10000)},
    "lfo1": {"rate": (0.01, 10), "depth": (0, 1)},
    "lfo2": {"rate": (0.01, 10), "depth": (0, 1)},
    "master": {"volume": (0, 1)},
}


def test_parameter_table_matches_the_contract():
    expected = {**{voice: VOICE_RANGES for voice in VOICES}, **MODULE_RANGES}
    actual = {module: {s.name: (s.low, s.high) for s in specs} for module, specs in MODULE_PARAMS.items()}
    assert actual == expected
    assert tuple(f"voice{i}" for i in range(1, 9)) == VOICES
    for module, specs in MODULE_PARAMS.items():
        for spec in specs:
            assert spec.low <= spec.default <= spec.high, f"{module}/{spec.name} default out of range"
    assert PARAM_INDEX["voice1"]["osc/type"].integer
    assert default_modules()["voice3"]["filter/freq"] == PARAM_INDEX["voice3"]["filter/freq"].default


def test_param_spec_names_unknown_module_and_parameter():
    assert param_spec("acid1", "cutoff").high == 5000
    with pytest.raises(PatternError, match=r"^voice9: unknown module \(known: voice1,"):
        param_spec("voice9", "freq")
    with pytest.raises(PatternError, match=r"^acid1/cut: unknown parameter \(known: cutoff, res"):
        param_spec("acid1", "cut")


@pytest.mark.parametrize(("value", "expected", "moved"), [
    (440.0, 440.0, False), (10.0, 20.0, True), (9000, 5000.0, True), (math.inf, 5000.0, True),
    (math.nan, 440.0, True),
])
def test_clamp_keeps_values_in_range_and_says_so(value, expected, moved):
    assert param_spec("voice1", "freq").clamp(value) == (expected, moved)


def test_clamp_rounds_integer_parameters():
    spec = param_spec("voice1", "osc/type")
    assert spec.clamp(2.4) == (2, True)
    assert spec.clamp(3) == (3, False)
    assert spec.clamp(9) == (5, True)
    assert isinstance(spec.clamp(2.4)[0], int)


@pytest.mark.parametrize(("value", "message"), [
    ("loud", "voice2/amp: 'loud' is not a number"),
    (True, "voice2/amp: True is not a number"),
    (None, "voice2/amp: None is not a number"),
    (1.5, "voice2/amp: 1.5 is out of range 0–1"),
    (-0.1, "voice2/amp: -0.1 is out of range 0–1"),
    (math.nan, "voice2/amp: nan is out of range 0–1"),
    (math.inf, "voice2/amp: inf is out of range 0–1"),
])
def test_check_names_field_and_range(value, message):
    with pytest.raises(PatternError) as info:
        param_spec("voice2", "amp").check(value, "voice2/amp")
    assert str(info.value) == message
    assert info.value.path == "voice2/amp"


def test_check_integer_parameter():
    spec = param_spec("voice1", "osc/type")
    assert spec.check(3.0, "p") == 3 and isinstance(spec.check(3.0, "p"), int)
    with pytest.raises(PatternError, match=r"^p: 2.5 is not a whole number$"):
        spec.check(2.5, "p")
    with pytest.raises(PatternError, match=r"out of range 0–5"):
        spec.check(10**400, "p")  # too big for a float: still a clear error, no OverflowError


def test_check_note_message_is_the_design_example():
    path = "sequencer.tracks[2].steps[5].note"
    with pytest.raises(PatternError) as info:
        check_note(140, path)
    assert str(info.value) == "sequencer.tracks[2].steps[5].note: 140 is out of range 0–127"
    assert check_note(None, path) is None
    assert check_note(0, path) == 0 and check_note(127, path) == 127
    with pytest.raises(PatternError, match=r"60\.5 is not a whole number"):
        check_note(60.5, path)
    with pytest.raises(PatternError, match="'C3' is not a number"):
        check_note("C3", path)


@pytest.mark.parametrize(("value", "fragment"), [
    ("", "must be 1–32 printable characters"), ("   ", "must be 1–32 printable"),
    ("x" * 33, "must be 1–32 printable"), ("tab\there", "must be 1–32 printable"),
    (5, "5 is not a string"),
])
def test_check_name_rejects(value, fragment):
    with pytest.raises(PatternError, match=fragment):
        check_name(value, "name")


def test_check_name_accepts_unicode_and_full_length():
    assert check_name("Säure ♯ 303", "name") == "Säure ♯ 303"
    assert check_name("x" * 32, "name") == "x" * 32


def test_check_voice():
    assert check_voice("voice8", "v") == "voice8"
    for bad in ("voice0", "voice9", "acid1", None, ["voice1"]):
        with pytest.raises(PatternError, match=r"is not a voice \(voice1–voice8\)"):
            check_voice(bad, "v")


def test_parse_steps_accent_hit_rest():
    steps = parse_steps("X.x-Xx o")
    assert [(s.on, s.accent) for s in steps] == [
        (True, True), (False, False), (True, False), (False, False),
        (True, True), (True, False), (False, False), (False, False)]
    assert all(s.note is None and not s.slide for s in steps)
    assert steps_text(steps) == "X.x.Xx.."
    assert len(parse_steps("x" * 64)) == 64


@pytest.mark.parametrize(("text", "message"), [
    ("", "pattern: length 0 is out of range 1–64"),
    ("x" * 65, "pattern: length 65 is out of range 1–64"),
    (16, "pattern: 16 is not a string"),
])
def test_parse_steps_rejects(text, message):
    with pytest.raises(PatternError) as info:
        parse_steps(text)
    assert str(info.value) == message


def test_steps_text_ignores_accent_on_rests():
    assert steps_text([Step(on=False, accent=True), Step(on=True, accent=True), Step(on=True)]) == ".Xx"


@pytest.mark.parametrize(("token", "midi"), [
    (60, 60), (0, 0), (127, 127), (60.0, 60), ("64", 64), (" 36 ", 36),
    ("C4", 60), ("c4", 60), ("A4", 69), ("F#2", 42), ("Bb4", 70), ("Db3", 49), ("C-1", 0), ("G9", 127),
    (440.0, 69), ("440", 69), (128, 48), (61.7, 35), ("8000", 119),
    # text with a decimal point is Hz, as the original read "55.0,61.7,73.4"; a whole float is MIDI
    ("41.2", 28), ("55.0", 33), ("61.7", 35), ("73.4", 38), (55.0, 55), ("440.0", 69),
])
def test_parse_note(token, midi):
    assert parse_note(token) == midi


@pytest.mark.parametrize(("token", "fragment"), [
    ("xyz", "is not a note (MIDI number, Hz or name like C3)"), ("", "is not a note"),
    ("C", "is not a note name like C3"), ("H3", "is not a note"), ("G#9", "outside MIDI 0–127"),
    (math.nan, "is not a note"), (math.inf, "is not a note"), ("nan", "is not a note"),
    (-5, "is not a positive frequency"), (True, "is not a note"), (None, "is not a note"),
    (10**400, "is not a note"),
])
def test_parse_note_rejects(token, fragment):
    with pytest.raises(PatternError, match=re.escape(fragment)):
        parse_note(token)


def test_midi_hz_conversions():
    assert midi_to_hz(69) == 440.0
    assert midi_to_hz(57) == pytest.approx(220.0)
    assert hz_to_midi(261.63) == 60
    assert hz_to_midi(5.0) == 0 and hz_to_midi(30000.0) == 127  # kept inside 0–127
    assert hz_to_midi(5e-324) == 0 and hz_to_midi(1e308) == 127  # no underflow or overflow on the way
    for note in range(128):
        assert hz_to_midi(midi_to_hz(note)) == note
    assert [note_name(n) for n in (0, 33, 60, 61, 127)] == ["C-1", "A1", "C4", "C#4", "G9"]
    for note in range(128):
        assert parse_note(note_name(note)) == note


def test_pattern_track_lookup():
    pattern = Pattern(tracks=[Track("kick", "voice1", parse_steps("x...")),
                              Track("bass", "voice2", parse_steps("x.x."))])
    assert pattern.track("bass").voice == "voice2"
    assert pattern.track_index("bass") == 1
    assert pattern.tracks[0].length == 4
    with pytest.raises(PatternError, match="no track named 'snare'"):
        pattern.track("snare")


def test_default_modules_are_fresh_copies():
    a, b = Pattern(), Pattern()
    a.modules["voice1"]["freq"] = 100.0
    assert b.modules["voice1"]["freq"] == 440.0
