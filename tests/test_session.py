"""Session: the one owner of the live state (validate first, queue loads, tell listeners)."""

from __future__ import annotations

import json
import threading

import pytest
from support.fakes import FakeEngine
from support.patterns import full_pattern

from chronus_tui.engine.protocol import EngineMessage, Position, Restarted, Status, Switched
from chronus_tui.model import Pattern, Track, parse_steps, steps_text
from chronus_tui.patternfile import pattern_from_dict, pattern_to_dict
from chronus_tui.session import Clamped, Session, SessionError


def groove(name: str = "next", bpm: float = 128.0) -> Pattern:
    return Pattern(name=name, bpm=bpm, tracks=[Track("kick", "voice1", parse_steps("X...X...X...X...")),
                                               Track("bass", "voice2", parse_steps("x.x.x.x."))])


def kinds(changes) -> list[str]:
    return [c.kind for c in changes]


# -- snapshot ------------------------------------------------------------------------------

def test_snapshot_is_complete_json_ready_and_self_contained(session):
    session.apply_snapshot(full_pattern(), "now")
    snap = session.snapshot()
    assert json.loads(json.dumps(snap)) == snap
    assert pattern_from_dict(snap) == session.pattern
    snap["sequencer"]["tracks"][0]["steps"][0]["note"] = 1
    snap["sequencer"]["tracks"].clear()
    snap["modules"]["voice1"]["freq"] = 20.0
    snap["sequencer"]["bpm"] = 60.0
    assert session.pattern == full_pattern()
    assert session.snapshot() == pattern_to_dict(full_pattern())


def test_apply_snapshot_does_not_keep_the_callers_objects(session):
    pattern = groove()
    session.apply_snapshot(pattern, "now")
    pattern.tracks[0].steps[0].on = False
    pattern.modules["voice1"]["freq"] = 30.0
    assert session.pattern.tracks[0].steps[0].on and session.pattern.modules["voice1"]["freq"] == 440.0


# -- apply_snapshot: validation ----------------------------------------------------------

def test_invalid_snapshot_changes_nothing(session, engine, changes):
    session.apply_snapshot(groove("current"), "now")
    before, sent, told = session.snapshot(), len(engine.commands), len(changes)
    bad = pattern_to_dict(groove("bad"))
    bad["sequencer"]["tracks"][1]["steps"][5]["note"] = 140
    with pytest.raises(SessionError,
                       match=r"^sequencer.tracks\[1\].steps\[5\].note: 140 is out of range 0–127$"):
        session.apply_snapshot(bad, "now")
    with pytest.raises(SessionError, match=r"load mode 'later' is not one of bar, bar2, bar4, bar8, end"):
        session.apply_snapshot(pattern_to_dict(groove()), "later")
    with pytest.raises(SessionError, match="expected a JSON object"):
        session.apply_snapshot([], "now")
    assert session.snapshot() == before
    assert len(engine.commands) == sent and len(changes) == told


def test_apply_now_while_stopped_switches_at_once(session, engine, changes):
    assert session.apply_snapshot(pattern_to_dict(groove()), "bar", slot=5, source="osc") is None
    assert session.pattern.name == "next" and session.pending is None
    command = engine.last("pattern")
    assert command["mode"] == "now" and command["pattern"] == pattern_to_dict(groove())
    assert isinstance(command["token"], int)
    assert session.transport.playing_slot == 5
    assert changes[-1].kind == "pattern" and changes[-1].data["slot"] == 5 and changes[-1].source == "osc"


# -- queued loads ----------------------------------------------------------------------------

@pytest.fixture
def playing(session, engine, changes):
    session.apply_snapshot(groove("first"), "now", slot=1)
    session.start()
    engine.clear()
    changes.clear()
    return session


def test_queued_load_switches_only_on_the_matching_switched_event(playing, engine, changes):
    pending = playing.apply_snapshot(groove("second"), "bar", slot=2, source="ui")
    assert pending is not None and playing.pending == pending
    assert playing.pattern.name == "first"  # still playing the old one until the bar line
    command = engine.last("pattern")
    assert (command["mode"], command["token"], command["pattern"]["name"]) == ("bar", pending.token, "second")
    assert playing.transport.queued_slot == 2 and playing.transport.playing_slot == 1
    assert changes[-1].kind == "queued" and changes[-1].data["token"] == pending.token

    playing.on_engine_event(FakeEngine.switch(pending.token + 100, sample=1000))  # not ours
    playing.on_engine_event(Switched(token=0))  # no load's token (they count from 1)
    assert playing.pattern.name == "first" and playing.pending == pending

    playing.on_engine_event(FakeEngine.switch(pending.token, sample=96000))
    assert playing.pattern.name == "second" and playing.pending is None
    assert playing.transport.playing_slot == 2 and playing.transport.queued_slot is None
    change = changes[-1]
    assert change.kind == "pattern" and change.source == "ui"
    assert change.data == {"slot": 2, "name": "second", "sample": 96000, "switched": True,
                           "token": pending.token}
    told = len(changes)
    playing.on_engine_event(FakeEngine.switch(pending.token, sample=200000))  # a repeat does nothing
    assert len(changes) == told and playing.pattern.name == "second"


@pytest.mark.parametrize("at,every,lands", [
    ("bar", 16, (2, 0)), ("bar2", 32, (2, 0)), ("bar4", 64, (4, 0)), ("bar8", 128, (8, 0)),
    ("end", 0, (1, 8)), ("step", 16, (1, 6)),  # end: the next multiple of 12 steps after 21 is 24
])
def test_a_load_waits_for_its_launch_quantum_and_says_where_it_lands(playing, engine, changes, at, every,
                                                                     lands):
    """Bar 1 step 5 of a pattern whose longest track has 12 steps (the engine counts from 0)."""
    live = groove("first")
    for track in live.tracks:
        track.steps = track.steps[:12]
    playing.apply_snapshot(live, "now", slot=1)
    playing.on_engine_event(Position(bar=1, step=5))
    pending = playing.apply_snapshot(groove("second"), at, slot=2)
    command = engine.last("pattern")
    assert (command["mode"], command["every"]) == ("step" if at == "step" else "bar", every)
    assert pending.lands == lands and changes[-1].data["lands"] == lands and changes[-1].data["at"] == at


def test_the_default_launch_quantize_applies_to_a_load_that_names_none(playing, engine, changes):
    playing.set_quantize("bar4", source="ui")
    assert changes[-1].kind == "quantize" and changes[-1].data == {"quantize": "bar4"}
    pending = playing.apply_snapshot(groove("x"), slot=1)
    assert pending.at == "bar4" and engine.last("pattern")["every"] == 64
    with pytest.raises(SessionError, match="launch quantize 'bar3' is not one of bar, bar2, bar4, bar8, end"):
        playing.set_quantize("bar3")
    assert playing.quantize == "bar4"


def test_a_restarted_engine_gets_the_queued_load_with_its_quantum(playing, engine):
    pending = playing.apply_snapshot(groove("queued"), "bar8")
    engine.clear()
    playing.on_engine_event(Restarted(backend="null", restarts=1))
    queued = engine.commands[-1]
    assert (queued["mode"], queued["every"], queued["token"]) == ("bar", 128, pending.token)


def test_newer_queued_load_replaces_the_older(playing, engine):
    older = playing.apply_snapshot(groove("older"), "bar", slot=3)
    newer = playing.apply_snapshot(groove("newer"), "step", slot=4)
    assert newer.token != older.token and playing.pending == newer
    assert engine.last("pattern")["mode"] == "step"
    assert playing.transport.queued_slot == 4
    playing.on_engine_event(FakeEngine.switch(older.token))
    assert playing.pattern.name == "first"
    playing.on_engine_event(FakeEngine.switch(newer.token))
    assert playing.pattern.name == "newer" and playing.transport.playing_slot == 4


def test_stop_applies_a_pending_load_at_once(playing, engine, changes):
    playing.apply_snapshot(groove("queued"), "bar", slot=9)
    engine.clear()
    playing.stop(source="ui")
    assert not playing.transport.playing and playing.pending is None
    assert playing.pattern.name == "queued" and playing.transport.playing_slot == 9
    assert [c["op"] for c in engine.commands] == ["transport", "pattern"]
    assert engine.commands[0] == {"op": "transport", "playing": False}
    assert engine.commands[1]["mode"] == "now"
    assert kinds(changes)[-2:] == ["transport", "pattern"]


def test_cancel_queued(playing, engine, changes):
    assert playing.cancel_queued() is False
    playing.apply_snapshot(groove("queued"), "bar", slot=9)
    assert playing.cancel_queued(source="ui") is True
    assert playing.pending is None and playing.transport.queued_slot is None
    assert engine.last("cancel") == {"op": "cancel"}
    assert changes[-1].kind == "queued" and changes[-1].data == {"slot": None}
    playing.stop()
    assert playing.pattern.name == "first"


def test_now_while_playing_applies_at_once(playing, engine):
    assert playing.apply_snapshot(groove("now"), "now") is None
    assert playing.pattern.name == "now" and engine.last("pattern")["mode"] == "now"


def test_without_an_engine_loads_apply_at_once(store):
    session = Session(store)
    session.start()
    assert session.apply_snapshot(groove("direct"), "bar") is None
    assert session.pattern.name == "direct"


# -- slots ----------------------------------------------------------------------------------

def test_save_and_load_slots(session, store, engine, changes):
    session.apply_snapshot(groove("mine"), "now")
    path = session.save_slot(12, source="ui")
    assert path == store.slot_path(12) and store.load(12).name == "mine"
    assert changes[-1].kind == "saved" and changes[-1].data["slot"] == 12
    session.save_slot(13, name="named")
    assert store.load(13).name == "named" and changes[-1].data["name"] == "named"
    told = len(changes)
    session.autosave()
    assert store.load(0).name == "mine" and len(changes) == told  # the autosave is quiet
    session.start()
    pending = session.load_slot(13)
    assert pending.slot == 13 and session.pattern.name == "mine"
    session.on_engine_event(FakeEngine.switch(pending.token))
    assert session.pattern.name == "named" and session.transport.playing_slot == 13
    with pytest.raises(SessionError, match="E13 is empty"):
        session.load_slot(77)
    with pytest.raises(SessionError, match="is not a slot number"):
        session.load_slot(129)
    with pytest.raises(SessionError, match="is not a slot number"):
        session.save_slot(-1)
    with pytest.raises(SessionError, match="must be 1–32 printable"):
        session.save_slot(3, name="")
    assert not store.exists(3)


def test_failed_save_is_a_session_error_and_keeps_the_old_file(session, store, changes, monkeypatch):
    import errno
    import os

    session.apply_snapshot(groove("old"), "now")
    session.save_slot(4)
    session.set_name("new")
    told = len(changes)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(SessionError, match="A04: not saved, the old file is unchanged: No space left"):
        session.save_slot(4)
    monkeypatch.undo()
    assert store.load(4).name == "old" and len(changes) == told


def test_rename_slot(session, store, changes):
    session.apply_snapshot(groove("old name"), "now", slot=4)
    session.save_slot(4)
    session.rename_slot(4, "new name", source="osc")
    assert store.load(4).name == "new name"
    assert session.pattern.name == "new name"  # the slot is the one playing
    assert changes[-1].kind == "renamed" and changes[-1].data == {"slot": 4, "name": "new name"}
    with pytest.raises(SessionError, match="A05 is empty"):
        session.rename_slot(5, "x")
    assert [i.slot for i in session.list_slots()] == [4]


# -- parameters --------------------------------------------------------------------------------

def test_set_param_clamps_and_reports(session, engine, changes):
    assert session.set_param("voice1", "freq", 110.0) == Clamped(110.0, False)
    assert session.set_param("voice1", "freq", 9000, source="osc") == Clamped(5000.0, True)
    assert session.pattern.modules["voice1"]["freq"] == 5000.0
    assert engine.last("param") == {"op": "param", "module": "voice1", "param": "freq", "value": 5000.0}
    assert changes[-1].data == {"module": "voice1", "param": "freq", "value": 5000.0, "clamped": True}
    assert changes[-1].source == "osc"
    assert session.set_param("voice1", "osc/type", 7.6) == Clamped(5, True)
    assert session.set_param("acid1", "res", -1) == Clamped(0.0, True)


@pytest.mark.parametrize(("module", "param", "value", "message"), [
    ("voice9", "freq", 1.0, "voice9: unknown module"),
    ("voice1", "frequency", 1.0, "voice1/frequency: unknown parameter"),
    ("voice1", "freq", "high", "voice1/freq: 'high' is not a number"),
    ("voice1", "freq", float("nan"), "voice1/freq: NaN is not a value"),
    ("voice1", "freq", None, "voice1/freq: None is not a number"),
])
def test_set_param_refuses_bad_input_and_changes_nothing(session, engine, changes, module, param, value,
                                                         message):
    before = session.snapshot()
    with pytest.raises(SessionError, match=message):
        session.set_param(module, param, value)
    assert session.snapshot() == before and engine.commands == [] and changes == []


def test_nudge_param(session):
    session.set_param("voice2", "filter/freq", 1000.0)
    assert session.nudge_param("voice2", "filter/freq", 1, coarse=True).value == pytest.approx(2000.0)
    assert session.nudge_param("voice2", "filter/freq", -1).value == pytest.approx(2000.0 / 2 ** (1 / 12))
    assert session.nudge_param("voice2", "osc/type", 1).value == 1
    assert session.nudge_param("voice2", "osc/type", -1).value == 0
    with pytest.raises(SessionError, match="unknown module"):
        session.nudge_param("nope", "freq", 1)
    for direction in ("up", 0, 2, True):
        with pytest.raises(SessionError, match="is not 1 or -1"):
            session.nudge_param("voice2", "freq", direction)


def test_tempo_swing_and_name(session, engine, changes):
    assert session.set_bpm(500) == Clamped(300.0, True)
    assert engine.last("tempo") == {"op": "tempo", "bpm": 300.0, "swing": 0.0}
    assert session.set_swing(0.3) == Clamped(0.3, False)
    assert engine.last("tempo") == {"op": "tempo", "bpm": 300.0, "swing": 0.3}
    assert session.set_swing(1.0).clamped and session.pattern.swing == 0.6
    assert kinds(changes) == ["tempo", "swing", "swing"] and changes[0].data["clamped"] is True
    session.set_name("Night Drive")
    assert session.pattern.name == "Night Drive" and changes[-1].data == {"name": "Night Drive"}
    for bad in ("", "x" * 33, 5):
        with pytest.raises(SessionError):
            session.set_name(bad)
    with pytest.raises(SessionError, match="bpm: 'fast' is not a number"):
        session.set_bpm("fast")
    assert session.pattern.name == "Night Drive" and session.pattern.bpm == 300.0


# -- tracks -------------------------------------------------------------------------------------

def engine_tracks(commands: list[dict]) -> list[dict]:
    """The tracks an engine plays after these commands: whole patterns and single tracks."""
    tracks: list[dict] = []
    for command in commands:
        if command["op"] == "pattern":
            tracks = list(command["pattern"]["sequencer"]["tracks"])
        elif command["op"] == "track":
            tracks[command["index"]] = command["track"]
    return tracks


def test_track_editing_sends_the_edited_pattern(session, engine, changes):
    session.add_track("kick", "voice1", "X...x...", source="osc")
    session.add_track("bass", "voice2", "x.x.x.", notes=[33, 45])
    assert [t.name for t in session.pattern.tracks] == ["kick", "bass"]
    assert [s.note for s in session.pattern.track("bass").steps if s.on] == [33, 45, 33]
    command = engine.last("pattern")
    assert command["mode"] == "edit" and command["pattern"] == session.snapshot()
    assert changes[0].kind == "tracks" and changes[0].source == "osc"
    assert not engine.ops("track")

    engine.clear()
    session.set_step("bass", 0, True)  # an edit of one track sends that track alone
    assert engine.commands == [{"op": "track", "index": 1,
                                "track": session.snapshot()["sequencer"]["tracks"][1]}]
    session.set_mute("kick", True)
    session.set_solo("bass", True)
    assert session.set_level("kick", 1.7) == Clamped(1.0, True)
    assert session.set_gate("kick", 0.0) == Clamped(0.05, True)
    session.add_track("kick", "voice1", "x.x.")  # the original's /seq/add replaces in place
    kick = session.pattern.track("kick")
    assert steps_text(kick.steps) == "x.x." and kick.mute and kick.gate == 0.05
    assert [t.name for t in session.pattern.tracks] == ["kick", "bass"]

    session.update_pattern("bass", "xxxxxxxx")
    bass = session.pattern.track("bass")
    assert [s.note for s in bass.steps] == [33, 45, 33, 33, 45, 33, 33, 45]  # the notes cycle over the hits
    session.update_notes("bass", [40, 43])
    assert [s.note for s in bass.steps] == [40, 43] * 4
    step = session.set_step("bass", 3, False, note=None)
    assert not step.on and step.note is None
    session.set_step("bass", 2, accent=True, slide=True)
    assert session.pattern.track("bass").steps[2].accent and session.pattern.track("bass").steps[2].note == 40
    assert session.set_length("bass", 70) == Clamped(64, True)
    assert session.pattern.track("bass").length == 64 and not session.pattern.track("bass").steps[63].on
    session.set_length("bass", 4)
    assert steps_text(session.pattern.track("bass").steps) == "xxX."
    assert not engine.ops("pattern")  # every edit since the clear was of one track
    assert [c["index"] for c in engine.commands][-2:] == [1, 1]
    assert engine_tracks([{"op": "pattern", "pattern": command["pattern"]}, *engine.commands]) == \
        session.snapshot()["sequencer"]["tracks"]
    session.remove_track("kick")
    assert [t.name for t in session.pattern.tracks] == ["bass"]
    assert engine.last("pattern")["pattern"] == session.snapshot()
    session.clear_tracks()
    assert session.pattern.tracks == []
    assert engine.last("pattern")["pattern"]["sequencer"]["tracks"] == []


@pytest.mark.parametrize(("call", "message"), [
    (lambda s: s.add_track("x", "voice9", "x..."), "'voice9' is not a voice"),
    (lambda s: s.add_track("", "voice1", "x..."), "track name: '' must be"),
    (lambda s: s.add_track("x", "voice1", ""), "pattern: length 0 is out of range 1–64"),
    (lambda s: s.add_track("x", "voice1", "x...", notes=[200]), "note: 200 is out of range 0–127"),
    (lambda s: s.remove_track("nope"), "no track named 'nope'"),
    (lambda s: s.update_pattern("kick", "x" * 65), "length 65 is out of range"),
    (lambda s: s.update_notes("kick", [60, "C3"]), "note: 'C3' is not a number"),
    (lambda s: s.set_step("kick", 16, True), "step 16 is outside track 'kick' (0–15)"),
    (lambda s: s.set_step("kick", True, True), "step True is outside"),
    (lambda s: s.set_step("kick", 0, True, note=128), "note: 128 is out of range"),
    (lambda s: s.set_length("kick", "long"), "length: 'long' is not a number"),
    (lambda s: s.set_level("nope", 0.5), "no track named 'nope'"),
    (lambda s: s.gate("voice0", True), "'voice0' is not a voice"),
])
def test_bad_track_edits_change_nothing(session, engine, changes, call, message):
    session.add_track("kick", "voice1", "X...X...X...X...")
    before, sent, told = session.snapshot(), len(engine.commands), len(changes)
    with pytest.raises(SessionError) as info:
        call(session)
    assert message in str(info.value)
    assert session.snapshot() == before and len(engine.commands) == sent and len(changes) == told


def test_track_limit(session):
    for i in range(16):
        session.add_track(f"t{i}", "voice1", "x")
    with pytest.raises(SessionError, match="already 16 tracks"):
        session.add_track("t16", "voice1", "x")
    session.add_track("t3", "voice2", "xx")  # replacing one is still fine
    assert len(session.pattern.tracks) == 16


def test_transport_and_gate(session, engine, changes):
    session.start(source="ui")
    assert session.transport.playing and engine.last("transport") == {"op": "transport", "playing": True}
    session.gate("voice3", 1)
    assert engine.last("gate") == {"op": "gate", "voice": "voice3", "on": True}
    assert kinds(changes) == ["transport", "gate"]


# -- listeners and engine events ---------------------------------------------------------------

def test_listeners_are_told_and_a_broken_one_breaks_nothing(session, changes, caplog):
    def broken(change):
        raise RuntimeError("listener bug")

    session.subscribe(broken)
    session.set_bpm(130)
    assert changes[-1].kind == "tempo" and session.pattern.bpm == 130.0
    assert "listener failed on tempo" in caplog.text
    failures = caplog.text.count("listener failed")  # on the tempo and on its history entry
    session.unsubscribe(broken)
    session.unsubscribe(broken)  # twice is harmless
    session.set_bpm(131)
    assert caplog.text.count("listener failed") == failures == 2


def test_engine_events(session, engine, changes):
    session.on_engine_event(Position(bar=3, step=7, sample=1))
    assert (session.transport.bar, session.transport.step) == (3, 7)
    assert changes[-1].kind == "position" and changes[-1].data == {"bar": 3, "step": 7}
    session.on_engine_event(Status(backend="null", sr=48000, buffer=256, cpu=3.5))
    status = session.status()
    assert (status["backend"], status["sr"], status["cpu"]) == ("null", 48000, 3.5)
    assert status["bar"] == 3 and status["playing"] is False
    session.on_engine_event(EngineMessage(message="voice blew up"))
    assert changes[-1].kind == "error" and changes[-1].data == {"message": "voice blew up"}
    session.on_engine_event({"event": "something new"})  # unknown events are ignored


def test_restarted_engine_gets_the_whole_state(session, engine):
    session.apply_snapshot(groove("live"), "now")
    session.start()
    pending = session.apply_snapshot(groove("queued"), "bar")
    engine.clear()
    session.on_engine_event(Restarted(backend="null", restarts=1))
    ops = [(c["op"], c.get("mode")) for c in engine.commands]
    assert ops == [("pattern", "now"), ("transport", None), ("pattern", "bar")]
    assert engine.commands[0]["pattern"]["name"] == "live"
    assert engine.commands[1]["playing"] is True
    assert engine.commands[2]["token"] == pending.token and engine.commands[2]["pattern"]["name"] == "queued"


def test_snapshots_stay_valid_while_other_threads_edit(session):
    session.apply_snapshot(full_pattern(), "now")
    stop = threading.Event()
    errors: list[BaseException] = []

    def edit(worker: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                session.set_param(f"voice{worker + 1}", "freq", 20 + i % 4000)
                session.set_step(f"track{worker + 1}", i % 32, i % 2 == 0, note=i % 128)
                session.set_length(f"track{worker + 1}", 32 + i % 33)
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=edit, args=(w,)) for w in range(3)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(40):
            pattern_from_dict(session.snapshot())  # always complete and valid
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []


def test_every_engine_command_is_sent_under_the_session_lock(store):
    """Two threads changing the session must not reach the engine in another order than
    the model saw: each command leaves while the lock that ordered its change is held."""
    unlocked: list[str] = []

    class LockCheckingEngine(FakeEngine):
        def send(self, command):
            def probe() -> None:  # another thread must find the lock taken
                if session._lock.acquire(blocking=False):
                    session._lock.release()
                    unlocked.append(command.op)

            checker = threading.Thread(target=probe)
            checker.start()
            checker.join()
            super().send(command)

    session = Session(store, LockCheckingEngine(), pattern=groove())
    session.set_param("voice1", "amp", 0.5)
    session.set_bpm(130)
    session.set_swing(0.2)
    session.start()
    session.set_step(session.pattern.tracks[0].name, 0, True)
    session.gate("voice1", True)
    session.apply_snapshot(groove("next"), "bar")
    session.cancel_queued()
    session.resync()
    session.stop()
    assert {c["op"] for c in session.engine.commands} >= {"param", "tempo", "transport", "track",
                                                          "gate", "pattern", "cancel"}
    assert unlocked == []


def test_loading_an_original_file_names_what_was_not_carried_over(session, store, changes, legacy_dir):
    import shutil

    shutil.copy(legacy_dir / "slot_002.json", store.slot_path(21))
    session.load_slot(21, "now", source="osc")
    assert session.pattern.bpm == 174.0
    imported = [c for c in changes if c.kind == "imported"]
    assert len(imported) == 1 and imported[0].source == "osc" and imported[0].data["slot"] == 21
    assert any("acid.notes" in field for field in imported[0].data["dropped"])
    told = len(changes)
    session.save_slot(22)
    session.load_slot(22, "now")
    assert "imported" not in [c.kind for c in changes[told:]]  # our own files drop nothing


def test_runtime_close_says_whether_the_autosave_was_written(session, store, monkeypatch):
    import errno
    import os

    from chronus_tui.runtime import Runtime

    runtime = Runtime(store, session, None, [])
    assert runtime.close() == store.slot_path(0)

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "write", read_only)
    assert runtime.close() is None
