"""Recording the set: the engine's recorder (offline, sample-exact), the file names the
Session picks, the OSC routes, the engine stopped and started, and the UI's ctrl+r."""

from __future__ import annotations

import contextlib
import os
import re
import resource
import signal
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs
import pytest
from support.engine import Events, alive, session_with_engine
from support.fakes import FakeEngine
from support.osc import OscClient, wait_until
from support.render import SR, click_pattern, pattern_of, read_wav
from support.ui import make_app, spy_notifications

from chronus_tui import recording
from chronus_tui.engine.client import EngineClient
from chronus_tui.engine.protocol import (
    Command,
    Down,
    Event,
    Position,
    RecordingStarted,
    RecordingStopped,
    ReplacePattern,
    Restarted,
    SetTransport,
    StartRecording,
    Status,
    StopRecording,
)
from chronus_tui.osc.server import serve_in_thread
from chronus_tui.session import ChangeKind, Session, SessionError
from chronus_tui.store import SlotStore

BUFFER = 256
QUANTUM = 1 / (1 << 23)  # one step of a 24-bit sample


def run_offline(tmp_path: Path, blocks: int, schedule: dict[int, list[Command] | Callable[[Any], None]],
                ) -> tuple[np.ndarray, list[Event]]:
    """Run an EngineGraph on pyo's offline server for `blocks` blocks, applying the commands
    (or calling the functions, given the graph) scheduled at a block; returns the whole
    output (float32, from sample 0) and every event."""
    from chronus_tui.synth.graph import EngineGraph
    from chronus_tui.synth.pyolib import pyo

    server = pyo.Server(sr=SR, nchnls=2, buffersize=BUFFER, duplex=0, audio="offline")
    server.setVerbosity(1)
    server.boot()
    events: list[Event] = []
    graph = EngineGraph(server, lanes=2)
    block = [0]

    def per_block() -> None:
        for item in schedule.get(block[0], []):
            item(graph) if callable(item) else graph.handle(item)
        events.extend(graph.poll_events())
        block[0] += 1

    try:
        server.setCallback(per_block)
        server.recordOptions(dur=(blocks * BUFFER + 0.5) / SR, filename=str(tmp_path / "output.wav"),
                             fileformat=0, sampletype=3)
        server.start()
    finally:
        server.stop()
        server.shutdown()
        server.setCallback(lambda: None)
    return read_wav(tmp_path / "output.wav"), events


def clicks() -> ReplacePattern:
    return ReplacePattern(pattern_of(click_pattern([("kick", "voice1", "x...x...x...x...")], bpm=150.0)))


def wav_format(path: Path) -> tuple[int, int, int]:
    """(format tag, channels, bits per sample) of a WAV file."""
    tag, channels, _, _, _, bits = struct.unpack("<HHIIHH", path.read_bytes()[20:36])
    return tag, channels, bits


def only(events: list[Event], kind: type[Event]) -> Any:
    found = [event for event in events if isinstance(event, kind)]
    assert len(found) == 1, events
    return found[0]


def test_a_recording_starts_on_the_next_bar_line_and_holds_exactly_the_output(tmp_path):
    path = tmp_path / "set.wav"
    # playing from block 1; asked to record in block 200 (bar 4 at 150 bpm is from block 720), stopped at 900
    output, events = run_offline(tmp_path, 950, {
        0: [clicks()], 1: [SetTransport(True)], 200: [StartRecording(str(path))], 900: [StopRecording()]})
    started, stopped = only(events, RecordingStarted), only(events, RecordingStopped)
    bar_lines = [event.sample for event in events if isinstance(event, Position) and event.step == 0]
    asked = 200 * BUFFER
    assert started.sample == min(s for s in bar_lines if s > asked)  # the first bar line after asking
    assert wav_format(path) == (1, 2, 24)  # PCM, stereo, 24-bit
    audio = read_wav(path)
    assert len(audio) == stopped.frames
    assert abs(stopped.frames - (900 * BUFFER - started.sample)) < BUFFER  # the time recorded, within a block
    expected = output[started.sample:started.sample + len(audio)]
    assert np.abs(audio - expected).max() <= 2 * QUANTUM  # sample for sample: file frame 0 is the bar line's
    assert np.abs(audio[1:] - expected[:-1]).max() > 100 * QUANTUM  # (a frame off would show)
    assert np.abs(audio[:200]).max() > 0.01  # the bar's first hit is in the first frames: not silent
    assert stopped.error is None


def test_stopped_transport_records_at_once(tmp_path):
    path = tmp_path / "now.wav"
    _, events = run_offline(tmp_path, 60, {0: [clicks(), StartRecording(str(path))], 50: [StopRecording()]})
    started, stopped = only(events, RecordingStarted), only(events, RecordingStopped)
    assert started.sample == 0 and stopped.frames == 50 * BUFFER == len(read_wav(path))


def test_a_second_start_is_refused_and_the_first_recording_goes_on(tmp_path):
    first, second = tmp_path / "a.wav", tmp_path / "b.wav"
    _, events = run_offline(tmp_path, 40, {0: [StartRecording(str(first))], 10: [StartRecording(str(second))],
                                           30: [StopRecording()]})
    assert not second.exists() and only(events, RecordingStopped).frames == 30 * BUFFER
    assert any("already recording" in getattr(event, "message", "") for event in events)


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Writes past `limit` bytes fail (EFBIG) in this process, as on a full disk."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def test_a_full_disk_stops_the_recording_with_a_message_and_leaves_a_playable_file(tmp_path):
    path = tmp_path / "full.wav"
    limit = 300_000  # about 50 000 frames
    start = [clicks(), SetTransport(True), StartRecording(str(path), at_bar=False)]
    with file_size_limit(limit):  # (the server's own output file is cut short too: not read here)
        _, events = run_offline(tmp_path, 600, {0: start, 590: [StopRecording()]})
    stopped = only(events, RecordingStopped)
    assert stopped.error is not None and "could not be written" in stopped.error
    assert any(getattr(event, "message", "") == stopped.error for event in events)  # said to the user
    assert stopped.frames < 590 * BUFFER  # it stopped by itself, before the stop command
    audio = read_wav(path)  # the header says how much data there is: it reads
    assert 0 < len(audio) * 6 <= limit and np.abs(audio).max() > 0.01


# -- the Session: names, folders, parts -----------------------------------------------------


@pytest.mark.parametrize("name", ["../escape", "a/b", "/etc/passwd", ".hidden", "", "x" * 65, "tab\there",
                                  "back\\slash", "nul\0", "..", "ok?.wav"])
def test_hostile_recording_names_are_refused_and_change_nothing(session, engine, patterns_dir, name):
    with pytest.raises(SessionError):
        session.start_recording(name)
    assert session.recording is None and not engine.ops("record")
    assert not (patterns_dir / "recordings").exists() or not any((patterns_dir / "recordings").iterdir())
    assert not any(patterns_dir.parent.glob("*.wav"))


def test_a_name_gets_wav_and_never_writes_over_a_file(session, engine, patterns_dir):
    folder = patterns_dir / "recordings"
    folder.mkdir()
    (folder / "set.wav").write_bytes(b"keep")
    (folder / "set-2.wav").symlink_to(patterns_dir / "elsewhere.wav")  # a dangling link counts as taken
    rec = session.start_recording("set.wav")
    assert rec.path == folder / "set-3.wav" and engine.last("record")["path"] == str(folder / "set-3.wav")
    assert (folder / "set.wav").read_bytes() == b"keep" and not (patterns_dir / "elsewhere.wav").exists()
    with pytest.raises(SessionError, match="already recording"):
        session.start_recording("other")
    assert session.stop_recording().path == rec.path and engine.ops("record-stop")
    assert session.recording_status() == {"recording": False, "file": None, "seconds": 0.0}


def test_a_recording_the_engine_ended_is_over_and_others_events_are_ignored(session, changes):
    rec = session.start_recording("set")
    session.on_engine_event(RecordingStopped("/elsewhere/old.wav", 10, "gone"))  # not this one
    assert session.recording is rec and session.recording_status()["waiting"]
    session.on_engine_event(RecordingStarted(str(rec.path), 4800))
    assert session.recording_status()["recording"] and not session.recording_status()["waiting"]
    session.on_engine_event(RecordingStopped(str(rec.path), 96000, "recording stopped: disk full"))
    assert session.recording is None and session.recording_status()["recording"] is False
    assert changes[-1].kind == ChangeKind.ENGINE and changes[-1].data["event"] == "recorded"


def test_without_a_name_it_is_chronus_and_the_time(session, patterns_dir):
    rec = session.start_recording()
    assert re.fullmatch(r"chronus-\d{8}-\d{6}\.wav", rec.path.name)
    assert rec.path.parent == patterns_dir / "recordings"


def test_a_linked_recordings_folder_is_refused(session, engine, patterns_dir, tmp_path):
    (tmp_path / "outside").mkdir()
    (patterns_dir / "recordings").symlink_to(tmp_path / "outside")
    with pytest.raises(SessionError, match="not a folder"):
        session.start_recording("set")
    assert session.recording is None and not engine.ops("record")


def test_the_default_patterns_folder_records_in_the_user_data_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(platformdirs, "user_data_path", lambda app: tmp_path / app)
    default = tmp_path / "chronus" / "patterns"
    assert recording.recordings_folder(default) == tmp_path / "chronus" / "recordings"
    assert recording.recordings_folder(tmp_path / "mine") == tmp_path / "mine" / "recordings"


def dead_part(path: Path, frames: int) -> None:
    """A stereo 24-bit WAV as an engine that died leaves it: `frames` frames and a torn one on
    the disk, the header still saying no data."""
    fmt = struct.pack("<HHIIHH", 1, 2, SR, SR * 6, 6, 24)
    path.write_bytes(b"RIFF" + struct.pack("<I", 36) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
                     + b"data" + struct.pack("<I", 0) + bytes(range(256)) * (frames * 6 // 256)
                     + bytes(frames * 6 % 256) + b"\x01\x02")


def test_a_dead_engines_part_gets_its_header(tmp_path):
    path = tmp_path / "part.wav"
    dead_part(path, 128)
    assert recording.repair_header(path) == 128 / SR
    assert read_wav(path).shape == (128, 2)
    (tmp_path / "other.wav").write_bytes(b"not a wav")
    assert recording.repair_header(tmp_path / "other.wav") is None
    assert recording.repair_header(tmp_path / "missing.wav") is None


def test_the_time_recorded_leaves_out_the_time_no_engine_recorded(session):
    rec = session.start_recording("set")
    session.on_engine_event(RecordingStarted(str(rec.path), 0))
    rec.started -= 2.0  # as if it began 2 s ago
    dead_part(rec.path, int(1.5 * SR))  # what reached the disk before the engine died
    session.on_engine_event(Down("the engine process died (exit -9)", 5.0, 1, 0))
    assert session.recording_status()["seconds"] == 2.0
    time.sleep(0.3)  # while no engine runs, the time stands
    assert session.recording_status()["seconds"] == 2.0
    session.on_engine_event(Restarted("null", 1))  # the new engine is asked for part 2
    status = session.recording_status()
    assert (status["part"], status["waiting"], status["seconds"]) == (2, True, 1.5)  # part 1's audio
    session.on_engine_event(RecordingStarted(str(session.recording.path), 0))
    session.recording.started -= 1.0
    assert session.recording_status()["seconds"] == 2.5


# -- a real engine (null audio): OSC, restart, stop and start ---------------------------------


@pytest.fixture
def live(patterns_dir, tmp_path) -> Iterator[tuple[Session, Events, OscClient]]:
    client = EngineClient(audio="null", sr=SR, buffer=BUFFER, log_path=tmp_path / "engine.log",
                          env={"JACK_DEFAULT_SERVER": "chronus-test-no-such-server"})
    events = Events()
    session = session_with_engine(SlotStore(patterns_dir), client, pattern_of(click_pattern(
        [("kick", "voice1", "x...x...x...x...")], bpm=240.0)), events)
    session.start()
    try:
        with serve_in_thread(session) as server:
            osc = OscClient(server.port)
            try:
                yield session, events, osc
            finally:
                osc.close()
    finally:
        client.close()


def test_osc_records_the_set_from_a_bar_line_into_a_playable_file(live, patterns_dir):
    _, events, osc = live
    events.positions(2)
    (name,) = osc.ok("/engine/record/start", "take")
    assert name == "take.wav"
    started = events.wait(lambda e: e["event"] == "recording", timeout=5)
    first = events.wait(lambda e: e["event"] == "position" and e["sample"] == started["sample"], timeout=5)
    assert first["step"] == 0  # the file begins on a bar line's sample
    wait_until(lambda: osc.query("/engine/record/status")["seconds"] >= 1.0, timeout=5)
    status = osc.query("/engine/record/status")
    assert status["recording"] and status["file"].endswith("take.wav")
    mark = events.mark()
    assert osc.ok("/engine/record/stop") == ["take.wav"]
    stopped = events.wait(lambda e: e["event"] == "recorded", since=mark, timeout=5)
    path = patterns_dir / "recordings" / "take.wav"
    assert wav_format(path) == (1, 2, 24)
    audio = read_wav(path)
    assert len(audio) == stopped["frames"] >= 0.8 * SR  # about the second status said (wall clock: loose)
    assert np.abs(audio).max() > 0.01
    assert osc.query("/engine/record/status")["recording"] is False
    assert "plain file name" in osc.error("/engine/record/start", "../x")


def test_an_engine_restart_goes_on_recording_in_part_two(live, patterns_dir):
    session, events, osc = live
    osc.ok("/engine/record/start", "long")
    events.wait(lambda e: e["event"] == "recording", timeout=5)
    wait_until(lambda: session.recording_status()["seconds"] >= 0.5, timeout=5)
    mark = events.mark()
    os.kill(session.engine.pid, signal.SIGKILL)
    events.wait(lambda e: e["event"] == "recording" and e["path"].endswith("long-part2.wav"), since=mark,
                timeout=10)
    assert osc.query("/engine/record/status")["part"] == 2
    part2_from = session.recording_status()["seconds"]
    earlier = session.recording.earlier
    wait_until(lambda: session.recording_status()["seconds"] >= part2_from + 0.5, timeout=5)
    osc.ok("/engine/record/stop")
    folder = patterns_dir / "recordings"
    events.wait(lambda e: e["event"] == "recorded", since=mark, timeout=5)
    first, second = read_wav(folder / "long.wav"), read_wav(folder / "long-part2.wav")
    assert len(first) > 0.3 * SR and len(second) > 0.3 * SR  # both parts play
    assert earlier == pytest.approx(len(first) / SR)  # before part 2: part 1's audio, not the restart
    assert np.abs(second).max() > 0.01


def test_engine_stop_keeps_osc_and_the_session_and_start_plays_again(live):
    session, events, osc = live
    events.positions(2)
    osc.ok("/engine/record/start", "cut")
    events.wait(lambda e: e["event"] == "recording", timeout=5)
    pid = session.engine.pid
    assert osc.ok("/engine/stop") == []
    wait_until(lambda: not alive(pid), timeout=5)
    assert osc.query("/engine/status")["engine"] == "stopped"
    assert osc.query("/engine/status")["playing"] is False
    assert osc.query("/seq/status")["tracks"][0]["name"] == "kick"  # the session answers
    assert osc.query("/engine/record/status")["recording"] is False  # the recording was closed
    (waiting,) = osc.ok("/engine/record/start", "later")  # it starts with the audio
    assert osc.ok("/engine/stop") == ["already stopped"]
    osc.ok("/seq/bpm", 150)  # an edit while stopped is played once it starts
    mark = events.mark()
    assert osc.ok("/engine/start") == []
    events.wait(lambda e: e["event"] == "restarted", since=mark, timeout=10)
    positions = events.positions(3, since=mark, timeout=5)
    assert positions and osc.query("/engine/status")["engine"] == "up"
    assert osc.query("/engine/status")["playing"] is True and session.engine.pid != pid
    assert osc.ok("/engine/start") == ["not stopped"]
    events.wait(lambda e: e["event"] == "recording" and e["path"].endswith(waiting), since=mark, timeout=5)


# -- the UI -------------------------------------------------------------------------------------


async def test_ctrl_r_records_and_the_transport_line_shows_rec(patterns_dir):
    engine = FakeEngine()
    app, session = make_app(patterns_dir, engine=engine)
    notes = spy_notifications(app)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("ctrl+r")
        await pilot.pause()
        path = engine.last("record")["path"]
        assert session.recording is not None and str(session.recording.path) == path
        assert any(path in message for message, _ in notes)
        assert "● REC 0:00" in app.transport.render().plain
        session.on_engine_event(RecordingStarted(path, 0))
        session.recording.started -= 42.7  # as if it began 42.7 s ago
        session.on_engine_event(Status(backend="jack", sr=48000, buffer=256))  # any redraw
        await pilot.pause()
        assert "● REC 0:42" in app.transport.render().plain
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert session.recording is None and engine.ops("record-stop")
        assert "REC" not in app.transport.render().plain
        session.stop_engine()
        await pilot.pause()
        assert "AUDIO STOPPED" in app.transport.render().plain
