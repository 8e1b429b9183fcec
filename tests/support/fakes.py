"""A stand-in for the engine client: a Session talks to it and a test reads what was sent."""

from __future__ import annotations

import threading
from dataclasses import fields
from typing import Any

from chronus_tui.engine.protocol import Command, Switched
from chronus_tui.model import Pattern, Track
from chronus_tui.patternfile import pattern_to_dict, track_to_dict


def record(command: Command) -> dict[str, Any]:
    """A command as a test reads it: {"op": …, <field>: value, …}, a Pattern or Track in its
    file shape (so a test compares it with a snapshot)."""
    def readable(value: object) -> object:
        if isinstance(value, Pattern):
            return pattern_to_dict(value)
        return track_to_dict(value) if isinstance(value, Track) else value

    return {"op": command.op, **{f.name: readable(getattr(command, f.name)) for f in fields(command)}}


class FakeEngine:
    """Records the commands a Session sends; thread-safe, like the real client. `sent` holds
    the protocol objects, `commands` each as a record() dict."""

    def __init__(self) -> None:
        self.sent: list[Command] = []
        self.commands: list[dict[str, Any]] = []
        self.halted = False  # /engine/stop
        self._lock = threading.Lock()

    def send(self, command: Command) -> None:
        with self._lock:
            self.sent.append(command)
            self.commands.append(record(command))

    def halt(self) -> bool:
        """/engine/stop: True unless halted already (as EngineClient.halt)."""
        was, self.halted = self.halted, True
        return not was

    def resume(self) -> bool:
        was, self.halted = self.halted, False
        return was

    def ops(self, op: str) -> list[dict[str, Any]]:
        """The commands of one op ("pattern", "param", "tempo", "transport", …), in order."""
        with self._lock:
            return [c for c in self.commands if c["op"] == op]

    def last(self, op: str) -> dict[str, Any]:
        found = self.ops(op)
        assert found, f"no {op!r} command was sent (sent: {[c['op'] for c in self.commands]})"
        return found[-1]

    def clear(self) -> None:
        with self._lock:
            self.sent.clear()
            self.commands.clear()

    @staticmethod
    def switch(token: int, sample: int = 0) -> Switched:
        """The event the engine sends when the queued load `token` took effect."""
        return Switched(token, sample)


class FakeClock:
    """A monotonic clock a test moves by hand (`clock.now += 0.5`), for rate limits and leases."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
