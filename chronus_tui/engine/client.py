"""EngineClient: the control process's handle on the engine process (never imports pyo).

send() only puts the command on a queue, so the caller (UI, OSC server, Session
under its lock) never waits for the engine; one writer thread feeds the command
pipe in order. A reader thread per engine process delivers its events to
`on_event`. Commands and events are the frozen dataclasses of protocol.py.
When the process dies (crash, SIGKILL, or silent for WATCHDOG seconds)
the reader notices at once (the event pipe reaches EOF), emits Down,
and starts new processes until one runs, for as long as the client is open: at once
after an engine that ran for STABLE_AFTER seconds, else after a back-off that doubles
per failure (restart_delay), emitting Restarting before each attempt and Down
after each failure. The one that runs emits Restarted so the Session
re-sends the whole state. Commands sent while no process runs are lost with it; the
resync covers them because the Session changes its model before it sends.
halt() stops the engine process after the commands sent before it (so a recording is
closed) and starts none until resume(), which starts one and emits Restarted like a restart.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from chronus_tui.engine.backends import candidates, check_audio_settings
from chronus_tui.engine.protocol import Command, Down, Event, Failed, Ready, Restarted, Restarting
from chronus_tui.engine.wire import FrameReader, write_all
from chronus_tui.logs import LOG_MAX_BYTES, open_append

log = logging.getLogger(__name__)

EventHandler = Callable[[Event], None]

START_TIMEOUT = 15.0   # seconds for a new engine process to report ready
WATCHDOG = 3.0         # a live engine sends status twice a second; silence this long means hung
STOP_TIMEOUT = 3.0     # for a clean exit after the command pipe closes, before SIGKILL
RESTART_DELAY_FIRST = 0.1  # seconds before the second attempt in a row; doubled per failure …
RESTART_DELAY_MAX = 5.0    # … up to this: a broken engine costs a start every 5 s, never a busy loop
STABLE_AFTER = 10.0        # an engine that ran this long was healthy: its death restarts at once
LOG_KEEP_BYTES = LOG_MAX_BYTES  # a bigger engine log is moved to engine.log.1 when an engine (re)starts

_CLOSE = object()
_HALT = object()  # in the command queue: stop the engine process once the commands before it are sent


class EngineError(RuntimeError):
    """The engine could not start: bad settings, no such backend, a crash (the message says
    why and what to do)."""


@dataclass
class _Process:
    """One engine process and our ends of its pipes."""

    popen: subprocess.Popen
    commands: int | None  # our (blocking) write end of the command pipe; None once closed
    events: FrameReader
    restart: bool
    ready: threading.Event = field(default_factory=threading.Event)
    ready_at: float | None = None  # time.monotonic() of the Ready event
    info: Ready | Failed | None = None  # how its start ended
    # Held while the command pipe is written or closed, so a closed fd is never reused mid-write.
    pipe_lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, command: Command) -> None:
        with self.pipe_lock:
            if self.commands is not None:
                write_all(self.commands, command)

    def close_commands(self) -> None:
        """Close the command pipe: the engine's cue to stop. A writer stuck on a hung engine
        (pipe full) is freed by killing the engine first."""
        if not self.pipe_lock.acquire(timeout=STOP_TIMEOUT):
            self.kill()
            self.pipe_lock.acquire()
        try:
            if self.commands is not None:
                os.close(self.commands)
                self.commands = None
        finally:
            self.pipe_lock.release()

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()


class EngineClient:
    ENGINE_MAIN = ("-m", "chronus_tui.synth.process")

    def __init__(self, audio: str = "auto", sr: int = 48000, buffer: int = 256,
                 log_path: Path | None = None, env: dict[str, str] | None = None) -> None:
        try:
            check_audio_settings(sr, buffer)
            self._backends = candidates(audio)  # narrowed when a backend fails to boot
        except ValueError as exc:
            raise EngineError(str(exc)) from None
        self.audio = audio
        self.sr = sr
        self.buffer = buffer
        self.log_path = log_path
        self.env = env  # extra environment for the engine (tests pick a JACK server by name)
        self.backend: str | None = None
        self.restarts = 0
        self._on_event: EventHandler = lambda event: None
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._proc: _Process | None = None
        self._closed = threading.Event()  # set by close(): ends a restart back-off at once
        self._halted = threading.Event()  # set by halt(): no engine runs, none is restarted
        self._failures = 0  # restart attempts since an engine last ran for STABLE_AFTER seconds
        self._writer: threading.Thread | None = None

    # -- public -------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.popen.pid if proc is not None else None

    def start(self, on_event: EventHandler) -> None:
        """Start the engine process; return once it plays, or raise EngineError.

        With --audio auto a backend that fails to boot is dropped and the next is
        tried; an explicit backend that is unavailable is an error.
        """
        self._on_event = on_event
        try:
            self._launch(restart=False)
        except EngineError:
            self.close()
            raise
        # Only now: commands sent before start() wait in the queue for the process that boots.
        self._writer = threading.Thread(target=self._write, name="engine-commands", daemon=True)
        self._writer.start()

    def send(self, command: Command) -> None:
        """Queue a command for the engine; never blocks."""
        self._outbox.put(command)

    @property
    def halted(self) -> bool:
        return self._halted.is_set()

    def halt(self) -> bool:
        """Stop the engine process once the commands sent before are written, and start no
        other until resume(); False if it was halted already."""
        if self._halted.is_set() or self._closed.is_set():
            return False
        self._halted.set()
        self._outbox.put(_HALT)
        return True

    def resume(self) -> bool:
        """Start an engine again after halt(), on a thread of its own (a start takes a while):
        it emits Restarted (the Session resyncs), or Down when it cannot start (halted
        again, so the next resume() tries again). False if it was not halted."""
        with self._lock:
            if not self._halted.is_set() or self._closed.is_set():
                return False
            self._halted.clear()
        threading.Thread(target=self._resume, name="engine-resume", daemon=True).start()
        return True

    def _resume(self) -> None:
        try:
            self._launch(restart=True)
        except (EngineError, OSError) as exc:
            self._halted.set()
            self._deliver(Down(f"could not start the engine: {exc}", 0.0, 1, self.restarts))

    def close(self) -> None:
        """Stop the engine process cleanly (SIGKILL after STOP_TIMEOUT); idempotent."""
        with self._lock:
            self._closed.set()
            proc, self._proc = self._proc, None
        self._outbox.put(_CLOSE)
        if self._writer is not None and self._writer is not threading.current_thread():
            self._writer.join(STOP_TIMEOUT)
        if proc is not None:
            _stop(proc)

    # -- processes ------------------------------------------------------------------

    def _launch(self, *, restart: bool) -> None:
        """Start a process on the first backend that boots (later ones only with --audio auto)."""
        remaining = list(self._backends)
        while True:
            proc = self._spawn(remaining, restart=restart)
            if not proc.ready.wait(START_TIMEOUT):
                self._discard(proc)
                raise EngineError(f"the engine did not start within {START_TIMEOUT:.0f} s "
                                  f"(see {self.log_path})")
            info = proc.info
            if isinstance(info, Ready):
                self._backends = remaining
                return
            self._discard(proc)
            if info is None:  # it died before it could say why: a crash at start
                raise EngineError(f"the engine process exited with status {proc.popen.returncode} "
                                  f"before it started (see {self.log_path})")
            if self.audio == "auto" and info.backend in remaining and len(remaining) > 1:
                log.warning("%s failed (%s); trying the next backend", info.backend, info.message)
                remaining.remove(info.backend)
                continue
            raise EngineError(f"audio {info.backend}: {info.message}")

    def _discard(self, proc: _Process) -> None:
        """Stop a process that did not boot; no engine runs until the next launch."""
        _stop(proc)
        with self._lock:
            if self._proc is proc:
                self._proc, self.backend = None, None

    def _spawn(self, backends: list[str], *, restart: bool) -> _Process:
        cmd_read, cmd_write = os.pipe()
        evt_read, evt_write = os.pipe()
        env = {**os.environ, "PYO_GUI_WX": "0", "JACK_NO_START_SERVER": "1", **(self.env or {})}
        argv = [sys.executable, *self.ENGINE_MAIN, "--audio", ",".join(backends), "--sr", str(self.sr),
                "--buffer", str(self.buffer), "--commands", str(cmd_read), "--events", str(evt_write)]
        out = self._log_output()
        try:
            # Own session: a Ctrl-C in the terminal is for us, not the engine; close() stops it.
            popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     pass_fds=(cmd_read, evt_write), env=env, start_new_session=True)
        finally:
            os.close(cmd_read)
            os.close(evt_write)
            if out != subprocess.DEVNULL:
                os.close(out)
        proc = _Process(popen, cmd_write, FrameReader(evt_read), restart)
        with self._lock:
            if self._closed.is_set():
                _stop(proc)
                raise EngineError("the engine client is closed")
            self._proc = proc
        threading.Thread(target=self._read, args=(proc,), name=f"engine-events-{popen.pid}",
                         daemon=True).start()
        return proc

    def _read(self, proc: _Process) -> None:
        """Deliver one process's events; when it dies, start the next one."""
        while not proc.events.closed:
            try:
                if not proc.events.wait(START_TIMEOUT if not proc.ready.is_set() else WATCHDOG):
                    log.error("engine process %d is silent; killing it", proc.popen.pid)
                    proc.kill()
                    continue  # the pipe now reaches EOF
                events = proc.events.read()
            except OSError:
                break
            for event in events:
                self._dispatch(proc, event)
        proc.events.close()
        proc.popen.wait()
        proc.close_commands()
        proc.ready.set()  # a start() waiting on a process that died before it was ready
        with self._lock:
            if self._closed.is_set() or self._halted.is_set() or self._proc is not proc \
                    or not isinstance(proc.info, Ready):
                return
        self._restart(proc)

    def _dispatch(self, proc: _Process, event: Event) -> None:
        if isinstance(event, Failed):  # ours, for _launch
            proc.info = event
            proc.ready.set()
        elif isinstance(event, Ready):
            proc.info = event
            self.backend = event.backend
            proc.ready_at = time.monotonic()
            log.info("engine process %d ready: %s", proc.popen.pid, event)
            proc.ready.set()
            if proc.restart:
                self.restarts += 1
                self._deliver(Restarted(event.backend, self.restarts))
        else:
            self._deliver(event)

    def _deliver(self, event: Event) -> None:
        if self._closed.is_set():  # the app may be gone; a stopping engine's last events are moot
            return
        try:
            self._on_event(event)
        except Exception:  # a broken handler must not stop the event stream
            log.exception("engine event handler failed on %s", event.kind)

    def _restart(self, dead: _Process) -> None:
        """Start new processes until one runs or the client closes, on the dead one's reader
        thread: one attempt at a time, never a thread per attempt."""
        if dead.ready_at is not None and time.monotonic() - dead.ready_at >= STABLE_AFTER:
            self._failures = 0
        message = f"the engine process died (exit {dead.popen.returncode})"
        log.error("engine process %d died (exit %s)", dead.popen.pid, dead.popen.returncode)
        while not self._halted.is_set():  # /engine/stop came meanwhile: no more attempts
            delay = restart_delay(self._failures)
            self._failures += 1
            self._deliver(Down(message, delay, self._failures, self.restarts))
            if self._closed.wait(delay) or self._halted.is_set():
                return
            self._deliver(Restarting(self._failures, self.restarts))
            try:
                self._launch(restart=True)
                return
            except (EngineError, OSError) as exc:
                if self._closed.is_set():
                    return
                log.error("could not restart the engine: %s; next attempt in %.1f s", exc,
                          restart_delay(self._failures))
                # Events reach OSC replies: they name the log file, not its absolute path.
                message = f"could not restart the engine: {exc}"
                if self.log_path is not None:
                    message = message.replace(str(self.log_path), self.log_path.name)

    def _write(self) -> None:
        while (command := self._outbox.get()) is not _CLOSE:
            if command is _HALT:
                with self._lock:
                    proc, self._proc = self._proc, None
                if proc is not None:
                    _stop(proc)
                continue
            proc = self._proc
            if proc is None:
                continue
            with contextlib.suppress(OSError):  # a dying process: the restart resyncs
                proc.send(command)

    def _log_output(self) -> int:
        """The new engine's stdout and stderr: the log file, moved to <name>.1 first when it is
        over LOG_KEEP_BYTES; else /dev/null, since a log folder gone or broken mid-set must
        not keep an engine from starting."""
        path = self.log_path
        if path is None:
            return subprocess.DEVNULL
        with contextlib.suppress(OSError):  # one that cannot be moved aside is appended to all the same
            if path.stat().st_size > LOG_KEEP_BYTES:
                path.replace(path.with_name(path.name + ".1"))
        try:
            return open_append(path)
        except OSError as exc:
            log.warning("engine log %s cannot be written (%s); the engine's output is discarded",
                        path, exc.strerror or exc)
            return subprocess.DEVNULL


def restart_delay(failures: int) -> float:
    """Seconds to wait before a restart, after `failures` attempts in a row since the engine
    last ran well: none for the first, then RESTART_DELAY_FIRST doubling up to RESTART_DELAY_MAX."""
    if failures <= 0:
        return 0.0
    return min(RESTART_DELAY_FIRST * 2.0 ** min(failures - 1, 30), RESTART_DELAY_MAX)


def _stop(proc: _Process) -> None:
    """Close the command pipe (the engine's cue to stop), wait, then kill; reap it."""
    proc.close_commands()
    try:
        proc.popen.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        log.error("engine process %d did not stop; killing it", proc.popen.pid)
        proc.kill()
        proc.popen.wait()
