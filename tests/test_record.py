"""Recording the set: the engine's recorder (offline, sample-exact), the file names the
Session picks, the OSC routes, the engine stopped and started, and the UI's ctrl+r."""

from __future__ import annotations

import contextlib
import resource
import signal
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from support.render import SR, click_pattern, pattern_of, read_wav

from chronus_tui.engine.protocol import (
    Command,
    Event,
    Position,
    RecordingStarted,
    RecordingStopped,
    ReplacePattern,
    SetTransport,
    StartRecording,
    StopRecording,
)

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
