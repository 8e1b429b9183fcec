"""Helpers for the tests of chains and songs: slot patterns, a session with three slots saved
(the `chained` fixture), and waiting for the chain's own thread to queue the next entry on the
FakeEngine."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from chronus_tui.model import Pattern, Track, parse_steps
from chronus_tui.patternfile import pattern_to_dict
from chronus_tui.session import Session
from chronus_tui.store import SlotStore
from support.fakes import FakeEngine


def slot_pattern(name: str, steps: str = "x...x...x...x...", **fields: Any) -> dict[str, Any]:
    """A slot's pattern of one track `t` on voice1 (more tracks with `tracks=`)."""
    tracks = fields.pop("tracks", [Track("t", "voice1", parse_steps(steps))])
    return pattern_to_dict(Pattern(name=name, tracks=tracks, **fields))


def wait_for(condition: Callable[[], Any], timeout: float = 5.0) -> Any:
    """The chain's own thread queues the next entry: wait for it (a test that fails, fails here)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.002)
    raise AssertionError("timed out")


def queued_pattern(engine: FakeEngine, count: int) -> dict[str, Any]:
    """The `count`-th "pattern" command, once it is sent."""
    return wait_for(lambda: len(engine.ops("pattern")) >= count and engine.ops("pattern")[count - 1])


def switch(session: Session, command: dict[str, Any]) -> None:
    """The engine says the queued load `command` took effect."""
    session.on_engine_event(FakeEngine.switch(command["token"]))


@pytest.fixture(name="chained")
def chained_fixture(session: Session, store: SlotStore, engine: FakeEngine) -> Session:
    """Slots A01 (16 steps), A02 (12 steps) and A03 (32 steps) saved; the transport playing."""
    store.save(1, slot_pattern("one"))
    store.save(2, slot_pattern("two", "x" * 12))
    store.save(3, slot_pattern("three", "x" * 32))
    session.apply_snapshot(pattern_to_dict(Pattern(name="before")), "now")
    session.start()
    engine.clear()
    return session
