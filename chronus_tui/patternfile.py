"""The pattern file format: Pattern <-> JSON-ready dict <-> text.

`pattern_from_dict` checks every type and range before it builds anything and
names the bad field, so a bad file or snapshot never half-applies.
Original Music Chronus files are recognised and handed to `legacy`.
"""

from __future__ import annotations

import json
from typing import Any

from chronus_tui import legacy
from chronus_tui.model import (
    BPM_SPEC,
    GATE_SPEC,
    LENGTH_RANGE,
    LENGTH_SPEC,
    LEVEL_SPEC,
    MAX_TRACKS,
    MICRO_SPEC,
    NOTE_RANGE,
    PARAM_INDEX,
    PROB_SPEC,
    RATCHET_SPEC,
    SEED_SPEC,
    SWING_SPEC,
    Follow,
    Pattern,
    PatternError,
    Step,
    Track,
    check_cents,
    check_condition,
    check_follow,
    check_locks,
    check_name,
    check_note,
    check_voice,
    default_modules,
)

FORMAT = "chronus-pattern"
# 2: a track's "steps" may run past its "length" (the hidden steps, kept); a step's optional
# "cents" (absent: 0) is a schema-2 field: it is written only when not 0, so every file without
# a fine-tuned note keeps its bytes, and a reader without it refuses such a file naming the field.
# The pattern's optional "follow" (its slot's follow action) is another such field, written only when set.
# 3: a step's "prob", "cond", "micro", "ratchet" and "locks" and the pattern's "seed" (expressive
# steps), each written only when not its default. A pattern that uses none of them is written as
# schema 2, byte for byte as before, so older Chronus versions still read it; one that uses
# them says 3, which a schema-2 reader refuses as newer rather than play it without them.
SCHEMA = 3
PLAIN_SCHEMA = 2  # what a pattern without schema-3 fields is written as
STEP_OPTIONS = ("prob", "cond", "micro", "ratchet", "locks")  # a step's schema-3 fields, in file order
MAX_SAVED_AT = 40  # an ISO time is 20–32 characters; the field reaches every slot listing


def pattern_to_dict(pattern: Pattern) -> dict[str, Any]:
    """A complete, self-contained, JSON-ready dict of the pattern (shares nothing with it)."""
    tracks = [track_to_dict(t) for t in pattern.tracks]
    # a step dict of more than its four plain fields and cents has a schema-3 field
    expressive = pattern.seed != SEED_SPEC.default or any(
        len(step) > 4 and step.keys() - _PLAIN_STEP_KEYS for track in tracks for step in track["steps"])
    data: dict[str, Any] = {
        "format": FORMAT,
        "schema": SCHEMA if expressive else PLAIN_SCHEMA,
        "name": pattern.name,
        "saved_at": pattern.saved_at,
    }
    if pattern.follow is not None:
        data["follow"] = follow_to_dict(pattern.follow)
    if pattern.seed != SEED_SPEC.default:
        data["seed"] = pattern.seed
    return data | {
        "sequencer": {
            "bpm": pattern.bpm,
            "swing": pattern.swing,
            "tracks": tracks,
        },
        "modules": {module: dict(params) for module, params in pattern.modules.items()},
    }


def follow_to_dict(follow: Follow) -> dict[str, Any]:
    """A follow action as a file holds it (follow_from_dict reads it back)."""
    return {"after": follow.after, "action": follow.action, "slots": list(follow.slots)}


def follow_from_dict(data: object, path: str = "follow") -> Follow:
    """A follow action from a file or a journal; PatternError names the bad field."""
    if not isinstance(data, dict):
        raise PatternError(path, "expected an object")
    _expect_keys(data, path, required={"after", "action"}, optional={"slots"})
    return check_follow(data["after"], data["action"], data.get("slots", []), path)


def track_to_dict(track: Track) -> dict[str, Any]:
    """One track as it sits in a pattern dict's sequencer.tracks: "steps" holds every stored
    step, the hidden ones after the playing ones; "length" says how many of them play."""
    return {
        "name": track.name,
        "voice": track.voice,
        "length": track.length,
        "level": track.level,
        "gate": track.gate,
        "mute": track.mute,
        "solo": track.solo,
        "steps": [step_to_dict(s) for s in track.steps + track.hidden],
    }


def step_to_dict(step: Step) -> dict[str, Any]:
    """One step as a track dict's "steps" hold it: "cents" only when the note has a fine tune,
    and each schema-3 field only when it is not its default (step_options_to_dict)."""
    data: dict[str, Any] = {"on": step.on, "accent": step.accent, "note": step.note, "slide": step.slide}
    if step.cents:
        data["cents"] = step.cents
    # step.expressive, spelt out: a slot has up to 1024 steps and must save in well under a millisecond
    if step.prob != 100 or step.cond is not None or step.micro or step.ratchet != 1 or step.locks:
        data |= step_options_to_dict(step)
    return data


def step_options_to_dict(step: Step) -> dict[str, Any]:
    """A step's expressive fields that are not their defaults (STEP_OPTIONS order), as a file
    and a journal hold them; {} for a plain step."""
    data: dict[str, Any] = {}
    if step.prob != PROB_SPEC.default:
        data["prob"] = step.prob
    if step.cond is not None:
        data["cond"] = step.cond
    if step.micro != MICRO_SPEC.default:
        data["micro"] = step.micro
    if step.ratchet != RATCHET_SPEC.default:
        data["ratchet"] = step.ratchet
    if step.locks:
        data["locks"] = dict(step.locks)
    return data


def step_options_from_dict(data: dict, voice: str, path: str) -> dict[str, Any]:
    """The expressive fields among `data`'s keys (the rest are the caller's), each checked
    (the locks against `voice`): Step keyword arguments. PatternError names the bad field."""
    prefix = f"{path}." if path else ""
    options: dict[str, Any] = {}
    if "prob" in data:
        options["prob"] = int(PROB_SPEC.check(data["prob"], f"{prefix}prob"))
    if "cond" in data:
        options["cond"] = check_condition(data["cond"], f"{prefix}cond")
    if "micro" in data:
        options["micro"] = int(MICRO_SPEC.check(data["micro"], f"{prefix}micro"))
    if "ratchet" in data:
        options["ratchet"] = int(RATCHET_SPEC.check(data["ratchet"], f"{prefix}ratchet"))
    if "locks" in data:
        options["locks"] = check_locks(data["locks"], voice, f"{prefix}locks")
    return options


def pattern_from_dict(data: object, *, dropped: list[str] | None = None) -> Pattern:
    """A Pattern from a dict of this format or the original's; PatternError names the bad field.

    Fields of an original file that have no place in the model are appended to
    `dropped`, when given.
    """
    if not isinstance(data, dict):
        raise PatternError("", f"expected a JSON object, found {type(data).__name__}")
    if "format" not in data and "schema_version" in data:
        return pattern_from_dict(legacy.convert(data, dropped if dropped is not None else []))
    _expect_keys(data, "", required={"format", "schema", "sequencer"},
                 optional={"name", "saved_at", "modules", "follow", "seed"})
    schema, saved_at = check_header(data, FORMAT, SCHEMA)
    if "seed" in data:
        _check_schema_3("seed", schema)
    seq = data["sequencer"]
    if not isinstance(seq, dict):
        raise PatternError("sequencer", "expected an object")
    _expect_keys(seq, "sequencer", required={"bpm", "tracks"}, optional={"swing"})
    tracks = seq["tracks"]
    if not isinstance(tracks, list):
        raise PatternError("sequencer.tracks", "expected a list")
    if len(tracks) > MAX_TRACKS:
        raise PatternError("sequencer.tracks", f"{len(tracks)} tracks; at most {MAX_TRACKS}")
    parsed_tracks = [track_from_dict(t, f"sequencer.tracks[{i}]", schema=schema)
                     for i, t in enumerate(tracks)]
    names = [t.name for t in parsed_tracks]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise PatternError(f"sequencer.tracks[{i}].name", f"{name!r} is used by another track")
    return Pattern(
        name=check_name(data.get("name", "untitled"), "name"),
        bpm=BPM_SPEC.check(seq["bpm"], "sequencer.bpm"),
        swing=SWING_SPEC.check(seq.get("swing", SWING_SPEC.default), "sequencer.swing"),
        tracks=parsed_tracks,
        modules=_modules_from_dict(data.get("modules", {})),
        saved_at=saved_at,
        follow=follow_from_dict(data["follow"]) if "follow" in data else None,
        seed=int(SEED_SPEC.check(data.get("seed", SEED_SPEC.default), "seed")),
    )


def _check_schema_3(path: str, schema: int) -> None:
    """A schema-3 field in a file that says an older schema: no Chronus writes one, so the
    file was edited by hand or by another program, and its schema number is wrong."""
    if schema < 3:
        raise PatternError(path, f"is a schema-3 field; the file says schema {schema}")


def track_from_dict(data: object, path: str = "track", *, schema: int = SCHEMA) -> Track:
    """One track of a pattern dict (track_to_dict's shape) of file schema `schema`;
    PatternError names the bad field.

    In schema 2 the steps past "length" (default: all of them) are the track's hidden steps;
    in schema 1 a "length" must equal the number of steps, as it always had to.
    """
    if not isinstance(data, dict):
        raise PatternError(path, "expected an object")
    _expect_keys(data, path, required={"name", "voice", "steps"},
                 optional={"length", "level", "gate", "mute", "solo"})
    steps = data["steps"]
    low, high = LENGTH_RANGE
    if not isinstance(steps, list) or not (low <= len(steps) <= high):
        raise PatternError(f"{path}.steps", f"expected a list of {low}–{high} steps")
    if schema == 1:
        if "length" in data and data["length"] != len(steps):
            raise PatternError(f"{path}.length", f"{data['length']!r} does not match {len(steps)} steps")
        length = len(steps)
    else:
        length = int(LENGTH_SPEC.check(data.get("length", len(steps)), f"{path}.length"))
        if length > len(steps):
            raise PatternError(f"{path}.length", f"{length} is more than the {len(steps)} steps stored")
    voice = check_voice(data["voice"], f"{path}.voice")
    track = Track(
        name=check_name(data["name"], f"{path}.name"),
        voice=voice,
        steps=_steps_from_list(steps, f"{path}.steps", voice, schema),
        mute=_check_bool(data.get("mute", False), f"{path}.mute"),
        solo=_check_bool(data.get("solo", False), f"{path}.solo"),
        level=LEVEL_SPEC.check(data.get("level", LEVEL_SPEC.default), f"{path}.level"),
        gate=GATE_SPEC.check(data.get("gate", GATE_SPEC.default), f"{path}.gate"),
    )
    track.resize(length)  # the steps past the length become hidden
    return track


_STEP_KEYS = frozenset(("on", "accent", "note", "slide"))
_PLAIN_STEP_KEYS = _STEP_KEYS | {"cents"}
_STEP_OPTIONAL_KEYS = frozenset(("accent", "note", "slide", "cents", *STEP_OPTIONS))
_NOTE_LOW, _NOTE_HIGH = NOTE_RANGE


def _steps_from_list(steps: list, path: str, voice: str, schema: int) -> list[Step]:
    """Steps of a track on `voice`. A plain step of exactly the shape this program writes
    takes a fast check (a slot has up to 1024 of them and must load in well under a
    millisecond); anything else (a step with cents or schema-3 fields among them) goes
    through _step_from_dict, which names the bad field."""
    parsed = []
    append = parsed.append
    for i, data in enumerate(steps):
        if type(data) is dict and len(data) == 4 and data.keys() == _STEP_KEYS:
            on, accent, note, slide = data["on"], data["accent"], data["note"], data["slide"]
            # `is True or is False` is the cheapest exact bool test (1 and 0 fail it)
            if ((on is True or on is False) and (accent is True or accent is False)
                    and (slide is True or slide is False)
                    and (note is None or (type(note) is int and _NOTE_LOW <= note <= _NOTE_HIGH))):
                append(Step(on, accent, note, slide))
                continue
        append(_step_from_dict(data, f"{path}[{i}]", voice, schema))
    return parsed


def _step_from_dict(data: object, path: str, voice: str, schema: int) -> Step:
    if not isinstance(data, dict):
        raise PatternError(path, "expected an object")
    _expect_keys(data, path, required={"on"}, optional=_STEP_OPTIONAL_KEYS)
    for key in STEP_OPTIONS:
        if key in data:
            _check_schema_3(f"{path}.{key}", schema)
    note = check_note(data.get("note"), f"{path}.note")
    cents = check_cents(data.get("cents", 0.0), f"{path}.cents")
    if cents and note is None:
        raise PatternError(f"{path}.cents", "a fine tune needs a note")
    return Step(
        on=_check_bool(data["on"], f"{path}.on"),
        accent=_check_bool(data.get("accent", False), f"{path}.accent"),
        note=note,
        slide=_check_bool(data.get("slide", False), f"{path}.slide"),
        cents=cents,
        **step_options_from_dict(data, voice, path),
    )


def _modules_from_dict(data: object) -> dict[str, dict[str, float]]:
    """Every module's parameters; ones the file leaves out keep their defaults."""
    if not isinstance(data, dict):
        raise PatternError("modules", "expected an object")
    modules = default_modules()
    for module, params in data.items():
        if module not in PARAM_INDEX:
            raise PatternError(f"modules.{module}", f"unknown module (known: {', '.join(PARAM_INDEX)})")
        if not isinstance(params, dict):
            raise PatternError(f"modules.{module}", "expected an object")
        for param, value in params.items():
            spec = PARAM_INDEX[module].get(param)
            if spec is None:
                raise PatternError(f"modules.{module}.{param}", "unknown parameter")
            modules[module][param] = spec.check(value, f"modules.{module}.{param}")
    return modules


def _check_bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise PatternError(path, f"{value!r} is not true or false")
    return value


def check_header(data: dict, file_format: str, newest: int) -> tuple[int, str | None]:
    """The format marker, schema number (1 … `newest`) and saved_at that begin each of our
    files (patterns, songs), checked; the schema and saved_at."""
    if data["format"] != file_format:
        raise PatternError("format", f"{data['format']!r} is not {file_format!r}")
    schema = data["schema"]
    if isinstance(schema, bool) or not isinstance(schema, int):
        raise PatternError("schema", f"{schema!r} is not a schema number")
    if schema > newest:
        raise PatternError("schema", f"{schema} is newer than this Chronus reads ({newest}); upgrade Chronus")
    if schema < 1:
        raise PatternError("schema", f"{schema} is not a known schema")
    saved_at = data.get("saved_at")
    if saved_at is not None and not (isinstance(saved_at, str) and len(saved_at) <= MAX_SAVED_AT
                                     and saved_at.isprintable()):
        raise PatternError("saved_at", f"{saved_at!r} is not a time string "
                                       f"(at most {MAX_SAVED_AT} printable characters)")
    return schema, saved_at


def _expect_keys(data: dict, path: str, *, required: set[str], optional: set[str]) -> None:
    prefix = f"{path}." if path else ""
    for key in sorted(required - data.keys()):
        raise PatternError(f"{prefix}{key}", "is missing")
    for key in sorted(data.keys() - required - optional):
        raise PatternError(f"{prefix}{key}", "is not a known field")


def dumps(data: dict[str, Any]) -> str:
    """Human-readable JSON of a valid pattern's dict (from pattern_to_dict), one step a line;
    the same dict gives the same bytes."""
    seq = data["sequencer"]
    head = {k: v for k, v in data.items() if k not in ("sequencer", "modules")}
    lines = ["{"]
    lines += [f'  "{k}": {_scalar(v)},' for k, v in head.items()]
    lines.append('  "sequencer": {')
    lines.append(f'    "bpm": {_scalar(seq["bpm"])},')
    lines.append(f'    "swing": {_scalar(seq["swing"])},')
    track_texts = []
    for track in seq["tracks"]:
        fields = [f'        "{k}": {_scalar(v)}' for k, v in track.items() if k != "steps"]
        fields.append(f'        "steps": [\n          {_step_lines(track["steps"])}\n        ]')
        track_texts.append("      {\n" + ",\n".join(fields) + "\n      }")
    if track_texts:
        lines.append('    "tracks": [\n' + ",\n".join(track_texts) + "\n    ]")
    else:
        lines.append('    "tracks": []')
    lines.append("  },")
    modules = ",\n".join(
        f'    "{m}": {{' + ", ".join(f'"{k}": {_scalar(v)}' for k, v in params.items()) + "}"
        for m, params in data["modules"].items())
    lines.append('  "modules": {\n' + modules + "\n  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


_JSON_BOOL = {True: "true", False: "false"}


def _scalar(value: object) -> str:
    """One field's JSON as json.dumps writes it, without its per-call cost for numbers
    (the field names this format writes need no escaping)."""
    if value is True or value is False:
        return _JSON_BOOL[value]
    if type(value) is int or type(value) is float:
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def _step_lines(steps: list[dict[str, Any]]) -> str:
    """The steps one a line, as json.dumps writes them but three times faster (a slot has
    up to 1024 steps and must save in well under a millisecond). A valid step holds
    booleans, a MIDI number or null, cents (a float) when the note has a fine tune, and
    its schema-3 fields when it has them."""
    b = _JSON_BOOL
    return ",\n          ".join(
        f'{{"on": {b[s["on"]]}, "accent": {b[s["accent"]]}, '
        f'"note": {"null" if s["note"] is None else s["note"]}, "slide": {b[s["slide"]]}'
        + ("}" if len(s) == 4 else _step_extra_fields(s))
        for s in steps)


def _step_extra_fields(step: dict[str, Any]) -> str:
    """The JSON of a step's fields after "slide" (cents, then STEP_OPTIONS), and its "}"."""
    return "".join(f', "{k}": {_scalar(v)}' for k, v in step.items()
                   if k not in _STEP_KEYS) + "}"


def loads(text: str | bytes, *, dropped: list[str] | None = None) -> Pattern:
    """A Pattern from file text; PatternError for anything that is not a valid pattern."""
    return pattern_from_dict(read_json(text), dropped=dropped)


def read_json(text: str | bytes) -> Any:
    """The JSON value of a file's text (UTF-8); PatternError says why it is not one."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PatternError("", f"not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise PatternError("", "the file is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PatternError("", f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise PatternError("", "JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal longer than Python converts
        raise PatternError("", f"not valid JSON ({exc})") from None
    return data
