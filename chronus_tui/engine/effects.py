"""Shared sources and the master section: noises, LFOs, acid1's shared signals,
reverb and delay send buses, dist1, master volume and the limiter.

Every feedback or resonant path is bounded by its parameter range (delay feedback
≤ 0.7, MoogLP resonance < 1) and every frequency is clipped below Nyquist, so no
setting can produce NaN or blow up; the distortion is a tanh waveshaper (bounded
for any drive) and the output ends in a limiter and a hard clip below 0 dBFS.
"""

from __future__ import annotations

import math
import random
from array import array
from typing import Any

from chronus_tui.engine.pyolib import set_running, value_reader
from chronus_tui.engine.voices import Lane, Params

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
LANE_GROUP = 4  # lanes per submix


class Sources:
    """What lanes share: noise generators, the two LFOs, acid1's derived signals, tables."""

    def __init__(self, pyo, sr: int, params: Params) -> None:
        white = pyo.Noise()
        white.setType(1)  # a linear congruential generator: pyo's rand() calls Python per sample
        self.noise_tables = noise_tables(pyo, sr)
        self.tanh_table = pyo.DataTable(TANH_POINTS, init=tanh_points())
        loop = sr / NOISE_PERIOD  # Hz: one table sample per output sample, exactly
        self.noises = [white, *(pyo.Osc(table, freq=loop, interp=1) for table in self.noise_tables)]
        self.gate_shape = pyo.DataTable(2, init=[1.0, 1.0])
        lfo1, lfo2 = params.signals["lfo1"], params.signals["lfo2"]
        # lfo1 scales voice2's cutoffs (its filter and acid1's) by 1 ± depth; lfo2 dips
        # voice3's amp by up to depth
        self.lfo1 = pyo.Sine(freq=lfo1["rate"], mul=lfo1["depth"], add=1.0)
        self._lfo2_half = pyo.Sig(lfo2["depth"], mul=0.5)
        self._lfo2_rest = pyo.Sig(lfo2["depth"], mul=-0.5, add=1.0)
        self.lfo2 = pyo.Sine(freq=lfo2["rate"], mul=self._lfo2_half, add=self._lfo2_rest)
        self.voice3_amp = params.signals["voice3"]["amp"] * self.lfo2
        acid = params.signals["acid1"]
        self._res_comp = pyo.Sig(acid["vol_comp"], mul=acid["res"])
        self.acid: dict[str, Any] = {
            **acid,
            # 1 + 8 × drive, over TANH_RANGE: a lane's source times this reads tanh_table
            "drive_gain": pyo.Sig(acid["drive"], mul=8.0 / TANH_RANGE, add=1.0 / TANH_RANGE),
            "comp": pyo.Sig(self._res_comp, mul=1.5, add=1.0),  # vol_comp makes up resonance's loss
        }
        curve = [math.exp(-5.0 * i / (DECAY_POINTS - 1)) for i in range(DECAY_POINTS)]
        curve[-1] = 0.0
        self.decay_curve = pyo.DataTable(DECAY_POINTS, init=curve)

    def use_noises(self, used: set[int]) -> None:
        """Run only the noise generators some lane plays (they are the costliest sources)."""
        for index, noise in enumerate(self.noises):
            set_running([noise], index in used)


def tanh_points() -> list[float]:
    """tanh over ±TANH_RANGE at the positions pyo's Lookup reads (see LOOKUP_SPAN)."""
    if not _tanh_cache:
        scale = TANH_RANGE / (LOOKUP_SPAN * TANH_POINTS)
        _tanh_cache.extend(math.tanh((i - TANH_POINTS / 2) * scale) for i in range(TANH_POINTS))
    return list(_tanh_cache)


_tanh_cache: list[float] = []
_noise_cache: dict[int, tuple[bytes, bytes]] = {}  # sr -> the tables' samples, computed once per process


def noise_tables(pyo, sr: int) -> tuple[Any, Any]:
    """(pink, brown) noise tables of NOISE_PERIOD samples that loop without a seam."""
    if sr not in _noise_cache:
        _noise_cache[sr] = tuple(_samples(table) for table in _compute_noise(pyo, sr))
    tables = []
    for data in _noise_cache[sr]:
        table = pyo.DataTable(NOISE_PERIOD)
        with memoryview(table.getBuffer()) as view, view.cast("B") as raw:
            raw[:] = data
        tables.append(table)
    return tables[0], tables[1]


def _samples(table: Any) -> bytes:
    with memoryview(table.getBuffer()) as view:
        return view.tobytes()


def _compute_noise(pyo, sr: int) -> tuple[Any, Any]:
    """pyo's pink and brown noise algorithms on a seeded white noise, in C on pyo tables
    (~50 ms): over NOISE_WARMUP samples of the loop's end and then the loop, of which
    the tables keep the loop."""
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
    """Lanes -> dry mix + reverb and delay returns -> dist1 -> volume -> limiter -> out."""

    def __init__(self, pyo, sr: int, params: Params, sources: Sources, lanes: list[Lane]) -> None:
        sig = params.signals
        # lanes are mixed in groups of LANE_GROUP; a group without a playing lane stops
        # (pyo's Mix adds every input, stopped ones too, sample by sample)
        self._groups = []
        for first in range(0, len(lanes), LANE_GROUP):
            group = lanes[first:first + LANE_GROUP]
            self._groups.append((
                pyo.Mix([side for lane in group for side in (lane.left, lane.right)], voices=2),
                pyo.Mix([lane.reverb_send for lane in group], voices=1),
                pyo.Mix([lane.delay_send for lane in group], voices=1)))
        self.dry = pyo.Mix([mixes[0] for mixes in self._groups], voices=2)
        self.reverb_in = pyo.Mix([mixes[1] for mixes in self._groups], voices=1)
        self.delay_in = pyo.Mix([mixes[2] for mixes in self._groups], voices=1)
        rev = sig["reverb1"]
        self.reverb = pyo.Freeverb(self.reverb_in, size=rev["room"], damp=rev["damp"], bal=1.0,
                                   mul=rev["mix"])
        dly = sig["delay1"]
        self.delay = pyo.Delay(self.delay_in, delay=dly["time"], feedback=dly["feedback"], maxdelay=1.0)
        self.delay_low = pyo.ButHP(self.delay, freq=dly["lowcut"])
        self.delay_out = pyo.ButLP(self.delay_low, freq=dly["highcut"], mul=dly["mix"])
        self.returns = self.reverb + self.delay_out
        self.pre = self.dry + self.returns
        dist = sig["dist1"]
        self.dist_mix = dist["mix"]
        self.drive = pyo.Sig(dist["drive"], mul=19.0 / TANH_RANGE, add=1.0 / TANH_RANGE)
        self.driven_in = self.pre * self.drive
        self.driven = pyo.Lookup(sources.tanh_table, self.driven_in)  # tanh((1 + 19 × drive) × pre)
        # 500 Hz … 12 kHz along tone³ (products: Scale's exponent would call pow() per sample)
        tone_squared = pyo.Sig(dist["tone"], mul=dist["tone"])
        tone_cubed = pyo.Sig(tone_squared, mul=dist["tone"])
        high = min(12000.0, 0.45 * sr)
        self.tone_freq = pyo.Sig(tone_cubed, mul=high - 500.0, add=500.0)
        self.toned = pyo.Tone(self.driven, freq=self.tone_freq)
        self._dist_chain = (self.drive, self.driven_in, self.driven, tone_squared, tone_cubed, self.tone_freq,
                            self.toned)
        self._dist_running = True
        self._dist_mix_value = value_reader(self.dist_mix)
        self.dist = pyo.Interp(self.pre, self.toned, interp=self.dist_mix)
        self.volume = pyo.Sig(self.dist, mul=sig["master"]["volume"])
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

    def update(self, dist_mix: float) -> None:
        """Run the distortion only while its mix is (or is still gliding) above 0."""
        running = dist_mix > 0 or (self._dist_running and self._dist_mix_value() > 0)
        if running != self._dist_running:
            self._dist_running = running
            set_running(self._dist_chain, running)
