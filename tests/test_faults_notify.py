"""Notification subscriptions against the real `chronus --no-ui`: none can make it loop or flood.

Two instances subscribed to each other go quiet after a burst of changes and keep answering;
a third plain socket subscribed to both (a sniffer) counts what they send over time."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pythonosc.osc_message import OscMessage
from support.headless import READY, Headless, headless_fixture  # noqa: F401
from support.osc import OscClient, free_udp_port, wait_until

from chronus_tui.osc.notify import NOTIFY_RATE

Heard = tuple[float, int, str, list[Any]]  # arrival time, sender port, address, arguments
QUIET = 2.0  # seconds of the window in which nothing but the engine's status may arrive
ENGINE_STATUS_BOUND = 40  # "status" comes about twice a second per instance: 8 in the window


class Sniffer:
    """A plain UDP socket that records every datagram sent to it, from a thread, until closed."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.heard: list[Heard] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data, sender = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            message = OscMessage(data)
            self.heard.append((time.monotonic(), sender[1], message.address, list(message.params)))

    def since(self, start: float) -> list[Heard]:
        return [h for h in list(self.heard) if h[0] >= start]

    def last(self, port: int, address: str) -> list[Any] | None:
        found = [h[3] for h in list(self.heard) if h[1] == port and h[2] == address]
        return found[-1] if found else None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def second(tmp_path: Path, request: pytest.FixtureRequest) -> Headless:
    """A second instance, with folders of its own; killed at the end (finalizers run last first)."""
    process = Headless(tmp_path / "b" / "patterns", tmp_path / "b" / "state", free_udp_port())
    request.addfinalizer(process.proc.wait)
    request.addfinalizer(process.proc.kill)
    process.wait_for(READY)
    return process


@pytest.fixture
def sniffer() -> Iterator[Sniffer]:
    listening = Sniffer()
    yield listening
    listening.close()


def _status(port: int, address: str) -> dict[str, Any]:
    client = OscClient(port)
    try:
        return client.query(address)
    finally:
        client.close()


def test_a_subscription_to_the_servers_own_port_is_refused(headless: Headless) -> None:
    client = OscClient(headless.port)
    try:
        assert "own address" in client.error("/notify/subscribe", headless.port)
        before = client.query("/engine/status")
        client.ok("/seq/bpm", 133)
        client.ok("/mod/voice1/amp", 0.3)
        after = client.query("/engine/status")
        assert after["osc_handled"] - before["osc_handled"] == 3  # the three requests, nothing went round
        assert after["osc_errors"] == before["osc_errors"]
        assert client.query("/seq/status")["bpm"] == 133
    finally:
        client.close()


def test_two_instances_subscribed_to_each_other_go_quiet_and_keep_answering(
        headless: Headless, second: Headless, sniffer: Sniffer) -> None:
    a, b = headless.port, second.port
    to_a, to_b = OscClient(a), OscClient(b)
    try:
        assert to_a.ok("/notify/subscribe", b) == ["127.0.0.1", b, 1, 60]  # a tells b everything
        assert to_b.ok("/notify/subscribe", a) == ["127.0.0.1", a, 1, 60]  # and b tells a
        to_a.ok("/notify/subscribe", sniffer.port)
        to_b.ok("/notify/subscribe", sniffer.port)
        b_tempo = to_b.query("/seq/status")["bpm"]

        started = time.monotonic()
        value = 0
        for _chunk in range(10):  # a burst of 1,000 changes on a, in chunks its buffer takes whole
            for _ in range(50):
                value += 1
                to_a.send("/mod/voice1/amp", value / 1000)
                to_a.send("/seq/bpm", 60 + value % 200)
            _status(a, "/engine/status")  # handled in order: the chunk before it is in
        final_amp, final_bpm = value / 1000, 60 + value % 200

        # the sniffer ends up with a's final state, coalesced from the 1,000 changes
        wait_until(lambda: sniffer.last(a, "/notify/param") == ["voice1", "amp", pytest.approx(final_amp)]
                   and sniffer.last(a, "/notify/tempo") == [final_bpm], 30)
        burst = time.monotonic() - started
        assert len(sniffer.since(started)) <= 2 * NOTIFY_RATE * (1 + burst)

        # then both are quiet: nothing in a window but the engines' status, no request handled
        quiet = time.monotonic()
        before = {port: _status(port, "/engine/status") for port in (a, b)}
        time.sleep(QUIET)  # the window itself: anything a loop sent would arrive in it
        after = {port: _status(port, "/engine/status") for port in (a, b)}
        heard = sniffer.since(quiet)
        assert [h[2:] for h in heard if h[2] != "/notify/engine"] == []
        assert len(heard) <= ENGINE_STATUS_BOUND
        for port in (a, b):
            assert after[port]["osc_handled"] - before[port]["osc_handled"] == 1  # our own first query
            assert after[port]["osc_errors"] == before[port]["osc_errors"]

        # each still answers, and a's notifications changed nothing on b
        assert _status(a, "/seq/status")["bpm"] == final_bpm
        assert _status(b, "/seq/status")["bpm"] == b_tempo
    finally:
        to_a.close()
        to_b.close()
