"""The edit history: undo, redo and the journal, by properties over random edits and by examples.

Properties (hypothesis, over random sequences of every kind of Session edit from several
authors, on a fake engine that plays what it is told and a fake clock for coalescing):
- undoing everything returns the first state exactly (pattern and playing slot); redoing
  everything returns the last;
- the engine was told every change, undos and redos included: what it plays is the live state;
- replaying the journal's records onto the base state gives the same state and history, and
  the same state when the journal was rebased at any moment (an undo of an entry made
  before the rebase replays by the values its record carries);
- an author's undo changes only values that author set last, or is refused and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.fakes import FakeClock, FakeEngine
from support.journal import JournalRecorder
from support.patterns import full_pattern

from chronus_tui import history, patternfile
from chronus_tui import session as session_module
from chronus_tui.engine.protocol import (
    CancelQueued,
    Command,
    ReplacePattern,
    ReplaceTrack,
    SetParam,
    SetTempo,
    SetTransport,
    Switched,
)
from chronus_tui.history import History
from chronus_tui.journalfile import JournalWriter, journal_path
from chronus_tui.model import LENGTH_RANGE, MODULE_PARAMS, VOICES, Pattern, Step, Track, parse_steps
from chronus_tui.recovery import read_recovery
from chronus_tui.session import LOAD_MODES, Session, SessionError
from chronus_tui.store import SlotStore

PROPERTY = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
AUTHORS = ("ui", "osc 127.0.0.1:5000", "osc 127.0.0.1:6000")
TRACK_NAMES = ("kick", "bass", "track1", "track2")
ALL_PARAMS = [(module, spec.name) for module, specs in MODULE_PARAMS.items() for spec in specs]
SLOTS = {1: full_pattern(3, 32, "slot one"), 2: full_pattern(1, 16, "slot two")}
EMPTY_SLOT = 7


def first_pattern() -> Pattern:
    kick = Track("kick", "voice1", parse_steps("x...x...x...x..."))
    bass = Track("bass", "voice2", [Step(i % 3 == 0, i % 5 == 0, 36 + i, i % 7 == 0) for i in range(16)],
                 level=0.7)
    return Pattern(name="first", bpm=124.0, tracks=[kick, bass])


# Patterns apply_snapshot loads (as a client's JSON would come).
SNAPSHOTS = [patternfile.pattern_to_dict(full_pattern(2, 64, "snapshot")),
             patternfile.pattern_to_dict(Pattern(name="bare", bpm=90.0))]


# -- a fake engine that plays what it is told ---------------------------------------


class PlayingEngine(FakeEngine):
    """A FakeEngine that also keeps what the synth would play, from the commands alone: the
    live pattern, the load queued for the bar line, whether the transport runs. The name is
    no part of it (the synth never hears of names)."""

    def __init__(self, pattern: Pattern) -> None:
        super().__init__()
        self.live = pattern.copy()
        self.queued: ReplacePattern | None = None
        self.playing = False

    def send(self, command: Command) -> None:
        super().send(command)
        match command:
            case ReplacePattern(mode="bar" | "step") if self.playing:
                self.queued = command
            case ReplacePattern(pattern=pattern, mode=mode):
                if mode in ("bar", "step"):
                    self.queued = None
                self.live = pattern.copy()
            case ReplaceTrack(index=index, track=track):
                self.live.tracks[index] = track.copy()
            case SetParam(module=module, param=param, value=value):
                self.live.modules[module][param] = value
            case SetTempo(bpm=bpm, swing=swing):
                self.live.bpm, self.live.swing = bpm, swing
            case SetTransport(playing=playing):
                self.playing = playing
            case CancelQueued():
                self.queued = None

    def switch(self) -> Switched:
        """The queued load takes effect at the bar line: the event the synth would send."""
        assert self.queued is not None, "the session has a queued load the engine was never told of"
        command, self.queued = self.queued, None
        self.live = command.pattern.copy()
        return Switched(command.token)


def played(pattern: Pattern) -> dict[str, Any]:
    """What of a pattern the synth plays: all of it but its name and save time."""
    data = patternfile.pattern_to_dict(pattern)
    del data["name"], data["saved_at"]
    return data


# -- random edits ----------------------------------------------------------------------

authors = st.sampled_from(AUTHORS)
names = st.sampled_from(TRACK_NAMES)
numbers = (st.floats(-100, 6000, allow_nan=False) | st.integers(-5, 10)
           | st.sampled_from([float("inf"), float("-inf"), float("nan"), True, "1"]))
params = (st.sampled_from([("acid1", "cutoff"), ("voice1", "osc/type"), ("master", "volume")])
          | st.sampled_from([*ALL_PARAMS, ("acid1", "nope"), ("voice9", "freq")]))
notes = st.integers(-2, 130)
step_strings = st.text(alphabet="xX.", max_size=20) | st.just("x" * 65)
maybe_bool = st.none() | st.booleans()

edits = st.one_of(
    st.tuples(st.just("param"), authors, params, numbers),
    st.tuples(st.just("bpm"), authors, numbers),
    st.tuples(st.just("swing"), authors, st.floats(-0.2, 0.8)),
    st.tuples(st.just("name"), authors, st.sampled_from(["one", "two", "", "x" * 40])),
    st.tuples(st.just("add"), authors, names, st.sampled_from([*VOICES[:3], "voice0"]), step_strings,
              st.none() | st.lists(notes, max_size=4)),
    st.tuples(st.just("remove"), authors, names),
    st.tuples(st.just("clear"), authors),
    st.tuples(st.just("update_pattern"), authors, names, step_strings),
    st.tuples(st.just("update_notes"), authors, names, st.lists(notes, max_size=4)),
    st.tuples(st.just("step"), authors, names, st.integers(-1, 20), maybe_bool,
              st.sampled_from(["keep", None]) | notes, maybe_bool, maybe_bool),
    st.tuples(st.just("length"), authors, names, st.integers(LENGTH_RANGE[0] - 1, LENGTH_RANGE[1] + 2)
              | st.sampled_from([4, 8, 16, 24])),
    st.tuples(st.just("field"), authors, names, st.sampled_from(["mute", "solo"]), st.booleans()),
    st.tuples(st.just("field"), authors, names, st.sampled_from(["level", "gate"]), st.floats(-0.5, 1.5)),
    st.tuples(st.just("snapshot"), authors, st.integers(0, len(SNAPSHOTS) - 1), st.sampled_from(LOAD_MODES)),
    st.tuples(st.just("load"), authors, st.sampled_from([*SLOTS, EMPTY_SLOT]), st.sampled_from(LOAD_MODES)),
)
# What happens between edits: time passes (coalescing), the transport starts or stops, a
# queued load reaches its bar line or is cancelled.
events = st.one_of(
    st.tuples(st.just("wait"), st.sampled_from([0.1, 0.3, 0.6, 2.0])),
    st.tuples(st.just("transport"), st.booleans()),
    st.tuples(st.just("switch")),
    st.tuples(st.just("cancel")),
)
travels = st.tuples(st.sampled_from(["undo", "redo"]), authors, st.booleans(), st.integers(1, 3))
own_undos = st.tuples(st.just("undo"), authors, st.just(False), st.just(1))
# Edits of a few values, so that authors often change what another changed before.
contested = st.one_of(
    st.tuples(st.just("bpm"), authors, st.integers(60, 200)),
    st.tuples(st.just("param"), authors, st.just(("acid1", "cutoff")), st.integers(100, 4000)),
    st.tuples(st.just("step"), authors, st.just("kick"), st.integers(0, 1), maybe_bool,
              st.just("keep") | notes, maybe_bool, maybe_bool),
    st.tuples(st.just("field"), authors, st.just("kick"), st.just("level"), st.floats(0, 1)),
    st.tuples(st.just("length"), authors, st.just("kick"), st.sampled_from([4, 8, 16])),
    st.tuples(st.just("remove"), authors, st.just("kick")),
    st.tuples(st.just("add"), authors, st.just("kick"), st.just("voice1"), step_strings, st.none()),
    st.tuples(st.just("load"), authors, st.sampled_from([*SLOTS]), st.just("now")),
)
groups = st.tuples(st.just("group"), authors, st.lists(edits | contested, min_size=2, max_size=5))
edit_runs = (st.lists(st.one_of(edits, edits, events, groups), max_size=30)
             | st.lists(st.one_of(contested, events), max_size=30))
mixed_runs = (st.lists(st.one_of(edits, edits, events, groups, travels, own_undos), max_size=40)
              | st.lists(st.one_of(contested, contested, events, groups, travels, own_undos), max_size=40))


def _edit(session: Session, kind: str, author: str, *args: Any) -> None:
    calls: dict[str, Callable[..., object]] = {
        "param": lambda target, value: session.set_param(*target, value, source=author),
        "bpm": lambda value: session.set_bpm(value, source=author),
        "swing": lambda value: session.set_swing(value, source=author),
        "name": lambda name: session.set_name(name, source=author),
        "add": lambda name, voice, steps, track_notes: session.add_track(name, voice, steps, track_notes,
                                                                          source=author),
        "remove": lambda name: session.remove_track(name, source=author),
        "clear": lambda: session.clear_tracks(source=author),
        "update_pattern": lambda name, steps: session.update_pattern(name, steps, source=author),
        "update_notes": lambda name, track_notes: session.update_notes(name, track_notes, source=author),
        "step": lambda name, index, on, note, accent, slide: session.set_step(
            name, index, on, note=note, accent=accent, slide=slide, source=author),
        "length": lambda name, length: session.set_length(name, length, source=author),
        "field": lambda name, field_name, value: getattr(session, f"set_{field_name}")(name, value,
                                                                                        source=author),
        "snapshot": lambda index, at: session.apply_snapshot(SNAPSHOTS[index], at, source=author),
        "load": lambda slot, at: session.load_slot(slot, at, source=author),
    }
    with suppress(SessionError):  # refused: nothing changed (test_session proves that)
        calls[kind](*args)


def step(session: Session, engine: PlayingEngine, clock: FakeClock, action: tuple[Any, ...]) -> None:
    """Do one random action: an edit, a group of edits, an event, an undo or a redo."""
    kind, *args = action
    if kind == "wait":
        clock.now += args[0]
    elif kind == "transport":
        (session.start if args[0] else session.stop)()
    elif kind == "switch":
        if session.pending is not None:
            session.on_engine_event(engine.switch())
    elif kind == "cancel":
        session.cancel_queued()
    elif kind == "group":
        author, inner = args
        with session.edit_group(author):
            for edit in inner:
                _edit(session, edit[0], author, *edit[2:])
    elif kind in ("undo", "redo"):
        author, everyone, count = args
        travel = session.undo if kind == "undo" else session.redo
        with suppress(SessionError):  # nothing to undo, or a conflict: the properties check what it left
            travel(count, everyone=everyone, source=author)
    else:
        _edit(session, kind, *args)


@pytest.fixture
def slots(store: SlotStore) -> SlotStore:
    for slot, pattern in SLOTS.items():
        store.save(slot, patternfile.pattern_to_dict(pattern))
    return store


def new_session(store: SlotStore) -> tuple[Session, PlayingEngine, FakeClock]:
    clock = FakeClock()
    engine = PlayingEngine(first_pattern())
    session = Session(store, engine, first_pattern())
    session.history = History(clock=clock)
    return session, engine, clock


def state(session: Session) -> tuple[dict[str, Any], int | None]:
    return session.snapshot(), session.transport.playing_slot


def history_view(session: Session) -> list[tuple[dict[str, Any], str | None, list[Any]]]:
    """Everything a history shows or acts on: each entry as /history shows it, who undid it,
    and its operations as the journal has them."""
    return [(e.as_dict(), e.undone_by, e.record()["ops"]) for e in session.history.entries]


def assert_engine_agrees(session: Session, engine: PlayingEngine) -> None:
    assert played(engine.live) == played(session.pattern)


# -- properties ------------------------------------------------------------------------


@PROPERTY
@given(actions=edit_runs)
def test_undoing_every_edit_returns_the_first_state_and_redoing_them_the_last(
        slots: SlotStore, actions: list[tuple[Any, ...]]) -> None:
    session, engine, clock = new_session(slots)
    first = state(session)
    for action in actions:
        step(session, engine, clock, action)
    last = state(session)
    count = len(session.history)
    if count == 0:
        assert last == first
        return
    assert len(session.undo(count, everyone=True, source="ui")) == count
    assert state(session) == first
    assert_engine_agrees(session, engine)
    assert len(session.redo(count, everyone=True, source="ui")) == count
    assert state(session) == last
    assert_engine_agrees(session, engine)


@PROPERTY
@given(actions=mixed_runs)
def test_the_engine_is_told_every_change_undos_and_redos_included(
        slots: SlotStore, actions: list[tuple[Any, ...]]) -> None:
    session, engine, clock = new_session(slots)
    for action in actions:
        step(session, engine, clock, action)
        assert_engine_agrees(session, engine)


@PROPERTY
@given(actions=mixed_runs)
def test_replaying_the_journal_gives_the_same_state_and_history(
        slots: SlotStore, actions: list[tuple[Any, ...]]) -> None:
    session, engine, clock = new_session(slots)
    journal = JournalRecorder(session)
    for action in actions:
        step(session, engine, clock, action)

    recovered = journal.recover(slots)
    assert state(recovered) == state(session)
    assert history_view(recovered) == history_view(session)
    for author in AUTHORS:  # the next undo and redo of each author are the same entries
        for pick in (recovered.history.to_undo, recovered.history.to_redo):
            theirs = getattr(session.history, pick.__name__)(author, False)
            ours = pick(author, False)
            assert (ours and ours.id) == (theirs and theirs.id)


@PROPERTY
@given(actions=mixed_runs, rebase_every=st.integers(1, 6))
def test_replaying_a_journal_rebased_at_any_moment_gives_the_same_state(
        slots: SlotStore, actions: list[tuple[Any, ...]], rebase_every: int) -> None:
    """After a rebase the journal holds no entry made before it: an undo or redo of one
    replays by the values its record carries."""
    session, engine, clock = new_session(slots)
    journal = JournalRecorder(session, rebase_every)
    for action in actions:
        step(session, engine, clock, action)
    assert state(journal.recover(slots)) == state(session)


def leaves(session: Session) -> dict[tuple[Any, ...], Any]:
    """The live state as single values, a track's by its name (its place in the list is left
    out: removing one track moves the others without anyone setting them) and its steps
    as stored, hidden ones too, rests up to the longest length."""
    pattern = session.pattern
    values: dict[tuple[Any, ...], Any] = {("slot",): session.transport.playing_slot, ("name",): pattern.name,
                                          ("bpm",): pattern.bpm, ("swing",): pattern.swing}
    values.update({("param", module, param): value for module, params in pattern.modules.items()
                   for param, value in params.items()})
    for track in pattern.tracks:
        for attribute in ("voice", "length", "mute", "solo", "level", "gate"):
            values[("track", track.name, attribute)] = getattr(track, attribute)
        stored = track.steps + track.hidden
        stored += [Step()] * (LENGTH_RANGE[1] - len(stored))
        # as values: an edit changes a Step in place
        values.update({("step", track.name, i): (s.on, s.accent, s.note, s.slide)
                       for i, s in enumerate(stored)})
    return values


def changed(before: dict[tuple[Any, ...], Any], after: dict[tuple[Any, ...], Any]) -> set[tuple[Any, ...]]:
    return {key for key in before.keys() | after.keys()
            if before.get(key, "absent") != after.get(key, "absent")}


@PROPERTY
@given(actions=mixed_runs)
def test_an_authors_undo_changes_only_what_that_author_set_last(
        slots: SlotStore, actions: list[tuple[Any, ...]]) -> None:
    """Who set each value last: the author of an edit or of a redo (which makes the author's
    edit again); after an undo, no one in particular (it put back whatever was there)."""
    session, engine, clock = new_session(slots)
    setters: dict[tuple[Any, ...], str | None] = {}
    for action in actions:
        before, view = leaves(session), history_view(session)
        kind = action[0]
        if kind in ("undo", "redo"):
            _, author, everyone, count = action
            travel = session.undo if kind == "undo" else session.redo
            try:
                done = travel(count, everyone=everyone, source=author)
            except SessionError:
                assert leaves(session) == before and history_view(session) == view
                continue
            moved = changed(before, leaves(session))
            if kind == "undo" and not everyone:
                assert {e.author for e in done} == {author}
                others = {key: setters.get(key) for key in moved if setters.get(key) not in (author, None)}
                assert others == {}
            made_by = {e.author for e in done}
            who = made_by.pop() if kind == "redo" and len(made_by) == 1 else None
        else:
            pending = session.pending
            step(session, engine, clock, action)
            moved = changed(before, leaves(session))
            # an event applies a queued load: it is its author's change
            who = action[1] if kind in ("group", *EDIT_KINDS) else pending and pending.source
        setters.update(dict.fromkeys(moved, who))


EDIT_KINDS = ("param", "bpm", "swing", "name", "add", "remove", "clear", "update_pattern", "update_notes",
              "step", "length", "field", "snapshot", "load")


# -- examples ---------------------------------------------------------------------------

UI, AGENT = "ui", "osc 127.0.0.1:5000"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def session(store: SlotStore, engine: FakeEngine, clock: FakeClock) -> Session:
    """The conftest's session, but on first_pattern(), its history on a clock the test moves."""
    live = Session(store, engine, first_pattern())
    live.history = History(clock=clock)
    return live


def test_a_held_knob_is_one_entry_until_half_a_second_of_quiet(session: Session, clock: FakeClock) -> None:
    before = session.pattern.modules["acid1"]["cutoff"]
    for i in range(100):  # 100 messages a second for a second: never 0.5 s of quiet
        session.set_param("acid1", "cutoff", 100.0 + i, source=AGENT)
        clock.now += 0.01
    assert len(session.history) == 1
    assert session.history.entries[0].summary == f"acid1/cutoff {before:g} → 199"
    clock.now += 0.6
    session.set_param("acid1", "cutoff", 300.0, source=AGENT)
    assert len(session.history) == 2
    session.undo(2, source=AGENT)
    assert session.pattern.modules["acid1"]["cutoff"] == before


def test_another_authors_change_of_the_value_ends_a_run(session: Session, clock: FakeClock) -> None:
    session.set_bpm(130, source=AGENT)
    session.set_bpm(131, source=AGENT)
    session.set_bpm(140, source=UI)
    session.set_bpm(132, source=AGENT)
    assert [(e.author, e.summary) for e in session.history.entries] == [
        (AGENT, "bpm 124 → 131"), (UI, "bpm 131 → 140"), (AGENT, "bpm 140 → 132")]


def test_another_authors_change_of_the_track_ends_a_run_of_its_level(
        session: Session, clock: FakeClock) -> None:
    """The agent's level run is cut by the keyboard's change of the whole track (its length),
    so undoing everything, newest first, meets every value as each entry left it."""
    first = session.snapshot()
    session.set_level("kick", 0.5, source=AGENT)
    session.set_length("kick", 8, source=UI)
    session.set_level("kick", 0.6, source=AGENT)
    assert [e.author for e in session.history.entries] == [AGENT, UI, AGENT]
    session.undo(3, everyone=True)
    assert session.snapshot() == first


def test_a_new_edit_clears_its_authors_redo_branch_only(session: Session, clock: FakeClock) -> None:
    session.set_bpm(130, source=UI)
    session.set_swing(0.2, source=AGENT)
    session.undo(source=UI)
    session.undo(source=AGENT)
    session.set_name("new", source=UI)  # the keyboard's redo branch ends here; the agent's stays
    with pytest.raises(SessionError, match="nothing of yours \\(ui\\) to redo"):
        session.redo(source=UI)
    assert [e.summary for e in session.redo(source=AGENT)] == ["swing 0 → 0.2"]
    assert (session.pattern.bpm, session.pattern.swing) == (124.0, 0.2)


def test_at_least_a_thousand_entries_are_kept(session: Session, clock: FakeClock) -> None:
    for i in range(2500):
        session.set_step("kick", i % 16, on=i % 2 == 0, note=i % 128, source=UI)
    assert len(session.history) >= 1000
    kept = session.history.entries[-1000:]
    assert len(session.undo(1000, source=UI)) == 1000
    assert all(e.undone for e in kept)
    # the state is the one before the 1,000 newest edits: what the 1,500th edit left
    replay = Session(session.store, pattern=first_pattern())
    for i in range(1500):
        replay.set_step("kick", i % 16, on=i % 2 == 0, note=i % 128)
    assert session.snapshot() == replay.snapshot()


def test_undoing_a_load_returns_the_previous_pattern_and_slot(
        slots: SlotStore, session: Session, engine: FakeEngine, clock: FakeClock) -> None:
    session.load_slot(2, "now", source=AGENT)
    session.set_bpm(99, source=AGENT)
    before_load = session.snapshot()
    session.load_slot(1, "now", source=AGENT)
    assert session.transport.playing_slot == 1
    engine.clear()
    assert [e.summary for e in session.undo(source=AGENT)] == ["load A01 'slot one'"]
    assert (session.snapshot(), session.transport.playing_slot) == (before_load, 2)
    assert played(engine.sent[-1].pattern) == played(session.pattern)  # the engine plays it at once
    assert engine.last("pattern")["mode"] == "now"


def test_undo_while_a_load_is_queued_leaves_the_queue_alone(
        slots: SlotStore, session: Session, engine: FakeEngine, clock: FakeClock) -> None:
    session.start()
    session.set_bpm(150, source=UI)
    pending = session.load_slot(1, "bar", source=UI)
    assert pending is not None
    session.undo(source=UI)
    assert session.pattern.bpm == 124.0
    assert session.pending is pending and session.transport.queued_slot == 1
    assert "cancel" not in [c["op"] for c in engine.commands]
    session.on_engine_event(engine.switch(pending.token))  # the bar line comes: the load applies
    assert session.transport.playing_slot == 1
    assert session.history.entries[-1].summary == "load A01 'slot one'"


def test_a_conflict_names_who_changed_the_value_since(session: Session, clock: FakeClock) -> None:
    session.set_step("kick", 1, on=True, source=UI)
    session.set_step("kick", 1, note=40, source=AGENT)
    before = session.snapshot()
    with pytest.raises(SessionError) as refused:
        session.undo(source=UI)
    assert str(refused.value) == (f"cannot undo “kick step 2 on”: kick step 2 was changed since by {AGENT}")
    assert session.snapshot() == before and not any(e.undone for e in session.history.entries)


def test_nothing_to_undo_says_so_and_names_the_way_to_anyones(session: Session, clock: FakeClock) -> None:
    session.set_bpm(130, source=UI)
    with pytest.raises(SessionError) as refused:
        session.undo(source=AGENT)
    assert str(refused.value) == (f"nothing of yours ({AGENT}) to undo; to undo anyone's: `/undo all`, "
                                  "or the palette's “Undo everyone's …”")
    session.undo(everyone=True, source=AGENT)
    with pytest.raises(SessionError, match=r"^nothing anyone's to undo$"):
        session.undo(everyone=True, source=AGENT)


def test_every_kind_of_edit_has_a_readable_summary(
        slots: SlotStore, session: Session, clock: FakeClock) -> None:
    edits: list[tuple[Callable[[], object], str]] = [
        (lambda: session.set_param("voice1", "filter/freq", 2000), "voice1/filter/freq 1000 → 2000"),
        (lambda: session.set_bpm(128), "bpm 124 → 128"),
        (lambda: session.set_swing(0.25), "swing 0 → 0.25"),
        (lambda: session.set_name("night"), "name 'first' → 'night'"),
        (lambda: session.set_step("kick", 2, on=True, accent=True), "kick step 3 on, accent on"),
        (lambda: session.set_step("bass", 1, note=None), "bass step 2 no note"),
        (lambda: session.set_step("bass", 1, note=45, slide=True), "bass step 2 note A2, slide on"),
        (lambda: session.set_mute("kick", True), "kick mute on"),
        (lambda: session.set_solo("bass", True), "bass solo on"),
        (lambda: session.set_level("kick", 0.25), "kick level 1 → 0.25"),
        (lambda: session.set_gate("bass", 0.75), "bass gate 0.5 → 0.75"),
        (lambda: session.set_length("kick", 8), "kick length 16 → 8"),
        (lambda: session.update_pattern("kick", "x.x.x..x"), "kick steps"),
        (lambda: session.add_track("hat", "voice3", "..x."), "add track hat"),
        (lambda: session.remove_track("hat"), "remove track hat"),
        (lambda: session.clear_tracks(), "remove 2 tracks"),
        (lambda: session.load_slot(2, "now"), "load A02 'slot two'"),
        (lambda: session.apply_snapshot(SNAPSHOTS[1], "now"), "load 'bare'"),
    ]
    for edit, summary in edits:
        clock.now += 1
        edit()
        assert session.history.entries[-1].summary == summary
    view = session.history.entries[-1].as_dict()
    assert set(view) == {"id", "author", "time", "at", "summary", "undone"} and view["at"] == "1:1"


def test_shortening_then_undo_brings_the_hidden_steps_back(session: Session, engine: FakeEngine,
                                                              clock: FakeClock) -> None:
    before = session.pattern.track("bass").copy()
    session.set_length("bass", 8, source=UI)
    assert session.pattern.track("bass").length == 8
    session.set_step("bass", 3, on=True, source=UI)
    session.undo(2, source=UI)
    assert session.pattern.track("bass") == before
    assert engine.sent[-1] == ReplaceTrack(1, before)
    session.redo(2, source=UI)
    bass = session.pattern.track("bass")
    assert (bass.length, bass.hidden[:8]) == (8, before.steps[8:])


def test_a_group_that_loads_after_other_edits_undoes_and_redoes_whole(
        session: Session, clock: FakeClock) -> None:
    first = session.snapshot()
    with session.edit_group(AGENT):
        session.set_name("renamed", source=AGENT)
        session.set_level("kick", 0.3, source=AGENT)
        session.apply_snapshot(SNAPSHOTS[1], "now", source=AGENT)
        session.set_bpm(100, source=AGENT)
    last = session.snapshot()
    assert len(session.history) == 1
    session.undo(source=AGENT)
    assert session.snapshot() == first
    session.redo(source=AGENT)
    assert session.snapshot() == last


def test_a_group_that_sets_a_field_then_the_whole_track_undoes_and_redoes_whole(
        session: Session, clock: FakeClock) -> None:
    first = session.snapshot()
    with session.edit_group(AGENT):
        session.set_level("kick", 0.3, source=AGENT)
        session.set_step("kick", 1, on=True, source=AGENT)
        session.set_length("kick", 8, source=AGENT)
        session.set_gate("kick", 0.9, source=AGENT)
        session.set_bpm(100, source=AGENT)
    last = session.snapshot()
    assert [op.target for op in session.history.entries[0].ops] == [("bpm",), ("track", "kick")]
    session.undo(source=AGENT)
    assert session.snapshot() == first
    session.redo(source=AGENT)
    assert session.snapshot() == last


def test_a_run_that_continues_after_an_undo_replays_to_the_same_history(
        session: Session, clock: FakeClock) -> None:
    """The author's redo branch is dropped by the edit that continues their run; a replay
    of the journal (where the run's entry is written again) drops it too."""
    journal = JournalRecorder(session)
    session.set_bpm(130, source=UI)
    session.set_swing(0.1, source=UI)
    session.undo(source=UI)
    session.set_bpm(131, source=UI)  # within 0.5 s of the first: the same run
    assert history_view(journal.recover(session.store)) == history_view(session)
    assert [e.summary for e in session.history.entries] == ["bpm 124 → 131"]


def test_an_undo_is_refused_when_another_author_changed_the_value_even_back(
        session: Session, clock: FakeClock) -> None:
    """The agent added its own bass and then cleared every track: the bass is absent again,
    as the keyboard's removal left it, but it is the agent's doing now; the keyboard's undo
    of its removal would overwrite it."""
    session.remove_track("bass", source=UI)
    session.add_track("bass", "voice1", "X", source=AGENT)
    session.clear_tracks(source=AGENT)
    before = session.snapshot()
    with pytest.raises(SessionError, match=f"track bass was changed since by {AGENT}"):
        session.undo(source=UI)
    assert session.snapshot() == before
    clock.now += 1
    session.set_bpm(130, source=UI)
    session.set_bpm(140, source=AGENT)
    clock.now += 1
    session.set_bpm(130, source=AGENT)
    with pytest.raises(SessionError, match=f"bpm was changed since by {AGENT}"):
        session.undo(source=UI)
    assert session.pattern.bpm == 130


def test_an_undo_of_an_edit_made_before_the_journal_was_rebased_is_recovered(
        session: Session, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The journal starts again from the live state when it grows past its limit: an undo
    journaled after that, of an edit made before, must still be recovered after a crash."""
    path = journal_path(tmp_path / "journal")
    writer = JournalWriter(path)
    writer.start(session.journal_header())
    session.journal = writer
    session.set_bpm(130, source=UI)
    monkeypatch.setattr(session_module, "JOURNAL_REBASE_BYTES", 0)  # the next record rebases
    session.set_swing(0.2, source=AGENT)
    monkeypatch.undo()
    session.undo(source=UI)  # the tempo change, made before the rebase
    assert writer.flush()
    found = read_recovery(session.store, path)
    writer.close()
    assert found.skipped == 0 and found.session is not None
    assert state(found.session) == state(session)


def test_a_group_that_removes_tracks_and_sets_one_undoes_each_back_in_its_place(
        session: Session, clock: FakeClock) -> None:
    session.add_track("hat", "voice3", "x.x.", source=UI)
    first = session.snapshot()
    with session.edit_group(AGENT):
        session.remove_track("kick", source=AGENT)
        session.set_level("bass", 0.2, source=AGENT)
        session.remove_track("bass", source=AGENT)
    assert [t.name for t in session.pattern.tracks] == ["hat"]
    assert session.history.entries[-1].summary == "remove track kick; bass level 0.7 → 0.2; remove track bass"
    session.undo(source=AGENT)
    assert session.snapshot() == first
    session.redo(source=AGENT)
    assert [t.name for t in session.pattern.tracks] == ["hat"]


def test_a_load_of_a_slot_out_of_range_is_a_history_error_and_changes_nothing() -> None:
    live = Pattern(name="live")
    value = {"pattern": patternfile.pattern_to_dict(Pattern(name="other")), "slot": 999}
    with pytest.raises(history.HistoryError, match="999"):
        history.write(live, ("pattern",), value)
    assert live.name == "live"
