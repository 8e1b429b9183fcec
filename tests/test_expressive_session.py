"""Expressive steps through the Session: set_step_options, set_step_lock, set_seed and
set_fill, each edit undoable and journaled, bad input refused with nothing changed, and the
other step edits keeping (or, clear_track, clearing) a step's expressive fields."""

from __future__ import annotations

from typing import Any

import pytest
from support.fakes import FakeEngine
from support.journal import JournalRecorder

from chronus_tui.engine.protocol import Restarted, SetFill
from chronus_tui.history import HistoryError
from chronus_tui.model import (
    MAX_LOCKS,
    Pattern,
    PatternError,
    Step,
    Track,
    lock_spec,
    lockable_params,
    parse_steps,
)
from chronus_tui.session import ChangeKind, FieldError, Session, SessionError
from chronus_tui.store import SlotStore
from chronus_tui.ui.clipboard import Clipboard

OPTIONS = {"prob": 50, "cond": "1:4", "micro": -3, "ratchet": 3, "locks": {"filter/freq": 800.0}}


def groove() -> Pattern:
    return Pattern(name="groove", tracks=[Track("kick", "voice1", parse_steps("X...x...")),
                                          Track("bass", "voice2", parse_steps("x.x.x.x."))])


@pytest.fixture
def live(session: Session) -> Session:
    session.apply_snapshot(groove(), "now")
    return session


def expressive(step: Step) -> dict[str, Any]:
    return {"prob": step.prob, "cond": step.cond, "micro": step.micro, "ratchet": step.ratchet,
            "locks": step.locks}


def test_set_step_options_sets_them_all_as_one_undoable_edit(live: Session, engine: FakeEngine,
                                                              changes: list) -> None:
    engine.clear()
    step = live.set_step_options("kick", 4, OPTIONS, source="ui")
    assert expressive(step) == OPTIONS and step.on  # the rest of the step stays
    assert expressive(live.pattern.track("kick").steps[4]) == OPTIONS
    sent = engine.last("track")  # the engine gets the track, as for any step edit
    assert sent["index"] == 0 and sent["track"]["steps"][4] == {
        "on": True, "accent": False, "note": None, "slide": False, **OPTIONS}
    assert changes[-1].kind == ChangeKind.TRACK
    assert changes[-1].data == {"track": "kick", "step": 4, "options": sorted(OPTIONS)}
    entry = live.history.entries[-1]
    assert entry.summary == "kick step 5 prob 50, cond 1:4, micro -3, ratchet 3, locks 1"
    live.undo(source="ui")
    assert live.pattern.track("kick").steps[4] == Step(on=True)
    assert engine.last("track")["track"]["steps"][4] == {"on": True, "accent": False, "note": None,
                                                         "slide": False}
    live.redo(source="ui")
    assert expressive(live.pattern.track("kick").steps[4]) == OPTIONS


def test_set_step_options_changes_only_the_keys_given_and_none_clears_the_condition(live: Session) -> None:
    live.set_step_options("kick", 0, OPTIONS)
    live.set_step_options("kick", 0, {"prob": 75, "cond": None})
    assert expressive(live.pattern.track("kick").steps[0]) == {**OPTIONS, "prob": 75, "cond": None}
    live.set_step_options("kick", 0, {"locks": {}})
    assert live.pattern.track("kick").steps[0].locks == {}


def test_the_returned_step_is_a_copy(live: Session) -> None:
    step = live.set_step_options("kick", 0, {"locks": {"amp": 0.5}})
    step.locks["amp"] = 0.9
    assert live.pattern.track("kick").steps[0].locks == {"amp": 0.5}


@pytest.mark.parametrize(("track", "index", "options", "path"), [
    ("kick", 0, {"prob": 101}, "prob"),
    ("kick", 0, {"prob": -1}, "prob"),
    ("kick", 0, {"prob": True}, "prob"),
    ("kick", 0, {"prob": float("nan")}, "prob"),
    ("kick", 0, {"prob": 50.5}, "prob"),
    ("kick", 0, {"prob": "50"}, "prob"),
    ("kick", 0, {"micro": 24}, "micro"),
    ("kick", 0, {"micro": 1e309}, "micro"),
    ("kick", 0, {"ratchet": 0}, "ratchet"),
    ("kick", 0, {"ratchet": 9}, "ratchet"),
    ("kick", 0, {"cond": "5:4"}, "cond"),
    ("kick", 0, {"cond": "fill"}, "cond"),
    ("kick", 0, {"cond": 3}, "cond"),
    ("kick", 0, {"locks": {"acid1/cutoff": 500.0}}, "locks.acid1/cutoff"),  # voice1 has no acid
    ("kick", 0, {"locks": {"freq": 500.0}}, "locks.freq"),  # a step has its note
    ("kick", 0, {"locks": {"filter/freq": 1e9}}, "locks.filter/freq"),
    ("kick", 0, {"locks": {"filter/freq": False}}, "locks.filter/freq"),
    ("kick", 0, {"locks": [("amp", 0.5)]}, "locks"),
    ("kick", 0, {"locks": {f"k{i}": 0.5 for i in range(10_000)}}, "locks"),
    ("kick", 0, {"swing": 0.5}, "swing"),
    ("kick", 0, {"prob": 50, "ratchet": 99}, "ratchet"),  # one bad option: none applies
    ("kick", 8, {"prob": 50}, "index"),
    ("kick", -1, {"prob": 50}, "index"),
    ("kick", True, {"prob": 50}, "index"),
    ("snare", 0, {"prob": 50}, "track"),
])
def test_bad_options_are_refused_by_name_and_change_nothing(live: Session, engine: FakeEngine, changes: list,
                                                           track: str, index: Any, options: Any,
                                                           path: str) -> None:
    _refused(live, engine, changes, lambda: live.set_step_options(track, index, options), path)


def test_options_that_are_no_mapping_are_refused(live: Session, engine: FakeEngine, changes: list) -> None:
    _refused(live, engine, changes, lambda: live.set_step_options("kick", 0, [("prob", 50)]), "options")


# -- set_step_lock -----------------------------------------------------------------------

def test_set_step_lock_sets_and_removes_one_lock(live: Session, engine: FakeEngine) -> None:
    live.set_step_lock("bass", 2, "acid1/cutoff", 400)  # the acid voice locks acid1 too
    live.set_step_lock("bass", 2, "filter/q", 4.0)
    assert live.pattern.track("bass").steps[2].locks == {"acid1/cutoff": 400.0, "filter/q": 4.0}
    live.set_step_lock("bass", 2, "acid1/cutoff", None)
    assert live.pattern.track("bass").steps[2].locks == {"filter/q": 4.0}
    assert engine.last("track")["track"]["steps"][2]["locks"] == {"filter/q": 4.0}
    entries = len(live.history)
    live.set_step_lock("bass", 2, "amp", None)  # no such lock: nothing to do
    assert len(live.history) == entries
    live.undo(count=3)
    assert live.pattern.track("bass").steps[2].locks == {}


def test_set_step_lock_refuses_a_lock_past_the_most_and_bad_keys(live: Session, engine: FakeEngine,
                                                                changes: list) -> None:
    keys = lockable_params("voice2")[:MAX_LOCKS + 1]
    for key in keys[:MAX_LOCKS]:
        live.set_step_lock("bass", 0, key, lock_spec("voice2", key).default)
    assert len(live.pattern.track("bass").steps[0].locks) == MAX_LOCKS
    extra, value = keys[MAX_LOCKS], lock_spec("voice2", keys[MAX_LOCKS]).default
    _refused(live, engine, changes, lambda: live.set_step_lock("bass", 0, extra, value), "locks")
    _refused(live, engine, changes, lambda: live.set_step_lock("kick", 0, "acid1/res", 0.5),
             "locks.acid1/res")
    _refused(live, engine, changes, lambda: live.set_step_lock("kick", 0, "acid1/res", None),
             "locks.acid1/res")
    _refused(live, engine, changes, lambda: live.set_step_lock("kick", 0, "amp", 2.0), "locks.amp")
    _refused(live, engine, changes, lambda: live.set_step_lock("kick", 0, "amp", float("inf")), "locks.amp")
    _refused(live, engine, changes, lambda: live.set_step_lock("kick", 99, "amp", 0.5), "index")


# -- seed --------------------------------------------------------------------------------

def test_set_seed_is_an_undoable_edit_the_engine_hears(live: Session, engine: FakeEngine,
                                                       changes: list) -> None:
    engine.clear()
    assert live.set_seed(1234, source="ui") == 1234
    assert live.pattern.seed == 1234
    assert engine.last("pattern")["mode"] == "edit" and engine.last("pattern")["pattern"]["seed"] == 1234
    assert changes[-1].kind == ChangeKind.SEED and changes[-1].data == {"seed": 1234}
    assert live.history.entries[-1].summary == "seed 0 → 1234"
    live.undo(source="ui")
    assert live.pattern.seed == 0
    assert "seed" not in engine.last("pattern")["pattern"] and engine.last("pattern")["mode"] == "edit"
    assert ChangeKind.SEED in [c.kind for c in changes[-3:]]


@pytest.mark.parametrize("seed", [-1, 2**31, True, 1.5, "7", float("nan"), None])
def test_a_bad_seed_is_refused(live: Session, engine: FakeEngine, changes: list, seed: Any) -> None:
    _refused(live, engine, changes, lambda: live.set_seed(seed), "seed")


# -- fill --------------------------------------------------------------------------------

def test_fill_is_live_state_sent_and_announced_but_not_an_edit(live: Session, engine: FakeEngine,
                                                               changes: list) -> None:
    entries = len(live.history)
    assert live.fill is False
    live.set_fill(True, source="ui")
    assert live.fill is True and engine.sent[-1] == SetFill(True)
    assert changes[-1].kind == ChangeKind.FILL and changes[-1].data == {"fill": True}
    live.set_fill(False)
    assert live.fill is False and engine.sent[-1] == SetFill(False)
    assert len(live.history) == entries  # nothing to undo
    assert "fill" not in live.snapshot()
    _refused(live, engine, changes, lambda: live.set_fill(1), "fill")


def test_a_restarted_engine_gets_fill_mode_again(live: Session, engine: FakeEngine) -> None:
    live.set_fill(True)
    engine.clear()
    live.on_engine_event(Restarted("null", 1))
    assert SetFill(True) in engine.sent
    live.set_fill(False)
    engine.clear()
    live.on_engine_event(Restarted("null", 1))
    assert not any(isinstance(c, SetFill) for c in engine.sent)  # a new engine starts with it off


# -- the other step edits keep a step's expressive fields ---------------------------------

def test_step_edits_keep_the_expressive_fields(live: Session) -> None:
    live.set_step_options("kick", 4, OPTIONS)
    live.set_step("kick", 4, False)
    live.set_step("kick", 4, True, accent=True, slide=True, note=[60, 12.5])
    live.set_step("kick", 4, note=None)
    live.update_notes("kick", [48])
    live.set_length("kick", 4)  # step 4 hidden …
    live.set_length("kick", 8)  # … and back
    step = live.pattern.track("kick").steps[4]
    assert expressive(step) == OPTIONS
    assert (step.on, step.accent, step.slide, step.note) == (True, True, True, 48)
    live.update_pattern("kick", "x.x.x.x.x.")  # a new pattern string: each place keeps its fields
    assert expressive(live.pattern.track("kick").steps[4]) == OPTIONS
    live.add_track("kick", "voice1", "x...x...")  # the original's /seq/add over a track: the same
    assert expressive(live.pattern.track("kick").steps[4]) == OPTIONS
    copy = live.duplicate_track("kick")
    assert expressive(copy.steps[4]) == OPTIONS
    copy.steps[4].locks["amp"] = 0.1  # the copy shares no lock dict
    assert live.pattern.track("kick").steps[4].locks == OPTIONS["locks"]


def test_paste_keeps_the_fields_and_the_locks_the_voice_takes(live: Session) -> None:
    live.set_step_options("bass", 0, {**OPTIONS, "locks": {"acid1/res": 0.5, "amp": 0.4}})
    copied = [live.pattern.track("bass").steps[0]]
    live.paste_steps("bass", 2, copied)
    live.paste_steps("kick", 2, copied)  # voice1: no acid1 locks
    both = {"acid1/res": 0.5, "amp": 0.4}
    assert expressive(live.pattern.track("bass").steps[2]) == {**OPTIONS, "locks": both}
    assert expressive(live.pattern.track("kick").steps[2]) == {**OPTIONS, "locks": {"amp": 0.4}}
    live.pattern.track("bass").steps[2].locks["amp"] = 0.9  # (a test reaching in) shares nothing
    assert live.pattern.track("bass").steps[0].locks["amp"] == 0.4


def test_the_clipboard_copies_the_fields_and_shares_no_lock(live: Session) -> None:
    live.set_step_options("kick", 4, OPTIONS)
    clipboard = Clipboard.of_steps(live.pattern.track("kick"), 4, 5)
    live.set_step_lock("kick", 4, "filter/freq", 900.0)  # after the copy: not in it
    live.paste_steps("kick", 0, list(clipboard.steps))
    assert expressive(live.pattern.track("kick").steps[0]) == OPTIONS


def test_clear_track_clears_the_expressive_fields_too(live: Session) -> None:
    live.set_step_options("kick", 4, OPTIONS)
    live.set_length("kick", 2)  # step 4 hidden, cleared as well
    live.clear_track("kick")
    live.set_length("kick", 8)
    assert all(step == Step() for step in live.pattern.track("kick").steps)
    live.undo(count=3)
    assert expressive(live.pattern.track("kick").steps[4]) == OPTIONS


def test_a_new_voice_keeps_the_locks_it_can_take_and_undo_brings_back_the_rest(live: Session,
                                                                             changes: list) -> None:
    live.set_step_options("bass", 0, {"prob": 40, "locks": {"acid1/res": 0.5, "amp": 0.4}})
    live.set_length("bass", 1)
    live.set_step_options("bass", 0, {"locks": {"acid1/cutoff": 300.0}})  # and one on a hidden step
    live.set_length("bass", 8)
    live.set_step_options("bass", 0, {"locks": {"acid1/res": 0.5, "amp": 0.4}})
    live.set_step_lock("bass", 2, "acid1/decay", 0.5)
    assert live.set_voice("bass", "voice3") == 2
    assert changes[-1].data["locks_dropped"] == 2
    assert live.history.entries[-1].summary == "bass voice2 → voice3, 2 locks dropped"
    bass = live.pattern.track("bass")
    assert bass.steps[0].locks == {"amp": 0.4} and bass.steps[0].prob == 40 and bass.steps[2].locks == {}
    live.undo()
    assert live.pattern.track("bass").steps[2].locks == {"acid1/decay": 0.5}


# -- journal and recovery ------------------------------------------------------------------

def test_a_recovered_journal_gives_back_every_expressive_edit(store: SlotStore) -> None:
    session = Session(store, FakeEngine(), groove())
    journal = JournalRecorder(session)
    session.set_step_options("kick", 4, OPTIONS, source="ui")
    session.set_step_lock("bass", 2, "acid1/cutoff", 300.0, source="osc")
    session.set_seed(99, source="ui")
    session.set_voice("bass", "voice4", source="ui")
    session.undo(source="ui")  # the voice again: the acid lock back
    session.set_fill(True)  # not journaled: a recovered session starts without fill
    recovered = journal.recover(store)
    assert recovered.pattern == session.pattern and recovered.pattern.seed == 99
    assert recovered.fill is False
    assert [e.summary for e in recovered.history.entries] == [e.summary for e in session.history.entries]



@pytest.mark.parametrize("options", [{"locks": {"acid1/res": 0.5}}, {"prob": 101}, {"swing": 1},
                                     {"locks": {f"k{i}": 1.0 for i in range(10_000)}}, ["prob"]])
def test_a_journal_record_with_bad_step_options_is_refused_and_changes_nothing(store: SlotStore,
                                                                               options: Any) -> None:
    session = Session(store, FakeEngine(), groove())
    journal = JournalRecorder(session)
    session.set_step_options("kick", 0, {"prob": 50})
    record = journal.records[-1]
    record["edit"]["ops"][0][2][5] = options  # [target, before, after]: after's options
    recovered = Session(store, pattern=groove())
    with pytest.raises(HistoryError):
        recovered.replay(record)
    assert recovered.pattern == groove()


def _refused(session: Session, engine: FakeEngine, changes: list, call: Any, path: str) -> None:
    """`call` raises a FieldError (a PatternError and a SessionError) naming `path`, and
    nothing changed: the pattern, the engine, the listeners, the history."""
    before, sent, told, entries = session.snapshot(), len(engine.commands), len(changes), len(session.history)
    with pytest.raises(FieldError) as info:
        call()
    assert isinstance(info.value, PatternError) and isinstance(info.value, SessionError)
    assert info.value.path == path, str(info.value)
    assert len(str(info.value)) < 400  # a huge value is not echoed whole
    assert session.snapshot() == before and len(engine.commands) == sent and len(changes) == told
    assert len(session.history) == entries
