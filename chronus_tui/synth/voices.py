"""The sound of one lane (track): oscillator, filter, 303-style acid stage, envelope, pan, sends.

A track plays its own instance of its voice's sound (so two tracks on one voice do
not cut each other off), and a lane whose voice is voice2 runs through the acid1
insert. An accented hit plays louder (velocity 1 against 0.6, as the original's
did); through acid1 it also brightens (more unfiltered source ahead of the filter).
Lanes without a track are stopped and cost nothing, and a lane runs only what its
sound uses: the selected oscillator (noise comes from the shared tables, with no
pitch objects at all), the glide only when a step slides, a send only when it is
above 0. All objects are built once; assigning a lane to another voice only
re-points attributes and starts or stops objects at block boundaries.

The voice's parameters reach a lane as plain numbers (the cheapest thing pyo reads):
waveform, filter and envelope at the next block; amp, pan and sends through the
lane's four output gains, which are Controls (controls.py), so they glide.
"""

from __future__ import annotations

import math
from typing import Any

from chronus_tui.model import ACID_VOICE, PARAM_INDEX
from chronus_tui.synth.controls import Control, Controls
from chronus_tui.synth.pyolib import attribute_setter, direct_inputs, set_running, value_reader
from chronus_tui.synth.sequencer import ClockGraph, LaneHits

LFO2_VOICE = "voice3"  # lfo2 moves this voice's amp
# osc/type (0 sine, 1 saw, 2 square, 3 white, 4 pink, 5 brown) -> source: 0 sine,
# 1 saw table, 2 square table, 3 white, 4 pink, 5 brown (the osc/type itself)
TONAL_SOURCES = 3  # sources below this have a pitch
INPUT_FADE = 0.005  # seconds: a lane's filter crossfades to a new waveform
MIN_ENV_TIME = 0.001  # MidiAdsr needs segments of at least a sample
ADSR_ATTRS = {"adsr/attack": "attack", "adsr/decay": "decay", "adsr/sustain": "sustain",
              "adsr/release": "release"}
GAIN_NAMES = ("left", "right", "reverb", "delay")
GAIN_PARAMS = {"amp", "pan", "send/reverb", "send/delay"}  # the voice parameters in a lane's gains


def safe_value(module: str, param: str, value: float) -> float:
    """The value clamped into its range (NaN gives the default): nothing reaches pyo unchecked."""
    clamped, _ = PARAM_INDEX[module][param].clamp(float(value))
    return float(clamped)


def pan_gains(pan: float) -> tuple[float, float]:
    """Constant-power pan: left cos, right sin of (pan + 1) × π/4."""
    angle = (pan + 1) * math.pi / 4
    return math.cos(angle), math.sin(angle)


def output_gains(level: float, voice: dict[str, float]) -> tuple[float, float, float, float]:
    """(left, right, reverb send, delay send) of a lane at track level `level`."""
    gain = level * voice["amp"]
    left, right = pan_gains(voice["pan"])
    return gain * left, gain * right, gain * voice["send/reverb"], gain * voice["send/delay"]


class Lane:
    """One track's synth voice, played by its hits (sequencer.LaneHits)."""

    def __init__(self, pyo, index: int, sr: int, clock: ClockGraph, sources: Any, controls: Controls) -> None:
        self.index = index
        self.sr = sr
        self.voice: str | None = None
        self.ties = False  # whether any step of the lane glides (then the glide runs)
        self.median_pitch = 0.0  # picks the oscillator's table
        self.source_index = 0
        self._sources = sources
        self.hits = LaneHits(pyo, clock)  # made first: its trigger and ring move before they are read

        def read(field: str, **kwargs: Any) -> Any:
            """The lane's value of `field` for its latest hit."""
            return self.hits.reader(pyo, field, **kwargs)

        level = read("level")
        gate_time = read("gate")
        self.freq = read("freq")
        # a slide: on tied steps the pitch glides linearly in the voice's slide_time,
        # on the others it jumps (a SigTo whose time is 0 there)
        glide_time = read("tie", mul=0.0)
        self.pitch = pyo.SigTo(self.freq, time=glide_time, init=440.0)
        self._glide = [glide_time, self.pitch]
        # the gate: the hit's level for its gate time from the hit (add: a hand-held gate).
        # A slide's is held until the next hit, which restarts it while still open: no
        # retrigger, a glide.
        self.gate = pyo.TrigEnv(self.hits.trig, table=sources.gate_shape, dur=gate_time, interp=1,
                                mul=level, add=0.0)
        # Known limit of pyo's MidiAdsr: a note retriggered while the last one still rings
        # starts its attack from the envelope's output one block earlier at the same
        # index, not from the sample before (pyo reads buf[i]): up to a block of release
        # stale (measured: a step of 0.004 at 256 frames, 0.009 at 1024, 0.3 s release).
        self.env = pyo.MidiAdsr(self.gate)
        self._env_value = value_reader(self.env)
        self.sine = pyo.Sine(self.freq)
        self.wave = pyo.Osc(sources.wave_table(1, 0.0), freq=self.freq)
        # ahead of acid1, an accented hit lets some of the unfiltered source through,
        # which the insert's accent then opens up to
        brightness = read("bright")
        with direct_inputs(faded=[self.sine]):  # the source changes with the waveform
            self.filter = pyo.Biquad(self.sine, freq=1000.0, q=2.0, type=0)
            self.bright = pyo.Interp(self.filter, self.sine, interp=brightness)
        self._core = [*self.hits.objects, level, gate_time, self.gate, self.env, self.filter]

        # voice2's filter follows lfo1 at audio rate while lfo1 moves (the Biquad then
        # computes its coefficients every sample: a sine and cosine each)
        self.lfo_cutoff = pyo.Sig(1000.0, mul=sources.lfo1)
        self._lfo_clip = pyo.Clip(self.lfo_cutoff, 20.0, 0.45 * sr)
        self._lfo_filter = [self.lfo_cutoff, self._lfo_clip]

        # acid1: 303-style insert (only on lanes playing voice2). Every hit sweeps the
        # cutoff up by env_amount, falling in decay; an accented one (as the original's acid
        # module) also raises it by cutoff_offset × accent, sweeps env_amount × accent more,
        # falling in accent_decay, raises the resonance by res_accent_boost × accent, and
        # hits harder (gain comp × (1 + accent)): each one read of the hit's accent,
        # scaled by controls. A hand-held gate (the "gate" command) starts the sweeps too.
        acid = sources.acid
        self._hand_trig = pyo.Trig()
        self.hit = pyo.Sig(self.hits.trig, add=self._hand_trig)  # 1 on a hit's first sample
        base = read("accent")  # cutoff, + cutoff_offset × accent on an accent
        accent_depth = read("accent")
        accent_sweep = pyo.TrigEnv(self.hit, table=sources.decay_curve, dur=0.08, mul=accent_depth, add=base)
        sweep = pyo.TrigEnv(self.hit, table=sources.decay_curve, dur=0.25, add=accent_sweep)
        swept = pyo.Sig(sweep, mul=sources.lfo1)  # lfo1 moves the cutoff you hear through the insert too
        acid_cutoff = pyo.Clip(swept, 40.0, 0.4 * sr)
        drive_in = pyo.Sig(self.bright)
        driven = pyo.Lookup(sources.tanh_table, drive_in)  # tanh((1 + 8 × drive) × source)
        acid_gain = read("accent")
        resonance = read("accent")  # res, + res_accent_boost × accent on an accent
        acid_out = pyo.MoogLP(driven, freq=acid_cutoff, res=resonance, mul=acid_gain)
        self.acid_mix = pyo.Interp(self.bright, acid_out, interp=1.0)
        # what follows acid1's controls while the lane plays voice2
        self._acid_controls = acid
        self._acid_sinks = (("cutoff", base, "add"), ("accent_offset", base, "mul"),
                            ("accent_env", accent_depth, "mul"), ("accent_decay", accent_sweep, "dur"),
                            ("env_amount", sweep, "mul"), ("decay", sweep, "dur"),
                            ("drive_gain", drive_in, "mul"), ("res", resonance, "add"),
                            ("res_boost", resonance, "mul"), ("comp_accent", acid_gain, "mul"),
                            ("comp", acid_gain, "add"), ("mix", self.acid_mix, "interp"))
        self._acid_setters = [(name, attribute_setter(obj, attr)) for name, obj, attr in self._acid_sinks]
        self._acid_followed = False
        self._acid = [brightness, self.bright, self.hit, base, accent_depth, accent_sweep, sweep, swept,
                      acid_cutoff, drive_in, driven, acid_gain, resonance, acid_out, self.acid_mix]

        # The lane's output: the filter (or acid_mix on voice2) with the envelope as its
        # mul, to both sides and the sends, each with its gain (level × amp × pan or send)
        self.outputs = [pyo.Sig(self.filter, mul=0.0) for _ in GAIN_NAMES]
        self.left, self.right, self.reverb_send, self.delay_send = self.outputs
        self.gains: list[Control] = [controls.new(0.0) for _ in GAIN_NAMES]
        for gain, output in zip(self.gains, self.outputs, strict=True):
            gain.attach(output, "mul")
        self._core += [self.left, self.right]
        self._sends = (self.reverb_send, self.delay_send)
        self._tones = (self.sine, self.wave)

        # pyo's attribute setters check their arguments on every call, and giving a lane
        # a voice sets about twenty: these hand the value to the streams directly
        self._set_env_mul, self._set_filter_mul, self._set_acid_mix_mul = (
            attribute_setter(obj, "mul") for obj in (self.env, self.filter, self.acid_mix))
        self._set_outputs = [attribute_setter(output, "value") for output in self.outputs]
        self._set_tone_freqs = [attribute_setter(tone, "freq") for tone in self._tones]
        self._set_glide_time = attribute_setter(glide_time, "mul")
        self._set_lfo_cutoff = attribute_setter(self.lfo_cutoff, "value")
        self._set_cutoff, self._set_q = (attribute_setter(self.filter, attr) for attr in ("freq", "q"))
        self._set_envelope = [(param, attribute_setter(self.env, attr)) for param, attr in ADSR_ATTRS.items()]
        self._set_held = attribute_setter(self.gate, "add")
        self.stop()

    # -- assignment (block boundaries only) ------------------------------------

    def assign(self, voice: str | None, values: dict[str, float] | None, ties: bool,
               median_pitch: float) -> None:
        """Play `voice` (parameter values `values`; None: stop the lane); `ties`: some step
        glides; `median_pitch`: its median pitch (Hz)."""
        if voice is None or values is None:
            if self.voice is not None:
                self.stop()
            self._follow_acid(False)
            self.voice = None
            return
        if self.voice is None:  # (its hit counter keeps its count while stopped)
            set_running(self._core, True)
        self.voice, self.ties, self.median_pitch = voice, ties, median_pitch
        self._set_env_mul(self._sources.lfo2 if voice == LFO2_VOICE else 1.0)
        is_acid = voice == ACID_VOICE
        self._follow_acid(is_acid)
        set_running(self._acid, is_acid)
        if not is_acid:
            set_running([self._hand_trig], False)
        # the acid stage takes the source before the envelope, as a 303's filter does
        output = self.acid_mix if is_acid else self.filter
        self._set_filter_mul(1.0 if is_acid else self.env)
        self._set_acid_mix_mul(self.env if is_acid else 1.0)
        for set_output in self._set_outputs:
            set_output(output)
        self.apply_voice(values)

    def _follow_acid(self, on: bool) -> None:
        if on != self._acid_followed:
            for name, obj, attr in self._acid_sinks:
                control = self._acid_controls[name]
                (control.attach if on else control.detach)(obj, attr)
            self._acid_followed = on

    def lock_acid(self, targets: dict[str, float] | None) -> None:
        """acid1's controls for this lane alone (a step's locks: effects.control_targets of
        the locked values), or None: follow acid1's own again."""
        if self.voice != ACID_VOICE:
            return
        self._follow_acid(targets is None)
        if targets is not None:
            for name, set_value in self._acid_setters:
                set_value(targets[name])

    def apply_voice(self, values: dict[str, float]) -> None:
        """The voice's parameters that are plain numbers: waveform, filter, envelope times."""
        self._apply_waveform(values)
        self._apply_filter(values)
        self._apply_envelope(values)
        self._apply_sends(values)

    def set_pitch(self, ties: bool, median_pitch: float, values: dict[str, float]) -> None:
        """Whether some step glides (the glide objects run only then), and the median
        pitch (which picks the oscillator's table)."""
        self.ties, self.median_pitch = ties, median_pitch
        self._apply_waveform(values)

    def set_gains(self, level: float, values: dict[str, float], now: int, glide: bool) -> None:
        """Output gains for track level `level` and the voice's amp, pan and sends."""
        for control, gain in zip(self.gains, output_gains(level, values), strict=True):
            control.set(gain, now, glide)

    def apply_param(self, param: str, values: dict[str, float]) -> None:
        """One of the voice's parameters changed (`values` holds the new value): set only
        what it drives. freq reaches the lane through its table, amp and pan through
        set_gains."""
        apply = _PARAM_APPLIERS.get(param)
        if apply is not None:
            apply(self, values)

    def _apply_waveform(self, values: dict[str, float]) -> None:
        """The oscillator or noise, the filter's input, and the pitch glide."""
        source = int(values["osc/type"])
        if source in (1, 2):
            table = self._sources.wave_table(source, self.median_pitch)
            if self.wave.table is not table:
                self.wave.table = table
        tonal = source < TONAL_SOURCES
        glides = tonal and self.ties
        set_running([self.freq], tonal)
        set_running(self._glide, glides)
        self._apply_glide(values)
        pitch = self.pitch if glides else self.freq
        tone_index = min(source, 1)  # the sine, or the table oscillator
        for index, (tone, set_freq) in enumerate(zip(self._tones, self._set_tone_freqs, strict=True)):
            if index == tone_index and tonal:
                set_freq(pitch)
            set_running([tone], index == tone_index and tonal)
        self.source_index = source
        signal = self._tones[tone_index] if tonal else self._sources.noises[source - TONAL_SOURCES]
        if self.filter.input is not signal:
            self.filter.setInput(signal, fadetime=INPUT_FADE)
            self.bright.setInput2(signal, fadetime=INPUT_FADE)

    def _apply_glide(self, values: dict[str, float]) -> None:
        self._set_glide_time(values["slide_time"])

    def _apply_filter(self, values: dict[str, float]) -> None:
        cutoff = min(values["filter/freq"], 0.45 * self.sr)
        modulated = self.voice == ACID_VOICE and self._sources.lfo1_moving()
        set_running(self._lfo_filter, modulated)
        if modulated:
            self._set_lfo_cutoff(cutoff)
            self._set_cutoff(self._lfo_clip)
        else:
            self._set_cutoff(cutoff)
        self._set_q(values["filter/q"])

    def _apply_envelope(self, values: dict[str, float]) -> None:
        for param, set_time in self._set_envelope:
            value = values[param]
            set_time(value if param == "adsr/sustain" else max(value, MIN_ENV_TIME))

    def _apply_sends(self, values: dict[str, float]) -> None:
        """A send runs only while its level is above 0."""
        for send, param in zip(self._sends, ("send/reverb", "send/delay"), strict=True):
            set_running([send], values[param] > 0)

    def hold(self, on: bool) -> None:
        """The "gate" command: hold the envelope open (at full velocity) or let it go.
        Through acid1 the gate also starts its sweeps, as a hit does (the original gated
        acid1 with voice2)."""
        self._set_held(1.0 if on else 0.0)
        if on and self.voice == ACID_VOICE:
            self._hand_trig.play()  # one trigger on the next sample computed, at each call

    def silent(self) -> bool:
        """Whether its envelope has come to rest at 0 (on the last sample computed)."""
        return self._env_value() == 0.0

    def uses_noise(self) -> int | None:
        """Which shared noise (0 white, 1 pink, 2 brown) this lane plays, if any."""
        if self.voice is None or self.source_index < TONAL_SOURCES:
            return None
        return self.source_index - TONAL_SOURCES

    def stop(self) -> None:
        set_running([*self._core, *self._acid, *self._lfo_filter, *self._tones, *self._sends, *self._glide,
                     self.freq, self._hand_trig], False)


_PARAM_APPLIERS = {"osc/type": Lane._apply_waveform, "slide_time": Lane._apply_glide,
                   "filter/freq": Lane._apply_filter, "filter/q": Lane._apply_filter,
                   **dict.fromkeys(ADSR_ATTRS, Lane._apply_envelope),
                   "send/reverb": Lane._apply_sends, "send/delay": Lane._apply_sends}
