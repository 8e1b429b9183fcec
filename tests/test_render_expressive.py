"""Expressive steps in the audio: probability, trig conditions, fill, micro-timing, ratchets
and parameter locks, analysed with NumPy in offline renders (and once in a live run).

The prediction (support/expressive.py): trigs.decide says which steps play, from the
pattern's seed and the step count since the render began; a step that plays has its hits at
its swung onset + round(off × L) for each off of trigs.hit_offsets (micro-timing in 24ths of
the unswung step L, ratchets evenly through one step). Onsets are compared to the sample.
The test voice is the sine click of test_engine_timing (1 ms attack, no effects), so the
first sample above 1e-6 after silence is a hit; where a lock is measured, a saw.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from support.expressive import expected_hits, set_step
from support.jack import chronus_on_jack, missing_tools
from support.osc import wait_until
from support.render import SR, click_pattern, expected_onset, onsets, pattern_of, read_wav, render_pattern

from chronus_tui import patternfile
from chronus_tui.engine.protocol import ReplacePattern, ReplaceTrack, SetFill
from chronus_tui.model import SEED_SPEC, Pattern
from chronus_tui.store import SlotStore
from chronus_tui.trigs import TrigState, decide

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BUFFER = 256
LEFT, RIGHT = {"pan": -1.0}, {"pan": 1.0}


def clicks(tracks: list[tuple[str, str, str]], *, bpm: float, swing: float = 0.0, seed: int = 0,
           voices: dict[str, dict[str, float]] | None = None) -> Pattern:
    """click_pattern as a Pattern, seeded."""
    pattern = pattern_of(click_pattern(tracks, bpm=bpm, swing=swing, voices=voices))
    pattern.seed = int(SEED_SPEC.check(seed, "seed"))
    return pattern


def played_steps(pattern: Pattern, steps: int) -> dict[str, list[int]]:
    """The step counts each track plays in the first `steps`, as trigs.decide says (fill off)."""
    state, played = TrigState(), {t.name: [] for t in pattern.tracks}
    for count in range(steps):
        plays, state = decide(pattern.tracks, count, pattern.seed, False, state)
        for track, plays_now in zip(pattern.tracks, plays, strict=True):
            if plays_now:
                played[track.name].append(count)
    return played


# --- probability ------------------------------------------------------------------------------

COIN_BPM = 300  # a step is 2400 samples: 512 of them in 26 s of audio
REPETITIONS = 512


def coin(seed: int) -> Pattern:
    """One step, played 512 times, at 50 %."""
    pattern = clicks([("coin", "voice1", "x")], bpm=COIN_BPM, seed=seed)
    set_step(pattern, "coin", 0, prob=50)
    return pattern


def test_a_50_percent_step_plays_as_often_as_a_coin_lands_heads_and_as_its_seed_says(tmp_path: Path) -> None:
    bars = REPETITIONS // 16
    heard = {}
    for seed, name in ((1, "a.wav"), (1, "b.wav"), (2, "c.wav")):
        audio, _ = render_pattern(tmp_path, coin(seed), bars=bars, buffer=1024, name=name)
        heard[name] = onsets(audio[:, 0])
    step = 60 * SR // (COIN_BPM * 4)
    played = [hit // step for hit in heard["a.wav"]]
    assert all(hit % step == 0 for hit in heard["a.wav"])  # each on its step's first sample
    # 512 tosses: 256 ± 4.5 σ (σ = √(512 × ½ × ½) ≈ 11.3)
    assert abs(len(played) - REPETITIONS / 2) <= 4.5 * math.sqrt(REPETITIONS / 4), len(played)
    assert played == played_steps(coin(1), REPETITIONS)["coin"]  # hit for hit as trigs.decide rolls
    assert heard["a.wav"] == expected_hits(coin(1), REPETITIONS)
    assert heard["b.wav"] == heard["a.wav"]  # one seed, the same hits
    assert heard["c.wav"] != heard["a.wav"]  # another seed, other ones
    assert heard["c.wav"] == expected_hits(coin(2), REPETITIONS)


def neighbours(seed: int = 3, muted: bool = False) -> Pattern:
    """A 50 % track on the left, and on the right one whose every step plays when it did (NEI)."""
    pattern = clicks([("coin", "voice1", "x" * 16), ("nei", "voice3", "x" * 16)], bpm=COIN_BPM, seed=seed,
                     voices={"voice1": LEFT, "voice3": RIGHT})
    for index in range(16):
        set_step(pattern, "coin", index, prob=50)
        set_step(pattern, "nei", index, cond="NEI")
    pattern.tracks[0] = replace(pattern.tracks[0], mute=muted)
    return pattern


def test_a_tracks_rolls_are_its_own_whatever_is_muted_or_edited_beside_it(tmp_path: Path) -> None:
    """Muting the 50 % track silences it but not its decisions (NEI still follows them); an
    edit of the other track mid-way changes none of its rolls; a new seed, sent as an edit,
    rolls new ones from the next step on, the step count running on."""
    steps = 64
    audio, _ = render_pattern(tmp_path, neighbours(), bars=steps // 16, buffer=BUFFER)
    coin, nei = onsets(audio[:, 0]), onsets(audio[:, 1])
    assert 0 < len(coin) < steps
    assert nei == coin == expected_hits(neighbours(), steps, tracks=["coin"])
    muted, _ = render_pattern(tmp_path, neighbours(muted=True), bars=steps // 16, buffer=BUFFER, name="m.wav")
    assert onsets(muted[:, 0]) == [] and onsets(muted[:, 1]) == coin
    middle = (expected_onset(steps // 2 - 1, COIN_BPM, 0) + expected_onset(steps // 2, COIN_BPM, 0)) // 2
    plain = clicks([("nei", "voice3", "x.x.")], bpm=COIN_BPM).tracks[0]
    edited, _ = render_pattern(tmp_path, neighbours(), bars=steps // 16, buffer=BUFFER, name="e.wav",
                               schedule={middle // BUFFER: [ReplaceTrack(1, plain)]})
    assert onsets(edited[:, 0]) == coin
    reseeded, _ = render_pattern(tmp_path, neighbours(), bars=steps // 16, buffer=BUFFER, name="s.wav",
                                 schedule={middle // BUFFER: [ReplacePattern(neighbours(seed=4), "edit")]})
    line = expected_onset(steps // 2, COIN_BPM, 0)
    new_rolls = expected_hits(neighbours(seed=4), steps, tracks=["coin"])
    assert new_rolls != coin
    assert onsets(reseeded[:, 0]) == [h for h in coin if h < line] + [h for h in new_rolls if h >= line]


# --- conditions and fill ------------------------------------------------------------------------

COND_BPM, COND_SWING = 120, 0.25
COND_BARS = 16
# (track, voice, length) and its conditional steps {index: fields}; each step of a bar ("slot",
# index mod 16) belongs to one track, so a hit's sample says which track and step it is
CONDITIONS: list[tuple[str, str, int, dict[int, dict[str, object]]]] = [
    ("cycles", "voice1", 16, {0: {"cond": "1:2"}, 1: {"cond": "2:3"}, 2: {"cond": "3:8"}, 3: {"cond": "4:5"},
                              4: {"cond": "8:8"}}),
    ("fill", "voice3", 16, {5: {"cond": "FILL"}, 6: {"cond": "!FILL"}}),
    ("first", "voice4", 16, {7: {"cond": "1ST"}, 8: {"cond": "!1ST"}, 15: {"cond": "PRE"}}),
    ("pre", "voice5", 16, {9: {"prob": 50}, 10: {"cond": "PRE"}, 11: {"cond": "!PRE"}}),
    ("nei", "voice6", 16, {12: {"cond": "NEI"}, 13: {"cond": "!NEI"}}),
    ("long", "voice7", 32, {14: {"cond": "1:3"}, 30: {"cond": "2:2"}}),  # repetitions of 2 bars
]
FILL_BARS = frozenset({4, 5, 6, 7, 12})
COND_SEED = 5


def condition_pattern() -> Pattern:
    tracks = [(name, voice, "." * length) for name, voice, length, _ in CONDITIONS]
    pattern = clicks(tracks, bpm=COND_BPM, swing=COND_SWING, seed=COND_SEED)
    for name, _, _, steps in CONDITIONS:
        for index, fields in steps.items():
            set_step(pattern, name, index, on=True, **fields)
    return pattern


def fill_schedule(bars: frozenset[int]) -> tuple[dict[int, list[SetFill]], frozenset[int]]:
    """SetFill commands that turn fill on for exactly `bars` (each sent in a block in the
    middle of the step before the change: it counts from the next step), and the step counts
    it is on for."""
    counts = frozenset(n for bar in bars for n in range(16 * bar, 16 * bar + 16))
    schedule: dict[int, list[SetFill]] = {}
    for count in range(1, 16 * COND_BARS):
        if (count in counts) != (count - 1 in counts):
            before, at = (expected_onset(n, COND_BPM, COND_SWING) for n in (count - 1, count))
            middle = (before + at) // 2
            schedule[middle // BUFFER] = [SetFill(count in counts)]
    return schedule, counts


def test_every_condition_plays_exactly_where_its_rule_says_over_16_bars(tmp_path: Path) -> None:
    pattern = condition_pattern()
    schedule, fill = fill_schedule(FILL_BARS)
    audio, events = render_pattern(tmp_path, pattern, bars=COND_BARS, buffer=BUFFER, schedule=schedule)
    assert not [e for e in events if e["event"] == "error"]
    found = onsets(audio[:, 0])
    assert found == expected_hits(pattern, 16 * COND_BARS, fill=fill)
    grid = {expected_onset(n, COND_BPM, COND_SWING): n for n in range(16 * COND_BARS)}
    assert set(found) <= set(grid), "a hit off the step grid"
    heard = {divmod(grid[hit], 16) for hit in found}  # (bar, slot)

    def bars(slot: int) -> set[int]:
        return {bar for bar, s in heard if s == slot}

    every = set(range(COND_BARS))
    # A:B: the A-th of every B repetitions of the track (a 16-step track repeats each bar)
    assert bars(0) == {b for b in every if b % 2 == 0}
    assert bars(1) == {b for b in every if b % 3 == 1}
    assert bars(2) == {b for b in every if b % 8 == 2}
    assert bars(3) == {b for b in every if b % 5 == 3}
    assert bars(4) == {7, 15}
    assert bars(14) == {0, 6, 12} | {3, 7, 11, 15}  # a 32-step track: 1:3 on index 14, 2:2 on index 30
    assert bars(5) == FILL_BARS
    assert bars(6) == every - FILL_BARS
    assert bars(7) == {0}
    assert bars(8) == every - {0}
    assert bars(15) == every - {0}  # PRE after !1ST, its track's last conditional step
    coin_bars = bars(9)
    assert 0 < len(coin_bars) < COND_BARS, "the seed should play the 50 % step in some bars, not all"
    assert bars(10) == coin_bars  # PRE: its track's last conditional step (9) played
    assert bars(11) == every - coin_bars
    assert bars(12) == coin_bars  # NEI: the track before's last conditional step played
    assert bars(13) == every - coin_bars


# --- micro-timing -------------------------------------------------------------------------------

def micro_positions(count: int, first: int = 2) -> list[int]:
    """Steps `count` hits apart by 2 and 3 steps in turn (odd and even steps both, so swing
    counts), from `first`."""
    positions = [first]
    for k in range(count - 1):
        positions.append(positions[-1] + (2, 3)[k % 2])
    return positions


@pytest.mark.parametrize("bpm,swing", [(90, 0.3), (137, 0.45), (174, 0.6)])
def test_every_micro_timing_value_moves_its_hit_to_the_sample(tmp_path: Path, bpm: float,
                                                              swing: float) -> None:
    """−23/24 … 0 on a track panned left, 1/24 … 23/24 on one panned right, each on a step of
    its own; and step 0 moved early plays on step 0's sample (nothing plays before the start)."""
    tracks = [("early", "voice1", "." * 64), ("late", "voice3", "." * 64), ("start", "voice4", "." * 64)]
    pattern = clicks(tracks, bpm=bpm, swing=swing, voices={"voice1": LEFT, "voice3": RIGHT})
    values = {"early": range(-23, 1), "late": range(1, 24)}
    for name, micros in values.items():
        for index, micro in zip(micro_positions(len(micros)), micros, strict=True):
            set_step(pattern, name, index, on=True, micro=micro)
    set_step(pattern, "start", 0, on=True, micro=-12)
    audio, _ = render_pattern(tmp_path, pattern, bars=4, buffer=BUFFER)
    left, right = onsets(audio[:, 0]), onsets(audio[:, 1])
    assert left == expected_hits(pattern, 64, tracks=["early", "start"])
    assert right == expected_hits(pattern, 64, tracks=["late", "start"])
    assert left[0] == right[0] == 0
    # the same, spelled out: onset + round(micro × L / 24), L the unswung step
    step = 60 * SR / (bpm * 4)
    spelled = [expected_onset(n, bpm, swing) + math.floor(micro * step / 24 + 0.5)
               for n, micro in zip(micro_positions(24), values["early"], strict=True)]
    assert left[1:1 + len(spelled)] == spelled  # (after them, step 0 again, early into the render's end)


# --- ratchets -----------------------------------------------------------------------------------

# index: (ratchet, micro); the track is 32 steps long and plays twice
RATCHETS = {0: (1, 0), 2: (2, 0), 5: (3, 0), 7: (4, 0), 10: (5, 0), 12: (6, 0), 15: (7, 0), 17: (8, 0),
            20: (4, 6), 23: (4, 6), 27: (4, 6)}
# after 20 and 23, a plain step: their last hits reach it. After 27, a step that does not play
# in the first repetition (!1ST): there all 27's hits play, in the second the last one is dropped
NEXT_STEPS = {21: None, 24: None, 28: "!1ST"}


@pytest.mark.parametrize("bpm,swing", [(60, 0.0), (100, 0.5)])
def test_ratchets_retrigger_evenly_inside_their_step(tmp_path: Path, bpm: float, swing: float) -> None:
    pattern = clicks([("roll", "voice1", "." * 32)], bpm=bpm, swing=swing)
    pattern.tracks[0] = replace(pattern.tracks[0], gate=0.05)  # short hits: each heard alone
    for index, (ratchet, micro) in RATCHETS.items():
        set_step(pattern, "roll", index, on=True, ratchet=ratchet, micro=micro)
    for index, cond in NEXT_STEPS.items():
        set_step(pattern, "roll", index, on=True, cond=cond)
    audio, _ = render_pattern(tmp_path, pattern, bars=4, buffer=BUFFER)
    found = onsets(audio[:, 0])
    assert found == expected_hits(pattern, 64)
    # spelled out for ratchets 1–8 in the first repetition: step n + j/r of a step
    step = 60 * SR / (bpm * 4)
    for index, (ratchet, _) in list(RATCHETS.items())[:8]:
        start = expected_onset(index, bpm, swing)
        assert [hit for hit in found if start <= hit < start + step] == \
            [start + math.floor(j * step / ratchet + 0.5) for j in range(ratchet)], f"ratchet {ratchet}"
    # step 27's last hits reach step 28's onset: all heard while 28 does not play (the first
    # repetition), those at or after 28's hit dropped once it plays (the second)
    for repetition, plays_next in ((0, False), (1, True)):
        start, after = (expected_onset(32 * repetition + n, bpm, swing) for n in (27, 28))
        ratcheted = [start + math.floor((6 / 24 + j / 4) * step + 0.5) for j in range(4)]
        heard = [hit for hit in found if start <= hit < expected_onset(32 * repetition + 30, bpm, swing)]
        assert heard == ([hit for hit in ratcheted if hit < after] + [after] if plays_next else ratcheted)


GATE_BPM, GATE = 120, 0.5  # a step is 6000 samples, a plain hit's gate 3000


def gate_ends(channel: np.ndarray, hit: int, until: int, period: int = SR // 1000) -> int:
    """Samples from `hit` to the first period of the click (after its attack) under 0.9 of its
    level: the gate's end, and a period or so of its release (0.01 s, 480 samples)."""
    level = envelope(channel, hit, until, period)
    below = np.flatnonzero(level[2:] < 0.9 * level[2])
    return int(below[0] + 2) * period if len(below) else until - hit


@pytest.mark.parametrize("ratchet", [1, 2, 4])
def test_a_hits_gate_is_the_tracks_gate_shared_among_its_ratchets_and_a_slide_holds(
        tmp_path: Path, ratchet: int) -> None:
    """Every hit of a step of r ratchets is held for gate × step / r (here 0.5 × 6000 / r
    samples), on every repetition; a slid step is held until the next hit."""
    pattern = clicks([("held", "voice1", "x...x...")], bpm=GATE_BPM)
    pattern.tracks[0] = replace(pattern.tracks[0], gate=GATE)
    set_step(pattern, "held", 0, ratchet=ratchet)
    set_step(pattern, "held", 4, slide=True)
    audio, _ = render_pattern(tmp_path, pattern, bars=2, buffer=BUFFER)
    step, period = 60 * SR // (GATE_BPM * 4), SR // 1000
    gate = GATE * step / ratchet
    for bar_step in range(0, 32, 8):
        start = expected_onset(bar_step, GATE_BPM, 0)
        for j in range(ratchet):
            hit = start + round(j * step / ratchet)
            held = gate_ends(audio[:, 0], hit, hit + round(step / ratchet))
            assert abs(held - (gate + period)) <= 2 * period, f"step {bar_step} hit {j}: {held}, not {gate}"
        slid = expected_onset(bar_step + 4, GATE_BPM, 0)
        next_hit = expected_onset(bar_step + 8, GATE_BPM, 0)
        assert gate_ends(audio[:, 0], slid, next_hit - period) == next_hit - period - slid, "the slide let go"


# --- parameter locks ----------------------------------------------------------------------------

def centroid(window: np.ndarray) -> float:
    """The spectral centroid of `window`, Hz: where its spectrum's weight lies."""
    magnitude = np.abs(np.fft.rfft(window * np.hanning(len(window))))
    return float((np.fft.rfftfreq(len(window), 1 / SR) * magnitude).sum() / magnitude.sum())


LOCK_STEP = 6
SAW = {"osc/type": 1, "freq": 110.0, "adsr/release": 0.3}  # rings on through a rest after it


@pytest.mark.parametrize("steps", ["x" * 16, "x." * 8], ids=["every-step", "rests-between"])
@pytest.mark.parametrize("voice,module,param,plain,locked", [
    ("voice1", "voice1", "filter/freq", 500.0, 4000.0),
    ("voice2", "acid1", "cutoff", 300.0, 3000.0),  # the acid insert's filter, on its voice
])
def test_a_lock_changes_its_step_alone(tmp_path: Path, steps: str, voice: str, module: str, param: str,
                                       plain: float, locked: float) -> None:
    """A saw on every step (or every other one, each note ringing on through the rest after
    it), the filter closed but on step 6, locked open: step 6 is far brighter (spectral
    centroid) than steps 5 and 7, the next step, which is as dark as 5: the lock ends with its
    step, on the next hit or, if the track rests, where the next step starts."""
    pattern = clicks([("saw", voice, steps)], bpm=120, voices={voice: SAW})
    pattern.modules[module][param] = plain
    pattern.modules["acid1"].update({"env_amount": 0.0, "res": 0.2, "drive": 0.0})  # no sweep: cutoff alone
    pattern.tracks[0] = replace(pattern.tracks[0], gate=0.5)
    set_step(pattern, "saw", LOCK_STEP, locks={param if module == voice else f"{module}/{param}": locked})
    audio, events = render_pattern(tmp_path, pattern, bars=2, buffer=BUFFER)
    assert not [e for e in events if e["event"] == "error"]
    mono = audio[:, 0] + audio[:, 1]
    brightness = []
    for n in range(32):
        hit = expected_onset(n, 120, 0)
        brightness.append(centroid(mono[hit + 64:hit + 64 + 2048]))
    dark = [b for n, b in enumerate(brightness) if n % 16 != LOCK_STEP]
    assert max(dark) < 1.15 * min(dark), f"the unlocked steps differ: {brightness}"
    for n in (LOCK_STEP, 16 + LOCK_STEP):
        assert brightness[n] > 1.5 * max(brightness[n - 1], brightness[n + 1]), brightness  # (some 2.3×)
        assert abs(brightness[n + 1] - brightness[n - 1]) < 0.1 * brightness[n - 1], "the lock outlived it"


def envelope(channel: np.ndarray, start: int, end: int, period: int = SR // 1000) -> np.ndarray:
    """The peak of each period of the 1 kHz click from `start` to `end`: its level over time."""
    frames = channel[start:start + (end - start) // period * period].reshape(-1, period)
    return np.abs(frames).max(axis=1)


def test_an_amp_lock_scales_its_hit_from_its_first_sample_to_the_next_hit(tmp_path: Path) -> None:
    """Hits on every step at 300 bpm held for 0.9 of a step, in 1024-sample blocks, so each
    block holds the end of one hit and the start of the next: the locked hit is at half the
    level (amp 0.25 of the voice's 0.5) through its whole gate, and the hit before it and the
    one after it are untouched, to the period."""
    bpm, gate = 300, 0.9
    pattern = clicks([("click", "voice1", "x" * 16)], bpm=bpm)
    pattern.tracks[0] = replace(pattern.tracks[0], gate=gate)
    set_step(pattern, "click", 5, locks={"amp": 0.25})
    audio, _ = render_pattern(tmp_path, pattern, bars=1, buffer=1024)
    step = 60 * SR // (bpm * 4)
    period = SR // 1000

    def level(n: int) -> np.ndarray:
        hit = expected_onset(n, bpm, 0)
        return envelope(audio[:, 0], hit + 2 * period, hit + int(gate * step) - period)

    reference = level(2)
    for n in (1, 3, 4, 6, 7, 12):
        assert np.allclose(level(n), reference, rtol=0.01), f"step {n}: {level(n) / reference}"
    assert np.allclose(level(5), 0.5 * reference, rtol=0.01), level(5) / reference


# --- live = render ------------------------------------------------------------------------------

MISSING = missing_tools()
LIVE_BPM, LIVE_BARS = 240, 4  # a step is 3000 samples, a bar 1 s


def live_pattern() -> Pattern:
    """A step on every bar line, left (where the file lines up), and on the right a track of
    16ths at 50 % (some micro-timed, some ratcheted)."""
    pattern = clicks([("bar", "voice1", "x..............."), ("dice", "voice3", "x" * 16)], bpm=LIVE_BPM,
                     seed=11, voices={"voice1": LEFT, "voice3": RIGHT})
    for index in range(16):
        set_step(pattern, "dice", index, prob=50, micro=(0, 4, -4)[index % 3], ratchet=(1, 1, 2)[index % 3])
    return pattern


@pytest.mark.realtime
@pytest.mark.skipif(bool(MISSING), reason=f"JACK tools not installed: {', '.join(MISSING)} (package jackd2)")
def test_a_live_run_plays_the_hits_the_render_plays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real `chronus --no-ui` on a private JACK server records itself (the synth process
    writes the file from its own blocks, so xruns cannot take audio out of it) from before
    the transport starts; from the first bar line on, its right channel's hits are the
    render's, to the sample, and as trigs.decide says."""
    from test_realtime_record import closed

    pattern = live_pattern()
    patterns_dir = tmp_path / "patterns"
    SlotStore(patterns_dir).save(1, patternfile.pattern_to_dict(pattern))
    offline, _ = render_pattern(tmp_path, pattern, bars=LIVE_BARS, buffer=BUFFER)
    with chronus_on_jack(tmp_path, patterns_dir, monkeypatch, sr=SR, buffer=BUFFER) as (_, _, osc):
        osc.ok("/pattern/load", 1)  # stopped: at once
        assert osc.ok("/engine/record/start", "take") == ["take.wav"]  # stopped: from this block
        osc.ok("/seq/start")
        wait_until(lambda: osc.query("/engine/record/status")["seconds"] >= LIVE_BARS + 1.5, timeout=20)
        assert osc.ok("/engine/record/stop") == ["take.wav"]
        path = patterns_dir / "recordings" / "take.wav"
        wait_until(lambda: closed(path), timeout=10)
    live = read_wav(path)
    bar_lines = onsets(live[:, 0])
    assert len(bar_lines) >= LIVE_BARS, f"{len(bar_lines)} bar lines recorded"
    start, frames = bar_lines[0], len(offline)
    assert [s - start for s in bar_lines[:LIVE_BARS]] == onsets(offline[:, 0])
    heard = [s for s in onsets(live[start:, 1]) if s < frames]
    assert heard == onsets(offline[:, 1]) == expected_hits(pattern, 16 * LIVE_BARS, tracks=["dice"])
