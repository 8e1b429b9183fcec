"""The pattern model: plain dataclasses, the parameter table, and validation.

No pyo, no I/O. Every module parameter's name and range lives in MODULE_PARAMS,
the one table that the file format, the OSC schema, the UI panel and the engine
all read (names and ranges follow the original Music Chronus engine).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

BPM_RANGE = (20.0, 300.0)
SWING_RANGE = (0.0, 0.6)
LENGTH_RANGE = (1, 64)
LEVEL_RANGE = (0.0, 1.0)
GATE_RANGE = (0.05, 1.0)
NOTE_RANGE = (0, 127)
CENTS_RANGE = (-50.0, 50.0)  # a note's fine tune: beyond half a semitone it is another note
CENTS_DIGITS = 2  # cents kept to 0.01 (a pitch within 0.0006%), so files and journals stay short
MAX_TRACKS = 16
MAX_NAME = 32
STEPS_PER_BAR = 16
PLAIN_VELOCITY = 0.6  # an unaccented hit's level, an accent's being 1.0, as the original played it
VOICES = tuple(f"voice{i}" for i in range(1, 9))
ACID_VOICE = "voice2"  # the voice the acid1 insert processes (its lanes), as in the original
WAVEFORMS = ("sine", "saw", "square", "white", "pink", "brown")


MAX_ERROR_PATH = 100  # characters of a field path in an error (a file's keys can be any length)
MAX_ERROR_MESSAGE = 200  # characters of what an error says of the value


def excerpt(text: str, limit: int) -> str:
    """Text of at most `limit` characters, cut in the middle ("…") when longer, so that a
    message quoting a huge value from a file or a datagram stays short and keeps its end."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return f"{text[:head]}…{text[len(text) - (limit - 1 - head):]}"


class PatternError(ValueError):
    """A value in a pattern is the wrong type or out of range; `path` names the field.

    Both parts are bounded (excerpt): errors reach replies, listings and the screen."""

    def __init__(self, path: str, message: str) -> None:
        path, message = excerpt(path, MAX_ERROR_PATH), excerpt(message, MAX_ERROR_MESSAGE)
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class ParamSpec:
    name: str
    low: float
    high: float
    default: float
    integer: bool = False
    unit: str = ""
    scale: str = "linear"  # how the UI's fine and coarse keys step it: a SCALES key

    def clamp(self, value: float) -> tuple[float, bool]:
        """The value brought into range (rounded for integer params), and whether it moved."""
        if math.isnan(value):
            return self.default, True
        inside = min(max(value, self.low), self.high)
        if self.integer:
            inside = round(inside)
        return (inside if self.integer else float(inside)), inside != value

    def clamp_number(self, value: object, path: str) -> tuple[float, bool]:
        """clamp() for a value from outside: PatternError unless it is a number (NaN is not)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PatternError(path, f"{value!r} is not a number")
        if math.isnan(value):
            raise PatternError(path, "NaN is not a value")
        return self.clamp(value)

    def check(self, value: object, path: str) -> float | int:
        """The value if it has the right type and is in range, else PatternError."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PatternError(path, f"{value!r} is not a number")
        # Range first: it also rejects NaN and infinities, and ints too big for a float.
        if not (self.low <= value <= self.high):
            raise PatternError(path, f"{value!r} is out of range {fmt_range(self.low, self.high)}")
        if self.integer and not float(value).is_integer():
            raise PatternError(path, f"{value!r} is not a whole number")
        return int(value) if self.integer else float(value)


def fmt_range(low: float, high: float) -> str:
    return f"{_fmt_bound(low)}–{_fmt_bound(high)}"


def _fmt_bound(value: float) -> str:
    """A range's end as people write it: whole numbers in full (a seed's 2147483647, not
    2.14748e+09), others as :g does."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# How a parameter steps (step_value): by a fraction of its range, by musical intervals
# (a semitone fine, an octave coarse) or by a ratio (times and rates: 10 % fine, ×2 coarse).
# A fraction of a 20–5000 Hz range is 50 Hz: one fine step took 69.8 Hz to 20 Hz.
LINEAR, PITCH, LOG = "linear", "pitch", "log"
SCALES = {LINEAR: (0.01, 0.1), PITCH: (2 ** (1 / 12), 2.0), LOG: (1.1, 2.0)}
# A ratio never leaves 0: a log parameter whose range starts at 0 steps up from this
# fraction of its top, and steps down from there to 0.
LOG_FLOOR = 0.001


def step_value(spec: ParamSpec, value: float, direction: int, coarse: bool = False) -> float:
    """The value one fine (or coarse) step up (direction 1) or down (-1), clamped to the range.
    Whole-number parameters step by 1 either way."""
    if direction not in (1, -1):
        raise ValueError(f"direction {direction!r} is not 1 or -1")
    if spec.integer:
        return spec.clamp(value + direction)[0]
    fine, big = SCALES[spec.scale]
    amount = big if coarse else fine
    if spec.scale == LINEAR:
        return spec.clamp(round(value + direction * amount * (spec.high - spec.low), 6))[0]
    floor = spec.low if spec.low > 0 else spec.high * LOG_FLOOR
    stepped = value * amount if direction > 0 else value / amount
    if direction > 0:
        stepped = max(stepped, floor)
    elif stepped < floor:
        stepped = spec.low
    return spec.clamp(round(stepped, 6))[0]


# The pattern's own numbers: the Session clamps to them, files are checked against them.
BPM_SPEC = ParamSpec("bpm", *BPM_RANGE, 120.0)
SWING_SPEC = ParamSpec("swing", *SWING_RANGE, 0.0)
LENGTH_SPEC = ParamSpec("length", *LENGTH_RANGE, 16, integer=True)
LEVEL_SPEC = ParamSpec("level", *LEVEL_RANGE, 1.0)
GATE_SPEC = ParamSpec("gate", *GATE_RANGE, 0.5)
SEED_SPEC = ParamSpec("seed", 0, 2**31 - 1, 0, integer=True)
PROB_SPEC = ParamSpec("prob", 0, 100, 100, integer=True, unit="%")  # a step's chance to play
MICRO_SPEC = ParamSpec("micro", -23, 23, 0, integer=True)  # 24ths of a step, on top of swing
RATCHET_SPEC = ParamSpec("ratchet", 1, 8, 1, integer=True)  # hits evenly inside the step


def _voice_params() -> tuple[ParamSpec, ...]:
    return (
        ParamSpec("osc/type", 0, 5, 0, integer=True),
        ParamSpec("freq", 20.0, 5000.0, 440.0, unit="Hz", scale=PITCH),
        ParamSpec("amp", 0.0, 1.0, 0.3),
        ParamSpec("filter/freq", 50.0, 8000.0, 1000.0, unit="Hz", scale=PITCH),
        ParamSpec("filter/q", 0.5, 10.0, 2.0),
        ParamSpec("adsr/attack", 0.001, 2.0, 0.01, unit="s", scale=LOG),
        ParamSpec("adsr/decay", 0.0, 2.0, 0.1, unit="s", scale=LOG),
        ParamSpec("adsr/sustain", 0.0, 1.0, 0.7),
        ParamSpec("adsr/release", 0.01, 3.0, 0.2, unit="s", scale=LOG),
        ParamSpec("send/reverb", 0.0, 1.0, 0.0),
        ParamSpec("send/delay", 0.0, 1.0, 0.0),
        ParamSpec("slide_time", 0.0, 1.5, 0.05, unit="s", scale=LOG),
        ParamSpec("pan", -1.0, 1.0, 0.0),
    )


def _lfo_params(rate: float) -> tuple[ParamSpec, ...]:
    return (ParamSpec("rate", 0.01, 10.0, rate, unit="Hz", scale=LOG), ParamSpec("depth", 0.0, 1.0, 0.0))


MODULE_PARAMS: dict[str, tuple[ParamSpec, ...]] = {
    **{voice: _voice_params() for voice in VOICES},
    "acid1": (
        ParamSpec("cutoff", 80.0, 5000.0, 800.0, unit="Hz", scale=PITCH),
        ParamSpec("res", 0.0, 0.98, 0.6),
        ParamSpec("env_amount", 0.0, 5000.0, 2500.0, unit="Hz"),
        ParamSpec("decay", 0.02, 1.0, 0.25, unit="s", scale=LOG),
        ParamSpec("drive", 0.0, 1.0, 0.2),
        ParamSpec("mix", 0.0, 1.0, 1.0),
        ParamSpec("vol_comp", 0.0, 1.0, 0.5),
        ParamSpec("accent", 0.0, 1.0, 0.5),
        # what an accent adds (times accent): to the cutoff, to the resonance, and the length
        # of its own sweep, as the original's acid module had them (its values as defaults)
        ParamSpec("cutoff_offset", 0.0, 1000.0, 500.0, unit="Hz"),
        ParamSpec("res_accent_boost", 0.0, 0.4, 0.3),
        ParamSpec("accent_decay", 0.02, 0.15, 0.08, unit="s", scale=LOG),
    ),
    "dist1": (
        ParamSpec("drive", 0.0, 1.0, 0.0),
        ParamSpec("mix", 0.0, 1.0, 0.0),
        ParamSpec("tone", 0.0, 1.0, 0.5),
    ),
    "reverb1": (
        ParamSpec("mix", 0.0, 1.0, 0.2),
        ParamSpec("room", 0.0, 1.0, 0.5),
        ParamSpec("damp", 0.0, 1.0, 0.5),
    ),
    "delay1": (
        ParamSpec("time", 0.1, 0.6, 0.25, unit="s", scale=LOG),
        ParamSpec("feedback", 0.0, 0.7, 0.4),
        ParamSpec("mix", 0.0, 1.0, 0.3),
        ParamSpec("lowcut", 20.0, 1000.0, 100.0, unit="Hz", scale=PITCH),
        ParamSpec("highcut", 1000.0, 10000.0, 5000.0, unit="Hz", scale=PITCH),
    ),
    "lfo1": _lfo_params(0.25),
    "lfo2": _lfo_params(4.0),
    "master": (ParamSpec("volume", 0.0, 1.0, 0.8),),
}

PARAM_INDEX: dict[str, dict[str, ParamSpec]] = {
    module: {spec.name: spec for spec in specs} for module, specs in MODULE_PARAMS.items()
}


def param_spec(module: str, param: str) -> ParamSpec:
    """The spec of module/param, or PatternError naming what is unknown."""
    if module not in PARAM_INDEX:
        raise PatternError(module, f"unknown module (known: {', '.join(PARAM_INDEX)})")
    params = PARAM_INDEX[module]
    if param not in params:
        raise PatternError(f"{module}/{param}", f"unknown parameter (known: {', '.join(params)})")
    return params[param]


def default_modules() -> dict[str, dict[str, float]]:
    return {
        module: {spec.name: spec.default for spec in specs}
        for module, specs in MODULE_PARAMS.items()
    }


MICRO_DIVISIONS = 24  # micro-timing moves a step in 24ths of a step (MICRO_SPEC)
MAX_LOCKS = 16  # parameter locks on one step
MAX_CYCLE = 8  # the B of an A:B condition
# a step's trig condition (None: always): "A:B" plays on the A-th of every B repetitions of
# its track; the others are these names, "!" their negation
CONDITION_NAMES = ("FILL", "!FILL", "PRE", "!PRE", "NEI", "!NEI", "1ST", "!1ST")
ACID_MODULE = "acid1"


def lockable_params(voice: str) -> tuple[str, ...]:
    """What a step of a track on `voice` may lock: the voice's parameters but its own freq
    and waveform (a step has its note), and on the acid voice acid1's, as "acid1/<param>"."""
    own = tuple(s.name for s in MODULE_PARAMS[voice] if s.name not in ("freq", "osc/type"))
    if voice != ACID_VOICE:
        return own
    return own + tuple(f"{ACID_MODULE}/{s.name}" for s in MODULE_PARAMS[ACID_MODULE])


def lock_spec(voice: str, key: str, path: str = "locks") -> ParamSpec:
    """The spec of lock `key` on a track of `voice`, or PatternError naming what is wrong
    (at `path`.key)."""
    if not isinstance(key, str) or key not in lockable_params(voice):
        acid = f", and {ACID_MODULE}/… (the acid insert's)" if voice == ACID_VOICE else ""
        raise PatternError(f"{path}.{excerpt(str(key), 40)}",
                           f"{excerpt(repr(key), 40)} is not a lockable parameter of {voice} "
                           f"(its parameters but freq and osc/type{acid})")
    module, _, param = key.rpartition("/") if key.startswith(ACID_MODULE + "/") else (voice, "", key)
    return PARAM_INDEX[module][param]


def check_condition(value: object, path: str = "cond") -> str | None:
    """A trig condition from outside: None, "A:B" (1 ≤ A ≤ B ≤ 8) or one of CONDITION_NAMES
    (case as written there); PatternError otherwise."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 8:
        raise PatternError(path, f"{excerpt(repr(value), 40)} is not a condition")
    if value in CONDITION_NAMES:
        return value
    a, colon, b = value.partition(":")
    if colon and a.isdigit() and b.isdigit() and a.isascii() and b.isascii() \
            and 1 <= int(a) <= int(b) <= MAX_CYCLE:
        return f"{int(a)}:{int(b)}"
    raise PatternError(path, f"{excerpt(repr(value), 40)} is not a condition (A:B with 1 ≤ A ≤ B ≤ "
                             f"{MAX_CYCLE}, or one of {', '.join(CONDITION_NAMES)})")


def condition_from_text(text: str) -> str | None:
    """A condition as a person or a script types it: empty, "none" or "always" for none, the
    names in any case of ASCII letters ("fill", "!1st"); anything else as typed, for
    check_condition to refuse by name (upper-casing "ﬁll" or "1ſt" would make FILL and 1ST)."""
    typed = text.strip()
    if not typed.isascii():
        return typed
    return None if typed.lower() in ("", "none", "always") else typed.upper()


def check_locks(value: object, voice: str, path: str = "locks") -> dict[str, float]:
    """A step's parameter locks from outside ({param: value}), each checked against its range."""
    if not isinstance(value, dict):
        raise PatternError(path, f"{excerpt(repr(value), 40)} is not a mapping of parameter to value")
    if len(value) > MAX_LOCKS:
        raise PatternError(path, f"{len(value)} locks; a step holds at most {MAX_LOCKS}")
    locks = {}
    for key, number in value.items():
        spec = lock_spec(voice, key, path)
        locks[key] = float(spec.check(number, f"{path}.{key}")) + 0.0
    return locks


@dataclass
class Step:
    on: bool = False
    accent: bool = False
    note: int | None = None  # MIDI number; None plays the voice's own freq
    slide: bool = False
    cents: float = 0.0  # fine tune of the note (CENTS_RANGE): a Hz note keeps its exact pitch
    prob: int = 100  # PROB_SPEC, percent: the chance it plays (rolled from the pattern's seed)
    cond: str | None = None  # a trig condition (check_condition), None: always
    micro: int = 0  # MICRO_SPEC: 24ths of a step early (-) or late (+)
    ratchet: int = 1  # RATCHET_SPEC: hits evenly inside the step
    locks: dict[str, float] = field(default_factory=dict)  # lock_spec keys -> values, this step only

    @property
    def expressive(self) -> bool:
        """Whether it has anything beyond on, accent, note and slide (the grid marks it)."""
        return (self.prob != 100 or self.cond is not None or self.micro != 0 or self.ratchet != 1
                or bool(self.locks))

    @property
    def conditional(self) -> bool:
        """Whether playing it is decided by a roll or a condition (PRE and NEI read these)."""
        return self.prob < 100 or (self.cond is not None and self.cond.lstrip("!") not in ("PRE", "NEI"))


@dataclass
class Track:
    """A track's playing steps, and the steps past its length kept for when it grows again
    (as on Elektron machines): `len(steps) + len(hidden)` is at most LENGTH_RANGE's high."""

    name: str
    voice: str
    steps: list[Step]  # exactly what plays: the engine, the grid and the routes read only these
    mute: bool = False
    solo: bool = False
    level: float = LEVEL_SPEC.default
    gate: float = GATE_SPEC.default  # gate length as a fraction of a step
    hidden: list[Step] = field(default_factory=list)  # past the length; no trailing default rests

    @property
    def length(self) -> int:
        return len(self.steps)

    def resize(self, length: int) -> None:
        """Play `length` steps: shortening hides the steps past it, lengthening shows hidden
        steps again, then rests. Trailing rests are not kept hidden (they carry nothing)."""
        low, high = LENGTH_RANGE
        if isinstance(length, bool) or not isinstance(length, int) or not low <= length <= high:
            raise PatternError("length", f"{length!r} is not a whole number {low}–{high}")
        stored = self.steps + self.hidden
        hidden = stored[length:]
        while hidden and hidden[-1] == Step():
            hidden.pop()
        self.steps = stored[:length] + [Step() for _ in range(length - len(stored))]
        self.hidden = hidden

    def copy(self) -> Track:
        """A copy that shares no step with this track."""
        return replace(self, steps=_copy_steps(self.steps), hidden=_copy_steps(self.hidden))


def _copy_steps(steps: list[Step]) -> list[Step]:
    return [copy_step(s) for s in steps]


def copy_step(step: Step) -> Step:
    """A copy that shares nothing with `step` (its locks are a dict)."""
    return replace(step, locks=dict(step.locks))


FOLLOW_AFTER_RANGE = (1, 64)  # plays of the pattern before its follow action
FOLLOW_ACTIONS = ("next", "previous", "slot", "random")
FOLLOW_SLOT_RANGE = (1, 128)  # A01–H16 (store.SLOT_COUNT; the autosave is no target)
MAX_FOLLOW_SET = 16  # slots a "random" action chooses among


@dataclass(frozen=True)
class Follow:
    """What plays after `after` plays of a slot's pattern, as in Ableton's follow actions:
    the next slot, the previous one, slot `slots[0]`, or one of `slots` at random."""

    after: int
    action: str
    slots: tuple[int, ...] = ()


def check_follow(after: object, action: object, slots: object, path: str = "follow") -> Follow:
    """A follow action from outside, checked; PatternError names the bad part."""
    low, high = FOLLOW_AFTER_RANGE
    if isinstance(after, bool) or not isinstance(after, int) or not low <= after <= high:
        raise PatternError(f"{path}.after", f"{after!r} is not a whole number of plays {low}–{high}")
    if action not in FOLLOW_ACTIONS:
        raise PatternError(f"{path}.action",
                           f"{excerpt(repr(action), 40)} is not one of {', '.join(FOLLOW_ACTIONS)}")
    if not isinstance(slots, (list, tuple)):
        raise PatternError(f"{path}.slots", f"{excerpt(repr(slots), 40)} is not a list of slots")
    wanted = {"next": (0, 0), "previous": (0, 0), "slot": (1, 1), "random": (1, MAX_FOLLOW_SET)}[action]
    if not wanted[0] <= len(slots) <= wanted[1]:
        count = "no slot" if wanted[1] == 0 else "one slot" if wanted[1] == 1 else f"1–{wanted[1]} slots"
        raise PatternError(f"{path}.slots", f"{action!r} takes {count}, not {len(slots)}")
    first, last = FOLLOW_SLOT_RANGE
    for index, slot in enumerate(slots):
        if isinstance(slot, bool) or not isinstance(slot, int) or not first <= slot <= last:
            raise PatternError(f"{path}.slots[{index}]",
                               f"{excerpt(repr(slot), 40)} is not a slot {first}–{last}")
    return Follow(after, action, tuple(slots))


@dataclass
class Pattern:
    """Everything that makes a sound: what a slot file holds and the Session owns."""

    name: str = "untitled"
    bpm: float = BPM_SPEC.default
    swing: float = SWING_SPEC.default
    tracks: list[Track] = field(default_factory=list)
    modules: dict[str, dict[str, float]] = field(default_factory=default_modules)
    saved_at: str | None = None
    follow: Follow | None = None  # what plays after it (a slot's follow action)
    seed: int = SEED_SPEC.default  # seeds its steps' probability rolls (trigs.roll)

    def track(self, name: str) -> Track:
        for track in self.tracks:
            if track.name == name:
                return track
        raise PatternError("track", f"no track named {name!r}")

    def track_index(self, name: str) -> int:
        return self.tracks.index(self.track(name))

    def copy(self) -> Pattern:
        """A copy that shares no track, step or module with this pattern."""
        return replace(self, tracks=[t.copy() for t in self.tracks],
                       modules={module: dict(values) for module, values in self.modules.items()})


def parse_steps(text: str, path: str = "pattern") -> list[Step]:
    """Steps from a pattern string: `X` accented hit, `x` hit, anything else a rest."""
    if not isinstance(text, str):
        raise PatternError(path, f"{text!r} is not a string")
    low, high = LENGTH_RANGE
    if not (low <= len(text) <= high):
        raise PatternError(path, f"length {len(text)} is out of range {low}–{high}")
    return [Step(on=char in "Xx", accent=char == "X") for char in text]


def steps_text(steps: list[Step]) -> str:
    """The pattern string of steps (notes and slides are not part of it)."""
    return "".join("X" if s.on and s.accent else "x" if s.on else "." for s in steps)


def check_name(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise PatternError(path, f"{value!r} is not a string")
    if len(value) > MAX_NAME:  # checked first: a name from a file can be megabytes long
        raise PatternError(path, f"{excerpt(repr(value), MAX_NAME + 10)} is {len(value)} characters; "
                                 f"names must be 1–{MAX_NAME} printable characters")
    if not value.strip() or not value.isprintable():
        raise PatternError(path, f"{value!r} must be 1–{MAX_NAME} printable characters")
    return value


def check_voice(value: object, path: str) -> str:
    if value not in VOICES:
        raise PatternError(path, f"{value!r} is not a voice (voice1–voice8)")
    return str(value)


_NOTE_SPEC = ParamSpec("note", *NOTE_RANGE, 60, integer=True)


def check_note(value: object, path: str) -> int | None:
    """A MIDI note number 0–127, or None (the voice's own freq)."""
    if value is None:
        return None
    return int(_NOTE_SPEC.check(value, path))


_CENTS_SPEC = ParamSpec("cents", *CENTS_RANGE, 0.0)

Pitch = tuple[int, float]  # a MIDI note and its fine tune in cents


def check_cents(value: object, path: str) -> float:
    """A fine tune in cents, -50–50 (a number; NaN, infinities and booleans are not)."""
    return _CENTS_SPEC.check(value, path) + 0.0  # + 0.0: -0.0 is stored as 0.0


def check_pitch(value: object, path: str) -> Pitch:
    """A MIDI note number (0 cents) or a [note, cents] pair of one, checked."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise PatternError(path, f"{excerpt(repr(value), 60)} is not a note or [note, cents]")
        note = check_note(value[0], path)
        if note is None:
            raise PatternError(path, "a fine tune needs a note")
        return note, check_cents(value[1], f"{path}.cents")
    note = check_note(value, path)
    if note is None:
        raise PatternError(path, "None is not a note")
    return note, 0.0


def midi_to_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12)


def hz_to_midi(freq: float) -> int:
    """The nearest MIDI note to a frequency, kept inside 0–127."""
    if freq <= 0:
        raise PatternError("note", f"{freq!r} Hz is not a positive frequency")
    # log2 of each side: freq / 440 underflows to 0 (and log2 fails) for a subnormal freq
    return min(max(round(69 + 12 * (math.log2(freq) - math.log2(440.0))), NOTE_RANGE[0]), NOTE_RANGE[1])


def hz_to_pitch(freq: float) -> Pitch:
    """The nearest MIDI note to a frequency and the cents from it to the frequency (to 0.01),
    kept inside 0–127 and ±50 cents: 262.15 Hz is C4 +3.47 cents."""
    note = hz_to_midi(freq)
    exact = 69 + 12 * (math.log2(freq) - math.log2(440.0))
    low, high = CENTS_RANGE
    return note, min(max(round((exact - note) * 100, CENTS_DIGITS), low), high) + 0.0


_NOTE_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def parse_note(token: str | float | int) -> int:
    """The nearest MIDI note of parse_pitch (a key or a semitone grid has no cents)."""
    return parse_pitch(token)[0]


def parse_pitch(token: str | float | int) -> Pitch:
    """A MIDI note and its cents from a MIDI number (0–127), a frequency in Hz or a name
    (C3, F#2, Bb4). Only a frequency has cents: names and MIDI numbers sit on the grid.

    Whole numbers up to 127 are MIDI numbers; larger numbers, and numbers with a
    fractional part, are frequencies. In text a number written with a decimal point is
    always Hz, as the original read its note lists (`"55.0,61.7,73.4"` is a bass line
    in Hz, not MIDI 55).
    """
    if isinstance(token, str):
        text = token.strip()
        if text and text[0].upper() in _NOTE_LETTERS:
            return _note_name_to_midi(text), 0.0
        try:
            number = float(text)
        except ValueError:
            raise PatternError("note", f"{token!r} is not a note (MIDI number, Hz or name like C3)") from None
        if "." in text:
            return _hz_to_note(number, token)
        token = number
    if isinstance(token, bool) or not isinstance(token, (int, float)):
        raise PatternError("note", f"{token!r} is not a note")
    if 0 <= token <= 127 and float(token).is_integer():
        return int(token), 0.0
    return _hz_to_note(token, token)


def _hz_to_note(freq: float, token: object) -> Pitch:
    try:
        freq = float(freq)
    except OverflowError:  # an int too big for a float
        freq = math.inf
    if not math.isfinite(freq):
        raise PatternError("note", f"{token!r} is not a note")
    return hz_to_pitch(freq)


def _note_name_to_midi(text: str) -> int:
    letter, rest = text[0].upper(), text[1:]
    semitone = _NOTE_LETTERS[letter]
    while rest[:1] in ("#", "b"):
        semitone += 1 if rest[0] == "#" else -1
        rest = rest[1:]
    try:
        octave = int(rest)
    except ValueError:
        raise PatternError("note", f"{text!r} is not a note name like C3, F#2 or Bb4") from None
    note = 12 * (octave + 1) + semitone  # C4 = 60
    if not (NOTE_RANGE[0] <= note <= NOTE_RANGE[1]):
        raise PatternError("note", f"{text!r} is outside MIDI 0–127")
    return note


_SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")


def note_name(note: int, flats: bool = False) -> str:
    """C4 = 60; a black key is written with a sharp (C#4) or, if `flats`, a flat (Db4)."""
    names = _FLAT_NAMES if flats else _SHARP_NAMES
    return f"{names[note % 12]}{note // 12 - 1}"


def pitch_name(note: int, cents: float = 0.0) -> str:
    """note_name with the fine tune when there is one: C4, C4+3.47c, A1-12.5c."""
    return note_name(note) + (f"{cents:+g}c" if cents else "")
