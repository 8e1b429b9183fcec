"""Expressive steps in slot files (schema 3): each field written only when not its default,
a file without them still schema 2 and byte for byte as before, every value checked on the
way in and a bad one named, whatever a hostile file holds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.damage import set_in
from support.patterns import LEGACY_DIR, full_pattern

from chronus_tui.model import MAX_LOCKS, Pattern, PatternError, Step, Track, lock_spec, lockable_params
from chronus_tui.patternfile import PLAIN_SCHEMA, SCHEMA, dumps, loads, pattern_from_dict, pattern_to_dict

LOCKS = {"filter/freq": 800.0, "acid1/cutoff": 300.0}


def expressive_pattern() -> Pattern:
    steps = [Step(on=True, prob=50, cond="1:4", micro=-3, ratchet=3, locks=dict(LOCKS)),
             Step(on=True, note=60, cents=12.5, cond="!FILL"),
             Step(prob=0), Step(micro=23), Step(ratchet=8), Step(locks={"amp": 0.25}), Step(on=True)]
    bass = Track("bass", "voice2", steps)
    bass.resize(4)  # the last three hidden: kept, with their fields
    kick = Track("kick", "voice1", [Step(on=True)])
    return Pattern(name="expressive", seed=2**31 - 1, tracks=[bass, kick])


def good() -> dict[str, Any]:
    return pattern_to_dict(expressive_pattern())


def step_path(index: int, key: str) -> list[Any]:
    return ["sequencer", "tracks", 0, "steps", index, key]


def test_expressive_fields_and_the_seed_round_trip_through_the_file_text() -> None:
    pattern = expressive_pattern()
    text = dumps(pattern_to_dict(pattern))
    assert loads(text) == pattern
    assert json.loads(text)["schema"] == SCHEMA == 3
    assert dumps(pattern_to_dict(loads(text))) == text  # the same pattern gives the same bytes


def test_each_field_is_written_only_when_not_its_default() -> None:
    steps = json.loads(dumps(good()))["sequencer"]["tracks"][0]["steps"]
    plain = {"on": True, "accent": False, "note": None, "slide": False}
    assert steps[0] == {**plain, "prob": 50, "cond": "1:4", "micro": -3, "ratchet": 3, "locks": LOCKS}
    assert steps[1] == {**plain, "note": 60, "cents": 12.5, "cond": "!FILL"}
    assert [set(s) - {"on", "accent", "note", "slide"} for s in steps[2:]] == [
        {"prob"}, {"micro"}, {"ratchet"}, {"locks"}, set()]
    assert json.loads(dumps(good()))["seed"] == 2**31 - 1


@pytest.mark.parametrize("pattern", [full_pattern(), Pattern(),
                                     Pattern(tracks=[Track("a", "voice1", [Step()])])])
def test_a_pattern_without_them_is_written_as_schema_2_as_before(pattern: Pattern) -> None:
    data = pattern_to_dict(pattern)
    text = dumps(data)
    assert data["schema"] == PLAIN_SCHEMA == 2 and "seed" not in data
    assert not any(key in text for key in ('"prob"', '"cond"', '"micro"', '"ratchet"', '"locks"', '"seed"'))
    assert loads(text) == pattern


def test_a_factory_file_keeps_its_bytes() -> None:
    factory = LEGACY_DIR.parents[2] / "patterns"
    files = sorted(factory.glob("*.json"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        if json.loads(text).get("format") == "chronus-pattern":
            assert dumps(pattern_to_dict(loads(text))) == text, path.name


@pytest.mark.parametrize(("path", "value", "message"), [
    (step_path(0, "prob"), 101, "prob: 101 is out of range 0–100"),
    (step_path(0, "prob"), True, "prob: True is not a number"),
    (step_path(0, "prob"), 50.5, "prob: 50.5 is not a whole number"),
    (step_path(0, "prob"), "50", "prob: '50' is not a number"),
    (step_path(0, "micro"), -24, "micro: -24 is out of range -23–23"),
    (step_path(0, "micro"), float("inf"), "micro: inf is out of range -23–23"),
    (step_path(0, "micro"), float("nan"), "micro: nan is out of range -23–23"),
    (step_path(0, "ratchet"), 0, "ratchet: 0 is out of range 1–8"),
    (step_path(0, "ratchet"), 10**400, "ratchet: "),
    (step_path(0, "cond"), "9:9", "cond: '9:9' is not a condition"),
    (step_path(0, "cond"), "fill", "cond: 'fill' is not a condition"),
    (step_path(0, "cond"), ["1:2"], "cond: ['1:2'] is not a condition"),
    (step_path(0, "cond"), "x" * 100_000, "cond: "),
    (step_path(0, "locks"), [], "locks: [] is not a mapping of parameter to value"),
    (step_path(0, "locks"), {"freq": 100.0},
     "locks.freq: 'freq' is not a lockable parameter of voice2"),
    (step_path(0, "locks"), {"filter/freq": 1e309}, "locks.filter/freq: inf is out of range 50–8000"),
    (step_path(0, "locks"), {"amp": False}, "locks.amp: False is not a number"),
    (step_path(0, "locks"), {f"p{i}": 1.0 for i in range(100_000)},
     "locks: 100000 locks; a step holds at most 16"),
    (step_path(0, "locks"), {"amp": {"deep": [1]}}, "locks.amp: {'deep': [1]} is not a number"),
    (step_path(4, "ratchet"), 9, "sequencer.tracks[0].steps[4].ratchet: 9 is out of range 1–8"),  # hidden
    (["sequencer", "tracks", 1, "steps", 0, "locks"], {"acid1/res": 0.5},
     "sequencer.tracks[1].steps[0].locks.acid1/res: 'acid1/res' is not a lockable parameter of voice1"),
    (["seed"], -1, "seed: -1 is out of range 0–2147483647"),
    (["seed"], 2**31, "seed: 2147483648 is out of range 0–2147483647"),
    (["seed"], True, "seed: True is not a number"),
    (["seed"], 1.5, "seed: 1.5 is not a whole number"),
    (["seed"], None, "seed: None is not a number"),
])
def test_a_bad_value_is_refused_naming_its_field(path: list[Any], value: Any, message: str) -> None:
    with pytest.raises(PatternError) as info:
        pattern_from_dict(set_in(good(), path, value))
    assert message in str(info.value), str(info.value)
    assert str(info.value).startswith("seed" if path == ["seed"] else "sequencer.tracks[")
    assert len(str(info.value)) < 400


def test_the_most_locks_a_step_holds_load_and_one_more_is_refused() -> None:
    keys = lockable_params("voice2")
    most = {key: lock_spec("voice2", key).default for key in keys[:MAX_LOCKS]}
    assert pattern_from_dict(set_in(good(), step_path(0, "locks"), most)).tracks[0].steps[0].locks == most
    more = {key: lock_spec("voice2", key).default for key in keys[:MAX_LOCKS + 1]}
    with pytest.raises(PatternError, match=r"locks: 17 locks; a step holds at most 16$"):
        pattern_from_dict(set_in(good(), step_path(0, "locks"), more))


@pytest.mark.parametrize(("path", "value"), [(step_path(0, "prob"), 50), (["seed"], 3)])
def test_a_schema_3_field_in_an_older_schema_file_is_refused_by_name(path: list[Any], value: Any) -> None:
    plain = pattern_to_dict(Pattern(tracks=[Track("bass", "voice2", [Step(on=True)])]))
    assert plain["schema"] == 2
    with pytest.raises(PatternError, match="is a schema-3 field; the file says schema 2") as info:
        pattern_from_dict(set_in(plain, path, value))
    assert info.value.path == ("seed" if path == ["seed"] else "sequencer.tracks[0].steps[0].prob")


@pytest.mark.parametrize(("field", "text"), [
    ('"prob": 50', '"prob": NaN'), ('"prob": 50', '"prob": Infinity'),
    ('"micro": -3', '"micro": 1e309'), ('"ratchet": 3', '"ratchet": -1e309')])
def test_json_specials_in_a_step_are_refused(field: str, text: str) -> None:
    document = dumps(good()).replace(field, text, 1)
    with pytest.raises(PatternError, match=r"steps\[0\]\.(prob|micro|ratchet): "):
        loads(document)

