"""Typed entry (`=`): the text a user types for a value, read as that value or refused.

A bare value is for what the focused panel has selected (a parameter, the step's note,
the step detail's field, else the tempo); a word in front names another target: "bpm 120", "swing 0.1",
"length 32" (the track under the cursor), "note Eb2" (the step under the cursor), "seed 7" (the
pattern's probability rolls).
Nothing here changes the pattern: the app hands the value to a Session method.
"""

from __future__ import annotations

from dataclasses import dataclass

from chronus_tui.model import (
    BPM_SPEC,
    LENGTH_SPEC,
    MICRO_DIVISIONS,
    MICRO_SPEC,
    PITCH,
    SEED_SPEC,
    SWING_SPEC,
    WAVEFORMS,
    ParamSpec,
    PatternError,
    midi_to_hz,
    parse_note,
)

BPM, SWING, LENGTH, NOTE, PARAM, SEED = "bpm", "swing", "length", "note", "param", "seed"
FIELD = "field"  # the step detail's selected field
TARGET_SPECS = {BPM: BPM_SPEC, SWING: SWING_SPEC, LENGTH: LENGTH_SPEC, SEED: SEED_SPEC}
TARGET_WORDS = (*TARGET_SPECS, NOTE)
NOTE_LETTERS = "ABCDEFG"


@dataclass(frozen=True)
class Entry:
    target: str  # BPM, SWING, LENGTH, NOTE, SEED, PARAM or FIELD
    text: str    # the value as typed, without the target word


def split_entry(text: str, default: str) -> Entry:
    """The target named by a leading word ("bpm 120"), else `default` for the whole text."""
    words = text.strip().split(maxsplit=1)
    if len(words) == 2 and words[0].lower() in TARGET_WORDS:
        return Entry(words[0].lower(), words[1])
    return Entry(default, text.strip())


def is_note_name(text: str) -> bool:
    return text[:1].upper() in NOTE_LETTERS


def parse_value(spec: ParamSpec, text: str) -> float:
    """A typed number for `spec` (its unit may follow: "110 Hz"), a note name for a pitch
    parameter (Eb2 → its frequency), a waveform name for osc/type. PatternError, naming
    the parameter, for anything else or anything out of range."""
    typed = text.strip()
    if spec.name == "osc/type" and typed.lower() in WAVEFORMS:
        return WAVEFORMS.index(typed.lower())
    if spec.scale == PITCH and is_note_name(typed):
        try:
            note = parse_note(typed)
        except PatternError as exc:  # named for the parameter typed, not "note"
            raise PatternError(spec.name, exc.message) from None
        return spec.check(midi_to_hz(note), spec.name)
    if spec.unit and typed.lower().endswith(spec.unit.lower()):
        typed = typed[:-len(spec.unit)].strip()
    try:
        number = float(typed)
    except ValueError:
        raise PatternError(spec.name, f"{text!r} is not {expected(spec)}") from None
    return spec.check(number, spec.name)


def parse_micro(text: str) -> int:
    """Typed micro-timing in 24ths of a step, bare (-5) or as the panel shows it (−5/24, +3/24:
    a typographic minus too); PatternError for anything else or out of range."""
    typed = text.strip().replace("\u2212", "-").removesuffix(f"/{MICRO_DIVISIONS}")
    return int(parse_value(MICRO_SPEC, typed))


def expected(spec: ParamSpec) -> str:
    """What a typed value for `spec` may be, for the prompt and its errors."""
    if spec.name == "osc/type":
        return f"a waveform ({', '.join(WAVEFORMS)}) or 0–{len(WAVEFORMS) - 1}"
    if spec.integer:  # whole: 2147483647, not 2.14748e+09
        return f"a whole number in {int(spec.low)}–{int(spec.high)}"
    what = "a number in Hz or a note name like Eb2" if spec.scale == PITCH else "a number"
    return f"{what} in {spec.low:g}–{spec.high:g}"

