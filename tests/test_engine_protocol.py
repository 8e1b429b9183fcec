"""The protocol between the Session and the synth process (engine/protocol.py): every object
crosses the real pipe and comes out equal, the supersede keys say which commands replace
each other, the Session sends copies of its pattern, and a pattern is validated once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.fakes import FakeEngine
from support.patterns import full_pattern

from chronus_tui import patternfile
from chronus_tui.engine import protocol
from chronus_tui.engine.protocol import (
    CancelQueued,
    Command,
    Down,
    EngineMessage,
    Event,
    Failed,
    Gate,
    Position,
    Ready,
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
from chronus_tui.engine.wire import FrameReader, FrameWriter
from chronus_tui.model import Pattern
from chronus_tui.session import Session
from chronus_tui.store import SlotStore

PATTERN = full_pattern()
EXAMPLES: list[Command | Event] = [
    ReplacePattern(PATTERN, "bar", 7), ReplacePattern(PATTERN, "edit"), ReplaceTrack(3, PATTERN.tracks[3]),
    SetParam("voice2", "filter/freq", 440.0), SetTempo(133.0, 0.25), SetTransport(True), SetFill(True),
    Gate("voice6", False), CancelQueued(), StartRecording("/tmp/set.wav", at_bar=False), StopRecording(),
    RecordingStarted("/tmp/set.wav", 96000), RecordingStopped("/tmp/set.wav", 48000, "disk full"),
    Ready("null", 48000, 256, 1234), Failed("jack", "no JACK server"),
    Status("jack", 48000, 256, cpu=3.5, blocks=99, callback_ms=0.25, slow_commands=1, xruns=2),
    Position(1, 15, 96000), Switched(7, 123456), EngineMessage("engine could not apply 'gate'"),
    Down("the engine process died (exit -9)", 0.8, 3, 2), Restarting(3, 2), Restarted("null", 3),
]


def protocol_classes() -> set[type]:
    return {value for value in vars(protocol).values() if isinstance(value, type)
            and issubclass(value, (Command, Event)) and value not in (Command, Event)}


def test_the_examples_cover_every_command_and_event() -> None:
    assert {type(example) for example in EXAMPLES} == protocol_classes()


def test_every_command_and_event_crosses_the_pipe_equal() -> None:
    read_fd, write_fd = os.pipe()
    writer, reader = FrameWriter(write_fd), FrameReader(read_fd)
    try:
        for example in EXAMPLES:
            writer.send(example)
        received: list[object] = []
        while len(received) < len(EXAMPLES):
            writer.flush()  # (the examples are more than a pipe holds at once)
            assert reader.wait(5.0)
            received += reader.read()
    finally:
        os.close(write_fd)
        reader.close()
    assert received == EXAMPLES
    assert [type(r) for r in received] == [type(e) for e in EXAMPLES]
    assert received[0].pattern is not PATTERN and patternfile.pattern_to_dict(received[0].pattern) == \
        patternfile.pattern_to_dict(PATTERN)


def test_every_object_is_frozen() -> None:
    for example in EXAMPLES:
        field = next(iter(vars(example)), None)
        if field is not None:
            with pytest.raises(AttributeError):
                setattr(example, field, None)


def test_supersede_keys_name_what_a_later_command_replaces() -> None:
    keys = [
        (SetTempo(120.0, 0.0), ("tempo",)), (SetTempo(90.0, 0.3), ("tempo",)),
        (SetParam("voice1", "amp", 0.5), ("param", "voice1", "amp")),
        (SetParam("voice1", "pan", 0.5), ("param", "voice1", "pan")),
        (ReplacePattern(PATTERN, "edit"), ("edit",)),
        (ReplaceTrack(0, PATTERN.tracks[0]), ("track", 0)),
        (ReplaceTrack(5, PATTERN.tracks[0]), ("track", 5)),
    ]
    for command, key in keys:
        assert command.supersedes == key, command.op
    # every one of these counts: a load is reported by its token, a transport or gate change is an event
    for command in (ReplacePattern(PATTERN, "now", 1), ReplacePattern(PATTERN, "bar", 2),
                    ReplacePattern(PATTERN, "step", 3), SetTransport(True), Gate("voice1", True),
                    CancelQueued()):
        assert command.supersedes is None, command


def test_an_event_as_listeners_see_it() -> None:
    assert Down("died", 0.8, 3, 2).as_dict() == {"event": "down", "message": "died", "retry_in": 0.8,
                                                  "attempt": 3, "restarts": 2}
    # without JACK there is no xrun count: the key is left out, not null
    assert Status("null", 48000, 256).as_dict() == {"event": "status", "backend": "null", "sr": 48000,
                                                    "buffer": 256, "cpu": 0.0, "blocks": 0,
                                                    "callback_ms": 0.0, "slow_commands": 0}


def test_the_session_sends_copies_that_its_later_edits_do_not_change(tmp_path: Path) -> None:
    engine = FakeEngine()
    session = Session(SlotStore(tmp_path), engine, pattern=full_pattern())
    session.resync()
    session.set_step("track1", 0, on=False)
    sent_pattern, sent_track = engine.sent[0].pattern, engine.sent[-1].track
    before = patternfile.pattern_to_dict(sent_pattern), patternfile.track_to_dict(sent_track)
    session.set_step("track1", 0, on=True, accent=True)
    session.set_bpm(200)
    session.add_track("extra", "voice1", "x...")
    assert sent_pattern is not session.pattern and sent_track is not session.pattern.tracks[0]
    assert (patternfile.pattern_to_dict(sent_pattern), patternfile.track_to_dict(sent_track)) == before


def test_a_loaded_slot_is_validated_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store checks the file; the Session and the engine take the Pattern as it is."""
    store = SlotStore(tmp_path)
    store.save(4, patternfile.pattern_to_dict(full_pattern(name="four")))
    engine = FakeEngine()
    session = Session(store, engine, pattern=Pattern())
    checked: list[object] = []
    check = patternfile.pattern_from_dict

    def counted(data: object, **kwargs: object) -> Pattern:
        checked.append(data)
        return check(data, **kwargs)

    monkeypatch.setattr(patternfile, "pattern_from_dict", counted)
    session.load_slot(4, "now")
    assert len(checked) == 1 and session.pattern.name == "four"
    assert isinstance(engine.sent[-1], ReplacePattern) and engine.sent[-1].pattern.name == "four"
    # a dict from outside is an edge: still checked, and a bad one changes nothing
    with pytest.raises(ValueError, match="sequencer"):
        session.apply_snapshot({"format": "chronus-pattern", "schema": 1, "sequencer": []}, "now")
    assert len(checked) == 2 and session.pattern.name == "four"


def test_the_synth_process_does_not_check_patterns_again() -> None:
    synth = Path(protocol.__file__).parents[1] / "synth"
    importing = [path.name for path in sorted(synth.glob("*.py")) if "patternfile" in path.read_text()]
    assert importing == []
