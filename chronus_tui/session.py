"""Session: the one owner of the live state, shared by the keyboard and OSC.

Every change is a Session method. It validates first (nothing changes on error),
mutates the model under the lock, records the change in the history (and the journal,
when one is attached), tells the engine, then tells listeners what changed. File I/O
happens outside the lock so the audio and other clients never wait for the disk.
Listeners may be called from any thread (engine events arrive on the engine client's
reader thread); they must be quick and must not block.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Protocol

from chronus_tui import history, patternfile, recording
from chronus_tui.chain import Chain, ChainEntry, ChainError, check_entries, check_entry, play_steps
from chronus_tui.chainplay import CHAIN_SOURCE, FOLLOW_SOURCE, ChainPlayer
from chronus_tui.engine.protocol import (
    CancelQueued,
    Command,
    Down,
    EngineMessage,
    Event,
    Gate,
    LoadMode,
    Position,
    RecordingStarted,
    RecordingStopped,
    ReplacePattern,
    ReplaceTrack,
    Restarted,
    Restarting,
    SetFill,
    SetParam,
    SetTempo,
    SetTransport,
    StartRecording,
    Status,
    StopRecording,
    Switched,
)
from chronus_tui.history import Entry, History, HistoryError, Op, Target
from chronus_tui.model import (
    BPM_SPEC,
    GATE_SPEC,
    LENGTH_SPEC,
    LEVEL_SPEC,
    MAX_NAME,
    MAX_TRACKS,
    SEED_SPEC,
    STEPS_PER_BAR,
    SWING_SPEC,
    VOICES,
    Follow,
    ParamSpec,
    Pattern,
    PatternError,
    Pitch,
    Step,
    Track,
    check_follow,
    check_name,
    check_pitch,
    check_voice,
    copy_step,
    excerpt,
    lock_spec,
    lockable_params,
    param_spec,
    parse_steps,
    step_value,
)
from chronus_tui.songs import SongInfo, check_entry_bpm, check_entry_mute, check_song_name, song_entry_dict
from chronus_tui.store import AUTOSAVE_SLOT, SlotInfo, SlotStore, StoreError, check_slot
from chronus_tui.timing import next_line

log = logging.getLogger(__name__)

Keep = Literal["keep"]  # a value left as it is
Muted = list[str] | tuple[str, ...]  # a song entry's muted tracks

LoadAt = Literal["bar", "bar2", "bar4", "bar8", "end", "step", "now"]
# Launch quantize: a queued load lands on the next line this many steps after the playing
# pattern's start (0: the end of its longest track, see chain.play_steps).
QUANTUM_STEPS: dict[str, int] = {"bar": STEPS_PER_BAR, "bar2": 2 * STEPS_PER_BAR,
                                 "bar4": 4 * STEPS_PER_BAR, "bar8": 8 * STEPS_PER_BAR, "end": 0}
LOAD_MODES = (*QUANTUM_STEPS, "step", "now")


class SessionError(ValueError):
    """A request the Session refused; nothing was changed."""


class FieldError(SessionError, PatternError):
    """A refused edit that names its bad field as a PatternError does (`path`: "prob",
    "locks.filter/freq", "index", "seed" …): caught as either; nothing was changed."""


class EngineLink(Protocol):
    """What the Session needs of an engine: one-way commands (the protocol: engine/protocol.py)."""

    def send(self, command: Command) -> None: ...

    def halt(self) -> bool: ...  # stop the audio (the engine process), keep the link

    def resume(self) -> bool: ...  # start it again: Restarted follows


class JournalLink(Protocol):
    """What the Session needs of the journal on disk (journalfile.JournalWriter): records
    appended in order without waiting for the disk, and a fresh start from a base state."""

    def append(self, record: dict[str, Any]) -> None: ...

    def rebase(self, header: dict[str, Any]) -> None: ...

    @property
    def bytes_since_base(self) -> int: ...


JOURNAL_REBASE_BYTES = 8 * 1024 * 1024  # past this the journal starts again from the live state
WHOLE_PATTERNS_SHARED = 8  # the history's last distinct whole patterns, each kept once (_shared)


def journal_header(snapshot: dict[str, Any], slot: int | None, started: float,
                   next_id: int) -> dict[str, Any]:
    """The first record of a journal file: the state its edit records start from."""
    return {"journal": "chronus", "version": 1, "started": started, "next_id": next_id,
            "base": {"pattern": snapshot, "slot": slot}}


class ChangeKind(StrEnum):
    """What a Change is about; str-valued, so logs and JSON read as before."""

    PARAM = "param"  # a sound parameter
    TEMPO = "tempo"
    SWING = "swing"
    NAME = "name"  # the live pattern's name
    FOLLOW = "follow"  # the live pattern's follow action set or cleared
    SEED = "seed"  # the live pattern's seed (its probability rolls)
    FILL = "fill"  # fill mode on or off: live performance state, neither saved nor undone
    TRACKS = "tracks"  # a track added or removed, or all cleared
    TRACK = "track"  # one track's steps or settings
    PATTERN = "pattern"  # a whole pattern loaded (or a queued one switched in)
    QUEUED = "queued"  # a load queued for the bar line, or the queue cancelled (slot None)
    QUANTIZE = "quantize"  # the default launch quantize of loads
    CHAIN = "chain"  # a chain set, started, stopped, or on to its next entry, play or bar
    SONG = "song"  # the same, while the chain is a song's
    TRANSPORT = "transport"
    GATE = "gate"  # a voice's gate set by hand
    SAVED = "saved"
    IMPORTED = "imported"  # an original Music Chronus file loaded: the fields it dropped
    RENAMED = "renamed"  # a slot renamed
    POSITION = "position"  # the playhead
    ENGINE = "engine"  # the engine's status and its process's life
    HISTORY = "history"  # an edit entered the history, or one was undone or redone
    ERROR = "error"  # a refused request or an engine failure


@dataclass(frozen=True)
class Change:
    """What changed, for listeners (UI, OSC feedback). `source` says who asked."""

    kind: ChangeKind
    data: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        # A bare string would match no listener's ChangeKind table and be dropped silently.
        if not isinstance(self.kind, ChangeKind):
            raise TypeError(f"Change.kind must be a ChangeKind, not {self.kind!r}")


@dataclass(frozen=True)
class PendingLoad:
    token: int
    pattern: Pattern
    at: LoadAt
    slot: int | None
    source: str
    every: int = STEPS_PER_BAR  # the engine's launch quantum (ReplacePattern.every)
    lands: tuple[int, int] | None = None  # (bar, step) of the playing pattern where it switches


@dataclass(frozen=True)
class Clamped:
    """A value as applied, and whether it was brought into range."""

    value: float
    clamped: bool


@dataclass
class Transport:
    playing: bool = False
    bar: int = 0
    step: int = 0
    playing_slot: int | None = None
    queued_slot: int | None = None
    engine: dict[str, Any] = field(default_factory=dict)  # backend, sr, buffer, cpu …
    # "up", "down" (the process died; the next attempt waits), "restarting" (a new one starts),
    # "stopped" (/engine/stop).
    engine_state: str = "up"
    engine_error: str | None = None  # why it is down
    engine_retry_at: float | None = None  # time.monotonic() of the next attempt, while down
    engine_restarts: int = 0  # engines started after one died


class Session:
    def __init__(self, store: SlotStore, engine: EngineLink | None = None,
                 pattern: Pattern | None = None) -> None:
        self.store = store
        self.engine = engine
        self._lock = threading.RLock()
        self._pattern = pattern or Pattern()
        self._pending: PendingLoad | None = None
        self._tokens = itertools.count(1)
        self._listeners: list[Callable[[Change], None]] = []
        self.transport = Transport()
        self.history = History()
        self.journal: JournalLink | None = None
        self.started = time.time()  # when this session began (a recovered one: the first)
        self._group: list[Op] | None = None  # edit_group collects ops here
        self._unannounced: list[Change] = []  # HISTORY changes made under the lock, sent by _notify
        # The whole patterns the history holds last, each once: a chain of full 8×64 patterns
        # switching all night would hold two new copies (200 KB) for every switch.
        self._whole_patterns: list[Any] = []
        self.recording: recording.Recording | None = None
        self.quantize: LoadAt = "bar"  # the launch quantize of a load that names none
        self.follow_random = random.Random()  # picks a "random" follow action's slot; tests seed it
        self._fill = False  # fill mode (FILL trigs): held while performing, not part of the pattern
        self._chains = ChainPlayer(self)

    # -- listeners --------------------------------------------------------------

    def subscribe(self, listener: Callable[[Change], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[Change], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _notify(self, change: Change | None) -> None:
        """Tell listeners about change (None: only about history entries made meanwhile,
        which go first: an edit's entry comes just before the edit's own change)."""
        with self._lock:
            waiting, self._unannounced = self._unannounced, []
        for each in (*waiting, change) if change is not None else waiting:
            for listener in list(self._listeners):
                try:
                    listener(each)
                except Exception:  # a broken listener must not break the instrument
                    log.exception("listener failed on %s", each.kind)

    def report_error(self, message: str, source: str = "", **data: Any) -> None:
        """Tell listeners about a refused request (e.g. a bad OSC message), so the UI can show it."""
        self._notify(Change(ChangeKind.ERROR, {"message": message, **data}, source))

    def _send(self, command: Command) -> None:
        """Call with the lock held, so the engine gets changes in the order the model made
        them (two threads' edits must not cross on the way); EngineLink.send never blocks."""
        if self.engine is not None:
            self.engine.send(command)

    # -- history ----------------------------------------------------------------

    def _read(self, target: Target) -> Any:
        return history.read(self._pattern, self.transport.playing_slot, target)

    @contextmanager
    def _journaled(self, source: str, *targets: Target, summary: str | None = None) -> Iterator[None]:
        """Hold the lock while the body changes targets, then record what changed (nothing
        is recorded when the body raises before changing anything, or changes nothing), as
        `summary` says or in the history's own words."""
        with self._lock:
            before = [self._read(target) for target in targets]
            yield
            ops = []
            for target, old in zip(targets, before, strict=True):
                new = self._read(target)
                if not history.same(target, old, new):
                    ops.append(Op(target, old, new))
            self._record(tuple(ops), source, summary)

    def _record(self, ops: tuple[Op, ...], source: str, summary: str | None = None) -> None:
        """Enter ops in the history and the journal (lock held); _notify announces the entry."""
        if not ops:
            return
        ops = tuple(op if op.target != ("pattern",) else Op(op.target, self._shared(op.before),
                                                              self._shared(op.after)) for op in ops)
        if self._group is not None:
            self._group.extend(ops)
            return
        t = self.transport
        entry = self.history.record(source, ops, bar=t.bar, step=t.step, summary=summary)
        self._journal({"edit": entry.record()})
        self._unannounced.append(Change(ChangeKind.HISTORY, {"action": "edit", "entry": entry.as_dict()},
                                        source))

    def _shared(self, value: Any) -> Any:
        """A whole pattern's value, as one the history holds already if it is equal (history
        values are never changed in place), so a chain's patterns are kept once each."""
        for known in self._whole_patterns:
            if known == value:
                return known
        self._whole_patterns = [value, *self._whole_patterns[:WHOLE_PATTERNS_SHARED - 1]]
        return value

    def _journal(self, record: dict[str, Any]) -> None:
        if self.journal is None:
            return
        self.journal.append(record)
        if self.journal.bytes_since_base > JOURNAL_REBASE_BYTES:
            self.journal.rebase(self.journal_header())

    def journal_header(self) -> dict[str, Any]:
        """A journal's first record for the live state now (see journal_header)."""
        with self._lock:
            return journal_header(self.snapshot(), self.transport.playing_slot, self.started,
                                  self.history.next_id)

    @contextmanager
    def edit_group(self, source: str, summary: str | None = None) -> Iterator[None]:
        """The edits made inside are one history entry: one undo takes them all back.
        The lock is held throughout, so no one else's edit falls in between."""
        with self._lock:
            if self._group is not None:  # inside another group: that one records
                yield
                return
            self._group = []
            try:
                yield
            finally:
                ops, described = _merged(self._group, self._pattern, self.transport.playing_slot)
                self._group = None
                self._record(ops, source, summary or described)
        self._notify(None)

    def undo(self, count: int = 1, *, everyone: bool = False, source: str = "") -> list[Entry]:
        """Take back source's last `count` edits (anyone's, when everyone), newest first.

        Applies at once, like any edit. Stops at an edit whose values someone else has
        changed since (SessionError when that is the first). Returns the entries undone.
        """
        return self._travel(count, everyone, source, undo=True)

    def redo(self, count: int = 1, *, everyone: bool = False, source: str = "") -> list[Entry]:
        """Make again the edits source undid last (anyone's, when everyone)."""
        return self._travel(count, everyone, source, undo=False)

    def _travel(self, count: int, everyone: bool, source: str, *, undo: bool) -> list[Entry]:
        verb = "undo" if undo else "redo"
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= history.HISTORY_LIMIT:
            raise SessionError(f"{verb} count {count!r} is not 1–{history.HISTORY_LIMIT}")
        done: list[Entry] = []
        changes: list[Change] = []
        with self._lock:
            for _ in range(count):
                entry = (self.history.to_undo if undo else self.history.to_redo)(source, everyone)
                if entry is None:
                    break
                conflict = self._conflict(entry, undo)
                if conflict is not None:
                    if not done:
                        raise SessionError(f"cannot {verb} “{entry.summary}”: {conflict}")
                    break
                # The record carries the values too: after a rebase the journal has no entry
                # made before it, and recovery sets them from the record.
                if undo:
                    values = [(op.target, op.before) for op in reversed(entry.ops)]
                    changes += self._apply(values, source)
                    self.history.mark_undone(entry, source)
                    self._journal({"undo": entry.id, "by": source, "set": _journal_values(values)})
                else:
                    values = [(op.target, op.after) for op in entry.ops]
                    changes += self._apply(values, source)
                    self.history.mark_redone(entry)
                    self._journal({"redo": entry.id, "set": _journal_values(values)})
                done.append(entry)
        if not done:
            if everyone:
                raise SessionError(f"nothing anyone's to {verb}")
            raise SessionError(f"nothing of yours ({source or 'no author'}) to {verb}; to {verb} anyone's: "
                               f"`/{verb} all`, or the palette's “{verb.capitalize()} everyone's …”")
        for change in changes:
            self._notify(change)
        for entry in done:
            self._notify(Change(ChangeKind.HISTORY, {"action": verb, "entry": entry.as_dict()}, source))
        return done

    def replay(self, record: object) -> None:
        """Apply one journal record: an edit ({"edit": entry}), or the undo or redo of an
        entry by id (of one made before the journal's start, by the values it set). For
        recovery, before the engine and any listener are attached.

        Raises HistoryError for a record that cannot apply (a journal is hostile input);
        what it had set by then is set back, so the live state stays what it was.
        """
        if not isinstance(record, dict) or len(record) > 3:
            raise HistoryError(f"{str(record)[:80]} is not a journal record")
        with self._lock:
            if "edit" in record:
                entry = history.entry_from_record(record["edit"])
                self._replay_values([(op.target, op.after) for op in entry.ops])
                self.history.add(entry)
                return
            action = "undo" if "undo" in record else "redo" if "redo" in record else None
            entry = self.history.find(record[action]) if action is not None else None
            if entry is None and action is not None and type(record.get("set")) is list:
                self._replay_values([_value_from_record(item) for item in record["set"]])
                return
            if entry is None or entry.undone != (action == "redo"):
                raise HistoryError(f"{str(record)[:80]} names no entry it can {action or 'apply'}")
            if action == "undo":
                by = record.get("by")
                self._replay_values([(op.target, op.before) for op in reversed(entry.ops)])
                self.history.mark_undone(entry, by if isinstance(by, str) else entry.author)
            else:
                self._replay_values([(op.target, op.after) for op in entry.ops])
                self.history.mark_redone(entry)

    def _replay_values(self, values: list[tuple[Target, Any]]) -> None:
        """_set, or, when a value fails, set back the ones set before it (a whole record
        applies or none of it does)."""
        if len(values) == 1:  # one value: history.write checks it before it sets it
            self._set(values)
            return
        previous = [(target, self._read_or_none(target)) for target, _ in values]
        try:
            self._set(values)
        except HistoryError:
            for target, value in reversed(previous):
                try:
                    self._set([(target, value)])
                except HistoryError:
                    continue  # it was never set: nothing to set back
            raise

    def _read_or_none(self, target: Target) -> Any:
        try:
            return self._read(target)
        except (PatternError, IndexError):
            return None

    def _conflict(self, entry: Entry, undo: bool) -> str | None:
        """Why entry cannot be undone (redone) now: a value it would set back was changed
        since, by a later edit still in effect (even one that set it back as it was: that
        is its author's value now) or otherwise; None when no one touched them since."""
        for op in entry.ops:
            by = next((later.author for later in self.history.since(entry)
                       if any(history.overlap(o.target, op.target) for o in later.ops)), None)
            expected = op.after if undo else op.before
            try:
                current = self._read(op.target)
            except (PatternError, IndexError):  # its track is gone, or shorter
                current = object()
            if by is not None or not history.same(op.target, current, expected):
                return f"{history.label(op.target)} was changed since" + (f" by {by}" if by else "")
        return None

    def _apply(self, values: list[tuple[Target, Any]], source: str) -> list[Change]:
        """Set targets to values (lock held; undo and redo), tell the engine, and return
        the changes to announce."""
        added = {target[1] for target, _ in values
                 if target[0] == "track" and not any(t.name == target[1] for t in self._pattern.tracks)}
        try:
            self._set(values)
        except HistoryError as exc:  # not expected: _conflict found every value as the entry left it
            raise SessionError(str(exc)) from exc
        changes: list[Change] = []
        tracks: dict[str, None] = {}
        whole = structure = reseeded = False
        for target, value in values:
            match target:
                case ("pattern",):
                    whole = True
                    data = {"slot": self.transport.playing_slot, "name": self._pattern.name, "undo": True}
                    changes.append(Change(ChangeKind.PATTERN, data, source))
                case ("param", module, param):
                    self._send(SetParam(module, param, value))
                    changes.append(Change(ChangeKind.PARAM, {"module": module, "param": param, "value": value,
                                                             "clamped": False}, source))
                case ("bpm",) | ("swing",):
                    self._send(SetTempo(self._pattern.bpm, self._pattern.swing))
                    kind = ChangeKind.TEMPO if target[0] == "bpm" else ChangeKind.SWING
                    changes.append(Change(kind, {target[0]: value, "clamped": False}, source))
                case ("name",):
                    changes.append(Change(ChangeKind.NAME, {"name": value}, source))
                case ("follow",):
                    changes.append(Change(ChangeKind.FOLLOW, {"follow": value}, source))
                case ("seed",):
                    reseeded = True
                    changes.append(Change(ChangeKind.SEED, {"seed": value}, source))
                case ("track", name) if name in added or value is None:
                    structure = True
                    changes.append(Change(ChangeKind.TRACKS, {"track": name}, source))
                case _:
                    tracks[target[1]] = None
        names = [t.name for t in self._pattern.tracks]
        if whole:
            self._send(ReplacePattern(self._pattern.copy(), "now"))
        elif structure or reseeded or tracks.keys() - set(names):
            self._send(ReplacePattern(self._pattern.copy(), "edit"))
        else:
            for name in tracks:
                index = names.index(name)
                self._send(ReplaceTrack(index, self._pattern.tracks[index].copy()))
        return changes + [Change(ChangeKind.TRACK, {"track": name}, source) for name in tracks]

    def _set(self, values: list[tuple[Target, Any]]) -> None:
        """Set targets to values in the live state (lock held). A bad value raises
        HistoryError; the values before it are set, the one that failed is not."""
        for target, value in values:
            switched = history.write(self._pattern, target, value)
            if switched is not None:
                self._switch_to(*switched)

    # -- reading ----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """A complete, self-contained, JSON-ready dict of the live pattern."""
        with self._lock:
            return patternfile.pattern_to_dict(self._pattern)

    @property
    def pattern(self) -> Pattern:
        """The live pattern. Read it only; change it through Session methods."""
        return self._pattern

    @property
    def pending(self) -> PendingLoad | None:
        return self._pending

    def status(self) -> dict[str, Any]:
        """The transport and the engine as they are. `playing` is true only while something
        sounds; `transport_running` says the transport runs (and plays again once a dead engine
        is back)."""
        with self._lock:
            t = self.transport
            retry_in = None if t.engine_retry_at is None else max(0.0, t.engine_retry_at - time.monotonic())
            return {
                **t.engine,
                "playing": t.playing and t.engine_state == "up", "bar": t.bar, "step": t.step,
                "bpm": self._pattern.bpm, "swing": self._pattern.swing,
                "name": self._pattern.name,
                "tracks": [tr.name for tr in self._pattern.tracks],
                "playing_slot": t.playing_slot, "queued_slot": t.queued_slot,
                "transport_running": t.playing,
                "engine": t.engine_state if self.engine is not None else "none",
                "engine_error": t.engine_error, "restarts": t.engine_restarts,
                "next_attempt_in": None if retry_in is None else round(retry_in, 2),
            }

    # -- whole-pattern changes --------------------------------------------------

    def apply_snapshot(self, snap: dict[str, Any] | Pattern, at: LoadAt | None = None, *,
                       slot: int | None = None, source: str = "", every: int | None = None,
                       only_if: Callable[[], bool] | None = None,
                       queued: Callable[[PendingLoad], None] | None = None) -> PendingLoad | None:
        """Load a pattern `at` the next bar (or 2, 4, 8 bars, or the playing pattern's end:
        launch quantize; None: the session's default, `quantize`), next step or now.

        A dict (from outside: a snapshot, a file's JSON) is validated first; a Pattern was
        validated where it came in (the store, a route) and is taken as it is (a copy).
        Raises SessionError (nothing changed) if the snapshot is invalid. While the
        transport runs, "bar" and "step" loads are queued in the engine and the
        model switches when the engine reports the switch; the returned
        PendingLoad names that load. A newer queued load replaces an older one.
        `every` (steps) overrides the quantum of `at` (a chain entry's length). `only_if` is
        asked under the session lock, so no other load can come between: if it says no, the
        load is refused (SessionError) and nothing changes. `queued` is told the queued load
        under the lock too (the engine's Switched event waits for the lock), so the caller
        knows its token before anyone can hear that it switched in.
        """
        at = self.quantize if at is None else at
        if at not in LOAD_MODES:
            raise SessionError(f"load mode {at!r} is not one of {', '.join(LOAD_MODES)}")
        every = QUANTUM_STEPS.get(at, STEPS_PER_BAR) if every is None else every
        if isinstance(snap, Pattern):
            pattern = snap.copy()
        else:
            try:
                pattern = patternfile.pattern_from_dict(snap)
            except PatternError as exc:
                raise SessionError(str(exc)) from exc
        with self._lock:
            if only_if is not None and not only_if():
                raise SessionError("the load was overtaken by another")
            queue = self.transport.playing and self.engine is not None and at != "now"
            pending = PendingLoad(next(self._tokens), pattern, at, slot, source, every,
                                  self._landing(at, every) if queue else None)
            # First, under the same lock: a load now's history entry (the whole pattern before
            # and after, serialised for the journal) takes milliseconds the engine need not wait.
            self._send(ReplacePattern(pattern.copy(), _engine_mode(at) if queue else "now", pending.token,
                                      every))
            if queue:
                self._pending = pending
                self.transport.queued_slot = slot
                if queued is not None:
                    queued(pending)
            else:
                if self._pending is not None:  # else the engine would still switch to it on its line
                    self._send(CancelQueued())
                self._pending = None
                self.transport.queued_slot = None
                with self._journaled(source, ("pattern",)):
                    self._switch_to(pattern, slot)
        if queue:
            self._notify(Change(ChangeKind.QUEUED, {"slot": slot, "at": at, "token": pending.token,
                                                    "name": pattern.name, "lands": pending.lands}, source))
            return pending
        self._notify(Change(ChangeKind.PATTERN, {"slot": slot, "name": pattern.name, "token": pending.token},
                            source))
        return None

    def _landing(self, at: LoadAt, every: int) -> tuple[int, int]:
        """(bar, step) of the playing pattern where a load queued now will switch, as the
        engine reckons it (synth/graph.py _arm_queued) from the playhead."""
        t = self.transport
        now = t.bar * STEPS_PER_BAR + t.step
        if at == "step":
            return divmod(now + 1, STEPS_PER_BAR)
        return divmod(next_line(now, every or play_steps(self._pattern)), STEPS_PER_BAR)

    def set_quantize(self, at: LoadAt, source: str = "") -> None:
        """The launch quantize of loads that do not name one: bar, bar2, bar4, bar8 or end."""
        if at not in QUANTUM_STEPS:
            raise SessionError(f"launch quantize {at!r} is not one of {', '.join(QUANTUM_STEPS)}")
        with self._lock:
            self.quantize = at
        self._notify(Change(ChangeKind.QUANTIZE, {"quantize": at}, source))

    def _switch_to(self, pattern: Pattern, slot: int | None) -> None:
        self._pattern = pattern
        self.transport.playing_slot = slot

    def cancel_queued(self, source: str = "", token: int | None = None) -> bool:
        """Forget the queued load (only if it is load `token`, when given)."""
        with self._lock:
            if self._pending is None or token not in (None, self._pending.token):
                return False
            self._pending = None
            self.transport.queued_slot = None
            self._send(CancelQueued())
        self._notify(Change(ChangeKind.QUEUED, {"slot": None}, source))
        return True

    def _edited(self, kind: ChangeKind, data: dict[str, Any], source: str, track: str | None = None) -> None:
        """Send an edit to the engine to play in place (no restart); tell listeners.

        An edit of one `track` sends that track alone (ReplaceTrack), which the
        engine applies in a fraction of the time of a whole pattern; a change to
        the set of tracks (add, remove, clear) sends the whole pattern (mode "edit").
        """
        with self._lock:
            names = [t.name for t in self._pattern.tracks]
            if track is not None and track in names:
                index = names.index(track)
                self._send(ReplaceTrack(index, self._pattern.tracks[index].copy()))
            else:
                self._send(ReplacePattern(self._pattern.copy(), "edit"))
        self._notify(Change(kind, data, source))

    # -- sound parameters -------------------------------------------------------

    def set_param(self, module: str, param: str, value: float, source: str = "") -> Clamped:
        """Set module/param (the names of model.MODULE_PARAMS); out-of-range values are clamped."""
        try:
            spec = param_spec(module, param)
        except PatternError as exc:
            raise SessionError(str(exc)) from exc
        applied = _clamp(spec, value, f"{module}/{param}")
        with self._journaled(source, ("param", module, param)):
            self._pattern.modules[module][param] = applied.value
            self._send(SetParam(module, param, applied.value))
        self._notify(Change(ChangeKind.PARAM, {"module": module, "param": param, "value": applied.value,
                                               "clamped": applied.clamped}, source))
        return applied

    def nudge_param(self, module: str, param: str, direction: int, coarse: bool = False,
                    source: str = "") -> Clamped:
        """One fine (or coarse) step up (direction 1) or down (-1), in the parameter's own
        scale (model.step_value): semitones and octaves for a pitch, ratios for times and
        rates, a fraction of the range otherwise. The UI's fine and coarse keys."""
        try:
            spec = param_spec(module, param)
        except PatternError as exc:
            raise SessionError(str(exc)) from exc
        if isinstance(direction, bool) or direction not in (1, -1):
            raise SessionError(f"{module}/{param}: nudge direction {direction!r} is not 1 or -1")
        with self._lock:
            current = self._pattern.modules[module][param]
        return self.set_param(module, param, step_value(spec, current, direction, bool(coarse)), source)

    def set_bpm(self, bpm: float, source: str = "") -> Clamped:
        applied = _clamp(BPM_SPEC, bpm, "bpm")
        with self._journaled(source, ("bpm",)):
            self._pattern.bpm = applied.value
            self._send(SetTempo(applied.value, self._pattern.swing))
        self._notify(Change(ChangeKind.TEMPO, {"bpm": applied.value, "clamped": applied.clamped}, source))
        return applied

    def set_swing(self, swing: float, source: str = "") -> Clamped:
        applied = _clamp(SWING_SPEC, swing, "swing")
        with self._journaled(source, ("swing",)):
            self._pattern.swing = applied.value
            self._send(SetTempo(self._pattern.bpm, applied.value))
        self._notify(Change(ChangeKind.SWING, {"swing": applied.value, "clamped": applied.clamped}, source))
        return applied

    def set_name(self, name: str, source: str = "") -> None:
        name = _checked(check_name, name, "name")
        with self._journaled(source, ("name",)):
            self._pattern.name = name
        self._notify(Change(ChangeKind.NAME, {"name": name}, source))

    def set_follow(self, after: int, action: str, slots: Iterable[int] = (), source: str = "") -> None:
        """Give the live pattern a follow action (model.Follow): after `after` plays, the next
        or previous slot, slot `slots[0]`, or one of `slots` at random plays; saved with it."""
        try:
            follow = check_follow(after, action, tuple(slots))
        except PatternError as exc:
            raise SessionError(str(exc)) from exc
        self._set_follow(follow, source)

    def clear_follow(self, source: str = "") -> None:
        """The live pattern plays on, with no follow action."""
        self._set_follow(None, source)

    def _set_follow(self, follow: Follow | None, source: str) -> None:
        with self._journaled(source, ("follow",)):
            self._pattern.follow = follow
            value = self._read(("follow",))
        self._notify(Change(ChangeKind.FOLLOW, {"follow": value}, source))

    def set_seed(self, seed: int, source: str = "") -> int:
        """Set the live pattern's seed (SEED_SPEC, 0–2³¹−1): a new set of probability rolls
        (trigs.roll), from the engine's next step on; one undo, saved with the pattern.
        FieldError (nothing changed) for anything but a whole number in range."""
        with _field_errors():
            value = int(SEED_SPEC.check(seed, "seed"))
        with self._journaled(source, ("seed",)):
            self._pattern.seed = value
            self._send(ReplacePattern(self._pattern.copy(), "edit"))
        self._notify(Change(ChangeKind.SEED, {"seed": value}, source))
        return value

    @property
    def fill(self) -> bool:
        """Whether fill mode is on (FILL trigs play, !FILL ones do not)."""
        return self._fill

    def set_fill(self, on: bool, source: str = "") -> None:
        """Turn fill mode on or off, from the engine's next step on. Live performance state,
        as the transport is: not an edit (no undo, no journal), not saved; a new engine
        gets it again (resync)."""
        if not isinstance(on, bool):
            raise FieldError("fill", f"{excerpt(repr(on), 40)} is not true or false")
        with self._lock:
            self._fill = on
            self._send(SetFill(on))
        self._notify(Change(ChangeKind.FILL, {"fill": on}, source))

    # -- tracks -----------------------------------------------------------------

    def add_track(self, name: str, voice: str, pattern: str,
                  notes: list[int | Pitch] | None = None, source: str = "") -> Track:
        """Add a track, or replace the one of that name in place (the original's /seq/add)."""
        name = _checked(check_name, name, "track name")
        voice = _checked(check_voice, voice, "voice")
        steps = _checked(parse_steps, pattern, "pattern")
        track = Track(name=name, voice=voice, steps=steps)
        if notes:
            _assign_notes(track, [_checked(check_pitch, n, "note") for n in notes])
        with self._journaled(source, ("track", name)):
            names = [t.name for t in self._pattern.tracks]
            in_place = name in names
            if in_place:
                old = self._pattern.tracks[names.index(name)]
                track = replace(track, mute=old.mute, solo=old.solo, level=old.level, gate=old.gate)
                _keep_options(old.steps + old.hidden, track.steps, voice)
                self._pattern.tracks[names.index(name)] = track
            else:
                if len(names) >= MAX_TRACKS:
                    raise SessionError(f"already {MAX_TRACKS} tracks; remove one first")
                self._pattern.tracks.append(track)
        self._edited(ChangeKind.TRACKS, {"track": name, "added": True}, source,
                     track=name if in_place else None)
        return track

    def remove_track(self, name: str, source: str = "") -> None:
        with self._lock:
            self._track(name)
            with self._journaled(source, ("track", name)):
                self._pattern.tracks.remove(self._track(name))
        self._edited(ChangeKind.TRACKS, {"track": name, "removed": True}, source)

    def clear_tracks(self, source: str = "") -> None:
        with self._lock:
            # Last track first: undo puts them back first track first, each at its place.
            last_first = [("track", t.name) for t in reversed(self._pattern.tracks)]
            with self._journaled(source, *last_first):
                self._pattern.tracks.clear()
        self._edited(ChangeKind.TRACKS, {"cleared": True}, source)

    def rename_track(self, name: str, new_name: str, source: str = "") -> None:
        """Rename a track in its place. History keys tracks by name, so the entry is the old
        name's track going and the new name's coming at the same index: undo swaps them back."""
        new_name = _checked(check_name, new_name, "track name")
        with self.edit_group(source, f"rename track {name} to {new_name}"):
            track = self._track(name)
            if new_name != name and any(t.name == new_name for t in self._pattern.tracks):
                raise SessionError(f"there is already a track named {new_name!r}")
            with self._journaled(source, ("track", name), ("track", new_name)):
                track.name = new_name
        self._edited(ChangeKind.TRACKS, {"track": new_name, "renamed": name}, source)

    def set_voice(self, name: str, voice: str, source: str = "") -> int:
        """Put a track on another voice. Its steps keep the locks the new voice can take
        (model.lockable_params: acid1's only on voice2); the others are dropped, as one edit
        with the voice (undo brings them back). Returns how many locks were dropped."""
        voice = _checked(check_voice, voice, "voice")
        with self._lock:
            track = self._track(name)
            stored = track.steps + track.hidden
            dropped = self.locks_lost(name, voice)
            # the history says so: "bass voice2 → voice3, 2 locks dropped" (undo brings them back)
            summary = f"{name} {track.voice} → {voice}" + (f", {dropped} locks dropped" if dropped else "")
            with self._journaled(source, ("track", name), summary=summary):
                track.voice = voice
                for step in stored:
                    step.locks = _lockable(step.locks, voice)
        self._edited(ChangeKind.TRACK, {"track": name, "voice": voice, "locks_dropped": dropped}, source,
                     track=name)
        return dropped

    def locks_lost(self, name: str, voice: str) -> int:
        """How many of track `name`'s step locks `voice` could not take (0: no such track)."""
        with self._lock:
            track = next((t for t in self._pattern.tracks if t.name == name), None)
            stored = track.steps + track.hidden if track is not None and voice in VOICES else []
            return sum(len(s.locks) - len(_lockable(s.locks, voice)) for s in stored)

    def duplicate_track(self, name: str, source: str = "") -> Track:
        """A copy of a track right after it, named "bass 2" (or the next number free)."""
        with self._lock:
            track = self._track(name)
            if len(self._pattern.tracks) >= MAX_TRACKS:
                raise SessionError(f"already {MAX_TRACKS} tracks; remove one first")
            copy = replace(track.copy(), name=_free_name(name, {t.name for t in self._pattern.tracks}))
            with self._journaled(source, ("track", copy.name)):
                self._pattern.tracks.insert(self._pattern.tracks.index(track) + 1, copy)
        self._edited(ChangeKind.TRACKS, {"track": copy.name, "added": True}, source)
        return copy

    def clear_track(self, name: str, source: str = "") -> None:
        """Every step a plain rest (no probability, condition, micro-timing, ratchet or locks
        either), the hidden ones too; length, voice and mix stay."""
        with self._lock:
            track = self._track(name)
            with self._journaled(source, ("track", name)):
                track.steps, track.hidden = [Step() for _ in track.steps], []
        self._edited(ChangeKind.TRACK, {"track": name, "cleared": True}, source, track=name)

    def paste_steps(self, name: str, index: int, steps: list[Step], source: str = "") -> int:
        """Write steps over a track's from step `index`, as one edit, with their expressive
        fields (but the locks this track's voice cannot take); those that would fall past
        the track's end are left out. Returns how many were written."""
        with self._lock:
            track = self._track(name)
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < track.length:
                raise SessionError(f"step {index!r} is outside track {name!r} (0–{track.length - 1})")
            fitting = steps[:track.length - index]
            with self._journaled(source, ("track", name)):
                track.steps[index:index + len(fitting)] = [
                    replace(copy_step(step), locks=_lockable(step.locks, track.voice)) for step in fitting]
        self._edited(ChangeKind.TRACK, {"track": name, "pasted": len(fitting)}, source, track=name)
        return len(fitting)

    def update_pattern(self, name: str, pattern: str, source: str = "") -> None:
        """New hits with the track's notes, in order, cycled over them: the original's
        /seq/update/pattern, whose notes were a list played over whatever the hits were.
        Each step keeps the expressive fields of the step at its place."""
        steps = _checked(parse_steps, pattern, "pattern")
        with self._lock:
            track = self._track(name)
        with self._journaled(source, ("track", name)):
            notes = [(s.note, s.cents) for s in track.steps if s.on and s.note is not None]
            _keep_options(track.steps + track.hidden, steps, track.voice)
            track.steps, track.hidden = steps, []  # a pattern string is the whole track
            if notes:
                _assign_notes(track, notes)
        self._edited(ChangeKind.TRACK, {"track": name}, source, track=name)

    def update_notes(self, name: str, notes: list[int | Pitch], source: str = "") -> None:
        """Notes (MIDI numbers, or [note, cents] pairs) onto the track's hits in order, cycling
        when there are fewer notes than hits."""
        checked = [_checked(check_pitch, n, "note") for n in notes]
        with self._lock:
            track = self._track(name)
            with self._journaled(source, ("track", name)):
                _assign_notes(track, checked)
        self._edited(ChangeKind.TRACK, {"track": name}, source, track=name)

    def set_step(self, name: str, index: int, on: bool | None = None, *,
                 note: int | Pitch | str | None = "keep", accent: bool | None = None,
                 slide: bool | None = None, source: str = "") -> Step:
        """Change one step; arguments left out keep their value (note=None clears the note).
        A note is a MIDI number (on the semitone grid: 0 cents) or a [note, cents] pair."""
        keep = isinstance(note, str) and note == "keep"
        new_note, new_cents = (None, 0.0) if keep or note is None else _checked(check_pitch, note, "note")
        with self._lock:
            track = self._track(name)
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < track.length:
                raise SessionError(f"step {index!r} is outside track {name!r} (0–{track.length - 1})")
            old = track.steps[index]
            # replace: its expressive fields stay
            step = replace(copy_step(old), on=old.on if on is None else bool(on),
                           accent=old.accent if accent is None else bool(accent),
                           note=old.note if keep else new_note,
                           slide=old.slide if slide is None else bool(slide),
                           cents=old.cents if keep else new_cents)
            with self._journaled(source, ("step", name, index)):
                track.steps[index] = step
        self._edited(ChangeKind.TRACK, {"track": name, "step": index}, source, track=name)
        return step

    def set_step_options(self, track: str, index: int, changes: Mapping[str, object],
                         source: str = "", *, lock_changes: Mapping[str, float | None] | None = None) -> Step:
        """Change a step's expressive fields: `changes` maps some of "prob" (0–100 %),
        "cond" (a trig condition, model.check_condition; None clears it), "micro" (−23–23
        24ths of a step), "ratchet" (1–8 hits) and "locks" ({param: value}, the whole set:
        {} clears them; model.lock_spec for the track's voice, at most MAX_LOCKS) to new
        values; `lock_changes` then sets single locks (param: value) or removes them
        (param: None) on top. All are checked first, then set together: one edit, one undo.
        FieldError (nothing changed) names the first bad one. Returns a copy of the step as set."""
        if not isinstance(changes, Mapping):
            raise FieldError("options", f"{excerpt(repr(changes), 40)} is not a mapping of option to value")
        for key in changes:
            if key not in patternfile.STEP_OPTIONS:
                raise FieldError(excerpt(str(key), 40),
                                 f"is not a step option ({', '.join(patternfile.STEP_OPTIONS)})")
        lock_changes = dict(lock_changes or {})

        def options(track_of: Track, step: Step) -> dict[str, object]:
            base = changes.get("locks", step.locks)
            if not lock_changes or not isinstance(base, dict):  # (not a dict: refused by name)
                return dict(changes)
            locks: dict[str, object] = dict(base)
            for key, value in lock_changes.items():
                lock_spec(track_of.voice, key)  # removing a lock the voice cannot have is refused too
                if value is None:
                    locks.pop(key, None)
                else:
                    locks[key] = value
            return {**changes, "locks": locks}

        with self._lock:
            track_of = self._step_track(track, index)
            old = track_of.steps[index]
            with _field_errors():
                checked = patternfile.step_options_from_dict(options(track_of, old), track_of.voice, "")
            step = replace(copy_step(old), **checked)
            with self._journaled(source, ("step", track, index)):
                track_of.steps[index] = step
        self._edited(ChangeKind.TRACK, {"track": track, "step": index, "options": sorted(checked)},
                     source, track=track)
        return copy_step(step)

    def set_step_lock(self, track: str, index: int, key: str, value: float | None,
                      source: str = "") -> Step:
        """Lock one parameter of a step (model.lockable_params of the track's voice) to
        `value`, or remove its lock (None; no lock there: nothing changes). One edit; a
        lock past MAX_LOCKS, a key the voice cannot lock or a value out of its range is
        refused (FieldError, nothing changed). Returns a copy of the step as set."""
        return self.set_step_options(track, index, {}, source, lock_changes={key: value})

    def step(self, track: str, index: int) -> Step:
        """A copy of one playing step (FieldError names a track or index that is not there)."""
        with self._lock:
            return copy_step(self._step_track(track, index).steps[index])

    def _step_track(self, name: str, index: object) -> Track:
        """The track `name`, once `index` is shown to be one of its playing steps (FieldError)."""
        try:
            track = self._track(name)
        except SessionError as exc:
            raise FieldError("track", str(exc)) from None
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < track.length:
            raise FieldError("index", f"step {excerpt(repr(index), 40)} is outside track {name!r} "
                                      f"(0–{track.length - 1})")
        return track

    def set_length(self, name: str, length: int, source: str = "") -> Clamped:
        """Set how many of a track's steps play. Steps past the length are kept, hidden:
        lengthening shows them again; steps never set are rests."""
        applied = _clamp(LENGTH_SPEC, length, "length")
        with self._lock:
            track = self._track(name)
            n = int(applied.value)
            with self._journaled(source, ("track", name)):
                track.resize(n)
        self._edited(ChangeKind.TRACK, {"track": name, "length": n, "clamped": applied.clamped}, source,
                     track=name)
        return applied

    def set_mute(self, name: str, mute: bool, source: str = "") -> None:
        self._set_track_field(name, "mute", bool(mute), source)

    def set_solo(self, name: str, solo: bool, source: str = "") -> None:
        self._set_track_field(name, "solo", bool(solo), source)

    def set_level(self, name: str, level: float, source: str = "") -> Clamped:
        applied = _clamp(LEVEL_SPEC, level, "level")
        self._set_track_field(name, "level", applied.value, source)
        return applied

    def set_gate(self, name: str, gate: float, source: str = "") -> Clamped:
        applied = _clamp(GATE_SPEC, gate, "gate")
        self._set_track_field(name, "gate", applied.value, source)
        return applied

    def _set_track_field(self, name: str, field_name: str, value: object, source: str) -> None:
        with self._lock:
            track = self._track(name)
            with self._journaled(source, ("field", name, field_name)):
                setattr(track, field_name, value)
        self._edited(ChangeKind.TRACK, {"track": name, field_name: value}, source, track=name)

    def has_track(self, name: str) -> bool:
        with self._lock:
            return any(track.name == name for track in self._pattern.tracks)

    def _track(self, name: str) -> Track:
        try:
            return self._pattern.track(name)
        except PatternError:
            raise SessionError(f"no track named {name!r}") from None

    # -- transport --------------------------------------------------------------

    def start(self, source: str = "") -> None:
        with self._lock:
            self.transport.playing = True
            self._send(SetTransport(True))
        self._notify(Change(ChangeKind.TRANSPORT, {"playing": True}, source))

    def stop(self, source: str = "") -> None:
        """Stop; a load still queued for the bar line applies at once."""
        with self._lock:
            self.transport.playing = False
            self.transport.bar = self.transport.step = 0
            pending, self._pending = self._pending, None
            if pending is not None and pending.source in (CHAIN_SOURCE, FOLLOW_SOURCE):  # stops where it is
                self.transport.queued_slot, pending = None, None
                self._send(CancelQueued())
            self._send(SetTransport(False))
        self._notify(Change(ChangeKind.TRANSPORT, {"playing": False}, source))
        if pending is not None:
            self.apply_snapshot(pending.pattern, "now", slot=pending.slot, source=pending.source)

    def gate(self, voice: str, on: bool, source: str = "") -> None:
        voice = _checked(check_voice, voice, "voice")
        with self._lock:
            self._send(Gate(voice, bool(on)))
        self._notify(Change(ChangeKind.GATE, {"voice": voice, "on": bool(on)}, source))

    # -- slots ------------------------------------------------------------------

    def save_slot(self, slot: int, name: str | None = None, source: str = "") -> Path:
        """Save the live pattern to a slot (the disk is written outside the lock).

        A failed save (disk full, read-only) raises SessionError; the old file is untouched.
        """
        slot = _checked(check_slot, slot, "slot")
        snap = self.snapshot()
        if name is not None:
            name = _checked(check_name, name, "name")
        moved_aside: list[str] = []
        try:
            path = self.store.save(slot, snap, name=name, moved_aside=moved_aside)
        except StoreError as exc:
            raise SessionError(str(exc)) from exc
        finally:
            self._report_moved_aside(moved_aside, source)
        if slot != AUTOSAVE_SLOT:
            self._notify(Change(ChangeKind.SAVED, {"slot": slot, "name": name or snap["name"],
                                                   "path": str(path), "follow": "follow" in snap}, source))
        return path

    def load_slot(self, slot: int, at: LoadAt | None = None, source: str = "") -> PendingLoad | None:
        """Load a slot; an original Music Chronus file also tells listeners ("imported")
        which of its fields had no place here, so nothing is lost silently."""
        slot = _checked(check_slot, slot, "slot")
        dropped: list[str] = []
        try:
            pattern = self.store.load(slot, dropped=dropped)
        except StoreError as exc:
            raise SessionError(str(exc)) from exc
        return self._load_slot_pattern(slot, pattern, dropped, at, source)

    def load_preloaded_slot(self, slot: int, at: LoadAt | None = None, source: str = "") -> bool:
        """load_slot with no file read, for the UI thread: False (nothing changed) unless the
        slot's pattern is in memory and its file unchanged since (preload_slots)."""
        slot = _checked(check_slot, slot, "slot")
        dropped: list[str] = []
        pattern = self.store.load_kept(slot, dropped=dropped)
        if pattern is None:
            return False
        self._load_slot_pattern(slot, pattern, dropped, at, source)
        return True

    def preload_slots(self, slots: Iterable[int]) -> None:
        """Read these slots into memory (disk work: off the UI thread) for load_preloaded_slot."""
        self.store.preload(slots)

    def _load_slot_pattern(self, slot: int, pattern: Pattern, dropped: list[str], at: LoadAt | None,
                           source: str) -> PendingLoad | None:
        pending = self.apply_snapshot(pattern, at, slot=slot, source=source)
        if dropped:
            self._notify(Change(ChangeKind.IMPORTED, {"slot": slot, "dropped": dropped}, source))
        return pending

    def rename_slot(self, slot: int, name: str, source: str = "") -> Path:
        name = _checked(check_name, name, "name")
        slot = _checked(check_slot, slot, "slot")
        try:
            path = self.store.rename(slot, name)
        except StoreError as exc:
            raise SessionError(str(exc)) from exc
        with self._lock:
            if self.transport.playing_slot == slot:
                with self._journaled(source, ("name",)):
                    self._pattern.name = name
        self._notify(Change(ChangeKind.RENAMED, {"slot": slot, "name": name}, source))
        return path

    def _report_moved_aside(self, messages: list[str], source: str) -> None:
        """Say once, in the log and to listeners (a toast in the UI), that a save moved an
        unreadable slot file aside instead of overwriting it."""
        for message in messages:
            log.warning("%s", message)
            self.report_error(message, source)

    def list_slots(self) -> list[SlotInfo]:
        return self.store.list()

    def autosave(self) -> Path:
        return self.save_slot(AUTOSAVE_SLOT)

    # -- chains (chainplay.py plays them) ----------------------------------------------

    def set_chain(self, chain: Chain, song: str | None = None, source: str = "") -> None:
        """The chain to play (a song's, named `song`); one playing stops, its pattern plays on."""
        self._chains.set(chain, song, source)

    def clear_chain(self, source: str = "") -> None:
        """No chain set (nor song): one playing stops, its pattern plays on."""
        self._chains.set(None, None, source)

    def start_chain(self, at: LoadAt | None = None, entry: int = 0, source: str = "") -> PendingLoad | None:
        """Start the chain at `entry` (0-based) with launch quantize `at`; while stopped it
        loads at once and plays."""
        if at is not None and at not in QUANTUM_STEPS:
            raise SessionError(f"launch quantize {at!r} is not one of {', '.join(QUANTUM_STEPS)}")
        try:
            return self._chains.start(at, entry, source)
        except (ChainError, StoreError) as exc:
            raise SessionError(str(exc)) from exc

    def stop_chain(self, source: str = "") -> bool:
        return self._chains.stop(source)

    def chain_status(self) -> dict[str, Any]:
        """The chain set, and where it plays: entry and repeat (1-based), slot, next slot."""
        return self._chains.status()

    def announce_chain(self, status: dict[str, Any], source: str) -> None:
        self._notify(Change(ChangeKind.CHAIN, status, source))
        if status["song"] is not None:
            self._notify(Change(ChangeKind.SONG, status, source))

    # -- songs: a chain with a name, kept in songs/<name>.json (songs.py: the format) ---------

    def save_song(self, name: str, source: str = "") -> Path:
        """Save the chain set, its entries' tempos and mutes too, as the song `name`, which it is
        from then on (a chain playing plays on). A failed save raises; the old file is kept."""
        name = _checked(check_song_name, name, "song name")
        chain = self._chains.chain
        if chain is None:
            raise SessionError("no chain is set: set one or load a song first")
        moved_aside: list[str] = []
        try:
            path = self.store.save_song(name, chain, moved_aside=moved_aside)
        except StoreError as exc:
            raise SessionError(str(exc)) from exc
        finally:
            self._report_moved_aside(moved_aside, source)
        self._chains.edit(chain, name, {index: index for index in range(len(chain.entries))}, source)
        return path

    def load_song(self, name: str, source: str = "") -> Chain:
        """Make the song `name` the chain set (a chain playing stops; its pattern plays on)."""
        name = _checked(check_song_name, name, "song name")
        try:
            chain = self.store.load_song(name)
        except StoreError as exc:
            raise SessionError(str(exc)) from exc
        self.set_chain(chain, song=name, source=source)
        return chain

    def list_songs(self) -> list[SongInfo]:
        return self.store.songs()

    def play_song(self, entry: int = 0, source: str = "") -> PendingLoad | None:
        """Start the song loaded at `entry` (0-based), with the session's launch quantize."""
        if self._chains.song is None:
            raise SessionError("no song is loaded: load one first (/song/load NAME)")
        return self.start_chain(None, entry, source)

    def song_status(self) -> dict[str, Any]:
        """chain_status, and the song's entries as its file holds them (slot, repeats, bpm, mute)."""
        chain = self._chains.chain
        entries = [song_entry_dict(entry) for entry in chain.entries] if chain is not None else []
        return {**self.chain_status(), "song_entries": entries}

    def set_song_entry(self, index: int, *, slot: int | Keep = "keep", repeats: int | Keep = "keep",
                       bpm: float | Keep | None = "keep", mute: Muted | Keep | None = "keep",
                       source: str = "") -> ChainEntry:
        """Change entry `index` (0-based) of the chain set: its slot, repeats, tempo (None: the
        slot's own) or muted tracks (None: as the slot has them); "keep" leaves one as it is."""
        entries = self._song_entries(index)
        entry = entries[index]
        entries[index] = self._song_entry(entry.slot if slot == "keep" else slot,
                                          entry.repeats if repeats == "keep" else repeats,
                                          entry.bpm if bpm == "keep" else bpm,
                                          entry.mute if mute == "keep" else mute)
        self._edit_song(entries, list(range(len(entries))), source)
        return entries[index]

    def insert_song_entry(self, index: int, slot: int, repeats: int = 1, bpm: float | None = None,
                          mute: Muted | None = None, source: str = "") -> ChainEntry:
        """A new entry at `index` (0 … the number of entries); with no chain set, the first."""
        entries = self._song_entries(index, extra=1)
        entry = self._song_entry(slot, repeats, bpm, mute)
        places: list[int | None] = list(range(len(entries)))
        entries.insert(index, entry)
        places.insert(index, None)
        self._edit_song(entries, places, source)
        return entry

    def remove_song_entry(self, index: int, source: str = "") -> ChainEntry:
        entries = self._song_entries(index)
        places: list[int | None] = list(range(len(entries)))
        removed = entries.pop(index)
        places.pop(index)
        self._edit_song(entries, places, source)
        return removed

    def move_song_entry(self, index: int, to: int, source: str = "") -> None:
        """Move entry `index` to place `to` (both 0-based); the others close up around it."""
        entries = self._song_entries(index)
        self._song_entries(to)
        places: list[int | None] = list(range(len(entries)))
        entries.insert(to, entries.pop(index))
        places.insert(to, places.pop(index))
        self._edit_song(entries, places, source)

    def set_song_loop(self, loop: bool, source: str = "") -> None:
        """Whether the chain set starts again after its last entry, or stops there."""
        entries = self._song_entries(0)
        self._edit_song(entries, list(range(len(entries))), source, loop=bool(loop))

    def _song_entries(self, index: object, extra: int = 0) -> list[ChainEntry]:
        """The chain set's entries, once `index` is shown to be one of them (or, with `extra`,
        the place after the last)."""
        chain = self._chains.chain
        entries = list(chain.entries) if chain is not None else []
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(entries) + extra:
            raise SessionError(f"entry {index!r} is not one of the chain's {len(entries)} entries")
        return entries

    @staticmethod
    def _song_entry(slot: object, repeats: object, bpm: object, mute: object) -> ChainEntry:
        try:
            entry = check_entry(slot, repeats)
            return ChainEntry(entry.slot, entry.repeats, check_entry_bpm(bpm), check_entry_mute(mute))
        except (ChainError, PatternError) as exc:
            raise SessionError(str(exc)) from exc

    def _edit_song(self, entries: list[ChainEntry], places: list[int | None], source: str,
                   loop: bool | None = None) -> None:
        """The chain set becomes `entries`; `places` has each one's old index (None: new)."""
        chain = self._chains.chain
        if loop is None:
            loop = chain.loop if chain is not None else True
        try:
            edited = Chain(check_entries(entries), loop)
        except ChainError as exc:
            raise SessionError(str(exc)) from exc
        moved = {old: new for new, old in enumerate(places) if old is not None}
        self._chains.edit(edited, self._chains.song, moved, source)

    # -- engine events ----------------------------------------------------------

    def on_engine_event(self, event: Event) -> None:
        """Events from the engine client: position, switched, status, error, and the
        process's life: down (died; retry_in seconds to the next attempt), restarting, restarted."""
        match event:
            case Position(bar=bar, step=step):
                with self._lock:
                    self.transport.bar, self.transport.step = bar, step
                self._notify(Change(ChangeKind.POSITION, {"bar": bar, "step": step}, "engine"))
            case Switched(token=token, sample=sample):
                with self._lock:
                    pending = self._pending
                    if pending is None or pending.token != token:
                        return
                    self._pending = None
                    self.transport.queued_slot = None
                    with self._journaled(pending.source, ("pattern",)):
                        self._switch_to(pending.pattern, pending.slot)
                self._notify(Change(ChangeKind.PATTERN, {"slot": pending.slot, "name": pending.pattern.name,
                                                         "sample": sample, "switched": True,
                                                         "token": pending.token},
                                    pending.source))
            case Status():
                data = event.as_dict()
                with self._lock:
                    self.transport.engine.update({k: v for k, v in data.items() if k != "event"})
                self._notify(Change(ChangeKind.ENGINE, data, "engine"))
            case Down() | Restarting():
                with self._lock:
                    t = self.transport
                    t.engine_state = event.kind
                    if isinstance(event, Down):
                        t.engine_error = event.message
                        t.engine_retry_at = time.monotonic() + event.retry_in
                        if self.recording is not None:  # no time counts until the next part sounds
                            self.recording.engine_down()
                    else:
                        t.engine_retry_at = None
                self._notify(Change(ChangeKind.ENGINE, event.as_dict(), "engine"))
            case Restarted():
                with self._lock:
                    t = self.transport
                    t.engine_state, t.engine_error, t.engine_retry_at = "up", None, None
                    t.engine_restarts += 1
                    self.resync()
                self._notify(Change(ChangeKind.ENGINE, event.as_dict(), "engine"))
            case EngineMessage(message=message):
                self._notify(Change(ChangeKind.ERROR, {"message": message}, "engine"))
            case RecordingStarted() | RecordingStopped():
                with self._lock:
                    rec = self.recording
                    if rec is None or str(rec.path) != event.path:
                        return  # a stopped recording's last word
                    if isinstance(event, RecordingStarted):
                        rec.started = time.monotonic()
                    else:  # it stopped by itself (the engine said why in an EngineMessage)
                        self.recording = None
                self._notify(Change(ChangeKind.ENGINE, event.as_dict(), "engine"))

    # -- recording and the audio on or off --------------------------------------------
    # The synth writes the file (from the next bar line while playing); the Session names it
    # (recording.py) and, after an engine restart, asks the new engine for the next part.

    def start_recording(self, name: str | None = None, source: str = "") -> recording.Recording:
        """Record the set to `<recordings folder>/<name>.wav` (a timestamp without a name)."""
        if self.engine is None:
            raise SessionError("no engine: nothing to record")
        with self._lock:
            self._check_not_recording()
        try:  # the folder is made and the name found outside the lock: disk work
            rec = recording.start(recording.recordings_folder(self.store.root), name)
        except recording.RecordingError as exc:
            raise SessionError(str(exc)) from None
        with self._lock:
            self._check_not_recording()  # another start may have come meanwhile
            self.recording = rec
            if self.transport.engine_state == "up":  # else the engine that starts next records it
                rec.sent = True
                self._send(StartRecording(str(rec.path)))
        self._notify(Change(ChangeKind.ENGINE, {"event": "record", **rec.as_dict()}, source))
        return rec

    def _check_not_recording(self) -> None:
        if self.recording is not None:
            raise SessionError(f"already recording to {self.recording.path.name}")

    def stop_recording(self, source: str = "") -> recording.Recording | None:
        """Close the recording; None if there was none."""
        with self._lock:
            rec, self.recording = self.recording, None
            if rec is not None:
                self._send(StopRecording())
        if rec is not None:
            self._notify(Change(ChangeKind.ENGINE, {"event": "record", "recording": False,
                                                    "file": str(rec.path)}, source))
        return rec

    def recording_status(self) -> dict[str, Any]:
        with self._lock:
            rec = self.recording
            return rec.as_dict() if rec is not None else {"recording": False, "file": None, "seconds": 0.0}

    def stop_engine(self, source: str = "") -> bool:
        """Stop the audio (a recording is closed first); the session and OSC go on. False if stopped."""
        with self._lock:
            if self.engine is None or self.transport.engine_state == "stopped":
                return False
        self.stop_recording(source)
        with self._lock:
            if not self.engine.halt():
                return False
            self.transport.engine_state = "stopped"
        self._notify(Change(ChangeKind.ENGINE, {"event": "stopped"}, source))
        return True

    def start_engine(self, source: str = "") -> bool:
        """Start the audio again after stop_engine(); Restarted resyncs the live state."""
        with self._lock:
            if self.engine is None or not self.engine.resume():
                return False
            self.transport.engine_state = "restarting"
        self._notify(Change(ChangeKind.ENGINE, {"event": "restarting"}, source))
        return True

    def resync(self) -> None:
        """Send the whole live state to a (new) engine process."""
        with self._lock:
            self._send(ReplacePattern(self._pattern.copy(), "now"))
            self._send(SetTransport(self.transport.playing))
            if self._fill:  # a new engine starts with fill mode off
                self._send(SetFill(True))
            if (pending := self._pending) is not None:
                self._send(ReplacePattern(pending.pattern.copy(), _engine_mode(pending.at), pending.token,
                                          pending.every))
            if (rec := self.recording) is not None:  # a new engine: the recording goes on in the next part
                try:
                    if rec.sent:
                        recording.next_part(rec)
                    rec.sent = True
                    self._send(StartRecording(str(rec.path), at_bar=False))
                except recording.RecordingError as exc:
                    self.recording = None
                    log.error("recording stopped: %s", exc)


def _engine_mode(at: LoadAt) -> LoadMode:
    """The engine's load mode for `at`: every launch quantize is a "bar" load with its quantum."""
    return "bar" if at in QUANTUM_STEPS else at  # type: ignore[return-value]


def _merged(ops: list[Op], live: Pattern, slot: int | None) -> tuple[tuple[Op, ...], str]:
    """One op per target: the first one's before, the last one's after; none left unchanged.
    Also what they did, in words.

    Ops whose targets overlap (a track's level and the whole track; anything and a load)
    become one op on what holds them all (the track; the pattern, also when several tracks
    came or went, so that undo puts each back in its place), from its state before the
    group, worked back from the live state (pattern, slot) through the ops' befores, to its
    state now: as separate ops, undo or redo would find a value not as its op left it (a
    later op changed it too) and refuse."""
    firsts: dict[Target, Op] = {}
    lasts: dict[Target, Op] = {}
    for op in ops:
        firsts.setdefault(op.target, op)
        lasts[op.target] = op
    merged = [Op(t, first.before, lasts[t].after) for t, first in firsts.items()]
    described = history.describe(op for op in merged if not history.same(op.target, op.before, op.after))
    holders = {("track", t[1]) for t in firsts if t[0] in ("step", "field") and ("track", t[1]) in firsts}
    if (("pattern",) in firsts and len(firsts) > 1) or (holders and sum(t[0] == "track" for t in firsts) > 1):
        holders = {("pattern",)}
    if holders:
        # One track's state depends on its own ops alone (no other track came or went): only
        # that track is copied and worked back.
        whole = ("pattern",) in holders
        start = live.copy() if whole else replace(
            live, tracks=[t.copy() if ("track", t.name) in holders else t for t in live.tracks])
        start_slot = slot
        for op in reversed(ops):
            if whole or any(history.overlap(op.target, holder) for holder in holders):
                switched = history.write(start, op.target, op.before)
                if switched is not None:
                    start, start_slot = switched
        merged = [op for op in merged if not any(history.overlap(op.target, holder) for holder in holders)]
        merged += [Op(holder, history.read(start, start_slot, holder), history.read(live, slot, holder))
                   for holder in holders]
    return tuple(op for op in merged if not history.same(op.target, op.before, op.after)), described


def _free_name(name: str, taken: set[str]) -> str:
    """ "bass" → "bass 2", "bass 2" → "bass 3": the first number free, cut to fit MAX_NAME."""
    stem, _, number = name.rpartition(" ")
    if not (stem and number.isdigit()):
        stem = name
    number = 2
    while (candidate := f"{stem[:MAX_NAME - len(str(number)) - 1]} {number}") in taken:
        number += 1
    return candidate


def _journal_values(values: list[tuple[Target, Any]]) -> list[list[Any]]:
    return [[list(target), value] for target, value in values]


def _value_from_record(raw: object) -> tuple[Target, Any]:
    """A [target, value] of an undo or redo record (HistoryError when it is not one)."""
    if not (type(raw) is list and len(raw) == 2):
        raise HistoryError(f"{str(raw)[:80]} is not [target, value]")
    return history.target_from_record(raw[0]), raw[1]


def _lockable(locks: dict[str, float], voice: str) -> dict[str, float]:
    """The locks a step of a track on `voice` can hold (a copy)."""
    keys = lockable_params(voice)
    return {key: value for key, value in locks.items() if key in keys}


def _keep_options(old: list[Step], new: list[Step], voice: str) -> None:
    """Give each new step the expressive fields of the old step at its place (its locks
    that `voice` can take): a track's hits rewritten keep their trig settings."""
    for before, step in zip(old, new, strict=False):
        step.prob, step.cond, step.micro = before.prob, before.cond, before.micro
        step.ratchet, step.locks = before.ratchet, _lockable(before.locks, voice)


@contextmanager
def _field_errors() -> Iterator[None]:
    """A model check's PatternError as a FieldError (a SessionError naming the field)."""
    try:
        yield
    except FieldError:
        raise
    except PatternError as exc:
        raise FieldError(exc.path, exc.message) from None


def _assign_notes(track: Track, notes: list[Pitch]) -> None:
    hits = [s for s in track.steps if s.on]
    for i, step in enumerate(hits):
        step.note, step.cents = notes[i % len(notes)] if notes else (None, 0.0)


def _clamp(spec: ParamSpec, value: object, what: str) -> Clamped:
    try:
        return Clamped(*spec.clamp_number(value, what))
    except PatternError as exc:
        raise SessionError(str(exc)) from exc


def _checked(check: Callable[[Any, str], Any], value: object, what: str) -> Any:
    """Run a model or store check, turning its error into a SessionError."""
    try:
        return check(value, what)
    except (PatternError, StoreError) as exc:
        raise SessionError(str(exc)) from exc
