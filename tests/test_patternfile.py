"""The file format: exact round trip, and validation that names the bad field."""

from __future__ import annotations

import copy
import json
import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.damage import DELETE, damage, set_in
from support.patterns import full_pattern

from chronus_tui import patternfile
from chronus_tui.model import Pattern, PatternError, Step, Track, parse_steps
from chronus_tui.patternfile import (
    FORMAT,
    PLAIN_SCHEMA,
    SCHEMA,
    dumps,
    loads,
    pattern_from_dict,
    pattern_to_dict,
)


def full_text() -> str:
    return dumps(pattern_to_dict(full_pattern()))


def test_full_session_round_trip_is_byte_exact():
    text = full_text()
    assert dumps(pattern_to_dict(loads(text))) == text
    assert dumps(pattern_to_dict(loads(text.encode("utf-8")))) == text
    assert text.count("\n") > 8 * 64  # one step a line: readable and diffable


def test_round_trip_keeps_every_field():
    original = full_pattern()
    loaded = loads(dumps(pattern_to_dict(original)))
    assert loaded == original
    assert loaded.tracks[6].solo and loaded.tracks[5].mute
    assert loaded.tracks[3].steps[1] == original.tracks[3].steps[1]


def test_dumps_is_json_of_the_dict_with_marker_and_schema():
    data = pattern_to_dict(full_pattern())
    text = dumps(data)
    assert json.loads(text) == data
    # a pattern without expressive steps is written as schema 2, as before them
    assert data["format"] == FORMAT == "chronus-pattern" and data["schema"] == PLAIN_SCHEMA == 2
    assert SCHEMA == 3
    assert set(data["modules"]) == {*(f"voice{i}" for i in range(1, 9)), "acid1", "dist1", "reverb1",
                                    "delay1", "lfo1", "lfo2", "master"}
    assert text.endswith("}\n")


def test_round_trip_of_empty_and_unicode_patterns():
    for pattern in (Pattern(), Pattern(name="Nacht ☾ “acid”", saved_at="2026-11-25T01:00:00.000001Z")):
        text = dumps(pattern_to_dict(pattern))
        assert dumps(pattern_to_dict(loads(text))) == text
        assert loads(text).name == pattern.name


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_round_trip_of_random_patterns(data):
    """Any valid pattern survives save-load-save byte for byte."""
    tracks = []
    for t in range(data.draw(st.integers(0, 4))):
        length = data.draw(st.integers(1, 64))
        steps = [Step(on=data.draw(st.booleans()), accent=data.draw(st.booleans()),
                      note=data.draw(st.none() | st.integers(0, 127)), slide=data.draw(st.booleans()))
                 for _ in range(length)]
        track = Track(f"t{t}", f"voice{t + 1}", steps, level=data.draw(st.floats(0, 1)),
                      gate=data.draw(st.floats(0.05, 1)))
        track.resize(data.draw(st.integers(1, 64)))  # shorter: hidden steps; longer: rests
        tracks.append(track)
    pattern = Pattern(name=data.draw(st.text(st.characters(categories=("L", "N", "P", "S")),
                                             min_size=1, max_size=32)),
                      bpm=data.draw(st.floats(20, 300)), swing=data.draw(st.floats(0, 0.6)), tracks=tracks)
    pattern.modules["voice2"]["freq"] = data.draw(st.floats(20, 5000))
    text = dumps(pattern_to_dict(pattern))
    assert dumps(pattern_to_dict(loads(text))) == text


def test_to_dict_shares_nothing_with_the_pattern():
    pattern = full_pattern()
    data = pattern_to_dict(pattern)
    data["sequencer"]["tracks"][0]["steps"][0]["note"] = 99
    data["modules"]["voice1"]["freq"] = 21.0
    data["sequencer"]["tracks"].pop()
    assert pattern == full_pattern()


def good() -> dict:
    return pattern_to_dict(Pattern(name="ok", tracks=[
        Track("kick", "voice1", parse_steps("X...x...")),
        Track("bass", "voice2", parse_steps("x.x.x.x.")),
        Track("lead", "voice3", parse_steps("x" * 16)),
    ]))


STEP = ["sequencer", "tracks", 2, "steps", 5]


@pytest.mark.parametrize(("path", "value", "message"), [
    ([*STEP, "note"], 140, "sequencer.tracks[2].steps[5].note: 140 is out of range 0–127"),
    ([*STEP, "note"], -1, "sequencer.tracks[2].steps[5].note: -1 is out of range 0–127"),
    ([*STEP, "note"], 60.5, "sequencer.tracks[2].steps[5].note: 60.5 is not a whole number"),
    ([*STEP, "note"], "C3", "sequencer.tracks[2].steps[5].note: 'C3' is not a number"),
    ([*STEP, "on"], 1, "sequencer.tracks[2].steps[5].on: 1 is not true or false"),
    ([*STEP, "accent"], "yes", "sequencer.tracks[2].steps[5].accent: 'yes' is not true or false"),
    ([*STEP, "slide"], None, "sequencer.tracks[2].steps[5].slide: None is not true or false"),
    ([*STEP, "on"], DELETE, "sequencer.tracks[2].steps[5].on: is missing"),
    ([*STEP, "velocity"], 1, "sequencer.tracks[2].steps[5].velocity: is not a known field"),
    (STEP, "x", "sequencer.tracks[2].steps[5]: expected an object"),
    (["sequencer", "bpm"], "fast", "sequencer.bpm: 'fast' is not a number"),
    (["sequencer", "bpm"], 301, "sequencer.bpm: 301 is out of range 20–300"),
    (["sequencer", "bpm"], DELETE, "sequencer.bpm: is missing"),
    (["sequencer", "swing"], 0.7, "sequencer.swing: 0.7 is out of range 0–0.6"),
    (["sequencer", "tracks"], {}, "sequencer.tracks: expected a list"),
    (["sequencer", "tracks", 1, "voice"], "voice9", "sequencer.tracks[1].voice: 'voice9' is not a voice"),
    (["sequencer", "tracks", 1, "name"], "kick", "sequencer.tracks[1].name: 'kick' is used by another track"),
    (["sequencer", "tracks", 1, "name"], "", "sequencer.tracks[1].name: '' must be 1–32 printable"),
    (["sequencer", "tracks", 1, "level"], 1.5, "sequencer.tracks[1].level: 1.5 is out of range 0–1"),
    (["sequencer", "tracks", 1, "gate"], 0.0, "sequencer.tracks[1].gate: 0.0 is out of range 0.05–1"),
    (["sequencer", "tracks", 1, "mute"], "no", "sequencer.tracks[1].mute: 'no' is not true or false"),
    (["sequencer", "tracks", 1, "length"], 12,
     "sequencer.tracks[1].length: 12 is more than the 8 steps stored"),
    (["sequencer", "tracks", 1, "length"], 0, "sequencer.tracks[1].length: 0 is out of range 1–64"),
    (["sequencer", "tracks", 1, "length"], 65, "sequencer.tracks[1].length: 65 is out of range 1–64"),
    (["sequencer", "tracks", 1, "length"], 4.5, "sequencer.tracks[1].length: 4.5 is not a whole number"),
    (["sequencer", "tracks", 1, "length"], True, "sequencer.tracks[1].length: True is not a number"),
    (["sequencer", "tracks", 1, "length"], "8", "sequencer.tracks[1].length: '8' is not a number"),
    (["sequencer", "tracks", 1, "length"], None, "sequencer.tracks[1].length: None is not a number"),
    (["sequencer", "tracks", 1, "steps"], [{"on": False}] * 65,
     "sequencer.tracks[1].steps: expected a list of 1–64 steps"),
    (["sequencer", "tracks", 1, "steps"], [], "sequencer.tracks[1].steps: expected a list of 1–64 steps"),
    (["sequencer", "tracks", 1, "pattern"], "x.x.", "sequencer.tracks[1].pattern: is not a known field"),
    (["modules", "voice3", "filter/freq"], 9000.0,
     "modules.voice3.filter/freq: 9000.0 is out of range 50–8000"),
    (["modules", "voice3", "osc/type"], 6, "modules.voice3.osc/type: 6 is out of range 0–5"),
    (["modules", "voice3", "osc/type"], 1.5, "modules.voice3.osc/type: 1.5 is not a whole number"),
    (["modules", "acid1", "res"], 0.99, "modules.acid1.res: 0.99 is out of range 0–0.98"),
    (["modules", "acid1", "wobble"], 1.0, "modules.acid1.wobble: unknown parameter"),
    (["modules", "chorus1"], {}, "modules.chorus1: unknown module"),
    (["modules", "voice1"], [], "modules.voice1: expected an object"),
    (["modules"], [], "modules: expected an object"),
    (["name"], 7, "name: 7 is not a string"),
    (["saved_at"], 12, "saved_at: 12 is not a time string"),
    (["format"], "other", "format: 'other' is not 'chronus-pattern'"),
    (["schema"], 4, "schema: 4 is newer than this Chronus reads (3); upgrade Chronus"),
    (["schema"], 0, "schema: 0 is not a known schema"),
    (["schema"], "1", "schema: '1' is not a schema number"),
    (["extra"], 1, "extra: is not a known field"),
    (["sequencer"], [], "sequencer: expected an object"),
])
def test_validation_names_the_bad_field(path, value, message):
    data = set_in(good(), path, value)
    with pytest.raises(PatternError) as info:
        pattern_from_dict(data)
    assert str(info.value).startswith(message), str(info.value)


def test_too_many_tracks():
    data = good()
    data["sequencer"]["tracks"] = [dict(data["sequencer"]["tracks"][0], name=f"t{i}") for i in range(17)]
    with pytest.raises(PatternError, match=r"^sequencer.tracks: 17 tracks; at most 16$"):
        pattern_from_dict(data)


def test_validation_never_touches_its_input_and_never_half_applies():
    data = good()
    before = copy.deepcopy(data)
    data_bad = set_in(copy.deepcopy(data), ["sequencer", "tracks", 2, "steps", 15, "note"], 200)
    with pytest.raises(PatternError):
        pattern_from_dict(data_bad)
    pattern_from_dict(data)
    assert data == before


def test_optional_fields_take_defaults():
    data = good()
    for track in data["sequencer"]["tracks"]:
        for key in ("length", "level", "gate", "mute", "solo"):
            del track[key]
        track["steps"] = [{"on": s["on"]} for s in track["steps"]]
    del data["sequencer"]["swing"], data["modules"], data["name"], data["saved_at"]
    pattern = pattern_from_dict(data)
    assert pattern.name == "untitled" and pattern.swing == 0.0 and pattern.saved_at is None
    assert pattern.tracks[0].level == 1.0 and pattern.tracks[0].gate == 0.5
    assert pattern.modules == Pattern().modules
    # a file that left parameters out is written back with all of them
    assert "adsr/release" in dumps(pattern_to_dict(pattern))


def test_ints_for_float_fields_load_as_floats():
    data = good()
    data["sequencer"]["bpm"] = 128
    data["modules"]["voice1"]["freq"] = 55
    pattern = pattern_from_dict(data)
    assert isinstance(pattern.bpm, float) and isinstance(pattern.modules["voice1"]["freq"], float)


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "the file is empty"), ("  \n", "the file is empty"),
    ('{"format": "chronus-pattern", "sch', "not valid JSON (line 1, column"),
    ("[1, 2]", "expected a JSON object, found list"), ("42", "expected a JSON object, found int"),
    ("null", "expected a JSON object, found NoneType"),
    ('{"bpm": ' + "1" * 5000 + "}", "not valid JSON"),  # longer than Python converts
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
])
def test_loads_rejects_non_patterns(text, fragment):
    with pytest.raises(PatternError, match=re.escape(fragment)):
        loads(text)


def test_loads_rejects_binary():
    with pytest.raises(PatternError, match=r"not UTF-8 text \(byte 0\)"):
        loads(b"\xff\xfe\x00binary")


def test_huge_numbers_give_range_errors():
    data = good()
    data["sequencer"]["tracks"][0]["steps"][0]["note"] = 10**400
    with pytest.raises(PatternError, match=r"steps\[0\].note: 1000.* is out of range 0–127"):
        pattern_from_dict(data)
    text = dumps(good()).replace('"bpm": 120.0', '"bpm": 1e400')
    with pytest.raises(PatternError, match=r"sequencer.bpm: inf is out of range 20–300"):
        loads(text)
    with pytest.raises(PatternError, match=r"sequencer.bpm: nan is out of range"):
        loads(dumps(good()).replace('"bpm": 120.0', '"bpm": NaN'))


def expressive() -> dict:
    """good() with a step of every expressive field and a seed (schema 3)."""
    data = good()
    data["schema"], data["seed"] = 3, 99
    data["sequencer"]["tracks"][1]["steps"][0] |= {"prob": 50, "cond": "1:4", "micro": -3, "ratchet": 3,
                                                   "locks": {"acid1/res": 0.5, "amp": 0.2}}
    return data


@settings(max_examples=200, deadline=None)
@given(st.data(), st.sampled_from([good, expressive]))
def test_any_damage_gives_a_pattern_error_or_a_valid_pattern(data, document_of):
    """Replace or delete any one value of a valid file: the result is a clear PatternError
    or a pattern, never another exception."""
    document = document_of()
    damage(document, data)
    try:
        pattern = pattern_from_dict(document)
    except PatternError as exc:
        assert str(exc)
        return
    assert dumps(pattern_to_dict(pattern)) == dumps(pattern_to_dict(loads(dumps(pattern_to_dict(pattern)))))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_loads_of_any_bytes_gives_a_pattern_error(blob):
    with pytest.raises(PatternError):
        loads(blob)


def test_original_format_is_recognised_and_dropped_fields_reported(legacy_dir):
    dropped: list[str] = []
    pattern = loads((legacy_dir / "slot_001.json").read_bytes(), dropped=dropped)
    assert pattern.bpm == 125.0 and dropped
    # written back it is an ordinary file of this format, and round-trips exactly
    text = dumps(pattern_to_dict(pattern))
    assert json.loads(text)["format"] == FORMAT
    assert dumps(pattern_to_dict(loads(text))) == text


def test_non_finite_floats_never_reach_a_file():
    data = good()
    data["modules"]["voice1"]["amp"] = math.nan
    with pytest.raises(PatternError, match=r"modules\.voice1\.amp"):
        patternfile.pattern_from_dict(data)
