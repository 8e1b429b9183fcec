"""Chains: parsing what a musician types, and the Session playing one entry after another,
each queued with the length of the one before it as its launch quantum."""

from __future__ import annotations

import pytest
from support.chains import chained_fixture, queued_pattern, slot_pattern, switch, wait_for  # noqa: F401

from chronus_tui.chain import ChainEntry, ChainError, entry_pattern, parse_chain, play_steps
from chronus_tui.engine.protocol import Position
from chronus_tui.model import Pattern, Track, parse_steps
from chronus_tui.session import SessionError

# -- what a chain is --------------------------------------------------------------------------


@pytest.mark.parametrize("text,entries,loop", [
    ("A01x4 A02x2 B05", [(1, 4), (2, 2), (21, 1)], True),
    ("a1×3, h16*2  37", [(1, 3), (128, 2), (37, 1)], True),
    ("A01 once", [(1, 1)], False),
    ("A01x64 loop", [(1, 64)], True),
])
def test_a_chain_is_read_as_it_is_typed(text, entries, loop):
    chain = parse_chain(text)
    assert [(e.slot, e.repeats) for e in chain.entries] == entries and chain.loop is loop
    assert parse_chain(chain.text()) == chain


@pytest.mark.parametrize("text,message", [
    ("", "at least one entry"),
    ("once", "at least one entry"),
    ("A01x0", "repeats 0 is out of range 1–64"),
    ("A01x65", "repeats 65 is out of range 1–64"),
    ("I01", "'I01' is not SLOTxN"),
    ("A17", "'A17' is not SLOTxN"),
    ("129", "'129' is not SLOTxN: a slot A01–H16 or 1–128"),
    ("0", "'0' is not SLOTxN"),
    ("A01xx2", "is not SLOTxN"),
    ("A01 " * 65, "65 entries: a chain holds at most 64"),
    ("A01x1 " * 1000, "too long"),
    ("\x00\x1b[31m", "is not SLOTxN"),
])
def test_a_chain_that_cannot_be_is_refused_by_name(text, message):
    with pytest.raises(ChainError, match=message.replace("(", r"\(").replace("*", r"\*")):
        parse_chain(text)


def test_a_play_is_the_longest_track_and_an_entry_sets_tempo_and_mutes():
    pattern = Pattern(bpm=120, tracks=[Track("a", "voice1", parse_steps("x" * 12)),
                                       Track("b", "voice2", parse_steps("x" * 5), mute=True)])
    assert play_steps(pattern) == 12 and play_steps(Pattern()) == 16
    played = entry_pattern(ChainEntry(1, 2, bpm=999, mute=("a",)), pattern)
    assert played.bpm == 300 and [t.mute for t in played.tracks] == [True, False]
    assert pattern.bpm == 120 and [t.mute for t in pattern.tracks] == [False, True]  # a copy


# -- the session plays it ----------------------------------------------------------------------


def test_each_entry_is_queued_for_the_line_after_the_plays_of_the_one_before(chained, engine):
    chained.set_chain(parse_chain("A01x2 A02x3 A03"))
    pending = chained.start_chain("bar4")
    first = queued_pattern(engine, 1)
    assert (first["mode"], first["every"], first["pattern"]["name"]) == ("bar", 64, "one")
    assert pending.token == first["token"] and chained.pattern.name == "before"
    switch(chained, first)
    second = queued_pattern(engine, 2)  # A01 plays 2 × 16 steps, then A02
    assert (second["every"], second["pattern"]["name"]) == (32, "two")
    switch(chained, second)
    third = queued_pattern(engine, 3)  # A02 plays 3 × 12 steps
    assert (third["every"], third["pattern"]["name"]) == (36, "three")
    switch(chained, third)
    again = queued_pattern(engine, 4)  # it loops: A03 plays once, 32 steps, then A01
    assert (again["every"], again["pattern"]["name"]) == (32, "one")
    status = chained.chain_status()
    assert (status["entry"], status["slot"], status["repeat"], status["next"]) == (3, "A03", 1, "A01")
    assert chained.transport.queued_slot == 1 and chained.pending.source == "chain"


def test_the_playhead_counts_an_entrys_plays(chained, engine, changes):
    chained.set_chain(parse_chain("A02x3 A01"))
    chained.start_chain()
    switch(chained, queued_pattern(engine, 1))
    queued_pattern(engine, 2)
    changes.clear()
    for bar, step in [(0, 5), (0, 12), (1, 0), (1, 8), (2, 4)]:  # steps 5, 12, 16, 24, 36
        chained.on_engine_event(Position(bar=bar, step=step))
    told = [(c.data["entry"], c.data["repeat"], c.data["repeats"], c.data["bar"]) for c in changes
            if c.kind == "chain"]
    # a play of A02 is 12 steps; the third is the last
    assert told == [(1, 2, 3, 1), (1, 2, 3, 2), (1, 3, 3, 2), (1, 3, 3, 3)]


def test_a_chain_started_while_stopped_loads_at_once_and_plays(session, store, engine):
    store.save(1, slot_pattern("one"))
    store.save(2, slot_pattern("two"))
    session.set_chain(parse_chain("A01 A02"))
    assert session.start_chain() is None
    assert session.pattern.name == "one" and session.transport.playing
    nxt = queued_pattern(engine, 2)
    assert (nxt["mode"], nxt["every"], nxt["pattern"]["name"]) == ("bar", 16, "two")


def test_a_chain_that_does_not_loop_stops_on_the_line_and_keeps_its_last_entry(chained, engine, changes):
    chained.set_chain(parse_chain("A02x2 once"))
    chained.start_chain()
    switch(chained, queued_pattern(engine, 1))
    end = queued_pattern(engine, 2)
    assert end["every"] == 24 and end["pattern"]["sequencer"]["tracks"] == []  # no hit on the line
    switch(chained, end)  # silence from the line on
    wait_for(lambda: not chained.transport.playing)
    wait_for(lambda: chained.pattern.name == "two" and not chained.pattern.tracks[0].mute)
    assert chained.transport.playing_slot == 2 and not chained.chain_status()["running"]


def test_a_load_by_someone_else_ends_the_chain_and_keeps_their_load(chained, engine):
    chained.set_chain(parse_chain("A01 A02"))
    chained.start_chain()
    switch(chained, queued_pattern(engine, 1))
    queued_pattern(engine, 2)
    mine = chained.apply_snapshot(slot_pattern("mine"), "bar", source="ui")
    assert not chained.chain_status()["running"]
    assert chained.pending == mine and engine.last("pattern")["pattern"]["name"] == "mine"


def test_a_stop_ends_the_chain_where_it_is(chained, engine):
    chained.set_chain(parse_chain("A01 A02"))
    chained.start_chain()
    switch(chained, queued_pattern(engine, 1))
    queued_pattern(engine, 2)
    chained.stop(source="ui")
    assert chained.pattern.name == "one" and chained.pending is None  # A02 was not loaded by the stop
    assert [c["op"] for c in engine.commands[-2:]] == ["cancel", "transport"]
    assert not chained.chain_status()["running"]


def test_an_unreadable_slot_is_passed_over_with_a_message(chained, store, engine, changes):
    chained.set_chain(parse_chain("A01 A04 A02"))  # A04 is empty
    chained.start_chain()
    switch(chained, queued_pattern(engine, 1))
    assert queued_pattern(engine, 2)["pattern"]["name"] == "two"
    errors = [c.data["message"] for c in changes if c.kind == "error"]
    assert len(errors) == 1 and errors[0].startswith("chain entry 2 passed over: ")


def test_starting_a_chain_that_cannot_start_changes_nothing(chained, engine):
    with pytest.raises(SessionError, match="no chain is set"):
        chained.start_chain()
    chained.set_chain(parse_chain("A04 A01"))
    with pytest.raises(SessionError, match="A04 is empty"):
        chained.start_chain()
    with pytest.raises(SessionError, match="entry 3: the chain has 2 entries"):
        chained.start_chain(entry=2)
    with pytest.raises(SessionError, match="launch quantize 'step'"):
        chained.start_chain("step")
    assert engine.ops("pattern") == [] and chained.pending is None
    assert not chained.chain_status()["running"]
