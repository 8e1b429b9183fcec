"""Faults of the engine process: it dies again and again, and Chronus neither gives up nor lies.

The Session and the transport line say the engine is down while no process runs (never
"playing"), listeners hear it, and when a new engine runs the session plays on. The last
test kills the engine child of the real `chronus --no-ui` 8 times in a row and watches
`/engine/status` and `/notify/engine` throughout.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from support.engine import alive
from support.fakes import FakeEngine
from support.headless import Headless, headless_fixture  # noqa: F401
from support.osc import OscClient
from support.ui import make_app

from chronus_tui.engine.protocol import Down, Event, Position, Restarted, Restarting
from chronus_tui.session import Change, Session

DOWN = Down(message="the engine process died (exit -9)", retry_in=0.8, attempt=3, restarts=2)


def test_session_says_the_engine_is_down_and_resyncs_when_it_is_back(
        session: Session, engine: FakeEngine, changes: list[Change]) -> None:
    session.set_bpm(133)
    session.start()
    session.on_engine_event(Position(bar=1, step=4, sample=0))
    assert session.status()["playing"] and session.status()["engine"] == "up"

    session.on_engine_event(DOWN)
    status = session.status()
    assert (status["engine"], status["playing"], status["transport_running"]) == ("down", False, True)
    assert status["engine_error"] == "the engine process died (exit -9)"
    assert 0.0 <= status["next_attempt_in"] <= 0.8
    assert changes[-1].kind == "engine" and changes[-1].data == {
        "event": "down", "message": "the engine process died (exit -9)", "retry_in": 0.8, "attempt": 3,
        "restarts": 2}  # /notify/engine and the UI hear it

    session.on_engine_event(Restarting(attempt=3, restarts=2))
    status = session.status()
    assert (status["engine"], status["playing"], status["next_attempt_in"]) == ("restarting", False, None)
    assert changes[-1].kind == "engine" and changes[-1].data["event"] == "restarting"

    engine.clear()
    session.on_engine_event(Restarted(backend="null", restarts=3))
    status = session.status()
    assert (status["engine"], status["playing"], status["engine_error"], status["restarts"]) \
        == ("up", True, None, 1)
    # The new process gets the whole session: the pattern at its tempo, and the transport running.
    assert engine.ops("pattern")[-1]["pattern"]["sequencer"]["bpm"] == 133.0
    assert engine.last("transport") == {"op": "transport", "playing": True}


def test_a_stopped_session_stays_stopped_through_a_restart(session: Session, engine: FakeEngine) -> None:
    session.on_engine_event(DOWN)
    assert not session.status()["transport_running"] and not session.status()["playing"]
    session.on_engine_event(Restarted(backend="null", restarts=1))
    assert engine.last("transport") == {"op": "transport", "playing": False}
    assert not session.status()["playing"]


async def test_the_transport_line_says_the_engine_is_down(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=(120, 40)) as pilot:
        session.start()
        await pilot.pause()
        assert "PLAY" in app.query_one("#transport").render().plain

        def engine_events(*events: Event) -> None:  # the engine client's reader thread
            thread = threading.Thread(target=lambda: [session.on_engine_event(e) for e in events])
            thread.start()
            thread.join()

        engine_events(DOWN)
        await pilot.pause()
        line = app.query_one("#transport").render().plain
        assert "⚠ ENGINE DOWN — restarting" in line and "PLAY" not in line
        engine_events(Restarting(attempt=4, restarts=2))
        await pilot.pause()
        assert "ENGINE DOWN" in app.query_one("#transport").render().plain
        engine_events(Restarted(backend="null", restarts=3))
        await pilot.pause()
        line = app.query_one("#transport").render().plain
        assert "PLAY" in line and "ENGINE DOWN" not in line


# -- the real headless chronus ---------------------------------------------------------


def engine_child(pid: int) -> int | None:
    """The live engine process among `pid`'s children (forked from any of its threads)."""
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            pids = [int(child) for child in children.read_text().split()]
        except OSError:  # the thread ended
            continue
        for child in pids:
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"chronus_tui.synth.process" in cmdline and alive(child):
                return child
    return None


class StatusWatch:
    """Every /engine/status reply, asked for every few hundredths of a second."""

    def __init__(self, port: int) -> None:
        self.client = OscClient(port)
        self.replies: list[dict[str, Any]] = []

    def ask(self) -> dict[str, Any]:
        self.replies.append(self.client.query("/engine/status"))
        return self.replies[-1]

    def until(self, done: Any, timeout: float, what: str) -> Any:
        """Ask until done() gives a true value (it may ask too); return that value."""
        deadline = time.monotonic() + timeout
        while not (value := done()):
            assert time.monotonic() < deadline, f"{what} not within {timeout} s; last: {self.replies[-3:]}"
            self.ask()
            time.sleep(0.03)
        return value


def received(client: OscClient, budget: float = 10.0) -> list[tuple[str, list[Any]]]:
    """What has arrived so far (notifications keep coming while it plays: stop at a pause
    or when the budget is spent)."""
    found = []
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        try:
            found.append(client.recv(0.05))
        except TimeoutError:
            break
    return found


def test_headless_engine_killed_8_times_is_reported_down_and_plays_on(headless: Headless) -> None:
    control, listener = OscClient(headless.port), OscClient(headless.port)
    watch = StatusWatch(headless.port)
    try:
        listener.ok("/notify/subscribe")
        control.ok("/seq/add", "kick", "voice1", "x...x...x...x...")
        control.ok("/seq/bpm", 150)
        control.ok("/seq/start")
        watch.until(lambda: watch.ask()["playing"], 30, "playing")

        killed: list[int] = []
        for _ in range(8):  # each new engine as soon as it appears, booted or not
            listener.send("/notify/subscribe")  # renew the lease on a slow machine
            pid = watch.until(lambda: (p := engine_child(headless.proc.pid)) not in killed and p, 60,
                              "a new engine process")
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

        first = watch.until(lambda: (s := watch.ask())["engine"] == "up" and s["playing"] and s, 60,
                            "playing again")
        watch.until(lambda: watch.ask()["position"] != first["position"], 30, "the playhead moving")
        notifications = received(listener)
    finally:
        for client in (control, listener, watch.client):
            client.close()

    replies = watch.replies
    not_up = [r for r in replies if r["engine"] != "up"]
    assert not_up, "never saw the engine down"
    for reply in not_up:  # while down it never claims to play, and says it will play on
        assert reply["engine"] in ("down", "restarting")
        assert reply["playing"] is False and reply["transport_running"] is True, reply
    downs = [r for r in not_up if r["engine"] == "down"]
    assert downs and all(r["engine_error"] and r["next_attempt_in"] is not None for r in downs)
    last = replies[-1]
    assert last["playing"] and last["bpm"] == 150.0 and last["restarts"] >= 1
    engine_events = [json.loads(args[0])["event"] for address, args in notifications
                     if address == "/notify/engine"]
    assert "down" in engine_events and "restarted" in engine_events
    assert engine_child(headless.proc.pid) not in killed
    assert headless.stop(signal.SIGTERM) == 0
    assert not any("Traceback" in line for line in headless.lines)
