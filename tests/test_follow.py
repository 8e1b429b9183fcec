"""Follow actions: a slot's pattern says what plays after N plays of it (the next or previous
slot, a named one, one of a set at random); the file keeps it, the Session plays it as a chain
made on the fly, and anyone's load, cancel or stop ends it."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest
from support.chains import queued_pattern, slot_pattern, switch, wait_for
from support.fakes import FakeEngine
from support.osc import osc_fixture  # noqa: F401
from support.ui import make_app, screen_text, settle, spy_notifications

from chronus_tui import patternfile
from chronus_tui.chain import parse_chain
from chronus_tui.chainplay import follow_words, parse_follow
from chronus_tui.model import Follow, Pattern, PatternError
from chronus_tui.patternfile import pattern_to_dict
from chronus_tui.session import Session, SessionError

# -- the model and the file ---------------------------------------------------------------------


def test_a_follow_action_is_saved_with_its_pattern_and_read_back(store):
    pattern = Pattern(name="fol", follow=Follow(4, "random", (3, 17, 128)))
    text = patternfile.dumps(pattern_to_dict(pattern))
    assert json.loads(text)["follow"] == {"after": 4, "action": "random", "slots": [3, 17, 128]}
    assert patternfile.loads(text).follow == pattern.follow
    store.save(5, pattern_to_dict(pattern))
    assert store.load(5).follow == Follow(4, "random", (3, 17, 128))


def test_a_file_without_a_follow_action_reads_and_writes_as_before():
    data = pattern_to_dict(Pattern(name="plain"))
    assert "follow" not in data
    assert patternfile.loads(patternfile.dumps(data)).follow is None
    data["follow"] = {"after": 1, "action": "next"}  # slots may be left out when there are none
    assert patternfile.pattern_from_dict(data).follow == Follow(1, "next", ())


@pytest.mark.parametrize("follow,path,message", [
    ([], "follow", "expected an object"),
    ({"action": "next"}, "follow.after", "is missing"),
    ({"after": 1}, "follow.action", "is missing"),
    ({"after": 1, "action": "next", "when": 2}, "follow.when", "is not a known field"),
    ({"after": 0, "action": "next"}, "follow.after", "0 is not a whole number of plays 1–64"),
    ({"after": 65, "action": "next"}, "follow.after", "65 is not"),
    ({"after": 1.5, "action": "next"}, "follow.after", "1.5 is not"),
    ({"after": True, "action": "next"}, "follow.after", "True is not"),
    ({"after": 1, "action": "other"}, "follow.action", "'other' is not one of next, previous, slot, random"),
    ({"after": 1, "action": "next", "slots": [3]}, "follow.slots", "'next' takes no slot, not 1"),
    ({"after": 1, "action": "slot"}, "follow.slots", "'slot' takes one slot, not 0"),
    ({"after": 1, "action": "slot", "slots": [1, 2]}, "follow.slots", "'slot' takes one slot, not 2"),
    ({"after": 1, "action": "random", "slots": []}, "follow.slots", "'random' takes 1–16 slots, not 0"),
    ({"after": 1, "action": "random", "slots": list(range(1, 18))}, "follow.slots", "1–16 slots, not 17"),
    ({"after": 1, "action": "random", "slots": "3"}, "follow.slots", "is not a list of slots"),
    ({"after": 1, "action": "slot", "slots": [0]}, "follow.slots[0]", "0 is not a slot 1–128"),
    ({"after": 1, "action": "random", "slots": [4, 129]}, "follow.slots[1]", "129 is not a slot 1–128"),
    ({"after": 1, "action": "slot", "slots": ["A01"]}, "follow.slots[0]", "'A01' is not a slot"),
])
def test_every_bad_field_of_a_follow_action_is_named(follow, path, message):
    data = pattern_to_dict(Pattern())
    data["follow"] = follow
    with pytest.raises(PatternError) as error:
        patternfile.pattern_from_dict(data)
    assert error.value.path == path and message in error.value.message


@pytest.mark.parametrize("text,follow", [
    ("4 next", Follow(4, "next")),
    (" 2  PREVIOUS ", Follow(2, "previous")),
    ("1 slot A05", Follow(1, "slot", (5,))),
    ("64 random a3 B07 128", Follow(64, "random", (3, 23, 128))),
    ("off", None),
    ("OFF", None),
])
def test_a_follow_action_is_read_as_typed_and_written_back_so(text, follow):
    assert parse_follow(text) == follow
    if follow is not None:
        assert parse_follow(follow_words(follow)) == follow


@pytest.mark.parametrize("text,message", [
    ("", "is not a follow action"),
    ("next", "is not a follow action"),
    ("x next", "is not a follow action"),
    ("²2 next", "is not a follow action"),
    ("9" * 5000 + " next", "is not a follow action"),
    ("2 sideways", "'sideways' is not one of next, previous, slot, random"),
    ("2 slot I01", "'I01' is not a slot (A01–H16 or 1–128)"),
    ("2 slot 0", "'0' is not a slot"),
    ("0 next", "0 is not a whole number of plays 1–64"),
    ("2 next A01", "'next' takes no slot, not 1"),
    ("2 random " + "A01 " * 17, "'random' takes 1–16 slots, not 17"),
])
def test_a_follow_action_that_cannot_be_is_refused_by_name(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_follow(text)


# -- the session sets it: journaled, undone, saved --------------------------------------------


def test_setting_a_follow_action_is_an_edit_that_undo_takes_back(session, changes, history_changes):
    session.set_follow(2, "slot", [5], source="ui")
    assert session.pattern.follow == Follow(2, "slot", (5,))
    assert session.history.entries[-1].summary == "follow action after 2 plays: slot A05"
    assert [c.data for c in changes if c.kind == "follow"] == [
        {"follow": {"after": 2, "action": "slot", "slots": [5]}}]
    session.clear_follow(source="ui")
    assert session.pattern.follow is None and session.history.entries[-1].summary == "follow action off"
    session.undo(source="ui")
    assert session.pattern.follow == Follow(2, "slot", (5,))
    assert changes[-1].kind == "follow" and changes[-1].data["follow"]["slots"] == [5]
    session.undo(source="ui")
    assert session.pattern.follow is None


def test_a_bad_follow_action_is_refused_and_changes_nothing(session, engine):
    session.set_follow(1, "next", source="ui")
    for args in [(0, "next", ()), (1, "sideways", ()), (1, "slot", ()), (1, "random", range(1, 20)),
                 (1, "slot", (200,))]:
        with pytest.raises(SessionError, match="follow"):
            session.set_follow(*args, source="ui")
    assert session.pattern.follow == Follow(1, "next", ()) and len(session.history) == 1


def test_a_saved_slot_keeps_its_follow_action_and_a_journal_replays_it(session, store):
    session.set_follow(3, "previous", source="ui")
    session.save_slot(9)
    assert store.load(9).follow == Follow(3, "previous", ())
    replayed = Session(store)
    replayed.replay({"edit": session.history.entries[-1].record()})
    assert replayed.pattern.follow == Follow(3, "previous", ())


# -- playing it --------------------------------------------------------------------------------


def following(slot_steps: str, follow: Follow, name: str = "lead") -> dict[str, Any]:
    return slot_pattern(name, slot_steps, follow=follow)


@pytest.fixture
def slots(store) -> Any:
    """A02 (12 steps, after 2 plays: next), A03 (32 steps) and A01, H16 saved."""
    store.save(1, slot_pattern("one"))
    store.save(2, following("x" * 12, Follow(2, "next")))
    store.save(3, slot_pattern("three", "x" * 32))
    store.save(128, slot_pattern("last"))
    return store


def play(session: Session, engine: FakeEngine, slot: int) -> None:
    """Load `slot` while playing and let it switch in."""
    session.start()
    session.load_slot(slot, source="ui")
    switch(session, engine.last("pattern"))


@pytest.mark.parametrize("follow,target", [
    (Follow(2, "next"), "three"),
    (Follow(2, "previous"), "one"),
    (Follow(2, "slot", (128,)), "last"),
])
def test_the_slot_after_is_queued_for_the_line_after_its_plays(session, slots, engine, follow, target):
    slots.save(2, following("x" * 12, follow))
    play(session, engine, 2)
    queued = queued_pattern(engine, 2)
    assert (queued["mode"], queued["every"], queued["pattern"]["name"]) == ("bar", 24, target)
    assert session.pending.source == "follow" and session.pattern.name == "lead"


def test_a_followed_slot_follows_its_own_action_and_next_wraps_from_h16_to_a01(session, slots, engine):
    slots.save(3, following("x" * 32, Follow(1, "slot", (128,)), "three"))
    slots.save(128, following("x" * 16, Follow(3, "next"), "last"))
    play(session, engine, 2)
    switch(session, queued_pattern(engine, 2))  # A03 switches in: its own action queues H16
    assert session.transport.playing_slot == 3
    to_last = queued_pattern(engine, 3)
    assert (to_last["every"], to_last["pattern"]["name"]) == (32, "last")
    switch(session, to_last)
    wrapped = queued_pattern(engine, 4)
    assert (wrapped["every"], wrapped["pattern"]["name"], session.transport.queued_slot) == (48, "one", 1)


def test_random_chooses_from_its_set_with_the_sessions_generator(session, slots, engine):
    slots.save(2, following("x" * 12, Follow(1, "random", (1, 3, 128))))
    session.follow_random = random.Random(11)
    expected = random.Random(11).choice([1, 3, 128])
    play(session, engine, 2)
    queued_pattern(engine, 2)
    assert session.transport.queued_slot == expected


def test_a_slot_loaded_while_stopped_follows_once_the_transport_starts(session, slots, engine):
    session.load_slot(2, source="ui")
    assert session.pending is None and len(engine.ops("pattern")) == 1  # nothing follows while stopped
    session.start(source="ui")
    queued = queued_pattern(engine, 2)
    assert (queued["every"], queued["pattern"]["name"]) == (24, "three")


def test_setting_a_follow_action_while_playing_queues_it_and_clearing_it_cancels(session, slots, engine):
    play(session, engine, 1)
    session.set_follow(4, "slot", [3], source="ui")
    queued = queued_pattern(engine, 2)
    assert (queued["every"], queued["pattern"]["name"]) == (64, "three")
    session.clear_follow(source="ui")
    wait_for(lambda: session.pending is None)
    assert engine.commands[-1]["op"] == "cancel" and session.transport.queued_slot is None


@pytest.mark.parametrize("takeover", ["load", "cancel", "stop"])
def test_a_load_cancel_or_stop_by_anyone_else_ends_it(session, slots, engine, takeover):
    play(session, engine, 2)
    queued_pattern(engine, 2)
    if takeover == "load":
        session.load_slot(1, "bar", source="osc 1.2.3.4:5")
        assert session.pending.source == "osc 1.2.3.4:5"
        assert engine.last("pattern")["pattern"]["name"] == "one"
    elif takeover == "cancel":
        session.cancel_queued(source="ui")
        assert session.pending is None
    else:
        session.stop(source="ui")
        assert session.pending is None and session.pattern.name == "lead"  # A03 not loaded by the stop
        assert [c["op"] for c in engine.commands[-2:]] == ["cancel", "transport"]
    assert len(engine.ops("pattern")) == 2 + (takeover == "load")


def test_an_empty_target_says_so_once_and_the_pattern_plays_on(session, slots, engine, changes):
    slots.save(2, following("x" * 12, Follow(1, "slot", (40,))))
    play(session, engine, 2)
    message = wait_for(lambda: [c.data["message"] for c in changes if c.kind == "error"])
    assert message == ["follow action of A02 (1 slot C08): C08 is empty; the pattern plays on"]
    assert session.pending is None and session.pattern.name == "lead" and len(engine.ops("pattern")) == 1


def test_next_of_a_pattern_from_no_slot_is_an_error(session, engine, changes):
    session.start()
    session.set_follow(1, "next", source="ui")
    message = wait_for(lambda: [c.data["message"] for c in changes if c.kind == "error"])
    assert message == ["follow action (1 next): next: the pattern playing is from no slot; "
                       "the pattern plays on"]


def test_no_follow_action_plays_while_a_chain_runs(session, slots, engine):
    session.set_chain(parse_chain("A02 A01"))
    session.start_chain()  # stopped: A02 loads at once and plays; the chain queues A01, not A03
    nxt = queued_pattern(engine, 2)
    assert (nxt["every"], nxt["pattern"]["name"], session.pending.source) == (12, "one", "chain")
    switch(session, nxt)
    assert queued_pattern(engine, 3)["pattern"]["name"] == "lead"  # the chain loops; A02's follow waits
    assert all(c["pattern"]["name"] != "three" for c in engine.ops("pattern"))



# -- over OSC ----------------------------------------------------------------------------------


def test_a_follow_action_is_set_shown_and_cleared_over_osc(osc, session):
    _, client = osc
    assert client.ok("/pattern/follow", 2, "RANDOM", "A03", 17, "h16") == [2, "random", "A03", "B01", "H16"]
    assert client.query("/seq/status")["follow"] == {"after": 2, "action": "random", "slots": [3, 17, 128]}
    assert session.history.entries[-1].author.startswith("osc ")
    assert client.ok("/pattern/follow", "off") == ["off"]
    assert client.query("/seq/status")["follow"] is None
    assert client.error("/pattern/follow", 1, "slot", "A03", "A04").endswith("'slot' takes one slot, not 2")


# -- the keyboard ------------------------------------------------------------------------------


async def test_f_in_the_slot_browser_types_the_follow_action_and_the_bank_marks_it(patterns_dir):
    app, session = make_app(patterns_dir, engine=FakeEngine())
    notes = spy_notifications(app)
    session.store.save(3, following("x" * 16, Follow(1, "next"), "three"))
    session.store.save(4, slot_pattern("four"))
    async with app.run_test(size=(120, 40)) as pilot:
        app.slots.focus()
        await settle(pilot)
        assert "A03■↪three" in screen_text(app) and "A04■ four" in screen_text(app)
        await pilot.press("F", *"2 random a3 B07", "enter")
        await settle(pilot)
        assert session.pattern.follow == Follow(2, "random", (3, 23))
        await pilot.press("F", *"2 sideways", "enter")  # refused: a message, nothing changed
        await settle(pilot)
        assert notes[-1] == ("'sideways' is not one of next, previous, slot, random", "error")
        assert session.pattern.follow == Follow(2, "random", (3, 23))
        session.save_slot(4)  # the live pattern (and its follow action) saved to A04
        await settle(pilot)
        assert "A04■↪" in screen_text(app)
        await pilot.press("u")  # the keyboard's last edit was the follow action: undone
        await settle(pilot)
        assert session.pattern.follow is None


def test_a_load_now_by_anyone_else_drops_the_queued_follow_load_in_the_engine_too(session, slots, engine):
    play(session, engine, 2)
    queued_pattern(engine, 2)
    session.load_slot(1, "now", source="ui")
    last = engine.commands[-2:]  # the load and the cancel of the queued one, in one block
    assert sorted((c["op"], c.get("mode")) for c in last) == [("cancel", None), ("pattern", "now")]
    assert session.pending is None and session.pattern.name == "one"
