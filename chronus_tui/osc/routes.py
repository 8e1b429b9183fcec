"""The OSC routes: ONE table of addresses, arguments and the Session method each calls.

The server's address map, `/engine/schema` and the README's route table are all
generated from ROUTES (the last two by osc/schema.py), so they cannot drift apart (the
original kept a separate registry and warned about "drift"). How each argument is read
is in osc/args.py.

Replies, all sent to the sender's address and port:
- a command that worked:  `/ok <address> [applied values …]` (`clamped` is added
  when a value was brought into range);
- a query:                `<address> <json>` (one string argument);
- anything refused:       `/error <address> <message>`, and nothing changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from chronus_tui import midiexport, patternfile
from chronus_tui.chain import MAX_ENTRIES, Chain, ChainError, parse_chain
from chronus_tui.chainplay import FOLLOW_OFF, FOLLOW_USAGE, parse_follow
from chronus_tui.history import HISTORY_LIMIT, Entry
from chronus_tui.legacy import TRACK_VOICE_FIELDS
from chronus_tui.model import (
    ACID_VOICE,
    BPM_RANGE,
    FOLLOW_ACTIONS,
    FOLLOW_AFTER_RANGE,
    GATE_RANGE,
    LENGTH_RANGE,
    LEVEL_RANGE,
    MAX_FOLLOW_SET,
    MAX_LOCKS,
    MAX_NAME,
    NOTE_RANGE,
    PARAM_INDEX,
    SEED_SPEC,
    SWING_RANGE,
    VOICES,
    Follow,
    Step,
    condition_from_text,
    excerpt,
    fmt_range,
    parse_steps,
    pitch_name,
    steps_text,
)
from chronus_tui.osc.args import (
    BOOL,
    INT,
    LOAD_MODE,
    NAME,
    NOTE,
    NOTES,
    NUMBER,
    PORT,
    QUANTIZE,
    SCHEMA_FORMAT,
    TEXT,
    ArgError,
    Kind,
    to_int,
    to_notes,
    to_number,
)
from chronus_tui.osc.notify import LEASE_SECONDS, MAX_SUBSCRIBERS, NOTIFY_RATE, Feedback
from chronus_tui.recording import recordings_folder
from chronus_tui.session import Clamped, PendingLoad, Session, SessionError
from chronus_tui.store import AUTOSAVE_SLOT, SLOT_COUNT, SlotInfo, SlotStore, StoreError, slot_label

SOURCE = "osc"  # who the server's own reports (refusals) come from; an edit names its client
# `osc <host>:<port>`, the sender's address: it is shown on screen and written in the journal,
# so it is cut to this many characters (an IPv4 sender's is at most 25).
MAX_SOURCE = 64


def client_source(sender: tuple[str, int]) -> str:
    """Who an OSC client is in the history, toasts and per-author undo: `osc <host>:<port>`."""
    return f"osc {sender[0]}:{sender[1]}"[:MAX_SOURCE]


@dataclass(frozen=True)
class Arg:
    name: str
    kind: Kind
    doc: str = ""
    range: tuple[float, float] | None = None
    out_of_range: str = ""  # "clamped" or "error": what the Session does outside the range
    optional: bool = False

    def schema(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "type": self.kind.name, "accepts": self.kind.accepts,
                                 "optional": self.optional}
        if self.range is not None:
            entry["min"], entry["max"] = self.range
            entry["out_of_range"] = self.out_of_range
        if self.doc:
            entry["doc"] = self.doc
        return entry

    def usage(self) -> str:
        text = self.name
        if self.range is not None:
            text += f" {fmt_range(*self.range)}"
        return f"[{text}]" if self.optional else text


# -- requests and replies ---------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    session: Session
    address: str
    sender: tuple[str, int]
    feedback: Feedback
    schema: Callable[[], str]  # the /engine/schema answer: osc/schema.py describes this table
    counters: Callable[[], dict[str, int]] = dict  # the server's own counts, for /engine/status

    @property
    def source(self) -> str:
        """The author of this request's edits (client_source): each client undoes its own."""
        return client_source(self.sender)


@dataclass(frozen=True)
class Reply:
    """What a handler answers: the values after `/ok <address>`, or a query's JSON.

    `wait_for` is the token of a queued load: a second `/ok <address> <slot> switched`
    follows when it takes effect.
    """

    args: tuple[Any, ...] = ()
    wait_for: int | None = None


Handler = Callable[[Request, dict[str, Any]], Reply]


@dataclass(frozen=True)
class Route:
    address: str  # as documented; placeholders in <> are expanded by `concrete`
    args: tuple[Arg, ...]
    handler: Handler
    doc: str
    query: bool = False  # answers `<address> <json>` rather than `/ok <address> …`
    blocking: bool = False  # reads or writes files: run off the event loop
    extra: Arg | None = None  # any number of further arguments of this form
    concrete: Callable[[], Iterable[tuple[str, dict[str, Any]]]] | None = None
    keywords: bool = False  # `extra` begins at the first key=value string, even before optional args

    def addresses(self) -> Iterable[tuple[str, dict[str, Any]]]:
        """Every address this route answers, with the values its placeholders stand for."""
        return self.concrete() if self.concrete is not None else [(self.address, {})]

    def parse(self, values: list[Any]) -> dict[str, Any]:
        """Arguments by name, or ArgError naming the first bad one."""
        required = sum(not arg.optional for arg in self.args)
        if len(values) < required:
            missing = self.args[len(values)].name
            raise ArgError(f"missing argument {missing!r} (usage: {self.usage()})")
        first_extra = len(self.args)
        if self.keywords:
            first_extra = next((i for i, value in enumerate(values)
                                if isinstance(value, str) and "=" in value), len(values))
            if first_extra > len(self.args):
                raise ArgError(f"{first_extra} arguments before the key=value options, at most "
                               f"{len(self.args)} (usage: {self.usage()})")
        elif len(values) > len(self.args) and self.extra is None:
            raise ArgError(f"{len(values)} arguments, at most {len(self.args)} expected "
                           f"(usage: {self.usage()})")
        parsed: dict[str, Any] = {}
        for arg, value in zip(self.args, values[:first_extra], strict=False):
            try:
                parsed[arg.name] = arg.kind.parse(value)
            except ArgError as exc:
                raise ArgError(f"{arg.name}: {exc}") from None
        if self.extra is not None:  # the rest, read as a whole (e.g. /seq/add's options)
            parsed[self.extra.name] = self.extra.kind.parse(values[first_extra:])
        return parsed

    def usage(self) -> str:
        parts = [self.address, *(arg.usage() for arg in self.args)]
        if self.extra is not None:
            parts.append(f"[{self.extra.name} …]")
        return " ".join(parts)

    def schema(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"address": self.address, "doc": self.doc,
                                 "args": [arg.schema() for arg in self.args],
                                 "reply": "query" if self.query else "ok"}
        if self.extra is not None:
            entry["extra"] = self.extra.schema()
        return entry


# -- handlers ---------------------------------------------------------------------------


def _clamped_reply(applied: Clamped, *head: Any) -> Reply:
    return Reply((*head, applied.value, "clamped") if applied.clamped else (*head, applied.value))


def set_param(req: Request, a: dict[str, Any]) -> Reply:
    return _clamped_reply(req.session.set_param(a["module"], a["param"], a["value"], req.source))


def gate(req: Request, a: dict[str, Any]) -> Reply:
    req.session.gate(a["voice"], a["on"], req.source)
    return Reply((int(a["on"]),))


# /seq/add keys beyond the positional ones: voice parameters set from the track as the
# original did on every hit (legacy.py's table), the track's own fields, and notes.
_ADD_TRACK_KEYS = ("gate_frac", "level")
_ADD_IGNORED_KEYS = {"accent_boost"}  # the original's accent filter boost; no place in this model
_ADD_POSITIONAL = ("base_freq", "filter_freq", "notes")
_ADD_KEYS = {"notes", *TRACK_VOICE_FIELDS, *_ADD_TRACK_KEYS, *_ADD_IGNORED_KEYS}


def _seq_add_options(extra: list[Any]) -> dict[str, Any]:
    """Options of /seq/add after the pattern: positional base_freq, filter_freq, notes, or key=value."""
    options: dict[str, Any] = {}
    positional = 0
    for value in extra:
        if isinstance(value, str) and "=" in value:
            key, text = (part.strip() for part in value.split("=", 1))
        else:
            if positional >= len(_ADD_POSITIONAL):
                raise ArgError(f"{value!r}: at most {len(_ADD_POSITIONAL)} arguments after the pattern "
                               "(base_freq filter_freq notes); use key=value for others")
            key, text = _ADD_POSITIONAL[positional], value
            positional += 1
        if key not in _ADD_KEYS:
            raise ArgError(f"unknown option {key!r} (known: {', '.join(sorted(_ADD_KEYS))})")
        try:
            options[key] = to_notes(text) if key == "notes" else to_number(text)
        except ArgError as exc:
            raise ArgError(f"{key}: {exc}") from None
    return options


def seq_add(req: Request, a: dict[str, Any]) -> Reply:
    options = a["options"]
    s = req.session
    remarks = []
    with s.edit_group(req.source):  # one message, one history entry: one /undo takes it all back
        if lost := s.locks_lost(a["id"], a["voice"]):  # the track there, on a voice that cannot take them
            remarks.append(f"{lost} locks dropped: {a['voice']} cannot take them")
        track = s.add_track(a["id"], a["voice"], a["pattern"], options.get("notes"), req.source)
        for key, param in TRACK_VOICE_FIELDS.items():
            if key == "base_freq" and "base_freq" in options and options.get("notes"):
                remarks.append("base_freq ignored: notes set every hit's pitch")
            elif key in options and s.set_param(track.voice, param, options[key], req.source).clamped:
                remarks.append(f"{key} clamped")
        if "gate_frac" in options and s.set_gate(track.name, options["gate_frac"], req.source).clamped:
            remarks.append("gate_frac clamped")
        if "level" in options and s.set_level(track.name, options["level"], req.source).clamped:
            remarks.append("level clamped")
    remarks += [f"{key} ignored: no place in this model" for key in _ADD_IGNORED_KEYS & options.keys()]
    return Reply((track.name, track.voice, steps_text(track.steps), *remarks))


def _absent(req: Request, name: str) -> Reply | None:
    """The original ignored a remove or update of a track that is not there, and its own
    scripts send them (a track removed twice): answer `/ok … <id> absent`, change nothing."""
    return None if req.session.has_track(name) else Reply((name, "absent"))


def seq_remove(req: Request, a: dict[str, Any]) -> Reply:
    if absent := _absent(req, a["id"]):
        return absent
    req.session.remove_track(a["id"], req.source)
    return Reply((a["id"],))


def seq_clear(req: Request, a: dict[str, Any]) -> Reply:
    req.session.clear_tracks(req.source)
    return Reply()


def seq_start(req: Request, a: dict[str, Any]) -> Reply:
    req.session.start(req.source)
    return Reply()


def seq_stop(req: Request, a: dict[str, Any]) -> Reply:
    req.session.stop(req.source)
    return Reply()


def seq_bpm(req: Request, a: dict[str, Any]) -> Reply:
    return _clamped_reply(req.session.set_bpm(a["bpm"], req.source))


def seq_swing(req: Request, a: dict[str, Any]) -> Reply:
    return _clamped_reply(req.session.set_swing(a["swing"], req.source))


def seq_update_pattern(req: Request, a: dict[str, Any]) -> Reply:
    if absent := _absent(req, a["id"]):
        return absent
    req.session.update_pattern(a["id"], a["pattern"], req.source)
    return Reply((a["id"], steps_text(parse_steps(a["pattern"]))))


def seq_update_notes(req: Request, a: dict[str, Any]) -> Reply:
    if absent := _absent(req, a["id"]):
        return absent
    req.session.update_notes(a["id"], a["notes"], req.source)
    return Reply((a["id"], ",".join(pitch_name(*pitch) for pitch in a["notes"])))


# /seq/step's key=value options: a step's expressive fields (patternfile.STEP_OPTIONS) and
# its locks one at a time. A message holds at most this many, each at most this long.
STEP_OPTION_KEYS = frozenset(patternfile.STEP_OPTIONS)
MAX_STEP_OPTIONS = 4 + 2 * MAX_LOCKS
MAX_OPTION_TEXT = 64
_STEP_NUMBERS = ("prob", "micro", "ratchet")
_STEP_KEYWORDS = (*_STEP_NUMBERS, "cond", "lock", "unlock")


@dataclass(frozen=True)
class StepOptions:
    """/seq/step's key=value options: Session.set_step_options' changes and lock_changes."""

    changes: dict[str, Any]
    locks: dict[str, float | None]


def _step_options(values: list[Any]) -> StepOptions:
    """`prob=50 cond=1:4 micro=-3 ratchet=3 lock=filter/freq:800 unlock=amp` (several lock=;
    `lock=KEY:` or `unlock=KEY` removes one; `cond=none` clears the condition)."""
    if len(values) > MAX_STEP_OPTIONS:
        raise ArgError(f"{len(values)} options; at most {MAX_STEP_OPTIONS}")
    changes: dict[str, Any] = {}
    locks: dict[str, float | None] = {}
    for value in values:
        if not isinstance(value, str) or "=" not in value:
            raise ArgError(f"{excerpt(repr(value), 40)}: after a key=value option every argument is one")
        if len(value) > MAX_OPTION_TEXT:
            raise ArgError(f"{excerpt(repr(value), 40)} is {len(value)} characters; an option is at most "
                           f"{MAX_OPTION_TEXT}")
        key, text = (part.strip() for part in value.split("=", 1))
        if key not in _STEP_KEYWORDS:
            raise ArgError(f"unknown option {key!r} (known: {', '.join(_STEP_KEYWORDS)})")
        try:
            if key in ("lock", "unlock"):
                param, colon, number = text.partition(":") if key == "lock" else (text, ":", "")
                if not colon:
                    raise ArgError(f"{text!r} is not PARAM:VALUE (PARAM: alone removes the lock)")
                if param.strip() in locks:
                    raise ArgError(f"{param.strip()!r} is given twice")
                locks[param.strip()] = to_number(number) if number.strip() else None
            elif key in changes:
                raise ArgError("is given twice")
            elif key == "cond":
                changes[key] = condition_from_text(text)
            else:
                changes[key] = to_int(text)
        except ArgError as exc:
            raise ArgError(f"{key}: {exc}") from None
    return StepOptions(changes, locks)


STEP_OPTIONS = Kind("step options", _step_options,
                    "key=value strings: prob=0–100, cond=A:B (1 ≤ A ≤ B ≤ 8), FILL, PRE, NEI, 1ST or "
                    "one of them with ! before it, or none; micro=-23–23 (24ths of a step), ratchet=1–8, "
                    "lock=PARAM:VALUE (a parameter of the track's voice; PARAM: alone removes it), "
                    f"unlock=PARAM; at most {MAX_STEP_OPTIONS}, each up to {MAX_OPTION_TEXT} characters")


def _number_text(value: float) -> str:
    """A lock's value as text: 800, not 800.0; 0.25 as it is."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def step_keywords(step: Step) -> list[str]:
    """A step's expressive fields that are not their defaults, as /seq/step's options read
    them back (`prob=50`, `lock=filter/freq:800`)."""
    options = patternfile.step_options_to_dict(step)
    words = [f"{key}={options[key]}" for key in (*_STEP_NUMBERS, "cond") if key in options]
    return words + [f"lock={key}:{_number_text(value)}" for key, value in options.get("locks", {}).items()]


def seq_step(req: Request, a: dict[str, Any]) -> Reply:
    s, options = req.session, a["options"]
    if "on" not in a and not (options.changes or options.locks):
        raise ArgError("missing argument 'on' (or a key=value option)")
    with s.edit_group(req.source):  # one message, one undo; the options are checked before any change
        if options.changes or options.locks:
            step = s.set_step_options(a["id"], a["index"], options.changes, req.source,
                                      lock_changes=options.locks)
        if "on" in a:
            step = s.set_step(a["id"], a["index"], a["on"], note=a.get("note", "keep"),
                              accent=a.get("accent"), slide=a.get("slide"), source=req.source)
    return Reply((*_step_head(a["id"], a["index"], step), *step_keywords(step)))


def _step_head(name: str, index: int, step: Step) -> tuple[Any, ...]:
    """What /seq/step has always replied: id index on note accent slide (note -1: none)."""
    note = -1 if step.note is None else step.note
    return (name, index, int(step.on), note, int(step.accent), int(step.slide))


def seq_step_get(req: Request, a: dict[str, Any]) -> Reply:
    step = req.session.step(a["id"], a["index"])
    return Reply((*_step_head(a["id"], a["index"], step), step.cents, step.prob,
                  "none" if step.cond is None else step.cond, step.micro, step.ratchet,
                  *(f"{key}:{_number_text(value)}" for key, value in step.locks.items())))


def seq_fill(req: Request, a: dict[str, Any]) -> Reply:
    req.session.set_fill(a["on"], req.source)
    return Reply((int(a["on"]),))


def seq_seed(req: Request, a: dict[str, Any]) -> Reply:
    return Reply((req.session.set_seed(a["seed"], req.source),))


def seq_length(req: Request, a: dict[str, Any]) -> Reply:
    return _clamped_reply(req.session.set_length(a["id"], a["length"], req.source), a["id"])


def seq_mute(req: Request, a: dict[str, Any]) -> Reply:
    req.session.set_mute(a["id"], a["on"], req.source)
    return Reply((a["id"], int(a["on"])))


def seq_solo(req: Request, a: dict[str, Any]) -> Reply:
    req.session.set_solo(a["id"], a["on"], req.source)
    return Reply((a["id"], int(a["on"])))


def seq_level(req: Request, a: dict[str, Any]) -> Reply:
    return _clamped_reply(req.session.set_level(a["id"], a["level"], req.source), a["id"])


def seq_gate(req: Request, a: dict[str, Any]) -> Reply:
    return _clamped_reply(req.session.set_gate(a["id"], a["gate"], req.source), a["id"])


def seq_status(req: Request, a: dict[str, Any]) -> Reply:
    """The sequencer: tempo, transport and every track with its steps and notes."""
    snap = req.session.snapshot()
    status = req.session.status()
    tracks = []
    for track in snap["sequencer"]["tracks"]:
        steps = track["steps"][:track["length"]]  # the playing steps, not the hidden ones past them
        tracks.append({
            "name": track["name"], "voice": track["voice"], "length": track["length"],
            "pattern": steps_text([Step(s["on"], s["accent"]) for s in steps]),
            "notes": [s["note"] for s in steps], "cents": [s.get("cents", 0.0) for s in steps],
            "slides": [i for i, s in enumerate(steps) if s["slide"]],
            "expressive": [i for i, s in enumerate(steps) if s.keys() & STEP_OPTION_KEYS],
            "mute": track["mute"], "solo": track["solo"], "level": track["level"], "gate": track["gate"],
        })
    return _json_reply({
        "name": snap["name"], "bpm": snap["sequencer"]["bpm"], "swing": snap["sequencer"]["swing"],
        "playing": status["playing"], "bar": status["bar"], "step": status["step"], "tracks": tracks,
        "follow": snap.get("follow"), "seed": snap.get("seed", SEED_SPEC.default), "fill": req.session.fill,
    })


def engine_status(req: Request, a: dict[str, Any]) -> Reply:
    status = req.session.status()
    # Until the engine's first status event (about a second after start) the client knows these.
    for key in ("backend", "sr", "buffer"):
        status.setdefault(key, getattr(req.session.engine, key, None))
    status["backend"] = status["backend"] or ("none" if req.session.engine is None else "starting")
    status["position"] = f"{status['bar'] + 1}:{status['step'] + 1:02d}"
    return _json_reply({**status, **req.counters()})


def engine_record_start(req: Request, a: dict[str, Any]) -> Reply:
    return Reply((req.session.start_recording(a.get("name"), req.source).path.name,))


def engine_record_stop(req: Request, a: dict[str, Any]) -> Reply:
    stopped = req.session.stop_recording(req.source)
    return Reply((stopped.path.name,) if stopped is not None else ())


def engine_record_status(req: Request, a: dict[str, Any]) -> Reply:
    return _json_reply(req.session.recording_status())


def engine_stop(req: Request, a: dict[str, Any]) -> Reply:
    return Reply(() if req.session.stop_engine(req.source) else ("already stopped",))


def engine_start(req: Request, a: dict[str, Any]) -> Reply:
    return Reply(() if req.session.start_engine(req.source) else ("not stopped",))


def engine_schema(req: Request, a: dict[str, Any]) -> Reply:
    return Reply((req.schema(),))


def engine_list(req: Request, a: dict[str, Any]) -> Reply:
    """The modules and their parameters as the original listed them: the voices once (they share
    one set of parameters), then every other module, then the old names and what they stand for."""
    return _json_reply({
        "voices": {"names": list(VOICES), "gate": "/gate/voiceN 0|1",
                   "params": _param_ranges(VOICES[0])},
        "modules": {module: _param_ranges(module) for module in PARAM_INDEX if module not in VOICES},
        "old_names": {**{f"/mod/{old}": f"/mod/{module}/{param}"
                         for old, (module, param) in LEGACY_PARAMS.items()},
                      **{f"/gate/{old}": f"/gate/{voice}" for old, voice in LEGACY_GATES.items()}},
    })


def _param_ranges(module: str) -> dict[str, str]:
    """Each parameter of a module with its range and unit, as `20–5000 Hz`."""
    return {name: f"{fmt_range(spec.low, spec.high)} {spec.unit}".rstrip()
            for name, spec in PARAM_INDEX[module].items()}


def pattern_save(req: Request, a: dict[str, Any]) -> Reply:
    req.session.save_slot(a["slot"], a.get("name"), req.source)
    return Reply((a["slot"], slot_label(a["slot"]), a.get("name") or req.session.pattern.name))


def pattern_load(req: Request, a: dict[str, Any]) -> Reply:
    pending = req.session.load_slot(a["slot"], a.get("mode"), req.source)
    if pending is None:
        return Reply((a["slot"], "loaded", req.session.pattern.name))
    return Reply((a["slot"], "queued", pending.at), wait_for=pending.token)


def _follow_args(values: list[Any]) -> Follow | None:
    """/pattern/follow's arguments: `off`, or after, action and its slots (A03 or 3), as words."""
    text = _joined_words(values, f"part of a follow action ({FOLLOW_USAGE})")
    try:
        return parse_follow(text)
    except ValueError as exc:
        raise ArgError(str(exc)) from None


FOLLOW = Kind("follow action", _follow_args,
              f"`off`, or AFTER (plays, {fmt_range(*FOLLOW_AFTER_RANGE)}) then {', '.join(FOLLOW_ACTIONS)}; "
              f"`slot` takes one slot, `random` 1–{MAX_FOLLOW_SET} (A03 or 3)")


def pattern_follow(req: Request, a: dict[str, Any]) -> Reply:
    follow = a["follow"]
    if follow is None:
        req.session.clear_follow(req.source)
        return Reply((FOLLOW_OFF,))
    req.session.set_follow(follow.after, follow.action, follow.slots, req.source)
    return Reply((follow.after, follow.action, *map(slot_label, follow.slots)))


def pattern_quantize(req: Request, a: dict[str, Any]) -> Reply:
    req.session.set_quantize(a["quantize"], req.source)
    return Reply((a["quantize"],))


def _joined_words(values: list[Any], what: str) -> str:
    """Words sent as one string or one argument each (a slot number too), as one text."""
    words = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ArgError(f"{value!r} is not {what}")
        words.append(str(value))
    return " ".join(words)


def _chain_entries(values: list[Any]) -> Chain:
    """/chain/set's arguments: entries as one string or one argument each (a slot number too)."""
    text = _joined_words(values, "a chain entry (SLOTxN)")
    try:
        return parse_chain(text)
    except ChainError as exc:
        raise ArgError(str(exc)) from None


CHAIN = Kind("chain", _chain_entries, "SLOTxN entries (A01x4, B05, 21x2) as one string or one argument each, "
                                      "then `once` or `loop`")


def chain_set(req: Request, a: dict[str, Any]) -> Reply:
    chain = a["entries"]
    req.session.set_chain(chain, source=req.source)
    return Reply((chain.text(), len(chain.entries)))


def chain_start(req: Request, a: dict[str, Any]) -> Reply:
    pending = req.session.start_chain(a.get("quantize"), a.get("entry", 1) - 1, req.source)
    return Reply(_started(req.session, pending))


def _started(session: Session, pending: PendingLoad | None) -> tuple[str, ...]:
    """How a chain (or song) began: `started <slot>` while stopped, else `queued <slot> <quantize>`."""
    if pending is None:
        return ("started", session.chain_status()["slot"])
    return ("queued", slot_label(pending.slot) if pending.slot else "", pending.at)


def chain_stop(req: Request, a: dict[str, Any]) -> Reply:
    return Reply(("stopped" if req.session.stop_chain(req.source) else "idle",))


def chain_status(req: Request, a: dict[str, Any]) -> Reply:
    return _json_reply(req.session.chain_status())


def song_save(req: Request, a: dict[str, Any]) -> Reply:
    req.session.save_song(a["name"], req.source)
    return Reply((a["name"], req.session.chain_status()["entries"]))


def song_load(req: Request, a: dict[str, Any]) -> Reply:
    chain = req.session.load_song(a["name"], req.source)
    return Reply((a["name"], chain.text(), len(chain.entries)))


def song_play(req: Request, a: dict[str, Any]) -> Reply:
    pending = req.session.play_song(a.get("entry", 1) - 1, req.source)
    return Reply((req.session.chain_status()["song"], *_started(req.session, pending)))


def song_status(req: Request, a: dict[str, Any]) -> Reply:
    """The chain status and as many of the song's entries as fit one datagram (`more`: the rest)."""
    status = req.session.song_status()
    entries = status.pop("song_entries")
    room = REPLY_BYTES - len(json.dumps(status, separators=(",", ":"))) - 100
    shown = _fitting(entries, _json_bytes, room) if entries else []
    return _json_reply({**status, "song_entries": shown, "more": len(entries) - len(shown)})


def song_list(req: Request, a: dict[str, Any]) -> Reply:
    """Every song as a JSON list; a page of them ({total, first, next, songs}) when asked from
    `first` (0 = the first by name) or when the whole list would not fit one datagram."""
    store = req.session.store
    entries = [_cut_texts({**info.as_dict(), "path": store.relative(info.path)})
               for info in req.session.list_songs()]
    if not a:
        whole = json.dumps(entries, separators=(",", ":"))
        if len(whole) <= REPLY_BYTES:
            return Reply((whole,))
    first = a.get("first", 0)
    if first < 0:
        raise ArgError(f"first: {first} is not 0 or more")
    page = _fitting(entries[first:], _json_bytes, LIST_PAGE_BYTES)
    later = first + len(page)
    return _json_reply({"total": len(entries), "first": first,
                        "next": later if later < len(entries) else None, "songs": page})



def pattern_export_midi(req: Request, a: dict[str, Any]) -> Reply:
    """A saved slot as a Standard MIDI File in the data folder's exports/: the name is a plain
    file name (the network never names a path), the folder never a link."""
    try:
        name = midiexport.export_file_name(a["name"])
        pattern = req.session.store.load(a["slot"])
        midi = midiexport.export_midi([midiexport.bars_entry(pattern)])
        folder = midiexport.exports_folder(recordings_folder(req.session.store.root).parent)
        path = midiexport.save_export(midi, folder, name)
    except (StoreError, midiexport.ExportError) as exc:
        raise SessionError(str(exc)) from exc
    return Reply((a["slot"], path.name, midiexport.note_count(midi)))


# /pattern/list answers in one datagram by construction: every text an entry carries is cut
# (a file may hold anything), so an entry stays under 3 KB even as \u escapes, and a page
# holds whole entries up to LIST_PAGE_BYTES.
LISTED_TEXT = {"name": MAX_NAME, "saved_at": 40, "error": 160}
LIST_PAGE_BYTES = 8000
# What one reply may carry (a whole unpaged list, /history's JSON, /undo's summaries) and still
# fit one UDP datagram (65,507 bytes) with its address and type tags.
REPLY_BYTES = 64000
_LIST_ALL = SLOT_COUNT + 1


def pattern_list(req: Request, a: dict[str, Any]) -> Reply:
    """Every saved slot as a JSON list; or a page of them: {total, first, next, slots}."""
    entries = [_list_entry(info, req.session.store) for info in req.session.list_slots()]
    if not a:  # as scripts have always asked: the whole list, unless it cannot fit one datagram
        whole = json.dumps(entries, separators=(",", ":"))
        if len(whole) <= REPLY_BYTES:
            return Reply((whole,))
    first = a.get("first", AUTOSAVE_SLOT)
    if not AUTOSAVE_SLOT <= first <= SLOT_COUNT:
        raise ArgError(f"first: {first} is not a slot number ({AUTOSAVE_SLOT}–{SLOT_COUNT})")
    wanted = [entry for entry in entries if entry["slot"] >= first][:max(1, a.get("count", _LIST_ALL))]
    page = _fitting(wanted, _json_bytes, LIST_PAGE_BYTES)
    later = [entry["slot"] for entry in entries if entry["slot"] > page[-1]["slot"]] if page else []
    return _json_reply({"total": len(entries), "first": first, "next": later[0] if later else None,
                        "slots": page})


def _list_entry(info: SlotInfo, store: SlotStore) -> dict[str, Any]:
    """A listed slot: its file named relative to the patterns folder, its texts cut to size."""
    return _cut_texts({**info.as_dict(), "label": slot_label(info.slot), "path": store.relative(info.path)})


def _cut_texts(entry: dict[str, Any]) -> dict[str, Any]:
    """A listed file's texts cut to size: a file may hold anything."""
    for key, limit in LISTED_TEXT.items():
        if isinstance(entry[key], str) and len(entry[key]) > limit:
            entry[key] = entry[key][:limit - 1] + "…"
    return entry


def notify_subscribe(req: Request, a: dict[str, Any]) -> Reply:
    host, port = req.sender[0], a.get("port", req.sender[1])
    try:
        count = req.feedback.subscribe(host, port)
    except ValueError as exc:
        raise ArgError(str(exc)) from None
    return Reply((host, port, count, LEASE_SECONDS))


def notify_unsubscribe(req: Request, a: dict[str, Any]) -> Reply:
    host, port = req.sender[0], a.get("port", req.sender[1])
    if not req.feedback.unsubscribe(host, port):
        raise ArgError(f"{host}:{port} is not subscribed")
    return Reply((host, port))


def _json_reply(data: Any) -> Reply:
    return Reply((json.dumps(data, separators=(",", ":")),))


def _json_bytes(item: Any) -> int:
    """Bytes item takes in a JSON list (ASCII, as json.dumps escapes), its comma included."""
    return len(json.dumps(item, separators=(",", ":"))) + 1


def _text_bytes(text: str) -> int:
    """Bytes a string argument takes in an OSC message (UTF-8, a NUL, padding, its type tag)."""
    return len(text.encode()) + 5


_Item = TypeVar("_Item")


def _fitting(items: list[_Item], size: Callable[[_Item], int], budget: int) -> list[_Item]:
    """The first items whose sizes add up to at most budget (the first one whatever its size)."""
    fitting: list[_Item] = []
    total = 0
    for item in items:
        total += size(item)
        if fitting and total > budget:
            break
        fitting.append(item)
    return fitting


# -- undo, redo, history ----------------------------------------------------------------

ALL = "all"
HISTORY_DEFAULT = 10


def _undo_choice(values: list[Any]) -> tuple[int, bool]:
    """/undo's and /redo's arguments: a count n (default 1) and the word `all`, either order."""
    usage = f"[n] [{ALL}]"
    if len(values) > 2:
        raise ArgError(f"{len(values)} arguments, at most 2 expected: {usage}")
    count: int | None = None
    everyone = False
    for value in values:
        if isinstance(value, str) and value.strip().lower() == ALL:
            if everyone:
                raise ArgError(f"{ALL!r} given twice: {usage}")
            everyone = True
            continue
        if count is not None:
            raise ArgError(f"two counts given: {usage}")
        try:
            count = to_int(value)
        except ArgError as exc:
            raise ArgError(f"n: {exc}; expected {usage}") from None
        if not 1 <= count <= HISTORY_LIMIT:
            raise ArgError(f"n: {count} is not 1–{HISTORY_LIMIT}")
    return (1 if count is None else count), everyone


def _travel(method: Callable[..., list[Entry]], req: Request, a: dict[str, Any]) -> Reply:
    count, everyone = a["which"]
    entries = method(count, everyone=everyone, source=req.source)
    summaries = [entry.summary for entry in entries]
    shown = _fitting(summaries, _text_bytes, REPLY_BYTES - 100)
    more = [f"… {len(summaries) - len(shown)} more"] if len(shown) < len(summaries) else []
    return Reply((len(entries), *shown, *more))


def undo(req: Request, a: dict[str, Any]) -> Reply:
    return _travel(req.session.undo, req, a)


def redo(req: Request, a: dict[str, Any]) -> Reply:
    return _travel(req.session.redo, req, a)


def history_list(req: Request, a: dict[str, Any]) -> Reply:
    """The last n entries, oldest first, as many of the newest as fit one datagram."""
    count = min(max(a.get("n", HISTORY_DEFAULT), 1), HISTORY_LIMIT)
    newest_first = [entry.as_dict() for entry in reversed(req.session.history.last(count))]
    return _json_reply(_fitting(newest_first, _json_bytes, REPLY_BYTES)[::-1])


# -- the table --------------------------------------------------------------------------

_ID = Arg("id", NAME, "track name (the original's track_id)")
_ON = Arg("on", BOOL)
_INDEX = Arg("index", INT, "0 … length-1", range=(0, LENGTH_RANGE[1] - 1), out_of_range="error")
_SLOT_RANGE = (AUTOSAVE_SLOT, SLOT_COUNT)
_WHICH = Arg("which", Kind("undo choice", _undo_choice,
                           f"a count n, whole number 1–{HISTORY_LIMIT} (default 1), and the word all "
                           "(anyone's edits, not only this client's), in either order"))


def _param_addresses() -> Iterable[tuple[str, dict[str, Any]]]:
    for module, params in PARAM_INDEX.items():
        for param in params:
            yield f"/mod/{module}/{param}", {"module": module, "param": param}


def _gate_addresses() -> Iterable[tuple[str, dict[str, Any]]]:
    for voice in VOICES:
        yield f"/gate/{voice}", {"voice": voice}


def _acid_gate_address() -> Iterable[tuple[str, dict[str, Any]]]:
    # acid1 has no lane of its own: it is the insert on voice2's, gated with voice2 (as the original did)
    yield "/gate/acid1", {"voice": ACID_VOICE}


# The original engine's names from before it had eight voices: each stands for a voice1
# parameter or voice1's gate, as the original mapped them, so its early scripts play here.
# adsr1/freq the original dropped; its integrated-sequencer example sends it as voice1's pitch.
LEGACY_PARAMS: dict[str, tuple[str, str]] = {
    "sine1/freq": ("voice1", "freq"),
    "filter1/freq": ("voice1", "filter/freq"),
    "filter1/q": ("voice1", "filter/q"),
    **{f"adsr1/{stage}": ("voice1", f"adsr/{stage}") for stage in ("attack", "decay", "sustain", "release")},
    "adsr1/freq": ("voice1", "freq"),
}
LEGACY_GATES: dict[str, str] = {"adsr1": "voice1", "1": "voice1"}


def _legacy_param_addresses() -> Iterable[tuple[str, dict[str, Any]]]:
    for old, (module, param) in LEGACY_PARAMS.items():
        yield f"/mod/{old}", {"module": module, "param": param}


def _legacy_gate_addresses() -> Iterable[tuple[str, dict[str, Any]]]:
    for old, voice in LEGACY_GATES.items():
        yield f"/gate/{old}", {"voice": voice}


def _legacy_doc(pairs: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"`{old}` → `{new}`" for old, new in pairs)


ROUTES: tuple[Route, ...] = (
    Route("/mod/<module>/<param>", (Arg("value", NUMBER, "range per parameter (the sound parameter table; "
                                                       "`params` in the schema)",
                                        out_of_range="clamped"),),
          set_param, "set a sound parameter (every module, parameter and range: `params` in "
          "`/engine/schema`); out-of-range values are clamped",
          concrete=_param_addresses),
    Route("/gate/<voice>", (Arg("on", BOOL),), gate, "open (1) or close (0) a voice's gate by hand",
          concrete=_gate_addresses),
    Route("/gate/acid1", (Arg("on", BOOL),), gate,
          f"open (1) or close (0) the acid insert's gate together with {ACID_VOICE}'s, as "
          f"`/gate/{ACID_VOICE}` does: the gate opening starts acid1's filter sweeps, as a hit does",
          concrete=_acid_gate_address),
    Route("/mod/<old name>", (Arg("value", NUMBER, "the range of the voice1 parameter it stands for",
                                  out_of_range="clamped"),),
          set_param, "the original's old names for voice1's parameters, which its scripts still send: "
          + _legacy_doc((f"/mod/{old}", f"/mod/{module}/{param}")
                        for old, (module, param) in LEGACY_PARAMS.items())
          + "; they edit voice1 as its own address does",
          concrete=_legacy_param_addresses),
    Route("/gate/<old name>", (Arg("on", BOOL),), gate,
          "the original's old names for voice1's gate: "
          + _legacy_doc((f"/gate/{old}", f"/gate/{voice}") for old, voice in LEGACY_GATES.items()),
          concrete=_legacy_gate_addresses),
    Route("/seq/add", (_ID, Arg("voice", TEXT, "voice1–voice8"),
                       Arg("pattern", TEXT, "X accent, x hit, anything else a rest; its length (1–64) "
                                            "sets the track length")),
          seq_add, "add a track, or replace the one of that name (keeps its mute, solo, level)",
          extra=Arg("options", Kind("options", _seq_add_options,
                                    "positional base_freq, filter_freq, notes; or key=value with key "
                                    "base_freq, filter_freq, base_amp, reverb_send, delay_send (set "
                                    "the voice), gate_frac, level (set the track), notes, "
                                    "accent_boost (ignored)"))),
    Route("/seq/remove", (_ID,), seq_remove,
          "remove a track (one not there: `absent`, as the original ignored it)"),
    Route("/seq/clear", (), seq_clear, "remove every track"),
    Route("/seq/start", (), seq_start, "start the transport at step 0 of bar 0"),
    Route("/seq/stop", (), seq_stop, "stop the transport (a queued load applies at once)"),
    Route("/seq/bpm", (Arg("bpm", NUMBER, range=BPM_RANGE, out_of_range="clamped"),), seq_bpm,
          "set the tempo"),
    Route("/seq/swing", (Arg("swing", NUMBER, "odd 16ths start swing × step / 2 late", range=SWING_RANGE,
                             out_of_range="clamped"),), seq_swing, "set the swing"),
    Route("/seq/update/pattern", (_ID, Arg("pattern", TEXT, "X accent, x hit, else rest; length 1–64")),
          seq_update_pattern, "new hits for a track; its notes cycle over the new hits, as in the original "
          "(a track not there: `absent`, nothing changes)"),
    Route("/seq/update/notes", (_ID, Arg("notes", NOTES)),
          seq_update_notes, "notes onto the track's hits in order, cycling; \"\" clears them (a track not "
          "there: `absent`)"),
    Route("/seq/step", (_ID, _INDEX,
                        Arg("on", BOOL, "needed unless options follow", optional=True),
                        Arg("note", NOTE, "left out: unchanged", range=NOTE_RANGE, out_of_range="error",
                            optional=True),
                        Arg("accent", BOOL, optional=True), Arg("slide", BOOL, optional=True)),
          seq_step, "set one step; arguments left out keep their value. key=value options, after "
          "any of these or instead of them, set its expressive fields (see Expressive steps): "
          "`/seq/step bass 4 1 prob=50 cond=1:4 micro=-3 lock=filter/freq:800 ratchet=3`; all are "
          "checked before anything changes, and the message is one undo. Replies id index on note "
          "accent slide (note -1: none), then the step's expressive fields that are set, as options",
          extra=Arg("options", STEP_OPTIONS), keywords=True),
    Route("/seq/step/get", (_ID, _INDEX), seq_step_get,
          "the step in full: replies id index on note accent slide cents prob cond micro ratchet "
          "(note -1: none; cond `none`: always), then one PARAM:VALUE string a lock "
          "(`filter/freq:800`)"),
    Route("/seq/fill", (Arg("on", BOOL),), seq_fill,
          "fill mode on or off from the next step: FILL steps play while it is on, !FILL ones "
          "while it is off. Live state, as play and stop: not saved, not undone"),
    Route("/seq/seed", (Arg("seed", INT, range=(SEED_SPEC.low, SEED_SPEC.high), out_of_range="error"),),
          seq_seed, "the pattern's seed: a new set of probability rolls from the next step; saved "
          "with the pattern, one undo"),
    Route("/seq/length", (_ID, Arg("length", INT, range=LENGTH_RANGE, out_of_range="clamped")),
          seq_length, "set how many of a track's steps play; steps past it are kept and come back "
                      "when it grows (beyond them, rests)"),
    Route("/seq/mute", (_ID, _ON), seq_mute, "mute or unmute a track"),
    Route("/seq/solo", (_ID, _ON), seq_solo, "solo or unsolo a track"),
    Route("/seq/level", (_ID, Arg("level", NUMBER, range=LEVEL_RANGE, out_of_range="clamped")),
          seq_level, "set a track's level"),
    Route("/seq/gate", (_ID, Arg("gate", NUMBER, "fraction of a step", range=GATE_RANGE,
                                 out_of_range="clamped")),
          seq_gate, "set a track's gate length"),
    Route("/seq/status", (), seq_status, "tempo, swing, transport, every track with steps and notes "
          "(expressive: the steps with expressive fields, for /seq/step/get), the follow action "
          "({after, action, slots} or null), the seed and fill (true or false)", query=True),
    Route("/engine/status", (), engine_status,
          "backend, sr, buffer, cpu, playing (sound now), transport_running, playing_slot, queued_slot, "
          "bar, step, position (bar:step), engine (up, down, restarting or stopped), engine_error, "
          "restarts, "
          "next_attempt_in (seconds, while down); osc_handled, osc_errors, osc_dropped (datagrams "
          "from senders not allowed, see --osc-allow), osc_ignored (replies and notifications "
          "received, never answered)",
          query=True),
    Route("/engine/schema", (Arg("format", SCHEMA_FORMAT, optional=True),), engine_schema,
          "this table as JSON: every route with argument types and ranges, parameters, notifications",
          query=True),
    Route("/engine/list", (), engine_list,
          "the modules and their parameters as the original listed them: `voices` (names, gate and "
          "the parameters every voice has, with ranges), `modules` (every other module's "
          "parameters) and `old_names` (the original's old addresses and what they stand for)",
          query=True, extra=Arg("ignored", Kind("anything", list, "any values; the original's "
                                                "scripts sent some, and it ignored them"))),
    Route("/engine/record/start", (Arg("name", TEXT, "a plain file name (.wav added); default "
                                      "chronus-YYYYMMDD-HHMMSS", optional=True),), engine_record_start,
          "record what plays to a stereo 24-bit WAV in the recordings folder, from the next bar line "
          "(at once when stopped); an existing file is never written over (-2, -3 … added); "
          "replies the file's name", blocking=True),
    Route("/engine/record/stop", (), engine_record_stop, "close the recording; replies its file's name"),
    Route("/engine/record/status", (), engine_record_status,
          "recording (true/false), file, seconds, part (a new part after each engine restart)", query=True),
    Route("/engine/stop", (), engine_stop,
          "stop the audio (the engine process; a recording is closed); OSC and the session go on, "
          "/engine/status says engine stopped"),
    Route("/engine/start", (), engine_start, "start the audio again, with the live pattern and transport"),
    Route("/pattern/save", (Arg("slot", INT, "0 is the autosave", range=_SLOT_RANGE, out_of_range="error"),
                            Arg("name", TEXT, "1–32 printable characters", optional=True)),
          pattern_save, "save the live pattern to a slot (atomic; the old file goes to backups/)",
          blocking=True),
    Route("/pattern/load", (Arg("slot", INT, range=_SLOT_RANGE, out_of_range="error"),
                            Arg("mode", LOAD_MODE, optional=True)),
          pattern_load, "load a slot: `/ok … queued` now and `/ok … switched` on the bar line while "
                        "playing; `/ok … loaded` when it applied at once",
          blocking=True),
    Route("/pattern/follow", (), pattern_follow,
          "the live pattern's follow action (saved with it): after AFTER plays the next slot, the "
          "previous one (H16 and A01 wrap), slot SLOT, or one of up to 16 slots at random plays, "
          "queued for the line after those plays, while no chain runs; `off` clears it (an edit: "
          "undo takes it back). A load, cancel or stop by anyone ends it; an empty target is an error "
          "and the pattern plays on",
          extra=Arg("follow", FOLLOW, "`off`, or after action [slot …]")),
    Route("/pattern/quantize", (Arg("quantize", QUANTIZE),), pattern_quantize,
          "the launch quantize of a load or chain start that names none (at start: bar)"),
    Route("/chain/set", (), chain_set,
          "the chain to play: entries SLOTxN (`A01x4 A02x2 B05`, up to 64; as one string or one "
          "argument each), a last word `once` to stop at its end (it loops otherwise); a chain "
          "playing stops, its pattern plays on. Replies the chain as read and its entry count",
          extra=Arg("entries", CHAIN, "slots with repeat counts")),
    Route("/chain/start", (Arg("quantize", QUANTIZE, "left out: the session's", optional=True),
                           Arg("entry", INT, "the entry to start from, 1 = the first", range=(1, MAX_ENTRIES),
                               out_of_range="error", optional=True)),
          chain_start,
          "start the chain on the next line of its launch quantize: `/ok … queued <slot> <quantize>`; "
          "while stopped it loads at once and plays: `/ok … started <slot>`. Each entry then plays its "
          "repeats (a play is its longest track) and the next starts exactly on the line after them",
          blocking=True),
    Route("/chain/stop", (), chain_stop,
          "end the chain (`stopped`, or `idle` if none played): its queued entry is dropped, the "
          "pattern playing plays on. A load, a cancel or a stop by anyone ends a chain too"),
    Route("/chain/status", (), chain_status,
          "chain (as typed), loop, song, entries, running, entry, slot, repeat, repeats, bar (of the "
          "entry; numbers from 1) and next (slot)", query=True),
    Route("/song/save", (Arg("name", TEXT, f"1–{MAX_NAME} letters, digits, - or _ (the file's name)"),),
          song_save, "save the chain set, with its entries' tempos and mutes, as songs/<name>.json in the "
                     "patterns folder (atomic; the old file goes to backups/songs/<name>/); the chain set "
                     "is that song from then on. Replies the name and the entry count",
          blocking=True),
    Route("/song/load", (Arg("name", TEXT, "a saved song's name"),), song_load,
          "make a saved song the chain set (a chain playing stops; its pattern plays on). Replies the "
          "name, the chain as typed and the entry count", blocking=True),
    Route("/song/play", (Arg("entry", INT, "the entry to start from, 1 = the first", range=(1, MAX_ENTRIES),
                             out_of_range="error", optional=True),),
          song_play, "start the song loaded as `/chain/start` starts a chain, with the session's launch "
                     "quantize; each entry plays at its tempo with its tracks muted as the song says. "
                     "Replies `name queued <slot> <quantize>`, or `name started <slot>` while stopped",
          blocking=True),
    Route("/song/status", (), song_status,
          "`/chain/status`'s fields, and song_entries: the song's entries as its file holds them "
          "(slot, repeats, bpm and mute when set; as many as fit one datagram, `more` the rest left out)",
          query=True),
    Route("/song/list", (Arg("first", INT, "the first song listed, 0 = the first by name; asks for a page",
                             optional=True),),
          song_list,
          "every song file: name, entries, loop, bars and seconds (each entry at its tempo; null when a "
          "slot it plays is empty or unreadable, listed in missing), saved_at, error, path; a JSON list, "
          "or a page `{total, first, next, songs}` when asked from `first` or too large for one datagram",
          query=True, blocking=True),
    Route("/pattern/export_midi", (Arg("slot", INT, range=_SLOT_RANGE, out_of_range="error"),
                                   Arg("name", TEXT, "a plain file name (.mid added)")),
          pattern_export_midi, "write a saved slot as a Standard MIDI File (type 1; the longest track "
                               "in whole bars) to exports/<name>.mid in the data folder, replacing an "
                               "export of that name; replies the file's name and its note count",
          blocking=True),
    Route("/pattern/list", (Arg("first", INT, "the first slot listed; asks for a page",
                                range=_SLOT_RANGE, out_of_range="error", optional=True),
                            Arg("count", INT, "at most this many entries (a page also stops near "
                                              f"{LIST_PAGE_BYTES // 1000} KB)",
                                range=(1, _LIST_ALL), out_of_range="clamped", optional=True)),
          pattern_list,
          "every saved slot: slot, label, name, bpm, tracks, saved_at, error, path (in the patterns "
          "folder), follow (its follow action {after, action, slots}, or null); as a JSON list with "
          "no arguments, or a page `{total, first, next, slots}` with "
          "`first` (ask again from `next` until it is null). Without arguments a list too large for "
          "one datagram is answered as the first page; texts are cut to "
          f"{LISTED_TEXT['name']} (name), {LISTED_TEXT['saved_at']} (saved_at) and "
          f"{LISTED_TEXT['error']} (error) characters",
          query=True, blocking=True),
    Route("/undo", (), undo,
          "take back this client's last n edits, newest first (anyone's with `all`), at once. A client "
          "is its host and port: a one-shot sender (`oscsend`, `chronus send`) has a new port each "
          "time, so it should send `/undo all`. Replies `/ok /undo count summary …` (past one datagram "
          "`… k more`); `/error` (nothing changed) when there is nothing to undo, or someone else "
          "changed a value since (named in the message)",
          extra=_WHICH),
    Route("/redo", (), redo,
          "make again the edits this client undid last (anyone's with `all`); a new edit by the client "
          "ends its redo branch. Replies as `/undo` does",
          extra=_WHICH),
    Route("/history", (Arg("n", INT, f"default {HISTORY_DEFAULT}", range=(1, HISTORY_LIMIT),
                           out_of_range="clamped", optional=True),),
          history_list,
          "the last n edits, oldest first, as a JSON list of {id, author (`ui` or `osc host:port`), "
          "time (local, ISO), at (bar:step from 1:1), summary, undone}; as many of the newest as "
          "fit one datagram",
          query=True),
    Route("/notify/subscribe", (Arg("port", PORT, "default: the sender's port", optional=True),),
          notify_subscribe,
          "send state changes to the sender's host at this port (see `notifications`) for "
          f"{LEASE_SECONDS} s; send it again to renew. Replies `/ok /notify/subscribe host port "
          f"subscribers lease_seconds`; at most {MAX_SUBSCRIBERS} subscribers, {NOTIFY_RATE} notifications "
          "a second each (past that the newest value of each waits); never this server's own address"),
    Route("/notify/unsubscribe", (Arg("port", PORT, "default: the sender's port", optional=True),),
          notify_unsubscribe, "stop sending state changes there"),
)


def address_map() -> dict[str, tuple[Route, dict[str, Any]]]:
    """Every concrete address → its route and the values its placeholders stand for."""
    table: dict[str, tuple[Route, dict[str, Any]]] = {}
    for route in ROUTES:
        for address, bound in route.addresses():
            table[address] = (route, bound)
    return table


def unknown_address(address: str) -> str:
    """Why an address is not one of ours, as helpfully as we can say it."""
    parts = address.split("/")
    if address.startswith("/mod/") and len(parts) >= 4:
        module, param = parts[2], "/".join(parts[3:])
        old_names = [old for old in LEGACY_PARAMS if old.startswith(f"{module}/")]
        if old_names:
            return (f"{module} (the original's old name) has no parameter {param!r} "
                    f"(known: {', '.join(old.split('/', 1)[1] for old in old_names)})")
        if module not in PARAM_INDEX:
            return f"unknown module {module!r} (known: {', '.join(PARAM_INDEX)})"
        return f"{module} has no parameter {param!r} (known: {', '.join(PARAM_INDEX[module])})"
    if address.startswith("/gate/"):
        return (f"unknown voice {address[6:]!r} (voice1–voice8, or the original's old names "
                f"{', '.join(LEGACY_GATES)})")
    return "unknown address (send /engine/schema for the list)"
