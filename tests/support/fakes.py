"""A stand-in for the engine client: a Session talks to it and a test reads what was sent."""

from __future__ import annotations

import threading
from typing import Any


class FakeEngine:
    """Records the commands a Session sends; thread-safe, like the real client."""

    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def send(self, command: dict[str, Any]) -> None:
        with self._lock:
            self.commands.append(command)

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
            self.commands.clear()

    @staticmethod
    def switch(token: int, sample: int = 0) -> dict[str, Any]:
        """The event the engine sends when the queued load `token` took effect."""
        return {"event": "switched", "token": token, "sample": sample}
