"""The edit history: every change to the live pattern as an entry that can be undone and redone.

An entry is a list of operations, each "this target went from `before` to `after`", where a
target names one piece of the live state (a parameter, a step, a track, the whole pattern)
and the values are JSON-ready, so an entry is also a journal record. Setting a target is
idempotent, so a journal replays by setting values in order, and undo sets the `before`s.

Undo is per author (the keyboard, one OSC client) or for everyone. An author's undo takes
back that author's last edit only, and refuses when someone else has since changed what it
would put back, rather than overwrite their work.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chronus_tui import patternfile
from chronus_tui.model import (
    BPM_SPEC,
    GATE_SPEC,
    LEVEL_SPEC,
    SEED_SPEC,
    SWING_SPEC,
    Pattern,
    PatternError,
    Step,
    check_cents,
    check_name,
    check_note,
    param_spec,
    pitch_name,
)
from chronus_tui.store import StoreError, check_slot, slot_label

# A target is a tuple naming one piece of the live state:
#   ("param", module, param)   a sound parameter: a number
#   ("bpm",) ("swing",)        numbers; ("name",): the pattern's name
#   ("follow",)                the pattern's follow action: {after, action, slots}, None when none
#   ("seed",)                  the pattern's seed: a whole number (SEED_SPEC)
#   ("step", track, index)     one step: [on, accent, note, slide], + cents when not 0, + then
#                              (cents written, 0 or not) its expressive fields as a file has them
#                              ({"prob": 50, "locks": {…}}) when it has any (so journals from
#                              before cents and expressive steps, and steps without them, read the same)
#   ("field", track, field)    mute, solo (bool), level, gate (numbers)
#   ("track", track)           a whole track: {"index": i, "track": track dict}, None when absent
#   ("pattern",)               the whole pattern: {"pattern": pattern dict, "slot": slot or None}
Target = tuple[Any, ...]

HISTORY_LIMIT = 2_000  # entries kept in memory (a load holds two whole patterns)
COALESCE_AFTER = 0.5  # seconds of quiet that end a run of changes to one value
TRACK_FIELDS = {"mute": None, "solo": None, "level": LEVEL_SPEC, "gate": GATE_SPEC}
_COALESCING = frozenset({"param", "bpm", "swing"})
_COALESCING_FIELDS = frozenset({"level", "gate"})


class HistoryError(ValueError):
    """A record or value that cannot be applied; nothing was changed."""


@dataclass(frozen=True)
class Op:
    target: Target
    before: Any
    after: Any


@dataclass
class Entry:
    id: int
    author: str
    time: float  # wall clock, seconds since the epoch
    bar: int
    step: int
    ops: tuple[Op, ...]
    summary: str
    undone_by: str | None = None  # who undid it, while it is undone
    undo_order: int = 0  # when it was undone: the newest undone entry is redone first
    touched: float = field(default=0.0, repr=False)  # time.monotonic() of its last change (coalescing)

    @property
    def undone(self) -> bool:
        return self.undone_by is not None

    def as_dict(self) -> dict[str, Any]:
        """What /history shows of it."""
        return {"id": self.id, "author": self.author,
                "time": datetime.fromtimestamp(self.time).isoformat(timespec="seconds"),
                "at": f"{self.bar + 1}:{self.step + 1}", "summary": self.summary, "undone": self.undone}

    def record(self) -> dict[str, Any]:
        """The entry as a journal record (entry_from_record reads it back)."""
        return {"id": self.id, "author": self.author, "time": self.time, "bar": self.bar,
                "step": self.step, "summary": self.summary,
                "ops": [[list(op.target), op.before, op.after] for op in self.ops]}


def entry_from_record(data: object) -> Entry:
    """An Entry from a journal record; HistoryError when it is not one (a file is hostile).

    Exact type tests (`type(x) is int`, which a bool fails): JSON gives exact types, and a
    recovery replays up to 100k of these in well under a second."""
    if type(data) is not dict:
        raise HistoryError("an edit record is not an object")
    try:
        ident, author, when, bar, step = data["id"], data["author"], data["time"], data["bar"], data["step"]
        summary, raw_ops = data["summary"], data["ops"]
    except KeyError as exc:
        raise HistoryError(f"an edit record has no {exc.args[0]!r}") from None
    if not (type(ident) is int and type(bar) is int and type(step) is int and type(author) is str
            and type(summary) is str and type(when) in (int, float) and type(raw_ops) is list):
        raise HistoryError(f"edit record {str(ident)[:20]} has a field of the wrong type")
    ops = []
    for raw in raw_ops:
        if not (type(raw) is list and len(raw) == 3):
            raise HistoryError(f"edit record {ident} has an operation that is not [target, before, after]")
        ops.append(Op(target_from_record(raw[0]), raw[1], raw[2]))
    return Entry(ident, author[:64], float(when), bar, step, tuple(ops), summary[:200])


def target_from_record(raw: object) -> Target:
    """A target from its journal form (a list); HistoryError when it is none we know."""
    if not (type(raw) is list and raw and type(raw[0]) is str
            and _TARGET_SHAPES.get(raw[0]) == tuple(map(type, raw))):
        raise HistoryError(f"{str(raw)[:80]} is not a known target")
    return tuple(raw)


# The types of each kind of target's parts (see Target).
_TARGET_SHAPES: dict[object, tuple[type, ...]] = {
    "param": (str, str, str), "bpm": (str,), "swing": (str,), "name": (str,), "follow": (str,),
    "seed": (str,), "step": (str, str, int),
    "field": (str, str, str), "track": (str, str), "pattern": (str,)}


# -- reading and setting targets --------------------------------------------------


def read(pattern: Pattern, slot: int | None, target: Target) -> Any:
    """The JSON-ready value of target in the live state (pattern, and the slot it came from)."""
    match target:
        case ("param", module, param):
            return pattern.modules[module][param]
        case ("bpm",):
            return pattern.bpm
        case ("swing",):
            return pattern.swing
        case ("seed",):
            return pattern.seed
        case ("name",):
            return pattern.name
        case ("follow",):
            return None if pattern.follow is None else patternfile.follow_to_dict(pattern.follow)
        case ("step", name, index):
            return step_value(pattern.track(name).steps[index])
        case ("field", name, field_name):
            return getattr(pattern.track(name), field_name)
        case ("track", name):
            for index, track in enumerate(pattern.tracks):
                if track.name == name:
                    return {"index": index, "track": patternfile.track_to_dict(track)}
            return None
        case ("pattern",):
            return {"pattern": patternfile.pattern_to_dict(pattern), "slot": slot}
    raise HistoryError(f"{target!r} is not a target")


def write(pattern: Pattern, target: Target, value: Any) -> tuple[Pattern, int | None] | None:
    """Set target to value in pattern, checking the value as a file's would be.

    Returns None, or for the ("pattern",) target the new live pattern and its slot (the
    caller switches to them). Raises HistoryError (pattern unchanged) for a bad value.
    """
    try:
        return _write(pattern, target, value)
    except (PatternError, StoreError, IndexError, KeyError, TypeError) as exc:
        raise HistoryError(f"{'/'.join(map(str, target))}: {exc}") from None


def _write(pattern: Pattern, target: Target, value: Any) -> tuple[Pattern, int | None] | None:
    match target:
        case ("param", module, param):
            pattern.modules[module][param] = param_spec(module, param).check(value, f"{module}/{param}")
        case ("bpm",):
            pattern.bpm = BPM_SPEC.check(value, "bpm")
        case ("swing",):
            pattern.swing = SWING_SPEC.check(value, "swing")
        case ("seed",):
            pattern.seed = int(SEED_SPEC.check(value, "seed"))
        case ("name",):
            pattern.name = check_name(value, "name")
        case ("follow",):
            pattern.follow = None if value is None else patternfile.follow_from_dict(value)
        case ("step", name, index):
            track = pattern.track(name)
            if not 0 <= index < track.length:
                raise IndexError(f"step {index} is outside the track")
            track.steps[index] = _step(value, track.voice)
        case ("field", name, field_name):
            spec = TRACK_FIELDS[field_name]
            if spec is None and not isinstance(value, bool):
                raise TypeError(f"{value!r} is not true or false")
            setattr(pattern.track(name), field_name, value if spec is None else spec.check(value, field_name))
        case ("track", name):
            _write_track(pattern, name, value)
        case ("pattern",):
            if not isinstance(value, dict):
                raise TypeError("expected {pattern, slot}")
            slot = value.get("slot")
            if slot is not None:
                check_slot(slot)
            return patternfile.pattern_from_dict(value.get("pattern")), slot
        case _:
            raise KeyError("unknown target")
    return None


def step_value(step: Step) -> list[Any]:
    """A step as a ("step", …) target's value (see Target)."""
    value = [step.on, step.accent, step.note, step.slide]
    if step.expressive:
        return [*value, step.cents, patternfile.step_options_to_dict(step)]
    return [*value, step.cents] if step.cents else value


def _step(value: object, voice: str) -> Step:
    if not (isinstance(value, list) and len(value) in (4, 5, 6)
            and all(isinstance(v, bool) for v in value[:2]) and isinstance(value[3], bool)):
        raise TypeError(f"{str(value)[:60]} is not a step [on, accent, note, slide(, cents(, options))]")
    note = check_note(value[2], "note")
    cents = check_cents(value[4], "cents") if len(value) >= 5 else 0.0
    if cents and note is None:
        raise TypeError("a fine tune (cents) needs a note")
    options = value[5] if len(value) == 6 else {}
    if not (isinstance(options, dict) and options.keys() <= set(patternfile.STEP_OPTIONS)):
        raise TypeError(f"{str(options)[:60]} is not a step's options {{prob, cond, micro, ratchet, locks}}")
    return Step(value[0], value[1], note, value[3], cents,
                **patternfile.step_options_from_dict(options, voice, "step"))


def _write_track(pattern: Pattern, name: str, value: object) -> None:
    names = [t.name for t in pattern.tracks]
    if value is None:
        if name in names:
            del pattern.tracks[names.index(name)]
        return
    if not (isinstance(value, dict) and type(value.get("index")) is int):
        raise TypeError("expected {index, track}")
    track = patternfile.track_from_dict(value.get("track"))
    if track.name != name:
        raise TypeError(f"the track is named {track.name!r}, not {name!r}")
    if name in names:
        pattern.tracks[names.index(name)] = track
    elif len(pattern.tracks) >= patternfile.MAX_TRACKS:
        raise TypeError("no room for another track")
    else:
        pattern.tracks.insert(min(max(value["index"], 0), len(pattern.tracks)), track)


def overlap(a: Target, b: Target) -> bool:
    """Whether two targets name some of the same state: equal, the whole pattern, or one
    track and something of that track."""
    if a == b or a[0] == "pattern" or b[0] == "pattern":
        return True
    tracked = ("step", "field", "track")
    return a[0] in tracked and b[0] in tracked and a[1] == b[1] and "track" in (a[0], b[0])


def same(target: Target, a: Any, b: Any) -> bool:
    """Whether two values of target are the same state (a track's place in the list aside:
    removing another track moves it without changing it)."""
    if target[0] == "track" and a is not None and b is not None:
        return a["track"] == b["track"]
    return a == b


# -- summaries --------------------------------------------------------------------


def describe(ops: Iterable[Op]) -> str:
    """A short line saying what the operations did, for /history and the screen."""
    ops = list(ops)
    if len(ops) > 1 and all(op.target[0] == "track" and op.after is None for op in ops):
        return f"remove {len(ops)} tracks"
    parts = [_describe(op) for op in ops[:3]]
    if len(ops) > 3:
        parts.append(f"{len(ops) - 3} more")
    return "; ".join(parts)


def _describe(op: Op) -> str:
    before, after = op.before, op.after
    match op.target:
        case ("param", module, param):
            return f"{module}/{param} {before:g} → {after:g}"
        case ("bpm" | "swing" | "seed" as what,):
            return f"{what} {before:g} → {after:g}"
        case ("name",):
            return f"name {before!r} → {after!r}"
        case ("follow",):
            return "follow action off" if after is None else f"follow action {follow_text(after)}"
        case ("step", name, index):
            return f"{name} step {index + 1} {_step_change(before, after)}"
        case ("field", name, field_name):
            if isinstance(after, bool):
                return f"{name} {field_name} {'on' if after else 'off'}"
            return f"{name} {field_name} {before:g} → {after:g}"
        case ("track", name):
            if before is None:
                return f"add track {name}"
            if after is None:
                return f"remove track {name}"
            old, new = before["track"], after["track"]
            if old.get("length") != new.get("length"):
                return f"{name} length {old.get('length')} → {new.get('length')}"
            return f"{name} steps"
        case ("pattern",):
            slot, name = after.get("slot"), after["pattern"].get("name", "")
            return f"load {slot_label(slot)} {name!r}" if slot else f"load {name!r}"
    return "edit"


def follow_text(value: dict[str, Any]) -> str:
    """A follow action's journal value in words: `after 4 plays: next`, `after 1 play: random A03 A05`."""
    plays = "play" if value["after"] == 1 else "plays"
    return " ".join([f"after {value['after']} {plays}: {value['action']}", *map(slot_label, value["slots"])])


def label(target: Target) -> str:
    """What a target names, in a few words ("voice1/filter/freq", "bass step 5")."""
    match target:
        case ("param", module, param):
            return f"{module}/{param}"
        case ("step", name, index):
            return f"{name} step {index + 1}"
        case ("field", name, field_name):
            return f"{name} {field_name}"
        case ("track", name):
            return f"track {name}"
        case ("pattern",):
            return "the pattern"
    return str(target[0])


def _step_change(before: list[Any], after: list[Any]) -> str:
    before, after = _with_cents(before), _with_cents(after)
    options = _options_change(before[5] if len(before) == 6 else {}, after[5] if len(after) == 6 else {})
    changes = []
    for what, old, new in zip(("on", "accent", "note", "slide"), before[:4], after[:4], strict=True):
        if what == "note":  # a note's cents are part of it: C4 to C4+3.47c is a note change
            if (old, before[4]) != (new, after[4]):
                changes.append(f"note {pitch_name(new, after[4])}" if new is not None else "no note")
        elif old == new:
            continue
        elif what == "on":
            changes.append("on" if new else "off")
        else:
            changes.append(f"{what} {'on' if new else 'off'}")
    return ", ".join(changes + options) or "unchanged"


_OPTION_DEFAULTS: dict[str, Any] = {key: getattr(Step(), key) for key in patternfile.STEP_OPTIONS}


def _options_change(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What changed among a step's expressive fields, in words: "prob 50", "cond 1:4", "locks 2"."""
    changes = []
    for key, default in _OPTION_DEFAULTS.items():
        old, new = before.get(key, default), after.get(key, default)
        if old == new:
            continue
        if key == "locks":
            changes.append(f"locks {len(new)}" if new else "no locks")
        elif key == "cond":
            changes.append(f"cond {new}" if new is not None else "no cond")
        else:
            changes.append(f"{key} {new}")
    return changes


def _with_cents(step: list[Any]) -> list[Any]:
    """A journal step with its cents, 0 when it has none (a 4-list)."""
    return step if len(step) >= 5 else [*step, 0.0]


# -- the history ------------------------------------------------------------------


class History:
    """Entries in the order they were made; undo and redo per author or for everyone.

    Not thread-safe: the Session calls it with its lock held.
    """

    def __init__(self, *, limit: int = HISTORY_LIMIT, coalesce_after: float = COALESCE_AFTER,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.entries: list[Entry] = []
        self.limit = limit
        self.coalesce_after = coalesce_after
        self.clock = clock
        self._next_id = 1
        self._undo_count = 0
        self._undone: Counter[str] = Counter()  # undone entries by who undid them (their redo branches)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def next_id(self) -> int:
        return self._next_id

    def record(self, author: str, ops: tuple[Op, ...], *, bar: int = 0, step: int = 0,
               summary: str | None = None, wall: float | None = None) -> Entry:
        """Add an edit, or fold it into the author's run of changes to the same value.

        A new edit drops the author's undone entries: their redo branch ends here.
        Returns the entry (an existing one, with the same id, when folded in).
        """
        now = self.clock()
        self.drop_redo_branch(author)
        run = self._run(author, ops, now)
        if run is not None:
            run.ops = (Op(ops[0].target, run.ops[0].before, ops[0].after),)
            run.summary = describe(run.ops)
            run.touched = now
            return run
        entry = Entry(self._next_id, author, time.time() if wall is None else wall, bar, step, ops,
                      summary or describe(ops), touched=now)
        self._next_id += 1
        self._append(entry)
        return entry

    def _append(self, entry: Entry) -> None:
        self.entries.append(entry)
        if len(self.entries) > self.limit:
            for old in self.entries[: len(self.entries) - self.limit]:
                if old.undone_by is not None:
                    self._undone[old.undone_by] -= 1
            del self.entries[: len(self.entries) - self.limit]

    def add(self, entry: Entry) -> None:
        """Put back an entry read from a journal, replacing the one of its id (a run of
        changes is written again each time it grows)."""
        self.drop_redo_branch(entry.author)  # as record() did, for a new entry or a grown run
        if entry.id < self._next_id:  # ids only grow: a smaller one was seen before
            for index in range(len(self.entries) - 1, -1, -1):
                if self.entries[index].id == entry.id:
                    self.entries[index] = entry
                    return
        self._append(entry)
        self._next_id = max(self._next_id, entry.id + 1)

    def find(self, entry_id: int) -> Entry | None:
        for entry in reversed(self.entries):
            if entry.id == entry_id:
                return entry
        return None

    def to_undo(self, author: str, everyone: bool) -> Entry | None:
        """The newest entry still in effect made by author (by anyone, when everyone)."""
        for entry in reversed(self.entries):
            if not entry.undone and (everyone or entry.author == author):
                return entry
        return None

    def to_redo(self, author: str, everyone: bool) -> Entry | None:
        """The entry undone last by author (by anyone, when everyone)."""
        undone = [e for e in self.entries if e.undone and (everyone or e.undone_by == author)]
        return max(undone, key=lambda e: e.undo_order, default=None)

    def mark_undone(self, entry: Entry, by: str) -> None:
        self._undo_count += 1
        self._undone[by] += 1
        entry.undone_by, entry.undo_order = by, self._undo_count

    def mark_redone(self, entry: Entry) -> None:
        if entry.undone_by is not None:
            self._undone[entry.undone_by] -= 1
        entry.undone_by, entry.undo_order = None, 0

    def since(self, entry: Entry) -> Iterator[Entry]:
        """Entries in effect made after entry, newest first."""
        for later in reversed(self.entries):
            if later is entry:
                return
            if not later.undone:
                yield later

    def last(self, count: int) -> list[Entry]:
        return self.entries[-count:] if count > 0 else []

    def _run(self, author: str, ops: tuple[Op, ...], now: float) -> Entry | None:
        """The author's entry that this one-value change continues, if any: their latest,
        changing the same value within coalesce_after, with no one else's change of it (or of
        what holds it: its track, the pattern) since."""
        if len(ops) != 1 or not _coalesces(ops[0].target):
            return None
        target = ops[0].target
        for entry in reversed(self.entries[-64:]):
            if entry.author == author:
                if (entry.ops[0].target == target and not entry.undone and len(entry.ops) == 1
                        and now - entry.touched <= self.coalesce_after):
                    return entry
                return None
            if any(overlap(op.target, target) for op in entry.ops):
                return None
        return None

    def drop_redo_branch(self, author: str) -> None:
        """Forget the entries author undid: a new edit of theirs ends their redo branch."""
        if self._undone[author] > 0:
            self.entries = [e for e in self.entries if e.undone_by != author]
            del self._undone[author]


def _coalesces(target: Target) -> bool:
    return target[0] in _COALESCING or (target[0] == "field" and target[2] in _COALESCING_FIELDS)
