"""Chains and follow actions under stage conditions: an engine that switches before the
loader hears back, a stop or a load arriving while the chain's thread queues, a worker that
fails, long runs, and random sequences of everything at once."""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from support.chains import chained_fixture, queued_pattern, slot_pattern, switch, wait_for  # noqa: F401
from support.fakes import FakeEngine
from support.patterns import full_pattern

from chronus_tui.chain import parse_chain
from chronus_tui.engine.protocol import (
    CancelQueued,
    Position,
    ReplacePattern,
    Restarted,
    SetTransport,
    Switched,
)
from chronus_tui.model import Follow
from chronus_tui.patternfile import pattern_to_dict
from chronus_tui.session import Change, ChangeKind, Session, SessionError
from chronus_tui.store import SlotStore, slot_label


def switch_at_once(session: Session) -> None:
    """The engine switches every chain load the moment it is queued: its Switched event
    arrives while the queueing thread still tells the other listeners (a slow OSC client, a
    1-step pattern at 300 bpm), before apply_snapshot has returned to the chain."""
    def on_change(change: Change) -> None:
        if change.kind == ChangeKind.QUEUED and change.source == "chain" and change.data["slot"] is not None:
            session.on_engine_event(Switched(change.data["token"], 0))

    session.subscribe(on_change)


@pytest.mark.parametrize("stopped", [False, True], ids=["playing", "stopped"])
def test_a_switch_heard_before_the_queue_returns_still_moves_the_chain_on(chained, engine, stopped):
    if stopped:
        chained.stop()
    chained.set_chain(parse_chain("A01 A02 A03 once"))
    switch_at_once(chained)
    chained.start_chain()
    # every entry switches in as soon as it is queued: the chain runs through to its end
    wait_for(lambda: not chained.transport.playing)
    names = [c["pattern"]["name"] for c in engine.ops("pattern")]
    assert names[:3] == ["one", "two", "three"]
    assert not chained.chain_status()["running"] and chained.pattern.name == "three"


def test_a_stop_while_the_chain_queues_its_next_entry_loads_nothing(chained, store, engine, monkeypatch):
    """The chain's thread reads the next slot; the musician stops; the stop reaches the chain
    only after its thread has asked to queue: the next entry must not load (the stopped
    transport keeps the entry that played)."""
    chained.set_chain(parse_chain("A01 A02"))
    chained.start_chain()
    reading, stopped = threading.Event(), threading.Event()
    load = store.load

    def slow_load(slot, **kwargs):
        if slot == 2:
            reading.set()
            stopped.wait(5)
        return load(slot, **kwargs)

    monkeypatch.setattr(store, "load", slow_load)
    asked = threading.Event()  # the chain's thread asked to queue A02 (and heard back)
    apply = chained.apply_snapshot

    def apply_and_tell(*args, **kwargs):
        try:
            return apply(*args, **kwargs)
        finally:
            if kwargs.get("source") == "chain":
                asked.set()

    monkeypatch.setattr(chained, "apply_snapshot", apply_and_tell)
    heard = chained._chains._on_change

    def late_listener(change: Change) -> None:  # the stop reaches the chain after its thread asked
        if change.kind == ChangeKind.TRANSPORT and not change.data["playing"]:
            stopped.set()
            asked.wait(5)
        heard(change)

    chained.unsubscribe(heard)
    chained.subscribe(late_listener)
    switch(chained, queued_pattern(engine, 1))
    reading.wait(5)
    chained.stop(source="ui")
    assert chained.pattern.name == "one" and chained.transport.playing_slot == 1
    assert [c["pattern"]["name"] for c in engine.ops("pattern")] == ["one"]
    assert not chained.chain_status()["running"]


# -- everything at once: a state machine over the chain, follow actions, loads and the engine ----


class _CountedJobs:
    """The chain thread's job queue, counting: idle once it has asked for one more job than
    were put (it finished every job and waits for the next)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.puts = self.gets = 0

    def put(self, job: object) -> None:
        with self._lock:
            self.puts += 1
        self._queue.put(job)

    def get(self) -> object:
        with self._lock:
            self.gets += 1
        return self._queue.get()

    def idle(self) -> bool:
        with self._lock:
            return self.puts == 0 or self.gets == self.puts + 1


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))


SLOTS = st.integers(1, 5)  # A05 stays empty


class ChainRuntime(RuleBasedStateMachine):
    """Random sequences of chain, song, follow, load, transport and engine events; after each
    (the chain's thread idle) the session, the engine's queue and the chain's status agree and
    nothing has failed."""

    def __init__(self) -> None:
        super().__init__()
        self._folder = tempfile.TemporaryDirectory()
        store = SlotStore(Path(self._folder.name))
        for slot, steps in [(1, "x..."), (2, "x" * 12), (3, "x.x." * 8)]:
            store.save(slot, slot_pattern(f"s{slot}", steps))
        store.save(4, slot_pattern("s4", "x", follow=Follow(1, "previous")))
        self.engine = FakeEngine()
        self.session = Session(store, self.engine)
        self.session.follow_random = random.Random(0)
        self.jobs = _CountedJobs()
        self.session._chains._jobs = self.jobs  # counted, so a step waits for the chain's thread
        self.switched: set[int] = set()
        self.errors = _Errors()
        logging.getLogger("chronus_tui").addHandler(self.errors)

    def teardown(self) -> None:
        logging.getLogger("chronus_tui").removeHandler(self.errors)
        self.session.stop_chain()
        self._folder.cleanup()

    def _refused(self, call: Callable[[], object]) -> None:
        with contextlib.suppress(SessionError):
            call()

    @rule(entries=st.lists(st.tuples(SLOTS, st.integers(1, 3)), min_size=1, max_size=4),
          loop=st.booleans())
    def set_chain(self, entries, loop):
        text = " ".join(f"{slot}x{repeats}" for slot, repeats in entries) + ("" if loop else " once")
        self.session.set_chain(parse_chain(text), source="ui")

    @rule(at=st.sampled_from([None, "bar", "bar2", "end"]), entry=st.integers(0, 3))
    def start_chain(self, at, entry):
        self._refused(lambda: self.session.start_chain(at, entry, source="ui"))

    @rule()
    def stop_chain(self):
        self.session.stop_chain(source="ui")

    @rule(slot=SLOTS, at=st.sampled_from(["bar", "now", "end"]))
    def load(self, slot, at):
        self._refused(lambda: self.session.load_slot(slot, at, source="ui"))

    @rule()
    def cancel(self):
        self.session.cancel_queued(source="ui")

    @rule(playing=st.booleans())
    def transport(self, playing):
        (self.session.start if playing else self.session.stop)(source="ui")

    @rule()
    def engine_switches(self):
        pending = self.session.pending
        if pending is not None:
            self.switched.add(pending.token)
            self.session.on_engine_event(Switched(pending.token, 0))

    @rule(step=st.integers(0, 95))
    def playhead(self, step):
        self.session.on_engine_event(Position(step // 16, step % 16))

    @rule()
    def engine_restarts(self):
        self.session.on_engine_event(Restarted("null", 1))

    @rule(slot=st.integers(1, 4))
    def save(self, slot):
        self.session.save_slot(slot, source="ui")

    @rule(index=st.integers(0, 4), repeats=st.integers(1, 3), slot=SLOTS,
          edit=st.sampled_from(["set", "insert", "remove", "move", "loop"]))
    def edit_song(self, index, repeats, slot, edit):
        session = self.session
        calls = {"set": lambda: session.set_song_entry(index, slot=slot, repeats=repeats, source="ui"),
                 "insert": lambda: session.insert_song_entry(index, slot, repeats, source="ui"),
                 "remove": lambda: session.remove_song_entry(index, source="ui"),
                 "move": lambda: session.move_song_entry(index, repeats - 1, source="ui"),
                 "loop": lambda: session.set_song_loop(bool(repeats % 2), source="ui")}
        self._refused(calls[edit])

    @rule(follow=st.sampled_from([None, Follow(1, "next"), Follow(2, "previous"), Follow(1, "slot", (3,)),
                                  Follow(1, "random", (1, 2, 5))]))
    def follow(self, follow):
        if follow is None:
            self.session.clear_follow(source="ui")
        else:
            self.session.set_follow(follow.after, follow.action, follow.slots, source="ui")

    @rule()
    def undo(self):
        self._refused(lambda: self.session.undo(source="ui"))

    @invariant()
    def agree(self):
        wait_for(self.jobs.idle)
        session, status = self.session, self.session.chain_status()
        assert self.errors.records == []
        pending = session.pending
        assert session.transport.queued_slot == (pending.slot if pending is not None else None)
        engine_queued = None  # the load the engine holds for its line, from what it was sent
        for command in self.engine.sent:
            if isinstance(command, ReplacePattern) and command.mode == "bar":
                engine_queued = command.token
            elif isinstance(command, CancelQueued) or command == SetTransport(False):  # a stop applies it
                engine_queued = None
        if engine_queued in self.switched:
            engine_queued = None
        assert engine_queued == (pending.token if pending is not None else None)
        if status["running"]:
            assert session.transport.playing and pending is not None and pending.source == "chain"
            assert status["entries"] == len(session._chains.chain.entries)
            # what the transport line says comes next is what is queued (the silent end: nothing)
            if status["next"] is None:
                assert not status["loop"] and pending.pattern.tracks == []
            else:
                assert status["next"] == slot_label(pending.slot)
            if status["entry"] is not None:
                assert 1 <= status["entry"] <= status["entries"]
                assert 1 <= status["repeat"] <= status["repeats"]


ChainRuntime.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None,
                                          suppress_health_check=[HealthCheck.too_slow])
test_chain_runtime = ChainRuntime.TestCase


def test_a_chain_that_does_not_loop_passes_over_an_empty_last_entry_to_its_end(chained, engine, changes):
    chained.set_chain(parse_chain("A02 A01 A05 once"))  # A05 is empty
    chained.start_chain(entry=1)
    switch(chained, queued_pattern(engine, 1))
    end = queued_pattern(engine, 2)  # not A02 again: the chain ends after A01
    assert end["every"] == 16 and end["pattern"]["sequencer"]["tracks"] == []
    status = chained.chain_status()
    assert (status["entry"], status["slot"], status["next"]) == (2, "A01", None)
    assert [c.data["message"] for c in changes if c.kind == "error"] == [
        "chain entry 3 passed over: A05 is empty"]


def test_the_next_entry_shown_is_the_one_queued_past_an_empty_slot(chained, engine):
    chained.set_chain(parse_chain("A01 A05 A02"))
    chained.start_chain()
    switch(chained, queued_pattern(engine, 1))
    assert queued_pattern(engine, 2)["pattern"]["name"] == "two"
    wait_for(lambda: chained.chain_status()["next"] == "A02")


def test_a_song_edit_of_what_comes_next_is_queued_again_before_its_line(chained, engine):
    chained.set_chain(parse_chain("A01 A02 once"))
    chained.start_chain()
    switch(chained, queued_pattern(engine, 1))
    assert queued_pattern(engine, 2)["pattern"]["name"] == "two"
    chained.set_song_entry(1, slot=3, source="ui")  # the next entry is A03 now
    again = queued_pattern(engine, 3)
    assert (again["pattern"]["name"], again["every"]) == ("three", 16)
    chained.set_song_entry(0, repeats=3, source="ui")  # the entry playing plays 3 times
    assert queued_pattern(engine, 4)["every"] == 48
    status = chained.chain_status()
    assert (status["next"], status["repeats"], chained.pending.slot) == ("A03", 3, 3)


def test_a_long_chain_of_full_patterns_keeps_each_pattern_once_in_the_history(session, store, engine):
    """300 switches between two full 8×64 patterns: the history holds the two patterns, not
    two copies a switch (200 KB each: 400 MB at the history's limit), and undo still works."""
    for slot in (1, 2):
        store.save(slot, pattern_to_dict(full_pattern(name=f"full {slot}")))
    session.start()
    session.set_chain(parse_chain("A01 A02"))
    session.start_chain()
    for count in range(1, 301):
        switch(session, queued_pattern(engine, count))
    entries = session.history.entries
    assert len(entries) == 300
    held = {id(value) for entry in entries for op in entry.ops for value in (op.before, op.after)}
    assert len(held) <= 3  # the pattern before the chain, A01's and A02's
    assert session.pattern.name == "full 2"
    session.undo(everyone=True, source="ui")
    assert session.pattern.name == "full 1" and session.pattern.tracks == full_pattern().tracks


def test_a_load_as_a_chain_ends_is_kept_and_not_overwritten_by_its_last_entry(chained, engine, changes,
                                                                               monkeypatch):
    chained.set_chain(parse_chain("A02 once"))
    chained.start_chain()
    switch(chained, queued_pattern(engine, 1))
    end = queued_pattern(engine, 2)
    stop = chained.stop

    def stop_then_a_load(source: str = "") -> None:  # the musician's load lands as the chain stops
        stop(source)
        chained.load_slot(3, "now", source="ui")

    monkeypatch.setattr(chained, "stop", stop_then_a_load)
    switch(chained, end)
    wait_for(lambda: any(c.kind == "chain" and c.source == "chain" and not c.data["running"]
                         for c in changes))  # the chain's own word that it ended
    assert chained.pattern.name == "three" and chained.transport.playing_slot == 3  # not A02 put back
    assert not chained.transport.playing
    assert [c["pattern"]["name"] for c in engine.ops("pattern")][-1] == "three"


def test_song_edits_while_the_playhead_moves_fail_no_listener(chained, engine, caplog):
    """The playhead is counted on the engine's thread while the song view removes and inserts
    an entry before the last one, playing: every position reads one chain, with its own index."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads change places as often as they can
    chained.set_chain(parse_chain("A01 A03 A02"))
    chained.start_chain(entry=2)
    switch(chained, queued_pattern(engine, 1))
    done = threading.Event()

    def playhead() -> None:
        step = 0
        while not done.is_set():
            chained.on_engine_event(Position(step // 16 % 4, step % 16))
            step += 1

    thread = threading.Thread(target=playhead)
    thread.start()
    try:
        for _ in range(300):
            chained.remove_song_entry(0, source="ui")
            chained.insert_song_entry(0, 1, source="ui")
    finally:
        sys.setswitchinterval(interval)
        done.set()
        thread.join()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert chained.chain_status()["running"] and chained.chain_status()["entry"] == 3


def test_removing_the_entry_queued_next_plays_on_with_the_one_after(chained, engine):
    chained.set_chain(parse_chain("A01 A02 A03"))
    chained.start_chain()
    switch(chained, queued_pattern(engine, 1))
    assert queued_pattern(engine, 2)["pattern"]["name"] == "two"
    chained.remove_song_entry(1, source="ui")  # A02, queued next, is taken off
    assert queued_pattern(engine, 3)["pattern"]["name"] == "three"
    status = chained.chain_status()
    assert (status["running"], status["entry"], status["next"], chained.pending.slot) == (True, 1, "A03", 3)


def test_a_failure_in_the_chains_thread_ends_the_chain_and_the_next_chain_plays(chained, store, engine,
                                                                                   monkeypatch, caplog):
    """Even when telling the listeners fails too, the thread that queues entries lives on."""
    load = store.load

    def broken_disk(slot, **kwargs):
        if slot == 2:
            raise RuntimeError("disk on fire")
        return load(slot, **kwargs)

    report = chained.report_error

    def report_fails(message, source="", **data):
        if message == "the chain stopped: see the log":
            raise RuntimeError("no one to tell")
        report(message, source, **data)

    monkeypatch.setattr(store, "load", broken_disk)
    monkeypatch.setattr(chained, "report_error", report_fails)
    chained.set_chain(parse_chain("A01 A02"))
    chained.start_chain()
    switch(chained, queued_pattern(engine, 1))
    wait_for(lambda: not chained.chain_status()["running"])
    assert "the chain failed" in caplog.text
    monkeypatch.setattr(store, "load", load)
    chained.start_chain()  # the next chain plays: its entries are queued again
    switch(chained, queued_pattern(engine, 2))
    assert queued_pattern(engine, 3)["pattern"]["name"] == "two"
