"""Audio backends: which one to use, and what JACK can tell us (no pyo here).

`--audio auto` means the candidates jack, portaudio, null in that order; an
explicit backend is a list of one. The engine process takes the first candidate
that is available (a JACK server answers, PortAudio has a default output device);
null is always available: a silent clock driven in real time by the engine
process itself.

JACK is reached through libjack with ctypes, so the control process (benchmark,
tests) can count xruns without pyo, and the engine process can probe for a
running server before pyo tries: a failed pyo boot leaves pyo in a state where
the next Server crashes, so the probe must come first.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable

from chronus_tui.timing import BUFFER_SIZES, buffer_problem

BACKENDS = ("jack", "portaudio", "null")
AUDIO_CHOICES = ("auto", *BACKENDS)

JACK_CLIENT_NAME = "chronus"
_JACK_NO_START_SERVER = 0x01  # JackOptions: never start a server as a side effect

HINTS = {
    "jack": "the JACK server is not running (start jackd, or use --audio auto)",
    "portaudio": "PortAudio has no default output device (use --audio null for a silent clock)",
}


SR_RANGE = (22050, 192000)


def check_audio_settings(sr: int, buffer: int) -> None:
    """ValueError naming the bad --sr or --buffer."""
    if isinstance(sr, bool) or not isinstance(sr, int) or not SR_RANGE[0] <= sr <= SR_RANGE[1]:
        raise ValueError(f"--sr {sr!r} is not a sample rate from {SR_RANGE[0]} to {SR_RANGE[1]}")
    if buffer not in BUFFER_SIZES or isinstance(buffer, bool):
        raise ValueError(f"--buffer {buffer!r} is not one of {', '.join(map(str, BUFFER_SIZES))}")
    if (problem := buffer_problem(sr, buffer)) is not None:
        raise ValueError(f"--buffer {buffer}: {problem}")


def candidates(audio: str) -> list[str]:
    """The backends to try, in order, for an --audio value."""
    if audio == "auto":
        return list(BACKENDS)
    if audio not in BACKENDS:
        raise ValueError(f"--audio {audio!r} is not one of {', '.join(AUDIO_CHOICES)}")
    return [audio]


class JackError(RuntimeError):
    """libjack is missing or no JACK server answers."""


_XrunCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
_ShutdownCallback = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_libjack: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libjack
    if _libjack is None:
        try:
            lib = ctypes.CDLL("libjack.so.0")
        except OSError as exc:
            raise JackError(f"libjack is not installed ({exc})") from None
        lib.jack_client_open.restype = ctypes.c_void_p
        lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        lib.jack_client_close.argtypes = [ctypes.c_void_p]
        lib.jack_activate.argtypes = [ctypes.c_void_p]
        lib.jack_set_xrun_callback.argtypes = [ctypes.c_void_p, _XrunCallback, ctypes.c_void_p]
        lib.jack_on_shutdown.argtypes = [ctypes.c_void_p, _ShutdownCallback, ctypes.c_void_p]
        _libjack = lib
    return _libjack


class JackMonitor:
    """A port-less JACK client that counts the server's xruns (every client hears of them)
    and calls `on_shutdown` if the server goes away.

    Raises JackError when no server runs; never starts one.
    """

    def __init__(self, name: str = "chronus-monitor",
                 on_shutdown: Callable[[], None] | None = None) -> None:
        lib = _lib()
        status = ctypes.c_int(0)
        client = lib.jack_client_open(name.encode(), _JACK_NO_START_SERVER, ctypes.byref(status))
        if not client:
            raise JackError(f"no JACK server answers (status 0x{status.value:x})")
        self._client: int | None = client
        self._lock = threading.Lock()
        self._xruns = 0
        self.server_gone = False
        self._on_server_gone = on_shutdown
        # Kept referenced: libjack calls them later, from its own thread.
        self._callback = _XrunCallback(self._on_xrun)
        self._shutdown = _ShutdownCallback(self._on_shutdown)
        lib.jack_set_xrun_callback(client, self._callback, None)
        lib.jack_on_shutdown(client, self._shutdown, None)
        if lib.jack_activate(client) != 0:
            self.close()
            raise JackError("JACK refused to activate a client")

    def _on_shutdown(self, _arg: object) -> None:
        self.server_gone = True
        if self._on_server_gone is not None:
            self._on_server_gone()

    def _on_xrun(self, _arg: object) -> int:
        with self._lock:
            self._xruns += 1
        return 0

    @property
    def xruns(self) -> int:
        with self._lock:
            return self._xruns

    def close(self) -> None:
        if self._client is not None:
            _lib().jack_client_close(self._client)
            self._client = None

    def __enter__(self) -> JackMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
