"""Module parameters, shared sources and the master section: noises, oscillator
tables, LFOs, acid1's controls, reverb and delay send buses, dist1, master volume and
the limiter.

`Params` holds every module's values; the effect modules reach pyo through Controls
(controls.py): one per number an object reads, derived from the values by
`control_targets`, a plain float while it holds still and a ramp while it changes.

Every feedback or resonant path is bounded by its parameter range (delay feedback
≤ 0.7, MoogLP resonance < 1) and every frequency is clipped below Nyquist, so no
setting can produce NaN or blow up; the distortion is a tanh waveshaper (bounded
for any drive) and the output ends in a limiter and a hard clip below 0 dBFS.
"""

from __future__ import annotations

import functools
import math
import random
from array import array
from collections.abc import Iterable
from typing import Any

from chronus_tui.model import MODULE_PARAMS, PARAM_INDEX, VOICES
from chronus_tui.synth.controls import Control, Controls
from chronus_tui.synth.pyolib import SAMPLE_TYPECODE, set_running
from chronus_tui.synth.voices import Lane, safe_value

DECAY_POINTS = 512
LIMIT_THRESHOLD = 0.7  # the limiter holds the level here …
LIMIT_CEILING = 0.98  # the last stage clips here, so the output always stays below 0 dBFS
# Pink and brown noise are played from tables (one cheap table read per sample):
# pyo's PinkNoise and BrownNoise call back into Python for every random number and
# cost ~150 ns a sample, more than a whole lane. The tables hold exactly what those
# objects compute, from a seeded white noise, as a seamless loop of NOISE_PERIOD
# samples (5.5 s at 48 kHz; the white noise, pyo's 16-bit generator, loops every 65536).
NOISE_PERIOD = 1 << 18
NOISE_WARMUP = 1 << 14  # (even) samples the filters run before the loop starts: its end meets its start
NOISE_SEED = 20261125
# pyo's PinkNoise (Paul Kellet's filter): (pole, gain) of six one-pole filters of the
# white noise, the white noise's own gain and its one-sample-late gain, the output gain
PINK_POLES = ((0.99886, 0.0555179), (0.99332, 0.0750759), (0.96900, 0.1538520), (0.86650, 0.3104856),
              (0.55000, 0.5329522), (-0.7616, -0.0168980))
PINK_DIRECT, PINK_DELAYED, PINK_GAIN = 0.5362, 0.115926, 0.2
BROWN_CUTOFF, BROWN_GAIN = 20.0, 20.0  # pyo's BrownNoise: a 20 Hz one-pole lowpass, times 20
# tanh as a table read (pyo's Tanh calls libm's tanh: ~27 ns a sample, a table read ~2):
# Lookup maps its input x, clipped to ±1, to table position (x × LOOKUP_SPAN + 0.5) × size,
# so a signal scaled by 1/TANH_RANGE reads tanh. tanh(±20) is ±1 in double precision;
# linear interpolation over 16384 points is within 6e-7 of tanh (-124 dB).
TANH_RANGE = 20.0
TANH_POINTS = 16384
LOOKUP_SPAN = 0.495
LANE_GROUP = 8  # lanes per submix
# Saw and square are read from tables of the shapes pyo's LFO computes sample by
# sample (~28 ns a sample; a table read ~6): saw p - tanh(n p) / tanh(n) over
# p = -1 … 1, square atan(n sin(2π φ)) × 2/π, with n "harmonics" of sharpness. LFO
# lowers n for high pitches (n ≤ sr/4/f for saw, sr/8/f for square) so they alias
# less; a lane takes the table of the largest n in WAVE_SHARPNESS that its median
# pitch allows, which at bass pitches is LFO's own n = 50.
WAVE_SHARPNESS = (1, 2, 4, 7, 12, 20, 32, 50)
WAVE_POINTS = 2048  # the sharpest saw's edge still spans ~80 points
DIST_TONE_LOW, DIST_TONE_HIGH = 500.0, 12000.0  # dist1's tone filter, Hz, along tone³
# The reverb and the delay are stereo: their right sides hear the sends this much later
# (as Freeverb's stereo spread offsets its right side's delay lines), so the returns'
# left and right differ (decorrelated: a wide tail) while a dry voice keeps its pan.
STEREO_OFFSET = 0.011  # seconds
RES_HIGH = PARAM_INDEX["acid1"]["res"].high  # acid1's resonance, accent included, stays at or below this


def control_targets(module: str, values: dict[str, float], sr: int) -> dict[str, float]:
    """What each control of a module's objects holds, from the module's parameter values.
    (Voices have none here: their lanes' gains are set per lane.)"""
    if module == "acid1":
        comp = 1.0 + 1.5 * values["res"] * values["vol_comp"]  # vol_comp makes up resonance's loss
        accent = values["accent"]
        # an accent's resonance stays within res's own range (MoogLP's feedback below 1)
        res_room = max(0.0, RES_HIGH - values["res"])
        return {"cutoff": values["cutoff"], "res": values["res"], "decay": values["decay"],
                "mix": values["mix"], "env_amount": values["env_amount"],
                "accent_offset": values["cutoff_offset"] * accent,
                "accent_env": values["env_amount"] * accent, "accent_decay": values["accent_decay"],
                "res_boost": min(values["res_accent_boost"] * accent, res_room),
                "comp": comp, "comp_accent": comp * accent,
                "drive_gain": (1.0 + 8.0 * values["drive"]) / TANH_RANGE}  # reads tanh((1 + 8 drive) x)
    if module == "lfo1":  # scales voice2's cutoffs by 1 ± depth
        return {"rate": values["rate"], "depth": values["depth"]}
    if module == "lfo2":  # dips voice3's amp by up to depth
        return {"rate": values["rate"], "half": values["depth"] / 2, "rest": 1.0 - values["depth"] / 2}
    if module == "dist1":
        high = min(DIST_TONE_HIGH, 0.45 * sr)
        return {"drive_gain": (1.0 + 19.0 * values["drive"]) / TANH_RANGE, "mix": values["mix"],
                "tone_freq": DIST_TONE_LOW + (high - DIST_TONE_LOW) * values["tone"] ** 3}
    if module in VOICES:
        return {}
    return dict(values)  # reverb1, delay1, master: the values themselves


class Params:
    """Every module's parameter values, and the controls the effect modules read."""

    def __init__(self, controls: Controls, sr: int) -> None:
        self.sr = sr
        self.values: dict[str, dict[str, float]] = {
            module: {spec.name: float(spec.default) for spec in specs}
            for module, specs in MODULE_PARAMS.items()
        }
        self.controls: dict[str, dict[str, Control]] = {
            module: {name: controls.new(target)
                     for name, target in control_targets(module, values, sr).items()}
            for module, values in self.values.items()
        }

    def set(self, module: str, changes: dict[str, float], now: int, glide: bool = True) -> None:
        """Set some of a module's parameters (each clamped into its range) from sample
        `now`; its controls move once, to targets worked out from all the new values."""
        values = self.values[module]
        for param, value in changes.items():
            values[param] = safe_value(module, param, value)
        controls = self.controls[module]
        for name, target in control_targets(module, values, self.sr).items():
            controls[name].set(target, now, glide)


class Sources:
    """What lanes share: noise generators, oscillator tables, the two LFOs, acid1's
    controls, the gate and decay shapes."""

    def __init__(self, pyo, sr: int, params: Params) -> None:
        self.sr = sr
        white = pyo.Noise()
        white.setType(1)  # a linear congruential generator: pyo's rand() calls Python per sample
        self.noise_tables = noise_tables(pyo, sr)
        self.tanh_table = table_of(pyo, tanh_samples())
        loop = sr / NOISE_PERIOD  # Hz: one table sample per output sample, exactly
        self.noises = [white, *(pyo.Osc(table, freq=loop, interp=1) for table in self.noise_tables)]
        self._wave_tables = {(source, n): table_of(pyo, wave_samples(source, n))
                             for source in (1, 2) for n in WAVE_SHARPNESS}
        self.gate_shape = pyo.DataTable(2, init=[1.0, 1.0])
        lfo1, lfo2 = params.controls["lfo1"], params.controls["lfo2"]
        self._lfo1_depth = lfo1["depth"]
        # FastSine: a polynomial, 2 ns a sample where Sine's table read takes 4.6; its
        # harmonics (-60 dB) are far below anything an LFO's shape could let you hear
        self.lfo1 = pyo.FastSine(freq=1.0, mul=0.0, add=1.0)
        self.lfo2 = pyo.FastSine(freq=1.0, mul=0.0, add=1.0)
        for control, obj, attr in ((lfo1["rate"], self.lfo1, "freq"), (lfo1["depth"], self.lfo1, "mul"),
                                   (lfo2["rate"], self.lfo2, "freq"), (lfo2["half"], self.lfo2, "mul"),
                                   (lfo2["rest"], self.lfo2, "add")):
            control.attach(obj, attr)
        self.acid = params.controls["acid1"]
        curve = [math.exp(-5.0 * i / (DECAY_POINTS - 1)) for i in range(DECAY_POINTS)]
        curve[-1] = 0.0
        self.decay_curve = pyo.DataTable(DECAY_POINTS, init=curve)

    def wave_table(self, source: int, pitch: float) -> Any:
        """The saw (source 1) or square (2) table for a lane whose median pitch is `pitch`."""
        limit = self.sr / (4 if source == 1 else 8) / max(pitch, 1.0)
        n = max((n for n in WAVE_SHARPNESS if n <= limit), default=WAVE_SHARPNESS[0])
        return self._wave_tables[(source, n)]

    def lfo1_moving(self) -> bool:
        """Whether lfo1 moves anything: its depth is (or is still gliding) above 0."""
        return self._lfo1_depth.heard

    def use_noises(self, used: set[int]) -> None:
        """Run only the noise generators some lane plays (they are the costliest sources)."""
        for index, noise in enumerate(self.noises):
            set_running([noise], index in used)


# The tables' contents are computed once per process (the engine restarts and the
# tests' renders build many graphs), as the bytes of pyo's samples (C floats): a
# table takes them in one copy, where DataTable(init=list) converts point by point.


def table_of(pyo, samples: bytes) -> Any:
    """A DataTable holding `samples` (the bytes of its points, SAMPLE_TYPECODE)."""
    table = pyo.DataTable(len(samples) // array(SAMPLE_TYPECODE).itemsize)
    with memoryview(table.getBuffer()) as view, view.cast("B") as raw:
        raw[:] = samples
    return table


@functools.cache
def wave_samples(source: int, sharpness: int) -> bytes:
    """One period of pyo LFO's saw (source 1) or square (2) at that sharpness."""
    if source == 1:
        ramp = [2 * i / WAVE_POINTS - 1 for i in range(WAVE_POINTS)]
        edge = map(math.tanh, (sharpness * p for p in ramp))
        norm = math.tanh(sharpness)
        return _points(p - e / norm for p, e in zip(ramp, edge, strict=True))
    sines = map(math.sin, (2 * math.pi * i / WAVE_POINTS for i in range(WAVE_POINTS)))
    return _points(2 / math.pi * a for a in map(math.atan, (sharpness * x for x in sines)))


@functools.cache
def tanh_samples() -> bytes:
    """tanh over ±TANH_RANGE at the positions pyo's Lookup reads (see LOOKUP_SPAN)."""
    scale = TANH_RANGE / (LOOKUP_SPAN * TANH_POINTS)
    return _points(math.tanh((i - TANH_POINTS / 2) * scale) for i in range(TANH_POINTS))


def _points(values: Iterable[float]) -> bytes:
    return array(SAMPLE_TYPECODE, values).tobytes()


@functools.cache
def _noise_samples(pyo, sr: int) -> tuple[bytes, bytes]:
    return tuple(_samples(table) for table in _compute_noise(pyo, sr))


def noise_tables(pyo, sr: int) -> tuple[Any, Any]:
    """(pink, brown) noise tables of NOISE_PERIOD samples that loop without a seam."""
    pink, brown = (table_of(pyo, data) for data in _noise_samples(pyo, sr))
    return pink, brown


def _samples(table: Any) -> bytes:
    with memoryview(table.getBuffer()) as view:
        return view.tobytes()


def _compute_noise(pyo, sr: int) -> tuple[Any, Any]:
    """pyo's pink and brown noise algorithms on a seeded white noise, in C on pyo tables
    (not in Python: this runs at every start): over NOISE_WARMUP samples of the loop's
    end and then the loop, of which the tables keep the loop."""
    raw = array("h", random.Random(NOISE_SEED).randbytes(2 * NOISE_PERIOD))
    mean = sum(raw) / NOISE_PERIOD
    size = NOISE_WARMUP + NOISE_PERIOD
    white = pyo.DataTable(size, init=(raw[-NOISE_WARMUP:] + raw).tolist())
    white.add(-mean)  # no DC: brown noise is its integral
    white.mul(0.99 / 32768)  # pyo's white noise spans ±0.99

    def copy(source: Any) -> Any:
        table = pyo.DataTable(size)
        table.copyData(source)
        return table

    def one_pole(pole: float, gain: float) -> Any:
        """y[n] = pole × y[n-1] + gain × white[n], with pyo's one-pole lowpass (Tone's formula)."""
        table = copy(white)
        if pole < 0:  # a negative pole: the positive one on the signal with every other sample negated
            signs = [1.0, -1.0] * (size // 2)
            table.mul(signs)
        b = (abs(pole) + 1 / abs(pole)) / 2
        table.lowpass(math.acos(2 - b) * sr / (2 * math.pi))
        table.mul(gain / (1 - abs(pole)))
        if pole < 0:
            table.mul(signs)
        return table

    pink = copy(white)
    pink.mul(PINK_DIRECT)
    delayed = copy(white)
    delayed.rotate(-1)
    delayed.mul(PINK_DELAYED)
    pink.add(delayed)
    for pole, gain in PINK_POLES:
        pink.add(one_pole(pole, gain))
    pink.mul(PINK_GAIN)
    brown = copy(white)
    brown.lowpass(BROWN_CUTOFF)
    brown.mul(BROWN_GAIN)
    loops = []
    for source in (pink, brown):
        table = pyo.DataTable(NOISE_PERIOD)
        table.copyData(source, srcpos=NOISE_WARMUP)
        loops.append(table)
    return loops[0], loops[1]


class Master:
    """Lanes -> dry mix + stereo reverb and delay returns -> dist1 -> volume -> limiter -> out."""

    def __init__(self, pyo, params: Params, sources: Sources, lanes: list[Lane]) -> None:
        # lanes are mixed in groups of LANE_GROUP; a group without a playing lane stops
        # (pyo's Mix adds every input, stopped ones too, sample by sample)
        self._groups = []
        for first in range(0, len(lanes), LANE_GROUP):
            group = lanes[first:first + LANE_GROUP]
            self._groups.append((
                pyo.Mix([side for lane in group for side in (lane.left, lane.right)], voices=2),
                pyo.Mix([lane.reverb_send for lane in group], voices=1),
                pyo.Mix([lane.delay_send for lane in group], voices=1)))
        # one group (a render of up to 8 tracks) is its own sum: no copy of it
        self.dry, self.reverb_in, self.delay_in = (
            buses[0] if len(buses) == 1 else pyo.Mix(list(buses), voices=voices)
            for buses, voices in zip(zip(*self._groups, strict=True), (2, 1, 1), strict=True))
        controls = params.controls
        self.reverb_right = pyo.SDelay(self.reverb_in, delay=STEREO_OFFSET, maxdelay=STEREO_OFFSET)
        self.delay_right = pyo.SDelay(self.delay_in, delay=STEREO_OFFSET, maxdelay=STEREO_OFFSET)
        self.reverb = pyo.Freeverb([self.reverb_in, self.reverb_right], bal=1.0)
        self.delay = pyo.Delay([self.delay_in, self.delay_right], maxdelay=1.0)
        self.delay_low = pyo.ButHP(self.delay)
        self.delay_out = pyo.ButLP(self.delay_low)
        self.returns = self.reverb + self.delay_out
        self.pre = self.dry + self.returns
        self.driven_in = pyo.Sig(self.pre)
        self.driven = pyo.Lookup(sources.tanh_table, self.driven_in)  # tanh((1 + 19 × drive) × pre)
        self.toned = pyo.Tone(self.driven)
        self._dist_chain = (self.driven_in, self.driven, self.toned)
        self._dist_running = True
        self.dist_mix = controls["dist1"]["mix"]
        self.dist = pyo.Interp(self.pre, self.toned)
        self.volume = pyo.Sig(self.dist)
        for module, name, obj, attr in (
                ("reverb1", "room", self.reverb, "size"), ("reverb1", "damp", self.reverb, "damp"),
                ("reverb1", "mix", self.reverb, "mul"), ("delay1", "time", self.delay, "delay"),
                ("delay1", "feedback", self.delay, "feedback"), ("delay1", "lowcut", self.delay_low, "freq"),
                ("delay1", "highcut", self.delay_out, "freq"), ("delay1", "mix", self.delay_out, "mul"),
                ("dist1", "drive_gain", self.driven_in, "mul"), ("dist1", "tone_freq", self.toned, "freq"),
                ("dist1", "mix", self.dist, "interp"), ("master", "volume", self.volume, "mul")):
            controls[module][name].attach(obj, attr)
        # A limiter without lookahead (pyo's Compress delays the signal by its lookahead,
        # which would move every onset): gain = threshold / level above the threshold.
        self.level = pyo.Follower2(self.volume, risetime=0.001, falltime=0.15)
        self.over = pyo.Max(self.level, LIMIT_THRESHOLD)
        self.gain = LIMIT_THRESHOLD / self.over
        self.limited = self.volume * self.gain
        self.output = pyo.Clip(self.limited, -LIMIT_CEILING, LIMIT_CEILING)
        self.output.out()

    def use_lanes(self, playing: set[int]) -> None:
        """Run only the lane groups' mixes that hold a playing lane (the others are silent)."""
        groups = {i // LANE_GROUP for i in playing}
        for g, mixes in enumerate(self._groups):
            set_running(mixes, g in groups)

    def update(self) -> None:
        """Run the distortion only while its mix is (or is still gliding) above 0."""
        running = self.dist_mix.heard
        if running != self._dist_running:
            self._dist_running = running
            set_running(self._dist_chain, running)
