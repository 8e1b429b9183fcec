"""acid1's accent parameters (cutoff_offset, res_accent_boost, accent_decay) and /gate/acid1.

The sound is measured in offline renders of voice2 (a saw through the acid insert): an accented
hit against the same render with the parameter at its other end, the unaccented hits of both
compared too. Then the parameters' place in the schema, the sound panel, the original's files
and ours, and the gate that opens the insert with voice2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.osc import OscClient, osc_fixture  # noqa: F401
from support.render import SR, expected_onset, render_array
from support.ui import make_app, screen_text

from chronus_tui import patternfile
from chronus_tui.engine.protocol import Gate
from chronus_tui.model import ACID_VOICE, PARAM_INDEX, Pattern, Step, Track, default_modules
from chronus_tui.osc.server import OscServer
from chronus_tui.patternfile import loads
from chronus_tui.session import ChangeKind, Session
from chronus_tui.synth.effects import control_targets
from chronus_tui.ui.widgets.params import NAME_WIDTH, VALUE_WIDTH

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BPM = 60.0  # a step is 0.25 s: room to watch an accent's sweep die away
PLAIN_STEPS, ACCENT_STEPS = (0, 4), (2, 6)  # hits every other step, every second one accented
WINDOW = 960  # 20 ms
SAW_HZ = 55.0  # voice2's pitch (its harmonics fall on FFT bins of a window of 8 × WINDOW)
SETTLE = 240  # 5 ms: the ladder filter's state from the accented note before has died away (-60 dB)


def acid_modules(**acid: float) -> dict[str, dict[str, float]]:
    """A held saw on voice2, fully through acid1 with a dark filter, no effects; the accent
    parameters at 0 unless given."""
    modules = default_modules()
    for module in ("reverb1", "delay1", "dist1"):
        modules[module]["mix"] = 0.0
    modules[ACID_VOICE].update({"osc/type": 1, "freq": SAW_HZ, "amp": 0.5, "filter/freq": 8000.0,
                                "filter/q": 0.7, "adsr/attack": 0.002, "adsr/decay": 0.0,
                                "adsr/sustain": 1.0, "adsr/release": 0.01})
    modules["acid1"].update({"cutoff": 150.0, "res": 0.3, "env_amount": 1500.0, "decay": 0.02,
                             "drive": 0.0, "mix": 1.0, "accent": 1.0, "cutoff_offset": 0.0,
                             "res_accent_boost": 0.0, "accent_decay": 0.08})
    modules["acid1"].update(acid)
    return modules


def render_acid(tmp_path: Path, **acid: float) -> np.ndarray:
    """One bar of the acid line (mono), hits on even steps, steps 2 and 6 (of 8) accented."""
    steps = [Step(on=i % 2 == 0, accent=i in ACCENT_STEPS) for i in range(8)]
    pattern = Pattern(name="acid", bpm=BPM, tracks=[Track("acid", ACID_VOICE, steps, gate=0.9)],
                      modules=acid_modules(**acid))
    name = "_".join(f"{k}{v:g}" for k, v in acid.items()) or "plain"
    audio, events = render_array(tmp_path, patternfile.pattern_to_dict(pattern), bars=1, name=f"{name}.wav")
    assert not [e for e in events if e["event"] == "error"]
    return audio[:, 0] + audio[:, 1]


def spectrum(window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.fft.rfftfreq(len(window), 1 / SR), np.abs(np.fft.rfft(window * np.hanning(len(window))))


def centroid(window: np.ndarray) -> float:
    freqs, magnitude = spectrum(window)
    return float((magnitude * freqs).sum() / magnitude.sum())


def hit(mono: np.ndarray, step: int, offset: int = 0, length: int = WINDOW) -> np.ndarray:
    """`length` samples from `offset` after step `step` sounds."""
    start = expected_onset(step, BPM, 0) + offset
    return mono[start:start + length]


def centroids_over_time(mono: np.ndarray, step: int, windows: int = 5) -> list[float]:
    """The centroid of each 20 ms from the hit on."""
    return [centroid(hit(mono, step, k * WINDOW)) for k in range(windows)]


def assert_plain_hits_equal(a: np.ndarray, b: np.ndarray) -> None:
    """The unaccented hits of two renders sound the same (these parameters touch accents only),
    once the filter has left the accented note before (SETTLE)."""
    for step in PLAIN_STEPS:
        x, y = hit(a, step, SETTLE, 6 * WINDOW), hit(b, step, SETTLE, 6 * WINDOW)
        assert np.abs(x).max() > 0.01  # a hit sounds there
        assert np.abs(x - y).max() < 1e-3 * np.abs(x).max()  # -60 dB


def test_cutoff_offset_brightens_accented_hits_only(tmp_path):
    closed, opened = render_acid(tmp_path), render_acid(tmp_path, cutoff_offset=1000.0)
    for step in ACCENT_STEPS:
        for k, (dark, bright) in enumerate(zip(centroids_over_time(closed, step),
                                               centroids_over_time(opened, step), strict=True)):
            # it raises the cutoff while the accented note lasts, not only at its start
            assert bright > 1.15 * dark, (step, k, dark, bright)
        assert centroid(hit(opened, step, 2 * WINDOW)) > 1.5 * centroid(hit(closed, step, 2 * WINDOW))
    assert_plain_hits_equal(closed, opened)


def acid_targets(**changes: float) -> dict[str, float]:
    """What acid1's controls hold for its defaults with `changes`."""
    return control_targets("acid1", {**default_modules()["acid1"], **changes}, SR)


def test_cutoff_offset_scales_with_accent():
    """The offset is cutoff_offset × accent, as the original's (no accent: no offset)."""
    assert acid_targets(cutoff_offset=800.0, accent=0.25)["accent_offset"] == 200.0
    assert acid_targets(cutoff_offset=800.0, accent=0.0)["accent_offset"] == 0.0


def resonant_peak(window: np.ndarray, cutoff: float) -> float:
    """How far the saw's harmonics at the cutoff stand above those at half of it (which the
    resonance hardly moves)."""
    freqs, magnitude = spectrum(window)
    harmonics = np.arange(1, 40) * SAW_HZ
    level = magnitude[np.searchsorted(freqs, harmonics)]
    near = level[(harmonics > 0.75 * cutoff) & (harmonics < 1.1 * cutoff)].max()
    half = level[(harmonics > 0.35 * cutoff) & (harmonics < 0.55 * cutoff)].mean()
    return float(near / half)


def test_res_accent_boost_raises_the_resonant_peak_of_accented_hits_only(tmp_path):
    fixed = {"cutoff": 700.0, "env_amount": 0.0, "res": 0.5}  # a still filter: the peak stays at 700 Hz
    flat, boosted = render_acid(tmp_path, **fixed), render_acid(tmp_path, **fixed, res_accent_boost=0.4)
    for step in ACCENT_STEPS:
        window = (WINDOW, 8 * WINDOW)  # 20–180 ms, the held note
        before = resonant_peak(hit(flat, step, *window), 700.0)
        after = resonant_peak(hit(boosted, step, *window), 700.0)
        assert after > 1.3 * before, (step, before, after)
    assert_plain_hits_equal(flat, boosted)


def test_res_accent_boost_keeps_the_resonance_in_range():
    """res + boost never passes res's own high end (the ladder filter's feedback stays below 1)."""
    high = PARAM_INDEX["acid1"]["res"].high
    for res in (0.0, 0.5, 0.7, 0.9, high):
        targets = acid_targets(res=res, res_accent_boost=0.4, accent=1.0)
        assert targets["res"] + targets["res_boost"] == pytest.approx(min(res + 0.4, high))


def test_accent_decay_sets_how_fast_the_accents_brightness_dies_away(tmp_path):
    short, long = render_acid(tmp_path, accent_decay=0.02), render_acid(tmp_path, accent_decay=0.15)
    plain = centroids_over_time(short, PLAIN_STEPS[0])
    for step in ACCENT_STEPS:
        fast, slow = centroids_over_time(short, step), centroids_over_time(long, step)
        assert fast[0] > 1.5 * plain[0] and slow[0] > 1.5 * plain[0]  # both accents start bright
        # 20–60 ms on, the short one has died away to near the plain hit; the long one is still bright
        for k in (1, 2):
            assert slow[k] > 1.5 * fast[k], (step, k, fast, slow)
            assert fast[k] < 1.7 * plain[k], (step, k, fast, plain)
        # and the long one's brightness dies away too
        assert slow[4] < 0.5 * slow[0]
    assert_plain_hits_equal(short, long)


def test_with_accent_0_the_three_change_nothing(tmp_path):
    """accent 0: the three parameters change nothing, accented hits included."""
    quiet = {"accent": 0.0}
    none = render_acid(tmp_path, **quiet)
    every = render_acid(tmp_path, **quiet, cutoff_offset=1000.0, res_accent_boost=0.4, accent_decay=0.15)
    assert np.abs(none - every).max() < 1e-4 * np.abs(none).max()


def hand_gate_render(tmp_path: Path, env_amount: float) -> np.ndarray:
    """No voice2 track (one of rests on voice1): voice2 gated by hand at block 10, released at 200."""
    modules = acid_modules(env_amount=env_amount, decay=0.1)
    pattern = Pattern(name="gate", bpm=BPM, tracks=[Track("idle", "voice1", [Step() for _ in range(16)])],
                      modules=modules)
    schedule = {10: [Gate(ACID_VOICE, True)], 200: [Gate(ACID_VOICE, False)]}
    audio, events = render_array(tmp_path, patternfile.pattern_to_dict(pattern), bars=1, schedule=schedule,
                                 name=f"gate{env_amount:g}.wav")
    assert not [e for e in events if e["event"] == "error"]
    return audio[:, 0] + audio[:, 1]


def test_a_hand_gate_on_voice2_starts_acid1s_sweep(tmp_path):
    """The original gated acid1 with voice2: the gate opening sweeps the filter, as a hit does."""
    opened = 10 * 256
    swept, still = hand_gate_render(tmp_path, 3000.0), hand_gate_render(tmp_path, 0.0)
    early = slice(opened, opened + WINDOW)
    late = slice(opened + 20 * WINDOW, opened + 21 * WINDOW)  # 0.4 s on: the sweep is over
    assert centroid(swept[early]) > 2 * centroid(swept[late])
    assert centroid(swept[early]) > 2 * centroid(still[early])
    assert centroid(swept[late]) == pytest.approx(centroid(still[late]), rel=0.05)
    assert np.abs(swept[200 * 256 + 2 * WINDOW:]).max() == 0.0  # released


# -- the parameters everywhere else ---------------------------------------------------------

ACCENT_PARAMS = {"cutoff_offset": (0.0, 1000.0, 500.0, "Hz"), "res_accent_boost": (0.0, 0.4, 0.3, ""),
                 "accent_decay": (0.02, 0.15, 0.08, "s")}  # the original acid module's ranges and values


def test_the_three_are_acid1_parameters_with_the_originals_ranges():
    for name, (low, high, default, unit) in ACCENT_PARAMS.items():
        spec = PARAM_INDEX["acid1"][name]
        assert (spec.low, spec.high, spec.default, spec.unit) == (low, high, default, unit)
    assert {name: default_modules()["acid1"][name] for name in ACCENT_PARAMS} == {
        name: default for name, (_, _, default, _) in ACCENT_PARAMS.items()}


Osc = tuple[OscServer, OscClient]


def test_schema_lists_them_and_mod_sets_them(osc: Osc, session: Session, engine: Any):
    _, client = osc
    params = client.query("/engine/schema")["params"]["acid1"]
    for name, (low, high, default, _) in ACCENT_PARAMS.items():
        assert (params[name]["min"], params[name]["max"], params[name]["default"]) == (low, high, default)
    assert client.ok("/mod/acid1/cutoff_offset", 750) == [750.0]
    assert client.ok("/mod/acid1/accent_decay", 1)[-1] == "clamped"
    assert session.pattern.modules["acid1"]["cutoff_offset"] == 750.0
    assert session.pattern.modules["acid1"]["accent_decay"] == 0.15
    assert engine.last("param") == {"op": "param", "module": "acid1", "param": "accent_decay", "value": 0.15}
    client.error("/mod/acid1/res_accent_boost", "lots")
    assert session.pattern.modules["acid1"]["res_accent_boost"] == 0.3  # refused: unchanged


def test_gate_acid1_gates_voice2(osc: Osc, session: Session, engine: Any, changes: list):
    _, client = osc
    assert client.ok("/gate/acid1", 1) == [1]
    assert client.ok("/gate/acid1", "off") == [0]
    assert [(c["voice"], c["on"]) for c in engine.ops("gate")] == [(ACID_VOICE, True), (ACID_VOICE, False)]
    assert [c.data for c in changes if c.kind == ChangeKind.GATE] == [
        {"voice": ACID_VOICE, "on": True}, {"voice": ACID_VOICE, "on": False}]
    assert "/gate/acid1" in {route["address"] for route in client.query("/engine/schema")["routes"]}
    for bad in ((2,), ("maybe",), ()):
        client.error("/gate/acid1", *bad)
    assert len(engine.ops("gate")) == 2  # the refused ones sent nothing


async def test_the_sound_panel_shows_the_three(patterns_dir: Path):
    app, session = make_app(patterns_dir)
    session.set_param("acid1", "accent_decay", 0.12)
    async with app.run_test(size=(120, 40)) as pilot:
        app.params.focus()
        await pilot.pause()
        shown = {}
        for _ in range(len(app.params.rows())):
            row = app.params.current()
            if row.module == "acid1" and row.spec.name in ACCENT_PARAMS:
                await pilot.pause()
                line = next(line for line in screen_text(app).splitlines() if row.spec.name in line)
                shown[row.spec.name] = line
            await pilot.press("down")
    assert set(shown) == set(ACCENT_PARAMS)
    for name, line in shown.items():  # the long name does not push its value and bar out of line
        end = line.index(name) + NAME_WIDTH + VALUE_WIDTH
        assert line[end:end + 2] in (" █", " ░"), line
    assert "500 Hz" in shown["cutoff_offset"].split("cutoff_offset", 1)[1]
    assert "0.3" in shown["res_accent_boost"].split("res_accent_boost", 1)[1]
    assert "0.12 s" in shown["accent_decay"].split("accent_decay", 1)[1]


def test_files_without_them_load_with_the_defaults():
    """A slot file saved before these parameters existed has none of them."""
    data = patternfile.pattern_to_dict(Pattern(name="old"))
    for name in ACCENT_PARAMS:
        del data["modules"]["acid1"][name]
    data["modules"]["acid1"]["cutoff"] = 1234.0
    pattern = loads(json.dumps(data).encode())
    assert pattern.modules["acid1"]["cutoff"] == 1234.0
    assert {name: pattern.modules["acid1"][name] for name in ACCENT_PARAMS} == {
        name: default for name, (_, _, default, _) in ACCENT_PARAMS.items()}


def test_our_files_keep_them():
    pattern = Pattern(name="kept")
    pattern.modules["acid1"].update({"cutoff_offset": 900.0, "res_accent_boost": 0.1, "accent_decay": 0.03})
    again = loads(patternfile.dumps(patternfile.pattern_to_dict(pattern)).encode())
    assert {name: again.modules["acid1"][name] for name in ACCENT_PARAMS} == {
        "cutoff_offset": 900.0, "res_accent_boost": 0.1, "accent_decay": 0.03}


def test_an_original_files_values_are_carried_over_not_dropped(legacy_dir):
    original = json.loads((legacy_dir / "slot_001.json").read_text())
    original["modules"]["acid1"].update({"cutoff_offset": 600, "res_accent_boost": 0.25, "accent_decay": 0.5})
    dropped: list[str] = []
    pattern = loads(json.dumps(original).encode(), dropped=dropped)
    acid = pattern.modules["acid1"]
    assert (acid["cutoff_offset"], acid["res_accent_boost"], acid["accent_decay"]) == (600.0, 0.25, 0.15)
    notes = [note for note in dropped if note.startswith("modules.acid1.")]
    # accent_decay was out of range: clamped and said so; nothing of the three is dropped
    assert notes == [
        "modules.acid1.accent_disabled (the original's accent was switched off; accents work here)",
        "modules.acid1.accent_decay (0.5 clamped to 0.15)"]
