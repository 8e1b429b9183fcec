"""Helpers for tests that run real engine processes (test_engine_process, test_realtime_jack)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chronus_tui.engine.client import EngineClient
from chronus_tui.engine.protocol import Event, ReplacePattern, SetTransport
from chronus_tui.model import Pattern, Track, parse_steps
from chronus_tui.session import Session
from chronus_tui.store import SlotStore

SR = 48000
BUFFER = 256


def step_samples(bpm: float, sr: int = SR) -> float:
    return sr * 60 / bpm / 4


class Events:
    """Collects engine events (they arrive on the client's reader thread), each as
    Event.as_dict() with the time it came ("_t")."""

    def __init__(self) -> None:
        self.all: list[dict[str, Any]] = []
        self._cond = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._cond:
            self.all.append({**event.as_dict(), "_t": time.monotonic()})
            self._cond.notify_all()

    def of(self, kind: str, since: int = 0) -> list[dict[str, Any]]:
        with self._cond:
            return [e for e in self.all[since:] if e["event"] == kind]

    def wait(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0,
             since: int = 0) -> dict[str, Any]:
        """The first event from index `since` on that satisfies predicate."""
        found: list[dict[str, Any]] = []

        def seen() -> bool:
            found.extend(e for e in self.all[since:] if predicate(e))
            return bool(found)

        self._wait_until(seen, timeout, since)
        return found[0]

    def positions(self, count: int, since: int = 0, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The first `count` position events from index `since` on, once they are there."""
        self._wait_until(lambda: len(self.of("position", since)) >= count, timeout, since)
        return self.of("position", since)[:count]

    def _wait_until(self, done: Callable[[], bool], timeout: float, since: int) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    kinds = [e["event"] for e in self.all[since:]][-20:]
                    raise AssertionError(f"not there within {timeout} s (last events: {kinds})")
                self._cond.wait(left)

    def mark(self) -> int:
        with self._cond:
            return len(self.all)


def assert_steps_advance(positions: list[dict[str, Any]], bpm: float) -> None:
    """Consecutive steps, and samples that advance by one step length each
    (to within a block: events are sent at block boundaries)."""
    step = step_samples(bpm)
    first = positions[0]
    index0 = first["bar"] * 16 + first["step"]
    for k, pos in enumerate(positions):
        assert pos["bar"] * 16 + pos["step"] == index0 + k, positions
        assert abs(pos["sample"] - first["sample"] - k * step) <= BUFFER, (k, pos, first, step)


def demo_pattern(name: str, bpm: float, hits: str = "x...x...x...x...") -> Pattern:
    pattern = Pattern(name=name, bpm=bpm)
    pattern.tracks.append(Track(name="kick", voice="voice1", steps=parse_steps(hits)))
    return pattern


def play(client: EngineClient, pattern: Pattern) -> None:
    """What the Session sends to load a pattern while stopped, then press play."""
    client.send(ReplacePattern(pattern.copy(), "now"))
    client.send(SetTransport(True))


def engine_children() -> list[int]:
    """Our child processes that are engine processes (zombies included)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"--commands" in cmdline.split(b"\0"):
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def session_with_engine(store: SlotStore, client: EngineClient, pattern: Pattern,
                        events: Events) -> Session:
    session = Session(store, client, pattern=pattern)

    def deliver(event: Event) -> None:
        session.on_engine_event(event)
        events(event)

    client.start(deliver)
    session.resync()
    return session


