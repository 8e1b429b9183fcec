"""Length-framed pickles over a pipe: how the engine client and the engine process talk.

The engine process reads and writes from inside its audio callback, so its ends are
non-blocking: a half-arrived message stays in the buffer until the rest comes, and
events the client is slow to read wait in memory, never blocking the block. (Both
ends are our own processes, so pickle is safe here.)
"""

from __future__ import annotations

import os
import pickle
import select
import struct
from typing import Any

_HEADER = struct.Struct("!I")
_CHUNK = 1 << 16


def encode(message: Any) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


class FrameReader:
    """Reads whole messages from a non-blocking fd; `closed` once the writer is gone."""

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self.closed = False
        self._buffer = bytearray()

    def read(self) -> list[Any]:
        """The messages complete so far (never waits)."""
        while not self.closed:
            try:
                chunk = os.read(self.fd, _CHUNK)
            except BlockingIOError:
                break
            if not chunk:
                self.closed = True
            self._buffer += chunk
        messages = []
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            messages.append(pickle.loads(self._buffer[_HEADER.size:end]))
            del self._buffer[:end]
        return messages

    def wait(self, timeout: float) -> bool:
        """Wait until there is something to read (or EOF); False after `timeout` seconds."""
        readable, _, _ = select.select([self.fd], [], [], timeout)
        return bool(readable)

    def close(self) -> None:
        os.close(self.fd)


class FrameWriter:
    """Writes messages to a non-blocking fd; what the pipe cannot take yet waits in memory."""

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self.closed = False
        self._pending = bytearray()

    def send(self, message: Any) -> None:
        if not self.closed:
            self._pending += encode(message)
            self.flush()

    def flush(self) -> None:
        while self._pending and not self.closed:
            try:
                written = os.write(self.fd, self._pending)
            except BlockingIOError:
                return
            except BrokenPipeError:  # the reader is gone
                self.closed = True
                self._pending.clear()
                return
            del self._pending[:written]


def write_all(fd: int, message: Any) -> None:
    """Write one message to a blocking fd (the client's command pipe)."""
    data = memoryview(encode(message))
    while data:
        data = data[os.write(fd, data):]
