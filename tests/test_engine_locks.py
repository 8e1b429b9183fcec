"""Parameter locks the engine applies at block rate (pan, envelope, acid1 on the acid voice)
and what they leave behind: each is measured in an offline render, on the locked hit against
the same track's hits before and after it."""

from __future__ import annotations

import numpy as np
from support.render import SR, expected_onset, render_array

from chronus_tui import patternfile
from chronus_tui.model import ACID_VOICE, Pattern, Step, Track, default_modules

BPM = 120.0
STEP = SR // 8  # samples of a step at 120 bpm
LOCKED = 4  # the locked step; hits on 0, 4, 8 and 12


def quiet_modules(voice: str, **values: float) -> dict[str, dict[str, float]]:
    modules = default_modules()
    for module in ("reverb1", "delay1", "dist1"):
        modules[module]["mix"] = 0.0
    modules[voice].update({"amp": 0.5, "adsr/attack": 0.002, "adsr/decay": 0.0, "adsr/sustain": 1.0,
                           "adsr/release": 0.02, "filter/freq": 8000.0, "filter/q": 0.7, **values})
    return modules


def locked_render(tmp_path, voice: str, locks: dict[str, float], name: str,
                  acid: dict[str, float] | None = None, **values: float) -> np.ndarray:
    """One bar of `voice` (its `values` on quiet_modules; acid1's `acid`), step LOCKED locked."""
    steps = [Step(on=i % 4 == 0) for i in range(16)]
    steps[LOCKED].locks = dict(locks)
    modules = quiet_modules(voice, **values)
    modules["acid1"].update(acid or {})
    pattern = Pattern(name="locks", bpm=BPM, tracks=[Track("t", voice, steps, gate=0.5)], modules=modules)
    audio, events = render_array(tmp_path, patternfile.pattern_to_dict(pattern), bars=1, name=f"{name}.wav")
    assert not [e for e in events if e["event"] == "error"]
    return audio


def window(audio: np.ndarray, step: int, length: int = STEP // 2) -> np.ndarray:
    start = expected_onset(step, BPM, 0)
    return audio[start:start + length]


def centroid(mono: np.ndarray) -> float:
    magnitude = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    freqs = np.fft.rfftfreq(len(mono), 1 / SR)
    return float((magnitude * freqs).sum() / magnitude.sum())


def test_a_pan_lock_moves_only_its_hit(tmp_path):
    audio = locked_render(tmp_path, "voice1", {"pan": -1.0}, "pan", freq=440.0)
    for step in (0, 8, 12):
        left, right = np.abs(window(audio, step)).max(axis=0)
        assert abs(left - right) < 0.02 * left, step  # centred
    left, right = np.abs(window(audio, LOCKED)[STEP // 4:]).max(axis=0)  # once its 20 ms glide is over
    assert right < 0.05 * left  # hard left


def test_a_release_lock_lengthens_only_its_hits_tail(tmp_path):
    audio = locked_render(tmp_path, "voice1", {"adsr/release": 0.5}, "release", freq=440.0)
    mono = audio[:, 0]
    gate_end = STEP // 2  # gate 0.5 of a step
    tail = slice(gate_end + SR // 20, gate_end + SR // 10)  # 50–100 ms after the gate closes
    locked = np.abs(window(mono, LOCKED, STEP)[tail]).max()
    for step in (0, 8):
        assert np.abs(window(mono, step, STEP)[tail]).max() < 1e-3 * locked, step
    assert locked > 0.05


def test_an_acid_lock_opens_the_filter_of_its_hit_only(tmp_path):
    dark = {"cutoff": 150.0, "env_amount": 0.0, "res": 0.3, "drive": 0.0}
    audio = locked_render(tmp_path, ACID_VOICE, {"acid1/cutoff": 3000.0}, "acid", acid=dark,
                          **{"osc/type": 1, "freq": 55.0})
    mono = audio[:, 0] + audio[:, 1]
    plain = [centroid(window(mono, step)) for step in (0, 8, 12)]
    assert max(plain) < 1.05 * min(plain)  # the hits around it sound alike
    assert centroid(window(mono, LOCKED)) > 2 * max(plain)
