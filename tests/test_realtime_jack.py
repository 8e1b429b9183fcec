"""Real time on a JACK server with the dummy driver, recorded with jack_rec.

A private jackd (`jackd --realtime -d dummy -r 48000 -p 256`, see support/jack.py; it
runs without real-time scheduling where that is not permitted) serves this module;
the engine process plays through it as it would on a sound card, and jack_rec
records its output ports. In the recording every hit must sit on the step grid to
the sample, and a load queued in the middle of a bar must put the new pattern's
first hit exactly on the next bar line of the old grid. A take spoiled by xruns
(the engine's JACK monitor counts them) is recorded again, up to MAX_TAKES times.

Skipped, with the reason, where the JACK tools are missing (CI installs jackd2).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.engine import Events, session_with_engine, step_samples
from support.jack import JackServer, missing_tools
from support.render import click_pattern, onsets, read_wav

from chronus_tui import patternfile
from chronus_tui.engine.client import EngineClient, EngineError
from chronus_tui.model import Pattern
from chronus_tui.session import Session
from chronus_tui.store import SlotStore

pytestmark = pytest.mark.realtime

MISSING = missing_tools()
if MISSING:
    pytest.skip(f"JACK tools not installed: {', '.join(MISSING)} (Debian/Ubuntu package jackd2)",
                allow_module_level=True)

SR = 48000
OUTPUTS = ("chronus:output_1", "chronus:output_2")
MAX_TAKES = 5  # a burst of load from elsewhere spoils a take or two, rarely five in a row


@pytest.fixture(scope="module")
def jack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JackServer]:
    # Real-time scheduling where the machine allows it (jackd falls back to normal
    # scheduling where it does not), so other load on a CI machine does not cause xruns.
    server = JackServer(tmp_path_factory.mktemp("jack") / "jackd.log", sr=SR, buffer=256, realtime=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(jack: JackServer, tmp_path: Path) -> Iterator[EngineClient]:
    engine = EngineClient(audio="jack", sr=SR, buffer=256, log_path=tmp_path / "engine.log", env=jack.env)
    try:
        yield engine
    finally:
        engine.close()


def clicks(name: str, bpm: float, hits: str) -> Pattern:
    """One track of short sine clicks with silence between them, no effects."""
    return patternfile.pattern_from_dict(click_pattern([("click", "voice1", hits)], bpm=bpm, name=name))


def record(jack: JackServer, path: Path, seconds: float) -> subprocess.Popen:
    """Start jack_rec on Chronus's outputs; return once it is connected and recording."""
    recorder = subprocess.Popen(
        ["jack_rec", "-f", str(path), "-d", str(seconds), "-b", "32", *OUTPUTS],
        env={**os.environ, **jack.env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 5
    while not any(port.startswith("jackrec:") for port in jack.connections(OUTPUTS[0])):
        assert recorder.poll() is None, f"jack_rec stopped: {recorder.stdout.read().decode()}"
        assert time.monotonic() < deadline, "jack_rec did not connect to Chronus's outputs"
        time.sleep(0.02)
    return recorder


def test_outputs_are_named_chronus_and_reach_system_playback(jack: JackServer, client: EngineClient) -> None:
    events = Events()
    client.start(events)
    assert client.backend == "jack"
    assert set(OUTPUTS) <= set(jack.ports())
    assert jack.connections(OUTPUTS[0]) == ["system:playback_1"]
    assert jack.connections(OUTPUTS[1]) == ["system:playback_2"]
    status = events.wait(lambda e: e["event"] == "status")
    assert (status["backend"], status["sr"], status["buffer"]) == ("jack", SR, 256)
    assert "xruns" in status
    client.close()
    assert not any(port.startswith("chronus") for port in jack.ports())  # no orphaned JACK client


@dataclass
class Take:
    """One recording of: play the old pattern, queue the new one mid-bar, record both."""

    onsets: list[int]
    first: dict[str, Any]  # the first position event
    switched: dict[str, Any]
    token: int
    xruns: int  # JACK xruns while recording: a late engine block shifts the audio against the grid


def record_take(jack: JackServer, session: Session, events: Events, path: Path, bpm: float) -> Take:
    session.stop()
    session.apply_snapshot(clicks("old", bpm, "x...x...x...x..."), at="now")
    since = events.mark()
    xruns_before = events.wait(lambda e: e["event"] == "status", since=since)["xruns"]
    recorder = record(jack, path, 3.6)
    try:
        session.start()
        first = events.positions(1, since)[0]
        events.wait(lambda e: e["event"] == "position" and e["step"] == 6, since=since)  # mid-bar 0
        pending = session.apply_snapshot(clicks("new", bpm, "x..x............"), at="bar")
        switched = events.wait(lambda e: e["event"] == "switched", timeout=3, since=since)
        recorder.wait(10)
    finally:
        if recorder.poll() is None:
            recorder.kill()
            recorder.wait()
    after = events.mark()
    xruns_after = events.wait(lambda e: e["event"] == "status", since=after)["xruns"]
    assert pending is not None
    return Take(onsets(read_wav(path)[:, 0]), first, switched, pending.token, xruns_after - xruns_before)


def test_recorded_hits_sit_on_the_grid_and_a_queued_load_starts_on_the_bar_line(
        jack: JackServer, client: EngineClient, store: SlotStore, tmp_path: Path) -> None:
    bpm = 240.0  # a step is 3000 samples, a bar 48000 (one second)
    step = int(step_samples(bpm))
    bar = 16 * step
    events = Events()
    session = session_with_engine(store, client, clicks("old", bpm, "x...x...x...x..."), events)
    takes = []
    while len(takes) < MAX_TAKES:  # a take with xruns proves nothing either way: record again
        takes.append(record_take(jack, session, events, tmp_path / f"take{len(takes)}.wav", bpm))
        if takes[-1].xruns == 0:
            break
    take = takes[-1]
    assert take.xruns == 0, f"every take had JACK xruns ({[t.xruns for t in takes]}): machine overloaded"
    assert take.switched["token"] == take.token
    assert take.switched["sample"] - take.first["sample"] == bar  # the engine: at the next bar line
    assert session.pattern.name == "new"

    found = take.onsets
    assert len(found) >= 8, f"too few hits recorded: {found}"
    a0 = found[0]
    line = a0 + bar  # the bar line of the old grid where the new pattern must start
    expected = [a0, a0 + 4 * step, a0 + 8 * step, a0 + 12 * step,  # old: every 4th step of bar 0
                line, line + 3 * step, line + bar, line + bar + 3 * step]  # new: steps 0 and 3
    offsets = [round((s - a0) / step, 3) for s in found]
    assert found[:8] == expected, f"hits at {offsets} steps from the first"


@pytest.mark.parametrize("audio", ["auto", "jack"])
def test_when_the_jack_server_goes_away(audio: str, tmp_path: Path) -> None:
    """auto: the engine carries on at once on the next backend that works (the session
    resyncs); jack, asked for by name: no engine runs, and the client keeps trying (with
    back-off), each time saying why."""
    server = JackServer(tmp_path / "jackd.log", sr=SR, buffer=256).start()
    client = EngineClient(audio=audio, log_path=tmp_path / "engine.log", env=server.env)
    events = Events()
    try:
        client.start(events)
        assert client.backend == "jack"
        server.stop()
        if audio == "auto":
            restarted = events.wait(lambda e: e["event"] == "restarted", timeout=3)
            assert restarted["backend"] in ("portaudio", "null") and client.backend == restarted["backend"]
            since = events.all.index(restarted)
            assert events.wait(lambda e: e["event"] == "status", since=since)["backend"] == client.backend
        else:
            down = events.wait(lambda e: e["event"] == "down" and e["attempt"] >= 3, timeout=10)
            assert down["message"].startswith(
                "could not restart the engine: audio jack: the JACK server is not running")
            assert client.backend is None  # none runs (an attempt may be starting)
    finally:
        client.close()
        server.stop()


def test_a_jack_server_whose_buffers_are_too_long_for_its_rate_is_refused(tmp_path: Path) -> None:
    """JACK's own rate and buffer size win over --sr and --buffer: at 22050 Hz, 1024 frames
    could hold two step starts. Asked for by name, JACK is a clear error; auto goes on."""
    server = JackServer(tmp_path / "jackd.log", sr=22050, buffer=1024).start()
    try:
        for audio in ("jack", "auto"):
            client = EngineClient(audio=audio, log_path=tmp_path / f"{audio}.log", env=server.env)
            try:
                if audio == "jack":
                    with pytest.raises(EngineError, match=r"audio jack: 1024-frame buffers are too long "
                                                          r"at 22050 Hz.*512 frames or less"):
                        client.start(Events())
                else:
                    client.start(Events())
                    assert client.backend in ("portaudio", "null")
            finally:
                client.close()
    finally:
        server.stop()
