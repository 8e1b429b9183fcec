"""The engine process and its client, on the null backend (a silent real-time clock).

These start real engine processes (pyo, the real graph) and talk to them through
EngineClient exactly as the Session does. What is checked: commands reach the
engine and events come back at the tempo's rate, a queued bar load is reported
and switches the Session, a SIGKILLed engine is replaced and plays the same session
within a second, one that keeps dying is restarted with back-off for as long as the
client runs (the Session saying it is down meanwhile), a hung one is replaced, close()
leaves no process, nothing the engine prints reaches our terminal, and a backend asked
for but missing is a clear error.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.engine import (
    SR,
    Events,
    alive,
    assert_steps_advance,
    demo_pattern,
    engine_children,
    play,
    session_with_engine,
    step_samples,
)

from chronus_tui.engine import client as client_module
from chronus_tui.engine.client import EngineClient, EngineError
from chronus_tui.engine.protocol import (
    Command,
    EngineMessage,
    Event,
    Gate,
    Position,
    ReplacePattern,
    ReplaceTrack,
    SetParam,
    SetTempo,
    SetTransport,
    Status,
)
from chronus_tui.engine.wire import FrameReader, FrameWriter, encode, write_all
from chronus_tui.model import Pattern, Step, Track
from chronus_tui.session import Change
from chronus_tui.store import SlotStore
from chronus_tui.synth.process import BlockCallback, Engine

BUFFER = 256
NO_JACK = {"JACK_DEFAULT_SERVER": "chronus-test-no-such-server"}  # never find a real JACK server


@pytest.fixture
def engine_log(tmp_path: Path) -> Path:
    return tmp_path / "engine.log"


@pytest.fixture
def make_client(engine_log: Path) -> Iterator[Callable[..., EngineClient]]:
    """EngineClients that are closed after the test, whatever happens."""
    clients: list[EngineClient] = []

    def make(audio: str = "null", **kwargs: Any) -> EngineClient:
        kwargs.setdefault("env", NO_JACK)
        client = EngineClient(audio=audio, sr=kwargs.pop("sr", SR), buffer=kwargs.pop("buffer", BUFFER),
                              log_path=engine_log, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# -- the block callback, without pyo ---------------------------------------------------


BAD = Gate("bad", True)  # RecordingGraph fails on it
SLOW = Gate("slow", True)  # and takes most of a 5.3 ms block over this one


class RecordingGraph:
    def __init__(self) -> None:
        self.handled: list[Command] = []
        self.pending: list[Event] = []

    def handle(self, command: Command) -> None:
        if command == BAD:
            raise ValueError("no such op")
        if command == SLOW:
            time.sleep(0.004)
        self.handled.append(command)
        self.pending.append(Position(0, len(self.handled), 0))

    def poll_events(self) -> list[Event]:
        events, self.pending = self.pending, []
        return events


@dataclass
class Pipes:
    """A BlockCallback on real pipes, and the client's ends of them."""

    callback: BlockCallback
    graph: RecordingGraph
    commands: int  # write commands here
    events: FrameReader  # read events here
    stop: threading.Event

    def send(self, *commands: Command) -> None:
        for command in commands:
            write_all(self.commands, command)


@pytest.fixture
def pipes() -> Iterator[Pipes]:
    cmd_read, cmd_write = os.pipe()
    evt_read, evt_write = os.pipe()
    graph, stop = RecordingGraph(), threading.Event()
    callback = BlockCallback(Engine(None, "null", SR, BUFFER, None), graph, FrameReader(cmd_read),
                             FrameWriter(evt_write), stop)
    yield Pipes(callback, graph, cmd_write, FrameReader(evt_read), stop)
    for fd in (cmd_read, cmd_write, evt_read, evt_write):
        with contextlib.suppress(OSError):
            os.close(fd)


def test_block_callback_applies_every_waiting_command_in_one_block(pipes: Pipes) -> None:
    commands = [SetParam("voice1", p, 1.0) for p in ("amp", "pan")]
    pipes.send(commands[0], BAD, commands[1])
    pipes.callback()
    assert pipes.graph.handled == commands  # both fields in the same block; the bad one did not stop it
    events = pipes.events.read()
    assert [e.kind for e in events] == ["error", "position", "position"]
    assert isinstance(events[0], EngineMessage)
    assert "'gate'" in events[0].message and "no such op" in events[0].message
    pipes.callback()
    assert pipes.events.read() == []  # nothing new: no events, no status before its time
    assert not pipes.stop.is_set()


def test_block_callback_applies_only_the_last_of_commands_that_replace_each_other(pipes: Pipes) -> None:
    """All on the same sample: the last tempo, the last value of a parameter and the last
    in-place edit (it carries the whole pattern) are all that count."""
    def edit(n: int) -> ReplacePattern:
        return ReplacePattern(Pattern(name=str(n)), "edit")

    sent = [edit(1), SetParam("voice1", "amp", 2), SetTempo(3, 0.0), edit(4),
            ReplacePattern(Pattern(name="5"), "bar", 7), SetParam("voice1", "pan", 6), edit(7),
            SetTempo(8, 0.0), SetParam("voice1", "amp", 9), SetTransport(True)]
    pipes.send(*sent)
    pipes.callback()
    assert pipes.graph.handled == [sent[n - 1] for n in (5, 6, 7, 8, 9, 10)]


def test_block_callback_applies_the_last_edit_of_each_track(pipes: Pipes) -> None:
    """A track edit carries the whole track: of one track's edits in a block only the last counts."""
    def track(index: int, n: int) -> ReplaceTrack:
        return ReplaceTrack(index, Track(str(n), "voice1", [Step()]))

    sent = [track(0, 1), track(1, 2), track(0, 3), ReplacePattern(Pattern(name="4"), "edit"), track(1, 5)]
    pipes.send(*sent)
    pipes.callback()
    assert pipes.graph.handled == [sent[n - 1] for n in (3, 4, 5)]


def test_block_callback_sends_status_twice_a_second_of_audio(pipes: Pipes) -> None:
    pipes.send(SLOW)
    for _ in range(round(SR / BUFFER)):  # one second of audio
        pipes.callback()
    statuses = [e for e in pipes.events.read() if isinstance(e, Status)]
    assert len(statuses) == 2
    for status in statuses:
        assert (status.backend, status.sr, status.buffer) == ("null", SR, BUFFER)
        assert status.cpu >= 0
        assert status.xruns is None and "xruns" not in status.as_dict()  # only JACK can count them
    # The slow command is counted, and the block it ran in shows the time it took.
    assert [s.slow_commands for s in statuses] == [1, 0]
    assert statuses[0].callback_ms >= 4.0


def test_block_callback_stops_the_engine_when_the_client_goes(pipes: Pipes) -> None:
    pipes.send(SetTempo(1, 0.0))
    os.close(pipes.commands)
    pipes.callback()
    assert pipes.graph.handled == [SetTempo(1, 0.0)]  # what was sent still applies
    assert pipes.stop.is_set()


def test_a_message_that_arrives_in_pieces_is_read_once_whole() -> None:
    read_fd, write_fd = os.pipe()
    reader = FrameReader(read_fd)
    message = {"op": "pattern", "pattern": {"name": "x" * 100_000}}
    data = encode(message)
    try:
        os.write(write_fd, data[:3])
        assert reader.read() == []
        os.write(write_fd, data[3:50_000])
        assert reader.read() == []
        os.write(write_fd, data[50_000:])
        assert reader.read() == [message]
    finally:
        os.close(write_fd)
    assert reader.read() == [] and reader.closed
    reader.close()


def test_events_never_block_the_engine_when_the_client_does_not_read() -> None:
    read_fd, write_fd = os.pipe()
    writer, reader = FrameWriter(write_fd), FrameReader(read_fd)
    try:
        for n in range(20_000):  # far more than a pipe holds
            writer.send({"event": "position", "n": n})
        received = []
        while len(received) < 20_000:
            assert reader.wait(1.0)
            received += reader.read()
            writer.flush()
        assert [e["n"] for e in received] == list(range(20_000))
    finally:
        os.close(write_fd)
        reader.close()


# -- real engine processes -----------------------------------------------------------


def test_commands_reach_the_engine_and_events_come_back(make_client: Callable[..., EngineClient]) -> None:
    events = Events()
    client = make_client()
    client.start(events)
    assert client.backend == "null"
    bpm = 150.0
    play(client, demo_pattern("p", bpm))
    positions = events.positions(10, 0)
    assert (positions[0]["bar"], positions[0]["step"]) == (0, 0)  # start plays step 0 of bar 0
    assert_steps_advance(positions, bpm)
    status = events.wait(lambda e: e["event"] == "status")
    assert (status["backend"], status["sr"], status["buffer"]) == ("null", SR, BUFFER)

    mark = events.mark()
    client.send(SetTempo(90.0, 0.0))
    later = events.positions(4, mark)
    assert_steps_advance(later[1:], 90.0)  # the first may straddle the change


def test_null_backend_is_a_real_time_clock(make_client: Callable[..., EngineClient]) -> None:
    """The silent clock runs no faster than real time (and does not stall)."""
    events = Events()
    client = make_client(buffer=64)
    client.start(events)
    first = events.wait(lambda e: e["event"] == "status")
    last = events.wait(lambda e: e["event"] == "status" and e["blocks"] >= first["blocks"] + 4 * 375)
    audio_seconds = (last["blocks"] - first["blocks"]) * 64 / SR
    wall_seconds = last["_t"] - first["_t"]
    assert audio_seconds == pytest.approx(2.0, abs=0.01)
    assert 0.9 * audio_seconds <= wall_seconds <= 2.0 * audio_seconds


def test_sr_and_buffer_are_honoured(make_client: Callable[..., EngineClient]) -> None:
    events = Events()
    client = make_client(sr=44100, buffer=128)
    play(client, demo_pattern("p", 120.0))  # sent before start: waits for the process
    client.start(events)
    status = events.wait(lambda e: e["event"] == "status")
    assert (status["sr"], status["buffer"]) == (44100, 128)
    positions = events.positions(3, 0)
    step = step_samples(120.0, 44100)
    assert abs(positions[2]["sample"] - positions[0]["sample"] - 2 * step) <= 128


def test_send_never_blocks_and_keeps_order_while_the_engine_is_stuck(
        make_client: Callable[..., EngineClient]) -> None:
    events = Events()
    client = make_client()
    client.start(events)
    play(client, demo_pattern("p", 120.0))
    events.positions(2)
    pid = client.pid
    os.kill(pid, signal.SIGSTOP)  # the command pipe fills up after a few hundred commands
    try:
        for i in range(20000):
            client.send(SetTempo(60.0 + i % 100, 0.0))
        client.send(SetTempo(200.0, 0.0))
    finally:
        os.kill(pid, signal.SIGCONT)
    mark = events.mark()
    # The engine works through the backlog for a few steps; then the last tempo sent holds.
    assert_steps_advance(events.positions(20, mark)[-5:], 200.0)
    assert client.pid == pid and client.restarts == 0


def test_a_bad_command_is_reported_and_the_engine_plays_on(make_client: Callable[..., EngineClient]) -> None:
    events = Events()
    client = make_client()
    client.start(events)
    play(client, demo_pattern("p", 120.0))
    client.send({"op": "no-such-op"})
    error = events.wait(lambda e: e["event"] == "error")
    assert "no-such-op" in error["message"]
    mark = events.mark()
    assert_steps_advance(events.positions(3, mark), 120.0)


def test_session_switches_a_queued_bar_load_when_the_engine_reports_it(
        make_client: Callable[..., EngineClient], store: SlotStore) -> None:
    events = Events()
    bpm = 240.0  # a bar is one second
    session = session_with_engine(store, make_client(), demo_pattern("first", bpm), events)
    changes: list[Change] = []
    session.subscribe(changes.append)
    session.start()
    start = events.positions(1, 0)[0]
    events.wait(lambda e: e["event"] == "position" and e["step"] == 5)  # mid-bar
    pending = session.apply_snapshot(demo_pattern("second", bpm, "x.x.x.x.x.x.x.x."), at="bar")
    assert pending is not None and session.pattern.name == "first"  # queued, not yet switched
    switched = events.wait(lambda e: e["event"] == "switched", timeout=3)
    assert switched["token"] == pending.token
    bar = 16 * step_samples(bpm)
    assert (switched["sample"] - start["sample"]) % bar == 0  # on a bar line of the running clock
    assert session.pattern.name == "second" and session.pending is None
    assert [c.data["token"] for c in changes if c.kind == "pattern" and c.data.get("switched")] \
        == [pending.token]


def test_killed_engine_is_replaced_and_plays_the_same_session_at_once(
        make_client: Callable[..., EngineClient], store: SlotStore) -> None:
    events = Events()
    bpm = 137.0
    client = make_client()
    session = session_with_engine(store, client, demo_pattern("live", bpm, "x.x.x..x"), events)
    session.start()
    events.positions(3, 0)
    old_pid = client.pid
    mark = events.mark()
    killed_at = time.monotonic()
    os.kill(old_pid, signal.SIGKILL)
    restarted = events.wait(lambda e: e["event"] == "restarted", timeout=3, since=mark)
    resumed = events.positions(4, events.all.index(restarted), timeout=3)
    playing_after = resumed[0]["_t"] - killed_at
    # Restarted at once, not after a back-off; how fast is bench_engine_restart's figure (a
    # loaded 2-core machine can take longer than the usual half second).
    assert playing_after < 5.0, f"playing again after {playing_after:.2f} s"
    assert client.pid != old_pid and not alive(old_pid)
    assert (resumed[0]["bar"], resumed[0]["step"]) == (0, 0)  # the resync restarted the transport
    assert_steps_advance(resumed, bpm)  # the new process got the session's tempo, not the default
    assert session.transport.playing and session.pattern.name == "live"
    assert client.restarts == 1


def test_a_silent_engine_is_killed_and_replaced(make_client: Callable[..., EngineClient],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "WATCHDOG", 1.0)
    events = Events()
    client = make_client()
    client.start(events)
    events.wait(lambda e: e["event"] == "status")
    old_pid = client.pid
    os.kill(old_pid, signal.SIGSTOP)  # hung: alive, but no events
    try:
        events.wait(lambda e: e["event"] == "restarted", timeout=5)
    finally:
        if alive(old_pid):
            os.kill(old_pid, signal.SIGKILL)
    assert client.pid != old_pid and not alive(old_pid)


def test_restart_delay_doubles_from_nothing_to_its_cap() -> None:
    delays = [client_module.restart_delay(n) for n in range(9)]
    assert delays == pytest.approx([0.0, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0])
    assert client_module.restart_delay(100_000) == 5.0  # hours of failures: no overflow


def reader_threads(pids: list[int]) -> list[str]:
    """The event reader threads still running of these engine processes."""
    names = {f"engine-events-{pid}" for pid in pids}
    return [t.name for t in threading.enumerate() if t.name in names]


def wait_for_no_reader_threads(pids: list[int], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while reader_threads(pids):
        assert time.monotonic() < deadline, f"still running: {reader_threads(pids)}"
        time.sleep(0.02)


def back_off(monkeypatch: pytest.MonkeyPatch, first: float, cap: float, stable_after: float = 600.0) -> None:
    monkeypatch.setattr(client_module, "RESTART_DELAY_FIRST", first)
    monkeypatch.setattr(client_module, "RESTART_DELAY_MAX", cap)
    monkeypatch.setattr(client_module, "STABLE_AFTER", stable_after)


def engine_life(events: Events, since: int = 0) -> list[dict[str, Any]]:
    return [e for e in events.all[since:] if e["event"] in ("down", "restarting", "restarted")]


def test_an_engine_that_keeps_dying_is_restarted_with_back_off_and_status_tells(
        make_client: Callable[..., EngineClient], store: SlotStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """8 deaths in a few seconds (once this gave up after 6 in 30 s, still saying playing):
    every one is restarted, each after twice the last wait up to the cap, and while it is
    down the Session says so and does not claim to play."""
    back_off(monkeypatch, first=0.05, cap=0.4)
    events = Events()
    bpm = 150.0
    client = make_client()
    session = session_with_engine(store, client, demo_pattern("live", bpm), events)
    seen: list[tuple[str, dict[str, Any]]] = []  # each engine change, with the status it left
    session.subscribe(lambda c: seen.append((c.data.get("event"), session.status()))
                      if c.kind == "engine" else None)
    session.start()
    events.positions(2)
    killed = []
    for _ in range(8):
        mark = events.mark()
        killed.append(client.pid)
        os.kill(client.pid, signal.SIGKILL)
        events.wait(lambda e: e["event"] == "restarted", timeout=30, since=mark)
    resumed = events.positions(4, events.all.index(events.of("restarted")[-1]), timeout=10)
    assert_steps_advance(resumed, bpm)  # the session's tempo, playing again

    life = engine_life(events)
    assert [e["event"] for e in life] == ["down", "restarting", "restarted"] * 8  # one attempt each
    downs, starts = life[0::3], life[1::3]
    assert [d["retry_in"] for d in downs] == pytest.approx([0.0, 0.05, 0.1, 0.2, 0.4, 0.4, 0.4, 0.4])
    for down, start in zip(downs, starts, strict=True):
        assert start["_t"] - down["_t"] >= 0.9 * down["retry_in"]  # it waited (measured, lower bound)
        assert down["message"] == "the engine process died (exit -9)"
    assert client.restarts == 8 and session.status()["restarts"] == 8

    while_down = [status for kind, status in seen if kind == "down"]
    assert len(while_down) == 8
    for status in while_down:
        assert (status["engine"], status["playing"], status["transport_running"]) == ("down", False, True)
        assert "died (exit -9)" in status["engine_error"]
        assert 0 <= status["next_attempt_in"] <= 0.4
    assert all(s["engine"] == "restarting" and not s["playing"] for k, s in seen if k == "restarting")
    after = session.status()
    assert (after["engine"], after["playing"], after["engine_error"], after["next_attempt_in"]) \
        == ("up", True, None, None)
    wait_for_no_reader_threads(killed)  # each dead engine's thread ended: none piles up

    # An engine that ran well for a while is restarted at once again.
    monkeypatch.setattr(client_module, "STABLE_AFTER", 0.3)
    mark = events.mark()
    events.positions(6, mark)  # 0.6 s of playing
    os.kill(client.pid, signal.SIGKILL)
    events.wait(lambda e: e["event"] == "restarted", timeout=30, since=mark)
    assert engine_life(events, mark)[0]["retry_in"] == 0.0


def test_restarts_that_fail_are_retried_until_one_runs(
        make_client: Callable[..., EngineClient], store: SlotStore, engine_log: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    back_off(monkeypatch, first=0.02, cap=0.1)
    events = Events()
    bpm = 150.0
    client = make_client()
    session = session_with_engine(store, client, demo_pattern("live", bpm), events)
    session.start()
    events.positions(2)
    client.ENGINE_MAIN = ("-c", "raise SystemExit(7)")  # every new engine dies at once
    mark = events.mark()
    os.kill(client.pid, signal.SIGKILL)
    events.wait(lambda e: e["event"] == "down" and e["attempt"] >= 10, timeout=60, since=mark)
    status = session.status()
    assert status["engine"] in ("down", "restarting")
    assert not status["playing"] and status["transport_running"]
    del client.ENGINE_MAIN  # the engine can start again
    restarted = events.wait(lambda e: e["event"] == "restarted", timeout=30, since=mark)
    assert_steps_advance(events.positions(4, events.all.index(restarted), timeout=10), bpm)

    life = engine_life(events, mark)
    assert [e["event"] for e in life] == ["down", "restarting"] * (len(life) // 2) + ["restarted"]
    downs = life[0:-1:2]
    assert [d["attempt"] for d in downs] == list(range(1, len(downs) + 1))
    assert [d["retry_in"] for d in downs[:6]] == pytest.approx([0.0, 0.02, 0.04, 0.08, 0.1, 0.1])
    assert all(d["retry_in"] == pytest.approx(0.1) for d in downs[4:])
    for failed in downs[1:]:
        assert failed["message"].startswith("could not restart the engine: the engine process exited "
                                            "with status 7 before it started (see engine.log)")
        assert str(engine_log) not in failed["message"]  # no absolute path reaches a reply
    assert client.restarts == 1
    assert session.status()["engine"] == "up" and session.status()["playing"]


def test_close_ends_a_restart_back_off_at_once(make_client: Callable[..., EngineClient],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    back_off(monkeypatch, first=600.0, cap=600.0)
    events = Events()
    client = make_client()
    client.start(events)
    client.ENGINE_MAIN = ("-c", "raise SystemExit(7)")
    dead = client.pid
    os.kill(dead, signal.SIGKILL)
    events.wait(lambda e: e["event"] == "down" and e["retry_in"] == 600.0, timeout=30)
    assert reader_threads([dead])  # waiting out the back-off
    client.close()
    wait_for_no_reader_threads([dead])  # well before the 600 s wait would end
    assert engine_children() == []
    assert events.all[-1]["event"] == "down"  # no attempt after close


def test_close_leaves_no_engine_process(make_client: Callable[..., EngineClient]) -> None:
    client = make_client()
    client.start(Events())
    pid = client.pid
    assert pid in engine_children()
    client.close()
    assert not alive(pid)
    assert engine_children() == []
    client.close()  # twice is fine


def test_nothing_the_engine_prints_reaches_the_terminal(make_client: Callable[..., EngineClient],
                                                       engine_log: Path,
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    client = make_client()
    client.start(Events())
    client.send({"op": "no-such-op"})
    time.sleep(0.2)
    client.close()
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    log = engine_log.read_text()
    assert "backend null, 48000 Hz, 256 frames" in log
    assert "no-such-op" in log and "engine stopped" in log


def test_the_engine_stops_when_the_control_process_dies(tmp_path: Path) -> None:
    """A crashed UI must not leave an engine (and a JACK client) behind."""
    code = ("import sys, time; from pathlib import Path; "
            "from chronus_tui.engine.client import EngineClient; "
            f"c = EngineClient(audio='null', log_path=Path({str(tmp_path / 'engine.log')!r}), "
            f"env={NO_JACK!r}); "
            "c.start(lambda e: None); print(c.pid, flush=True); time.sleep(60)")
    control = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        engine_pid = int(control.stdout.readline())
        assert alive(engine_pid)
    finally:
        control.kill()
        control.wait()
    deadline = time.monotonic() + 3
    while alive(engine_pid):
        assert time.monotonic() < deadline, "the engine outlived its control process"
        time.sleep(0.02)


def test_explicit_portaudio_plays_or_says_why_not(make_client: Callable[..., EngineClient]) -> None:
    client = make_client("portaudio")
    try:
        client.start(Events())
    except EngineError as exc:  # no sound card (CI): the message says what to do
        assert "PortAudio has no default output device (use --audio null" in str(exc)
        assert engine_children() == []
    else:
        assert client.backend == "portaudio"


def test_explicit_jack_without_a_server_is_a_clear_error(make_client: Callable[..., EngineClient]) -> None:
    client = make_client("jack")
    with pytest.raises(EngineError, match="JACK server is not running"):
        client.start(Events())
    assert client.pid is None and engine_children() == []


def test_an_engine_that_crashes_at_start_is_a_clear_error(make_client: Callable[..., EngineClient],
                                                          engine_log: Path) -> None:
    client = make_client(env={**NO_JACK, "PYTHONHOME": "/nonexistent"})  # its Python cannot start
    with pytest.raises(EngineError, match=r"exited with status \d+ before it started \(see .*engine.log\)"):
        client.start(Events())
    assert engine_children() == []
    assert "nonexistent" in engine_log.read_text()  # the reason is in the log


def test_auto_falls_through_to_a_backend_that_works(make_client: Callable[..., EngineClient]) -> None:
    events = Events()
    client = make_client("auto")
    client.start(events)
    assert client.backend in ("portaudio", "null")  # no JACK server by that name
    assert events.wait(lambda e: e["event"] == "status")["backend"] == client.backend


@pytest.mark.parametrize(("settings", "message"), [
    ({"audio": "alsa"}, "--audio 'alsa' is not one of auto, jack, portaudio, null"),
    ({"sr": 1000}, "--sr 1000 is not a sample rate from 22050 to 192000"),
    ({"sr": 48000.5}, "--sr 48000.5 is not"),
    ({"buffer": 300}, "--buffer 300 is not one of 16, 32, 64, 128, 256, 512, 1024"),
    ({"buffer": 4096}, "--buffer 4096 is not one of"),
    ({"sr": 22050, "buffer": 1024}, "--buffer 1024: 1024-frame buffers are too long at 22050 Hz: two steps "
                                    "could start in one buffer at 300 bpm with swing (512 frames or less"),
])
def test_bad_audio_settings_are_refused_before_anything_starts(settings: dict[str, Any],
                                                               message: str) -> None:
    with pytest.raises(EngineError, match=re.escape(message)):
        EngineClient(**settings)
    assert engine_children() == []


def test_the_client_side_never_imports_pyo() -> None:
    """The control process (UI, OSC, Session) must not load pyo: its audio callback
    would hold our GIL every block."""
    code = ("import sys, chronus_tui.engine.client, chronus_tui.engine.backends, chronus_tui.runtime; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyo', 'pyo64', '_pyo', '_pyo64')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
