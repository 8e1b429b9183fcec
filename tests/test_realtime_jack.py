"""Real time on a JACK server with the dummy driver, recorded with jack_rec.

A private jackd (`jackd --realtime -d dummy -r 48000 -p 256`, see support/jack.py; it
runs without real-time scheduling where that is not permitted) serves this module;
the engine process plays through it as it would on a sound card, and jack_rec
records its output ports. In the recording every hit must sit on the step grid to
the sample, and a load queued in the middle of a bar must put the new pattern's
first hit exactly on the next bar line of the old grid.

Other load on the machine causes xruns, and a recorder that was not finished in time
loses its cycle: whole periods of audio go missing from the file. So the recording is
judged against itself (support.jack.judge_onsets): each hit against the one before it,
the intervals that lost audio excused, any other error a failure; a take without the
intervals that matter, or torn apart (more intervals lost than whole), is recorded again,
up to MAX_TAKES times. The unit tests of that
judging run without JACK; the rest is marked `realtime` and skipped, with the reason,
where the JACK tools are missing (CI installs jackd2).
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
from support.jack import JackServer, Timing, judge_onsets, missing_tools
from support.render import click_pattern, onsets, read_wav

from chronus_tui import patternfile
from chronus_tui.engine.client import EngineClient, EngineError
from chronus_tui.model import Pattern
from chronus_tui.session import Session
from chronus_tui.store import SlotStore

MISSING = missing_tools()
needs_jack = pytest.mark.skipif(
    bool(MISSING), reason=f"JACK tools not installed: {', '.join(MISSING)} (Debian/Ubuntu package jackd2)")

SR = 48000
PERIOD = 256  # JACK's buffer: what an xrun loses
OUTPUTS = ("chronus:output_1", "chronus:output_2")
MAX_TAKES = 5  # a burst of load from elsewhere spoils a take or two, rarely five in a row
RING_FRAMES = 1 << 18  # jack_rec's buffer to the disk: more than a take, so its disk thread never loses audio
# The recorded hits, in steps from the first: the old pattern's every 4th step of bar 0,
# then the new pattern's steps 0 and 3 of bars 1 and 2. Hits 3 -> 4 cross the bar line.
HITS = (0, 4, 8, 12, 16, 19, 32, 35)
SWITCH = (3, 4)
OLD_SPACINGS, NEW_SPACINGS = {(0, 1), (1, 2), (2, 3)}, {(4, 5), (5, 6), (6, 7)}


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
        ["jack_rec", "-f", str(path), "-d", str(seconds), "-b", "32", "-B", str(RING_FRAMES), *OUTPUTS],
        env={**os.environ, **jack.env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 5
    while not any(port.startswith("jackrec:") for port in jack.connections(OUTPUTS[0])):
        assert recorder.poll() is None, f"jack_rec stopped: {recorder.stdout.read().decode()}"
        assert time.monotonic() < deadline, "jack_rec did not connect to Chronus's outputs"
        time.sleep(0.02)
    return recorder


@needs_jack
@pytest.mark.realtime
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
    xruns: int  # JACK xruns while recording, as the engine's monitor and jackd's log count them
    recorder_output: str  # what jack_rec said (its own losses: "overruns")

    @property
    def lossy(self) -> bool:
        """The file may lack whole periods of audio."""
        return self.xruns > 0 or "overrun" in self.recorder_output


def record_take(jack: JackServer, session: Session, events: Events, path: Path, bpm: float) -> Take:
    session.stop()
    session.apply_snapshot(clicks("old", bpm, "x...x...x...x..."), at="now")
    since = events.mark()
    xruns_before = events.wait(lambda e: e["event"] == "status", since=since)["xruns"]
    log_xruns_before = jack.xrun_lines()
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
    xruns = max(xruns_after - xruns_before, jack.xrun_lines() - log_xruns_before)
    return Take(onsets(read_wav(path)[:, 0]), first, switched, pending.token, xruns,
                recorder.stdout.read().decode(errors="replace"))


def usable(timing: Timing) -> bool:
    """The take shows the bar line and both patterns' spacing, each in an interval that lost nothing."""
    clean = set(timing.clean)
    return timing.has_clean(*SWITCH) and bool(clean & OLD_SPACINGS) and bool(clean & NEW_SPACINGS)


@needs_jack
@pytest.mark.realtime
def test_recorded_hits_sit_on_the_grid_and_a_queued_load_starts_on_the_bar_line(
        jack: JackServer, client: EngineClient, store: SlotStore, tmp_path: Path) -> None:
    bpm = 240.0  # a step is 3000 samples (not a whole number of periods), a bar 48000 (one second)
    step = int(step_samples(bpm))
    bar = 16 * step
    events = Events()
    session = session_with_engine(store, client, clicks("old", bpm, "x...x...x...x..."), events)
    takes = []
    while len(takes) < MAX_TAKES:
        take = record_take(jack, session, events, tmp_path / f"take{len(takes)}.wav", bpm)
        takes.append(take)
        assert take.switched["token"] == take.token
        assert take.switched["sample"] - take.first["sample"] == bar  # the engine: at the next bar line
        assert session.pattern.name == "new"
        timing = judge_onsets(take.onsets, [n * step for n in HITS], PERIOD, take.lossy)
        assert take.onsets, f"nothing recorded ({take.xruns} xruns)"
        offsets = [round((s - take.onsets[0]) / step, 3) for s in take.onsets]
        if take.lossy and not timing.intact():
            continue  # torn apart by xruns: nothing to trust either way
        assert not timing.wrong, f"{timing.wrong}: hits at {offsets} steps from the first, {take.xruns} xruns"
        if usable(timing):
            return
    xruns = [take.xruns for take in takes]
    pytest.skip(f"every take lost audio where it matters to xruns ({xruns} xruns); the rest was on the grid")


# -- the judging, without JACK: what xruns do to a recording is excused, nothing else ---------

STEP = 3000
GRID = [n * STEP for n in HITS]
A0 = 48001  # where the first hit was recorded


def lose(onsets: list[int], after: int, periods: int) -> list[int]:
    """The onsets once `periods` periods of audio were lost after the hit `after`."""
    return [s - periods * PERIOD if k > after else s for k, s in enumerate(onsets)]


def test_a_recording_on_the_grid_is_clean_interval_by_interval() -> None:
    timing = judge_onsets([A0 + t for t in GRID], GRID, PERIOD, lossy=False)
    assert not timing.wrong and usable(timing)
    assert timing.clean == [(k, k + 1) for k in range(len(HITS) - 1)]


def test_a_load_a_step_early_is_wrong_with_or_without_xruns() -> None:
    early = [A0 + t - STEP if k >= SWITCH[1] else A0 + t for k, t in enumerate(GRID)]  # the new pattern
    for recorded, lossy in ((early, False), (early, True), (lose(early, after=5, periods=2), True)):
        timing = judge_onsets(recorded, GRID, PERIOD, lossy)
        assert timing.intact() and timing.wrong
        assert timing.wrong[0] == "hit 4 came 9000 samples after hit 3, not 12000"


def test_a_recording_torn_apart_by_xruns_is_not_trusted_either_way() -> None:
    torn = [A0 + t for t in GRID]
    for after, periods in ((0, 2), (2, 5), (4, 1)):
        torn = lose(torn, after, periods)
    torn[5] -= 100  # what no loss of whole periods explains
    timing = judge_onsets(torn, GRID, PERIOD, lossy=True)
    assert timing.wrong and not timing.intact()


def test_hits_moved_to_block_boundaries_are_wrong() -> None:
    on_blocks = [(A0 + t) // PERIOD * PERIOD for t in GRID]
    assert judge_onsets(on_blocks, GRID, PERIOD, lossy=False).wrong
    assert judge_onsets([s + 7 for s in on_blocks], GRID, PERIOD, lossy=True).wrong  # whatever the latency
    assert judge_onsets([A0 + t for t in GRID][:7], GRID, PERIOD, lossy=False).wrong  # a hit missing


def test_audio_lost_to_xruns_is_excused_and_located_and_the_rest_judged() -> None:
    recorded = lose([A0 + t for t in GRID], after=1, periods=3)  # lost between hits 1 and 2
    recorded[6] = (recorded[6] + PERIOD) // PERIOD * PERIOD  # hit 6's start lost: its rest begins a period
    timing = judge_onsets(recorded, GRID, PERIOD, lossy=True)
    assert not timing.wrong and usable(timing)
    assert timing.lost == [(1, 2)] and timing.cut == [6]
    assert timing.clean == [(0, 1), (2, 3), (3, 4), (4, 5), (5, 7)]
    assert judge_onsets(recorded, GRID, PERIOD, lossy=False).wrong  # without xruns, no excuse
    across = judge_onsets(lose([A0 + t for t in GRID], after=3, periods=1), GRID, PERIOD, lossy=True)
    assert not across.wrong and not usable(across)  # the bar line's interval lost audio: record again


def test_a_hit_lost_whole_is_excused_and_the_next_one_found() -> None:
    recorded = lose([A0 + t for k, t in enumerate(GRID) if k != 5], after=4, periods=14)  # hit 5 gone
    timing = judge_onsets(recorded, GRID, PERIOD, lossy=True)
    assert not timing.wrong and timing.lost == [(4, 6)]
    assert timing.clean == [(0, 1), (1, 2), (2, 3), (3, 4), (6, 7)]
    timing = judge_onsets(recorded[1:], GRID, PERIOD, lossy=True)  # the first hit gone too
    assert not timing.wrong and timing.clean == [(1, 2), (2, 3), (3, 4), (6, 7)]
    assert judge_onsets(recorded[1:], GRID, PERIOD, lossy=False).wrong


@needs_jack
@pytest.mark.realtime
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


@needs_jack
@pytest.mark.realtime
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
