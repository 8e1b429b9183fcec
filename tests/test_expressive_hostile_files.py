"""Hostile schema-3 slot files read the three ways a file comes in: `chronus render FILE`, the
store (a slot load) and OSC `/pattern/load`. Each gets one short error naming the field (or the
file's size), the live pattern stays as it was and the file keeps its bytes: nothing is lost.
Field by field checks of the dict are in test_expressive_file.py; these are the texts a
program or a hand can write that a dict test does not reach (JSON specials, unicode digits,
megabytes, nesting, hidden steps, a repeated key)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from support.osc import OscClient, osc_fixture  # noqa: F401

from chronus_tui.cli import main
from chronus_tui.model import Pattern, PatternError, Step, Track
from chronus_tui.osc.server import OscServer
from chronus_tui.patternfile import dumps, pattern_to_dict
from chronus_tui.session import Session
from chronus_tui.store import SlotStore, StoreError

Osc = tuple[OscServer, OscClient]
SLOT = 7
STEP = "sequencer.tracks[0].steps"
S0 = f"{STEP}[0]"


def good_text() -> str:
    """A schema-3 file: step 0 has every expressive field, steps 4 and 5 are hidden."""
    steps = [Step(on=True, prob=50, cond="1:4", micro=-3, ratchet=3, locks={"filter/freq": 800.0})]
    bass = Track("bass", "voice2", steps + [Step(on=True) for _ in range(5)])
    bass.resize(4)
    return dumps(pattern_to_dict(Pattern(name="hostile", seed=7, tracks=[bass])))


def replace(old: str, new: str) -> Callable[[], str]:
    def make() -> str:
        text = good_text()
        assert text.count(old) == 1
        return text.replace(old, new)
    return make


def step_field(index: int, key: str, value: object) -> Callable[[], str]:
    def make() -> str:
        data = json.loads(good_text())
        data["sequencer"]["tracks"][0]["steps"][index][key] = value
        return json.dumps(data, ensure_ascii=False)
    return make


COND = '"cond": "1:4"'
SEED = '"seed": 7'
LOCK = '"filter/freq": 800.0'

CASES = [
    # digits that str.isdigit() takes and int() reads, but no one types as a condition
    pytest.param(step_field(0, "cond", "１:４"), f"{S0}.cond: '１:４' is not a condition", id="fullwidth"),
    pytest.param(step_field(0, "cond", "٣:٤"), f"{S0}.cond: '٣:٤' is not a condition", id="arabic-indic"),
    pytest.param(step_field(0, "cond", "¹:²"), f"{S0}.cond: '¹:²' is not a condition", id="superscript"),
    pytest.param(step_field(0, "cond", "\u202e1:2"), f"{S0}.cond: '\\u202e1:2' is not", id="rlo"),
    pytest.param(step_field(0, "cond", "FILL\u200b"), f"{S0}.cond: 'FILL\\u200b' is not", id="zwsp"),
    pytest.param(step_field(0, "cond", "1:\x002"), f"{S0}.cond: '1:\\x002' is not", id="nul"),
    pytest.param(step_field(0, "cond", "x" * (3 << 20)), f"{S0}.cond: 'xxx", id="cond-3MB"),
    pytest.param(step_field(0, "cond", "x" * (10 << 20)), "10 MiB file, over the 4 MiB limit",
                 id="cond-10MB"),
    pytest.param(replace(COND, '"cond": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000),
                 "JSON nested too deeply", id="cond-nested"),
    pytest.param(replace(LOCK, '"amp": ' + "[" * 100_000 + "]" * 100_000), "JSON nested too deeply",
                 id="lock-nested"),
    pytest.param(replace('"micro": -3', '"micro": -1e309'), f"{S0}.micro: -inf is out of range",
                 id="micro--1e309"),
    pytest.param(step_field(0, "locks", {f"p{i}": 1.0 for i in range(250_000)}),
                 f"{S0}.locks: 250000 locks; a step holds at most 16", id="locks-250k"),
    pytest.param(step_field(0, "locks", {f"p{i}": 1.0 for i in range(1_000_000)}),
                 "MiB file, over the 4 MiB limit", id="locks-1M"),
    pytest.param(step_field(0, "locks", {"k" * (3 << 20): 1.0}), f"{S0}.locks.kkk", id="lock-key-3MB"),
    pytest.param(replace(LOCK, LOCK + ', "filter/freq": 1e9'),  # JSON's last repeated key wins
                 f"{S0}.locks.filter/freq: 1000000000.0 is out of range 50–8000", id="repeated-key"),
    pytest.param(step_field(5, "locks", {"filter/freq": 1e9}),
                 f"{STEP}[5].locks.filter/freq: 1000000000.0 is out of range", id="hidden-lock-range"),
    pytest.param(step_field(5, "locks", {"acid2/cutoff": 1.0}),
                 f"{STEP}[5].locks.acid2/cutoff: 'acid2/cutoff' is not a lockable parameter",
                 id="hidden-lock"),
    pytest.param(step_field(4, "ratchet", 2.5), f"{STEP}[4].ratchet: 2.5 is not a whole number",
                 id="hidden-ratchet"),
    pytest.param(replace(SEED, '"seed": 1e309'), "seed: inf is out of range 0–2147483647", id="seed-1e309"),
    pytest.param(replace(SEED, '"seed": NaN'), "seed: nan is out of range 0–2147483647", id="seed-nan"),
    pytest.param(replace(SEED, '"seed": "7"'), "seed: '7' is not a number", id="seed-string"),
    pytest.param(replace(SEED, '"seed": -5'), "seed: -5 is out of range", id="seed-negative"),
    pytest.param(replace(SEED, '"seed": ' + "9" * 4000), "seed: 999", id="seed-4000-digits"),
    pytest.param(replace(SEED, '"seed": ' + "9" * 5000), "not valid JSON (Exceeds the limit",
                 id="seed-5000-digits"),
]


def assert_short_and_literal(message: str, expected: str) -> None:
    assert expected in message, message
    assert len(message) < 600 and message.isprintable(), message  # no control or bidi character


@pytest.mark.parametrize(("make", "expected"), CASES)
def test_chronus_render_refuses_the_file_naming_the_field(patterns_dir, tmp_path, capsys, make, expected):
    source = tmp_path / "hostile.json"
    source.write_text(make(), encoding="utf-8")
    output = tmp_path / "out.wav"
    code = main(["render", str(source), "-o", str(output), "--bars", "1", "--tail", "0",
                 "--patterns-dir", str(patterns_dir)])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err.startswith("chronus render: ") and err.count("\n") == 1
    assert_short_and_literal(err.rstrip("\n"), expected)
    assert not output.exists()


def write_slot(store: SlotStore, text: str) -> bytes:
    path = store.slot_path(SLOT)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path.read_bytes()


@pytest.mark.parametrize(("make", "expected"), CASES)
def test_a_slot_load_refuses_the_file_and_keeps_it(store: SlotStore, make, expected):
    kept = write_slot(store, make())
    with pytest.raises((StoreError, PatternError)) as info:
        store.load(SLOT)
    assert_short_and_literal(str(info.value), expected)
    (listed,) = [info for info in store.list() if info.slot == SLOT]
    assert expected in listed.error
    assert store.slot_path(SLOT).read_bytes() == kept


@pytest.mark.parametrize(("make", "expected"), CASES)
def test_osc_pattern_load_refuses_the_file_and_plays_on(osc: Osc, session: Session, make, expected):
    _, client = osc
    client.ok("/seq/add", "kick", "voice1", "x...")
    client.ok("/seq/step", "kick", 2, 1, "prob=25")
    before = session.snapshot()
    kept = write_slot(session.store, make())
    assert_short_and_literal(client.error("/pattern/load", SLOT, "now"), expected)
    assert session.snapshot() == before
    assert session.store.slot_path(SLOT).read_bytes() == kept


def test_the_file_every_case_spoils_loads_all_three_ways(osc: Osc, session: Session, tmp_path: Path, capsys):
    text = good_text()
    source = tmp_path / "good.json"
    source.write_text(text, encoding="utf-8")
    assert main(["render", str(source), "-o", str(tmp_path / "out.wav"), "--bars", "1", "--tail", "0",
                 "--patterns-dir", str(session.store.root)]) == 0
    capsys.readouterr()
    write_slot(session.store, text)
    assert session.store.load(SLOT).tracks[0].steps[0].locks == {"filter/freq": 800.0}
    osc[1].ok("/pattern/load", SLOT, "now")
    assert session.pattern.seed == 7 and session.pattern.tracks[0].hidden[1].on
