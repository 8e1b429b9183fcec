"""The sound of one lane (track): oscillator, filter, 303-style acid stage, envelope, pan, sends.

A track plays its own instance of its voice's sound (so two tracks on one voice do
not cut each other off); the instance reads the voice module's smoothed parameters
(`Params`), and a lane whose voice is voice2 runs through the acid1 insert. Lanes
without a track are stopped and cost nothing. All objects are built once; assigning
a lane to another voice only re-points attributes at block boundaries.
"""

from __future__ import annotations

from typing import Any

from chronus_tui.engine.sequencer import ClockGraph, StepTables
from chronus_tui.model import MODULE_PARAMS, PARAM_INDEX

SMOOTH_TIME = 0.02  # seconds: every signal parameter glides this long, so changes never click
ACCENT_BRIGHTNESS = 0.75  # an accented hit opens a voice's filter by this factor
ACID_VOICE = "voice2"
# osc/type -> (Selector input, LFO waveform): 0 sine, 1 saw, 2 square, 3 white, 4 pink, 5 brown
WAVEFORM_SOURCES = ((0, None), (1, 0), (1, 2), (2, None), (3, None), (4, None))
SIGNAL_PARAMS = {"freq", "amp", "filter/freq", "filter/q", "send/reverb", "send/delay", "slide_time",
                 "pan"}
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
        # pyo's Pan wants 0 (left) … 1 (right)
        for module in self.signals:
            if "pan" in self.signals[module]:
                self.signals[module]["pan"].setMul(0.5)
                self.signals[module]["pan"].setAdd(0.5)

    def set(self, module: str, param: str, value: float) -> float:
        value = safe_value(module, param, value)
        self.values[module][param] = value
        signal = self.signals[module].get(param)
        if signal is not None:
            signal.value = value
        return value


class Lane:
    """One track's synth voice, fed by its row of the step tables."""

    def __init__(self, pyo, index: int, sr: int, clock: ClockGraph, tables: StepTables,
                 noises: list, acid: dict[str, Any], decay_curve) -> None:
        self.index = index
        self.voice: str | None = None
        self._core: list = []
        self._acid: list = []
        keep = self._core.append
        table = tables.tables
        counter = tables.counters[index]
        keep(counter)
        self.hit = pyo.TableIndex(table["on"], counter, mul=clock.trig)  # 1 on a hit's first sample
        keep(self.hit)

        def held(field: str, **kw):
            value = pyo.TableIndex(table[field], counter)
            out = pyo.SampHold(value, self.hit, 1, **kw)
            self._core.extend((value, out))
            return out

        self.velocity = held("velocity")
        self.note = held("note_hz")
        self.glide = held("tie")  # mul: the voice's slide_time, so tied notes glide, others jump
        self.gate_length = held("gate")
        self.accent = held("accent")
        self.manual = pyo.Sig(0.0)  # the "gate" command: hold the voice open by hand
        since = pyo.Count(self.hit)
        gate_open = pyo.Compare(since, self.gate_length, "<")
        gate = pyo.Max(gate_open, self.manual)
        peak = pyo.Max(self.velocity, self.manual)
        self.env = pyo.MidiAdsr(gate, mul=peak)
        self.own_freq = pyo.Compare(self.note, 0, "==")  # mul: the voice's freq when a step has no note
        freq = self.own_freq + self.note
        self.port = pyo.Port(freq, risetime=self.glide, falltime=self.glide, init=440.0)
        self.sine = pyo.Sine(self.port)
        self.wave = pyo.LFO(self.port, sharp=1.0, type=0)
        self.source = pyo.Selector([self.sine, self.wave, *noises], voice=0)
        bright = pyo.Sig(self.accent, mul=ACCENT_BRIGHTNESS, add=1)
        self.cutoff = pyo.Sig(1000.0, mul=bright)  # value: the voice's filter/freq
        self.cutoff_mod = pyo.Sig(self.cutoff, mul=1.0)  # mul: lfo1 on voice2
        cutoff = pyo.Clip(self.cutoff_mod, 20.0, 0.45 * sr)
        self.filter = pyo.Biquad(self.source, freq=cutoff, q=2.0, type=0)
        self._core += [since, gate_open, gate, peak, self.env,
                       self.own_freq, freq, self.port, self.source, bright, self.cutoff, self.cutoff_mod,
                       cutoff, self.filter]

        # acid1: 303-style insert (only on lanes playing voice2)
        boost = pyo.Sig(self.accent, mul=acid["accent"], add=1)  # accent opens the filter further
        amount = pyo.Sig(acid["env_amount"], mul=boost)
        sweep = pyo.TrigEnv(self.hit, table=decay_curve, dur=acid["decay"], mul=amount, add=acid["cutoff"])
        acid_cutoff = pyo.Clip(sweep, 40.0, 0.4 * sr)
        drive_in = self.filter * acid["drive_gain"]
        driven = pyo.Tanh(drive_in)
        punch = pyo.Sig(self.accent, mul=acid["accent"], add=1)  # and hits harder
        acid_gain = acid["comp"] * punch
        self.acid_out = pyo.MoogLP(driven, freq=acid_cutoff, res=acid["res"], mul=acid_gain)
        self._acid += [boost, amount, sweep, acid_cutoff, drive_in, driven, punch, acid_gain, self.acid_out]
        self.post = pyo.Interp(self.filter, self.acid_out, interp=0.0)

        self.level = pyo.SigTo(0.0, time=SMOOTH_TIME, init=0.0)  # track level × mute/solo
        self.gain = pyo.Sig(0.3, mul=self.level)  # value: the voice's amp
        self.gain_mod = pyo.Sig(self.gain, mul=1.0)  # mul: lfo2 on voice3
        shaped = self.post * self.env
        self.mono = shaped * self.gain_mod
        self.pan = pyo.Pan(self.mono, outs=2, pan=0.5)
        self.reverb_send = pyo.Sig(self.mono, mul=0.0)
        self.delay_send = pyo.Sig(self.mono, mul=0.0)
        self._core += [self.post, self.level, self.gain, self.gain_mod, shaped, self.mono, self.pan,
                       self.reverb_send, self.delay_send]
        self._tones = (self.sine, self.wave)
        self.stop()

    # -- assignment (block boundaries only) ------------------------------------

    def assign(self, voice: str | None, params: Params, lfo1, lfo2, acid_mix) -> None:
        """Play `voice`'s sound (None: stop the lane)."""
        if voice is None:
            if self.voice is not None:
                self.stop()
            self.voice = None
            return
        if self.voice is None:
            for obj in self._core:
                obj.play()
        self.voice = voice
        signals = params.signals[voice]
        self.own_freq.mul = signals["freq"]
        self.glide.mul = signals["slide_time"]
        self.cutoff.value = signals["filter/freq"]
        self.filter.q = signals["filter/q"]
        self.gain.value = signals["amp"]
        self.pan.pan = signals["pan"]
        self.reverb_send.mul = signals["send/reverb"]
        self.delay_send.mul = signals["send/delay"]
        self.cutoff_mod.mul = lfo1 if voice == ACID_VOICE else 1.0
        self.gain_mod.mul = lfo2 if voice == "voice3" else 1.0
        is_acid = voice == ACID_VOICE
        for obj in self._acid:
            if is_acid:
                obj.play()
            else:
                obj.stop()
        self.post.interp = acid_mix if is_acid else 0.0
        self.apply_voice(params.values[voice])

    def apply_voice(self, values: dict[str, float]) -> None:
        """The voice's non-signal parameters: waveform and envelope times."""
        source, lfo_type = WAVEFORM_SOURCES[int(values["osc/type"])]
        self.source.voice = source
        if lfo_type is not None:
            self.wave.type = lfo_type
        for tone_index, tone in enumerate(self._tones):
            if tone_index == source:
                tone.play()
            else:
                tone.stop()
        for param, attr in ADSR_ATTRS.items():
            setattr(self.env, attr, max(values[param], 0.001) if param != "adsr/sustain" else values[param])

    def stop(self) -> None:
        for obj in (*self._core, *self._acid, *self._tones):
            obj.stop()
