"""Chains and follow actions under stage conditions: an engine that switches before the
loader hears back, a stop or a load arriving while the chain's thread queues, a worker that
fails, long runs, and random sequences of everything at once."""

from __future__ import annotations

import threading

import pytest
from support.chains import chained_fixture, queued_pattern, slot_pattern, switch, wait_for  # noqa: F401

from chronus_tui.chain import parse_chain
from chronus_tui.engine.protocol import Switched
from chronus_tui.session import Change, ChangeKind, Session


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
