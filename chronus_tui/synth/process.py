"""The engine process: a pyo server and the signal graph, driven by the control process.

Started by EngineClient as `python -m chronus_tui.synth.process`, with fds 1 and 2
already pointing at the engine log (so nothing pyo, PortAudio, JACK or ALSA prints
reaches the terminal) and two pipes: commands in, events out (length-framed
pickles of the protocol's objects, engine/wire.py and engine/protocol.py).

Why a process of its own: pyo's audio callback holds the GIL for every block, and a
busy Python thread next to it caused JACK xruns. So this process runs no other
Python thread while the audio runs (the main thread sleeps): the audio callback
itself reads the command pipe and writes the event pipe, both non-blocking (see
wire.py). At the start of every block it applies all the commands that have
arrived (so a multi-field change lands in one block; commands that a later one
replaces are skipped), then sends the graph's events.

Interface used from graph.py (part a): EngineGraph(server) builds the graph on a
booted server; handle(command) applies one protocol command at a block boundary;
poll_events() returns the events since the last call, once per block.

Events of our own, besides the graph's: Status about twice a second; Ready once
the graph is built and Failed when the chosen backend cannot start (both consumed by
the client); EngineMessage when a command could not be applied.

Exit status: 0 after the command pipe closes (client closed, or died), 3 when the
backend failed (see the Failed event).

Command cost: every command runs inside the audio callback, so it must take well
under a quarter of a block (1.3 ms at 256 frames / 48 kHz). A step or track edit is
sent as that track alone (ReplaceTrack), and the graph touches only what a command changes;
benchmarks/bench_engine_commands.py measures what each kind of command costs on the
full 8 × 64 session (figures in benchmarks/README.md). Status events count the commands
that took over a quarter of a block, and the engine log names the slowest of each half
second.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chronus_tui.engine.backends import (
    BACKENDS,
    HINTS,
    JACK_CLIENT_NAME,
    JackError,
    JackMonitor,
)
from chronus_tui.engine.protocol import Command, EngineMessage, Failed, Ready, Status
from chronus_tui.engine.wire import FrameReader, FrameWriter
from chronus_tui.logs import log_to_stderr
from chronus_tui.timing import buffer_problem

log = logging.getLogger("chronus.engine")

STATUS_INTERVAL = 0.5  # seconds of audio between status events
EXIT_BACKEND_FAILED = 3
PARENT_CHECK = 0.5  # seconds between checks that the client still lives
_PYO_AUDIO = {"jack": "jack", "portaudio": "portaudio", "null": "manual"}
_RESYNC_AFTER = 0.5  # the null clock restarts its schedule after falling this far behind


class BackendFailed(RuntimeError):
    def __init__(self, backend: str, message: str) -> None:
        super().__init__(message)
        self.backend = backend


@dataclass
class Engine:
    """A running pyo server with its graph."""

    server: Any
    backend: str
    sr: int
    buffer: int
    monitor: JackMonitor | None
    notes: list[str] = field(default_factory=list)  # told to the user once, as error events


def _portaudio_output() -> bool:
    from chronus_tui.synth.pyolib import pyo

    return pyo.pa_get_default_output() >= 0


def choose_backend(candidates: list[str], stop: threading.Event) -> tuple[str, JackMonitor | None]:
    """The first available candidate; the JACK monitor comes along when it is JACK (and
    stops the engine if the JACK server goes away, so the client starts a new one at once)."""
    for backend in candidates:
        if backend == "jack":
            try:
                return backend, JackMonitor(on_shutdown=stop.set)
            except JackError as exc:
                log.info("jack: %s", exc)
        elif backend == "portaudio":
            if _portaudio_output():
                return backend, None
            log.info("portaudio: no default output device")
        else:
            return backend, None
    last = candidates[-1]
    raise BackendFailed(last, HINTS[last])


def boot(candidates: list[str], sr: int, buffer: int, stop: threading.Event) -> Engine:
    backend, monitor = choose_backend(candidates, stop)
    from chronus_tui.synth.pyolib import pyo

    server = pyo.Server(sr=sr, nchnls=2, buffersize=buffer, duplex=0, audio=_PYO_AUDIO[backend],
                        jackname=JACK_CLIENT_NAME)
    if backend == "jack":
        server.setJackAuto(False, True)  # outputs to system playback when it exists
    server.boot()
    booted = server.getIsBooted()
    engine = Engine(server, backend, int(server.getSamplingRate()), int(server.getBufferSize()), monitor)
    # JACK's own rate and buffer size win over ours: they may be ones we cannot play at
    problem = buffer_problem(engine.sr, engine.buffer) if booted else \
        f"{backend} would not start (see the engine log)"
    if problem is not None:
        if booted:
            server.shutdown()
        if monitor is not None:
            monitor.close()
        raise BackendFailed(backend, problem)
    if (engine.sr, engine.buffer) != (sr, buffer):
        engine.notes.append(f"{backend} runs at {engine.sr} Hz with {engine.buffer}-frame buffers "
                            f"(asked for {sr} Hz, {buffer})")
    return engine


class BlockCallback:
    """Runs at the start of every audio block: apply waiting commands, send events and status."""

    def __init__(self, engine: Engine, graph: Any, commands: FrameReader, events: FrameWriter,
                 stop: threading.Event) -> None:
        self.engine = engine
        self.graph = graph
        self.commands = commands
        self.events = events
        self.stop = stop
        self.blocks = 0
        self.status_blocks = max(1, round(STATUS_INTERVAL * engine.sr / engine.buffer))
        self.block = engine.buffer / engine.sr
        self.slow = self.block / 4
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        self._callback_max = 0.0
        self._slow_count = 0
        self._slowest: tuple[float, str] | None = None

    def __call__(self) -> None:
        began = time.perf_counter()
        try:
            for command in superseded_dropped(self.commands.read()):
                self._apply(command)
            if self.commands.closed:  # the client closed the pipe, or died
                self.stop.set()
            for event in self.graph.poll_events():
                self.events.send(event)
            self.blocks += 1
            if self.blocks % self.status_blocks == 0:
                self.events.send(self.status())
            self.events.flush()  # what the pipe could not take last time
        except Exception as exc:  # pyo would print and carry on; say it where the user sees it
            log.exception("block callback failed")
            self.events.send(EngineMessage(f"engine: {exc}"))
        # Python time taken from the block's budget (buffer / sr), the part we control.
        self._callback_max = max(self._callback_max, time.perf_counter() - began)

    def _apply(self, command: Any) -> None:
        op = command.op if isinstance(command, Command) else type(command).__name__
        began = time.perf_counter()
        try:
            self.graph.handle(command)
        except Exception as exc:
            log.exception("command %r failed", op)
            self.events.send(EngineMessage(f"engine could not apply {op!r}: {exc}"))
        took = time.perf_counter() - began
        if took > self.slow:  # worth knowing when hunting xruns; logged with the next status
            self._slow_count += 1
            if self._slowest is None or took > self._slowest[0]:
                mode = getattr(command, "mode", None)
                self._slowest = (took, f"{op!r}" + (f" ({mode})" if mode else ""))

    def status(self) -> Status:
        """Backend facts and load since the last status (protocol.Status says what each is)."""
        wall, cpu = time.perf_counter(), time.process_time()
        load = 100.0 * (cpu - self._cpu) / max(wall - self._wall, 1e-9)
        event = Status(self.engine.backend, self.engine.sr, self.engine.buffer, cpu=round(load, 1),
                       blocks=self.blocks, callback_ms=round(self._callback_max * 1e3, 2),
                       slow_commands=self._slow_count,
                       xruns=self.engine.monitor.xruns if self.engine.monitor is not None else None)
        if self._slowest is not None:  # one log line per status at most: writing costs time too
            log.warning("%d command(s) took over %.2f ms; slowest: %s, %.2f ms", self._slow_count,
                        self.slow * 1e3, self._slowest[1], self._slowest[0] * 1e3)
        self._wall, self._cpu, self._callback_max = wall, cpu, 0.0
        self._slow_count, self._slowest = 0, None
        return event


def _supersede_key(command: Any) -> tuple[Any, ...] | None:
    """Commands with the same key in one block: only the last one has any effect."""
    return command.supersedes if isinstance(command, Command) else None


def superseded_dropped(commands: list[Any]) -> list[Any]:
    """The commands of one block without those a later command of the same kind replaces.

    All of them would apply on the same sample, so only the last tempo, the last value
    of a parameter, the last in-place edit (which carries the whole live pattern,
    modules and tempo included) and the last edit of each track (which carries the
    whole track) matter. A backlog (held keys, an OSC flood, an engine
    that was stalled) then costs one command's time, not thousands.
    """
    keys = [_supersede_key(command) for command in commands]
    last = {key: i for i, key in enumerate(keys) if key is not None}
    return [c for i, (c, key) in enumerate(zip(commands, keys, strict=True))
            if key is None or last[key] == i]


def run_null_clock(server: Any, sr: int, buffer: int, stop: threading.Event) -> None:
    """Compute one block per block-time of wall clock (absolute schedule, so no drift)."""
    block = buffer / sr
    start, n = time.perf_counter(), 0
    while not stop.is_set():
        server.process()
        n += 1
        delay = start + n * block - time.perf_counter()
        if delay > 0:
            stop.wait(delay)
        elif delay < -_RESYNC_AFTER:  # the machine was suspended or swamped: no catch-up burst
            start, n = time.perf_counter(), 0


def serve(candidates: list[str], sr: int, buffer: int, commands: FrameReader, events: FrameWriter,
          make_graph: Callable[[Any], Any]) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the client stops the engine
    parent = os.getppid()
    try:
        engine = boot(candidates, sr, buffer, stop)
    except BackendFailed as exc:
        log.error("%s: %s", exc.backend, exc)
        events.send(Failed(exc.backend, str(exc)))
        return EXIT_BACKEND_FAILED
    log.info("backend %s, %d Hz, %d frames", engine.backend, engine.sr, engine.buffer)
    callback = BlockCallback(engine, make_graph(engine.server), commands, events, stop)
    # The graph's thousands of objects live until the end: out of the collector's sight, a
    # full collection (which can strike in any command's allocations) stays short.
    gc.freeze()
    engine.server.setCallback(callback)
    events.send(Ready(engine.backend, engine.sr, engine.buffer, os.getpid()))
    for note in engine.notes:
        events.send(EngineMessage(note))
    engine.server.start()
    if engine.backend == "null":
        run_null_clock(engine.server, engine.sr, engine.buffer, stop)
    else:
        # The callback sees the client go (EOF); this catches it when no block runs
        # (a stalled JACK server), so the engine is never left behind.
        while not stop.wait(PARENT_CHECK) and os.getppid() == parent:
            pass
    if engine.monitor is not None and engine.monitor.server_gone:
        # pyo's JACK client died with the server, and stopping it can then block for good:
        # end here, and the client starts the next engine at once
        log.info("the JACK server went away; engine stopping")
        logging.shutdown()
        os._exit(0)
    callback.graph.stop_recording()  # its file's header written: the recording plays
    engine.server.stop()
    engine.server.shutdown()
    if engine.monitor is not None:
        engine.monitor.close()
    log.info("engine stopped")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chronus-engine", description=__doc__.splitlines()[0])
    parser.add_argument("--audio", required=True, help="comma-separated backends to try, in order")
    parser.add_argument("--sr", type=int, required=True)
    parser.add_argument("--buffer", type=int, required=True)
    parser.add_argument("--commands", type=int, required=True, help="fd to read commands from")
    parser.add_argument("--events", type=int, required=True, help="fd to write events to")
    args = parser.parse_args(argv)
    args.audio = args.audio.split(",")
    if not args.audio or any(b not in BACKENDS for b in args.audio):
        parser.error(f"--audio takes backends from {', '.join(BACKENDS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    log_to_stderr(fmt=("%(asctime)s engine[%(process)d] %(levelname)s %(message)s", None))
    args = parse_args(argv)
    os.environ.setdefault("PYO_GUI_WX", "0")
    from chronus_tui.synth.graph import EngineGraph

    return serve(args.audio, args.sr, args.buffer, FrameReader(args.commands), FrameWriter(args.events),
                 EngineGraph)


if __name__ == "__main__":
    sys.exit(main())
