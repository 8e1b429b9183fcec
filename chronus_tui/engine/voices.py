"""The sound of one lane (track): oscillator, filter, 303-style acid stage, envelope, pan, sends.

A track plays its own instance of its voice's sound (so two tracks on one voice do
not cut each other off); the instance reads the voice module's smoothed parameters
(`Params`), and a lane whose voice is voice2 runs through the acid1 insert. Lanes
without a track are stopped and cost nothing, and a lane runs only what its sound
uses: the selected oscillator (noise comes from the shared tables, with no pitch
objects at all), the glide only when a step slides, a send only when it is above 0.
All objects are built once; assigning a lane to another voice only re-points
attributes and starts or stops objects at block boundaries.
"""

from __future__ import annotations

import math
from typing import Any

from chronus_tui.engine.pyolib import set_running
from chronus_tui.engine.sequencer import ClockGraph, StepTables
from chronus_tui.model import MODULE_PARAMS, PARAM_INDEX, VOICES

SMOOTH_TIME = 0.02  # seconds: every signal parameter glides this long, so changes never click
ACCENT_BRIGHTNESS = 0.75  # how much unfiltered source an accented hit lets through
ACID_VOICE = "voice2"
# osc/type (0 sine, 1 saw, 2 square, 3 white, 4 pink, 5 brown) ->
# (source: 0 sine, 1 LFO, 2 white, 3 pink, 4 brown; the LFO's waveform)
WAVEFORM_SOURCES = ((0, None), (1, 0), (1, 2), (2, None), (3, None), (4, None))
# voice parameters read as signals; the rest (waveform, filter, envelope) are set on
# the lanes' objects as plain numbers, which costs far less per sample
SIGNAL_PARAMS = {"amp", "send/reverb", "send/delay"}
INPUT_FADE = 0.005  # seconds: a lane's filter crossfades to a new waveform
MIN_ENV_TIME = 0.001  # MidiAdsr needs segments of at least a sample
# A slide is an exponential glide (pyo's Port) that covers 95% of the interval in the
# voice's slide_time: three time constants.
GLIDE_TIME_CONSTANTS = 3.0
ADSR_ATTRS = {"adsr/attack": "attack", "adsr/decay": "decay", "adsr/sustain": "sustain",
              "adsr/release": "release"}


def safe_value(module: str, param: str, value: float) -> float:
    """The value clamped into its range (NaN gives the default): nothing reaches pyo unchecked."""
    clamped, _ = PARAM_INDEX[module][param].clamp(float(value))
    return float(clamped)


class Params:
    """One smoothed signal (SigTo) per continuous module parameter, plus the plain values."""

    def __init__(self, pyo) -> None:
        self.values: dict[str, dict[str, float]] = {
            module: {spec.name: float(spec.default) for spec in specs}
            for module, specs in MODULE_PARAMS.items()
        }
        self.signals: dict[str, dict[str, Any]] = {}
        for module, specs in MODULE_PARAMS.items():
            self.signals[module] = {}
            for spec in specs:
                if module.startswith("voice") and spec.name not in SIGNAL_PARAMS:
                    continue  # applied to lane attributes instead
                self.signals[module][spec.name] = pyo.SigTo(float(spec.default), time=SMOOTH_TIME,
                                                            init=float(spec.default))
        # constant-power pan: left cos, right sin of (pan + 1) × π/4, as two smoothed gains
        self.pan_gains: dict[str, tuple[Any, Any]] = {}
        for module, specs in MODULE_PARAMS.items():
            if any(spec.name == "pan" for spec in specs):
                left, right = pan_gains(self.values[module]["pan"])
                self.pan_gains[module] = (pyo.SigTo(left, time=SMOOTH_TIME, init=left),
                                          pyo.SigTo(right, time=SMOOTH_TIME, init=right))

    def use_voices(self, voices: set[str]) -> list:
        """Run the signals of the voices some lane plays (the others cost nothing);
        returns the signals started, which must jump to their values, not glide."""
        started = []
        for module in VOICES:
            signals = (*self.signals[module].values(), *self.pan_gains[module])
            if module in voices:
                started += [signal for signal in signals if not signal.isPlaying()]
            set_running(signals, module in voices)
        return started

    def set(self, module: str, param: str, value: float) -> float:
        value = safe_value(module, param, value)
        self.values[module][param] = value
        signal = self.signals[module].get(param)
        if signal is not None:
            signal.value = value
        elif param == "pan":
            for gain, target in zip(self.pan_gains[module], pan_gains(value), strict=True):
                gain.value = target
        return value

    def all_signals(self) -> list:
        return [*(s for signals in self.signals.values() for s in signals.values()),
                *(g for gains in self.pan_gains.values() for g in gains)]


def pan_gains(pan: float) -> tuple[float, float]:
    angle = (pan + 1) * math.pi / 4
    return math.cos(angle), math.sin(angle)


class Lane:
    """One track's synth voice, fed by its row of the step tables."""

    def __init__(self, pyo, index: int, sr: int, clock: ClockGraph, tables: StepTables,
                 sources: Any) -> None:
        self.index = index
        self.sr = sr
        self.voice: str | None = None
        self.ties = False  # whether any step of the lane glides (then the Port runs)
        self.source_index = 0  # sine, LFO, white, pink, brown
        self._sources = sources
        table = tables.tables
        counter = tables.counters[index]
        self.hit = pyo.TableIndex(table["on"], counter, mul=clock.trig)  # 1 on a hit's first sample
        velocity = pyo.TableIndex(table["velocity"], counter)
        gate_time = pyo.TableIndex(table["gate"], counter)
        self.freq = pyo.TableIndex(table["freq"], counter)
        tie = pyo.TableIndex(table["tie"], counter)  # 1 on a tied step
        # the gate: velocity for gate_time seconds after each hit (add: a hand-held gate);
        # a tied hit restarts it while it is still open, so the envelope does not retrigger
        self.gate = pyo.TrigEnv(self.hit, table=sources.gate_shape, dur=gate_time, interp=1,
                                mul=velocity, add=0.0)
        self.level = pyo.SigTo(0.0, time=SMOOTH_TIME, init=0.0)  # mul: the voice's amp
        self.env = pyo.MidiAdsr(self.gate, mul=self.level)
        # a slide: the pitch follows a portamento (time: the voice's slide_time) on tied
        # steps and the plain step pitch otherwise
        self.port = pyo.Port(self.freq, risetime=0.05, falltime=0.05, init=440.0)
        self.pitch = pyo.Interp(self.freq, self.port, interp=tie)
        self._glide = [tie, self.port, self.pitch]
        self.sine = pyo.Sine(self.freq)
        self.wave = pyo.LFO(self.freq, sharp=1.0, type=0)
        self.filter = pyo.Biquad(self.sine, freq=1000.0, q=2.0, type=0)
        # an accented hit lets some of the unfiltered source through: brighter
        brightness = pyo.TableIndex(table["accent"], counter, mul=ACCENT_BRIGHTNESS)
        self.bright = pyo.Interp(self.filter, self.sine, interp=brightness)
        self._core = [counter, self.hit, velocity, gate_time, self.gate, self.level,
                      self.env, self.filter, brightness, self.bright]

        # voice2's filter follows lfo1 at audio rate (other lanes set plain numbers)
        self.lfo_cutoff = pyo.Sig(1000.0, mul=sources.lfo1)
        lfo_clip = pyo.Clip(self.lfo_cutoff, 20.0, 0.45 * sr)
        self._lfo_clip = lfo_clip

        # acid1: 303-style insert (only on lanes playing voice2)
        acid = sources.acid
        accent = pyo.TableIndex(table["accent"], counter)
        boost = pyo.Sig(accent, mul=acid["accent"], add=1)  # 1 + accent on accented hits
        amount = pyo.Sig(acid["env_amount"], mul=boost)  # they open the filter further …
        sweep = pyo.TrigEnv(self.hit, table=sources.decay_curve, dur=acid["decay"], mul=amount,
                            add=acid["cutoff"])
        swept = pyo.Sig(sweep, mul=sources.lfo1)  # lfo1 moves the cutoff you hear through the insert too
        acid_cutoff = pyo.Clip(swept, 40.0, 0.4 * sr)
        drive_in = self.bright * acid["drive_gain"]
        driven = pyo.Lookup(sources.tanh_table, drive_in)  # tanh((1 + 8 × drive) × source)
        acid_gain = acid["comp"] * boost  # … and hit harder
        acid_out = pyo.MoogLP(driven, freq=acid_cutoff, res=acid["res"], mul=acid_gain)
        self.acid_mix = pyo.Interp(self.bright, acid_out, interp=acid["mix"])
        self._acid = [self.lfo_cutoff, lfo_clip, accent, boost, amount, sweep, swept, acid_cutoff, drive_in,
                      driven, acid_gain, acid_out, self.acid_mix]

        # The lane's output: bright (or acid_mix on voice2) with the envelope as its mul,
        # to both sides and the sends; mul: the voice's constant-power pan gains (computed
        # once per voice, not per lane) and send levels
        self.left = pyo.Sig(self.bright, mul=0.7)
        self.right = pyo.Sig(self.bright, mul=0.7)
        self.reverb_send = pyo.Sig(self.bright, mul=0.0)
        self.delay_send = pyo.Sig(self.bright, mul=0.0)
        self._core += [self.left, self.right]
        self._sends = (self.reverb_send, self.delay_send)
        self._tones = (self.sine, self.wave)
        self.stop()

    # -- assignment (block boundaries only) ------------------------------------

    def assign(self, voice: str | None, params: Params, ties: bool) -> None:
        """Play `voice`'s sound (None: stop the lane); `ties`: some step glides."""
        if voice is None:
            if self.voice is not None:
                self.stop()
            self.voice = None
            return
        if self.voice is None:
            set_running(self._core, True)
        self.voice, self.ties = voice, ties
        signals = params.signals[voice]
        self.level.mul = self._sources.voice3_amp if voice == "voice3" else signals["amp"]
        self.left.mul, self.right.mul = params.pan_gains[voice]
        self.reverb_send.mul = signals["send/reverb"]
        self.delay_send.mul = signals["send/delay"]
        is_acid = voice == ACID_VOICE
        set_running(self._acid, is_acid)
        # the acid stage takes the source before the envelope, as a 303's filter does
        output = self.acid_mix if is_acid else self.bright
        self.bright.mul = 1.0 if is_acid else self.env
        self.acid_mix.mul = self.env if is_acid else 1.0
        for out in (self.left, self.right, *self._sends):
            out.value = output
        self.apply_voice(params.values[voice])

    def apply_voice(self, values: dict[str, float]) -> None:
        """The voice's parameters that are plain numbers: waveform, filter, envelope times."""
        self._apply_waveform(values)
        self._apply_filter(values)
        self._apply_envelope(values)
        self._apply_sends(values)

    def set_ties(self, ties: bool, values: dict[str, float]) -> None:
        """Whether some step glides: the glide objects run only then."""
        self.ties = ties
        self._apply_waveform(values)

    def apply_param(self, param: str, values: dict[str, float]) -> None:
        """One of the voice's parameters changed (`values` holds the new value): set only
        what it drives. freq, amp and pan reach the lane through tables and signals."""
        apply = _PARAM_APPLIERS.get(param)
        if apply is not None:
            apply(self, values)

    def _apply_waveform(self, values: dict[str, float]) -> None:
        """The oscillator or noise, the filter's input, and the pitch glide."""
        source, lfo_type = WAVEFORM_SOURCES[int(values["osc/type"])]
        if lfo_type is not None:
            self.wave.type = lfo_type
        # the pitch (and its glide) only for the oscillators: noise has none
        tonal = source < len(self._tones)
        glides = tonal and self.ties
        set_running([self.freq], tonal)
        set_running(self._glide, glides)
        pitch = self.pitch if glides else self.freq
        self._apply_glide(values)
        for tone_index, tone in enumerate(self._tones):
            if tone_index == source:
                tone.freq = pitch
            set_running([tone], tone_index == source)
        self.source_index = source
        signal = (*self._tones, *self._sources.noises)[source]
        if self.filter.input is not signal:
            self.filter.setInput(signal, fadetime=INPUT_FADE)
            self.bright.setInput2(signal, fadetime=INPUT_FADE)

    def _apply_glide(self, values: dict[str, float]) -> None:
        glide = max(values["slide_time"], MIN_ENV_TIME) / GLIDE_TIME_CONSTANTS
        self.port.risetime = self.port.falltime = glide

    def _apply_filter(self, values: dict[str, float]) -> None:
        cutoff = min(values["filter/freq"], 0.45 * self.sr)
        if self.voice == ACID_VOICE:
            self.lfo_cutoff.value = cutoff
            self.filter.freq = self._lfo_clip
        else:
            self.filter.freq = cutoff
        self.filter.q = values["filter/q"]

    def _apply_envelope(self, values: dict[str, float]) -> None:
        for param, attr in ADSR_ATTRS.items():
            value = values[param]
            setattr(self.env, attr, value if param == "adsr/sustain" else max(value, MIN_ENV_TIME))

    def _apply_sends(self, values: dict[str, float]) -> None:
        """A send runs only while its level is above 0."""
        for send, param in zip(self._sends, ("send/reverb", "send/delay"), strict=True):
            set_running([send], values[param] > 0)

    def hold(self, on: bool) -> None:
        """The "gate" command: hold the envelope open (at full velocity) or let it go."""
        self.gate.add = 1.0 if on else 0.0

    def uses_noise(self) -> int | None:
        """Which shared noise (0 white, 1 pink, 2 brown) this lane plays, if any."""
        return self.source_index - 2 if self.voice is not None and self.source_index >= 2 else None

    def stop(self) -> None:
        set_running([*self._core, *self._acid, *self._tones, *self._sends, *self._glide, self.freq], False)


_PARAM_APPLIERS = {"osc/type": Lane._apply_waveform, "slide_time": Lane._apply_glide,
                   "filter/freq": Lane._apply_filter, "filter/q": Lane._apply_filter,
                   **dict.fromkeys(ADSR_ATTRS, Lane._apply_envelope),
                   "send/reverb": Lane._apply_sends, "send/delay": Lane._apply_sends}
