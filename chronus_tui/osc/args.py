"""OSC argument kinds: how each argument is read, and how the schema describes it.

Arguments are read the way the original's scripts sent them: ints where floats are
meant, numbers as strings, notes as `"41.2,49,55"`, booleans as 0/1, `true`/`false`.
Every reader returns the value or raises ArgError naming what was wrong.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chronus_tui.model import PatternError, Pitch, parse_pitch
from chronus_tui.session import QUANTUM_STEPS


class ArgError(ValueError):
    """An argument of the wrong type or form; the message names it."""


_TRUE = {"1", "1.0", "true", "on", "yes"}
_FALSE = {"0", "0.0", "false", "off", "no"}
_NO_NOTE = {"", "-", "none", "off", "rest"}
# The engine computes in 32-bit floats. A number beyond their range, or so near 0 that it is
# subnormal there (5e-324: math on it underflows to 0, and DSP on subnormals is slow), is refused.
FLOAT32_MAX = 3.4028234663852886e38
FLOAT32_MIN_NORMAL = 1.1754943508222875e-38
# a number as text: ASCII decimal, as a script writes one (float() alone also takes `5_0`
# and other scripts' digits, `٥٠`, which no sender means as a number)
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|[+-]?(?:nan|inf|infinity)",
                          re.ASCII | re.IGNORECASE)


def to_number(value: object) -> float:
    """A finite number: 0, or a magnitude from 1.2e-38 to 3.4e38 (32-bit floats' normal range),
    so no NaN, infinity, subnormal or overflow reaches any arithmetic."""
    if isinstance(value, str):
        if not _NUMBER_TEXT.fullmatch(value.strip()):
            raise ArgError(f"{value!r} is not a number")
        number = float(value.strip())
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgError(f"{value!r} is not a number")
    else:
        try:
            number = float(value)
        except OverflowError:  # an int beyond any float
            number = math.inf
    if not math.isfinite(number):
        raise ArgError(f"{value!r} is not a finite number")
    if number and not FLOAT32_MIN_NORMAL <= abs(number) <= FLOAT32_MAX:
        raise ArgError(f"{value!r} is outside the numbers the engine computes with "
                       "(0, or 1.2e-38 to 3.4e38 either side of it)")
    return number


def to_int(value: object) -> int:
    number = to_number(value)
    if not number.is_integer():
        raise ArgError(f"{value!r} is not a whole number")
    return int(number)


def to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ArgError(f"{value!r} is not 0/1 or true/false")


def to_text(value: object) -> str:
    if not isinstance(value, str):
        raise ArgError(f"{value!r} is not a string")
    return value


def to_name(value: object) -> str:
    """A track id: a string, or a whole number (the original did str(args[0]))."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return to_text(value)


def to_note(value: object) -> Pitch:
    """A MIDI note and its cents from a MIDI number, a frequency or a name (model.parse_pitch):
    a frequency keeps its exact pitch as cents, the others have 0.

    A string with a decimal point is a frequency, as in the original (`"49.0"` was
    49 Hz there, `"49"` MIDI 49); a float sent as a number follows parse_note, so a
    controller that only sends floats can still send MIDI 60 as 60.0. A number, or text
    that is one, must pass to_number first: a frequency of 5e-324 Hz is no note.
    """
    if type(value) in (int, float) or (isinstance(value, str) and _is_number_text(value)):
        to_number(value)
    try:
        return parse_pitch(value)
    except PatternError as exc:
        raise ArgError(exc.message) from None


def _is_number_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_step_note(value: object) -> Pitch | None:
    """A note for one step; -1, "none", "-" or "" clears it."""
    if isinstance(value, str) and value.strip().lower() in _NO_NOTE:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == -1:
        return None
    return to_note(value)


def to_notes(value: object) -> list[Pitch]:
    """Notes from "41.2,49,55" (Hz, MIDI or names), one number, or an OSC array."""
    if isinstance(value, list):
        return [to_note(item) for item in value]
    if isinstance(value, str):
        if not value.strip():
            return []
        return [to_note(token) for token in value.replace(" ", ",").split(",") if token]
    return [to_note(value)]


_QUANTUMS = tuple(QUANTUM_STEPS)


def to_quantize(value: object) -> str:
    """A launch quantize: the next bar, the next 2, 4 or 8 bars, or the playing pattern's end."""
    word = value.strip().lower() if isinstance(value, str) else None
    if word not in _QUANTUMS:
        raise ArgError(f"{value!r} is not one of {', '.join(_QUANTUMS)}")
    return word


def to_load_mode(value: object) -> str:
    """The original's [immediate] flag: 0 (bar line) or 1 (next step); or a launch quantize,
    step or now."""
    if isinstance(value, str) and value.strip().lower() in (*_QUANTUMS, "step", "now", "immediate"):
        word = value.strip().lower()
        return "step" if word == "immediate" else word
    try:
        return "step" if to_bool(value) else "bar"
    except ArgError:
        raise ArgError(f"{value!r} is not 0/1, {', '.join(_QUANTUMS)}, step, immediate or now") from None


def to_schema_format(value: object) -> str:
    """The original's /engine/schema [format] (chronusctl sends stdout, json or file): the answer
    is always JSON, sent back to the client."""
    if to_text(value) not in ("json", "stdout", "file"):
        raise ArgError(f"{value!r}: the schema is sent as json")
    return "json"


def to_port(value: object) -> int:
    port = to_int(value)
    if not 1 <= port <= 65535:
        raise ArgError(f"{port} is not a UDP port (1–65535)")
    return port


@dataclass(frozen=True)
class Kind:
    """How an argument is read, and how the schema and README describe it."""

    name: str
    parse: Callable[[Any], Any]
    accepts: str


NUMBER = Kind("float", to_number, "int, float or numeric string; finite, and 0 or 1.2e-38 to 3.4e38 in size "
                                  "(what the engine's 32-bit floats hold)")
INT = Kind("int", to_int, "whole number as int, float or string")
BOOL = Kind("bool", to_bool, "0/1 (int or float), T/F, or true/false/on/off")
TEXT = Kind("string", to_text, "string")
NAME = Kind("name", to_name, "string, or an int (sent as its digits)")
NOTE = Kind("note", to_step_note, "MIDI 0–127, Hz (float or \"41.2\"), name like C3 or F#2; -1/none clears")
NOTES = Kind("notes", to_notes, "\"n1,n2,…\" (Hz, MIDI or names), one number, or an OSC array")
LOAD_MODE = Kind("load mode", to_load_mode, "0 = next bar, 1 = next step; or bar/bar2/bar4/bar8/end (launch "
                                            "quantize), step, now; left out: the session's quantize")
QUANTIZE = Kind("quantize", to_quantize, "bar, bar2, bar4, bar8 (the next 1, 2, 4 or 8 bars from the playing "
                                         "pattern's start) or end (its longest track's end)")
PORT = Kind("port", to_port, "UDP port 1–65535, as int, float or string")
SCHEMA_FORMAT = Kind("format", to_schema_format, "json (the original's stdout and file are accepted too)")
