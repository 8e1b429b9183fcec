"""A private JACK server with the dummy driver, for real-time tests and benchmarks.

Also what a recording of the engine's output says about its timing (judge_onsets), told
apart from what xruns do to it.

Each server gets a name of its own (JACK_DEFAULT_SERVER), so tests never touch a
JACK server someone else runs on the machine (or another test's), and jackd runs in
its own session so it is killed even if it ignores SIGTERM. Its output (including
its "XRun" lines) goes to a log file.

The names come from a small fixed set, chronus-test-0 … -7: JACK keeps every server
name in a registry of 8 slots, and a server that does not exit cleanly (stopped
while clients are connected, killed) leaves its slot taken; JACK frees such a slot
only for a new server of the same name. Unique names would fill the registry until
no JACK server can start on the machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.headless import Headless, ready
from support.osc import OscClient, free_udp_port

JACK_TOOLS = ("jackd", "jack_wait", "jack_lsp", "jack_rec")
START_TIMEOUT = 10.0
NAMES = tuple(f"chronus-test-{k}" for k in range(8))
# A jackd that cannot have its name (another server has it) exits at once; alive this
# long after the name answers, the server answering is ours.
OWN_SERVER_GRACE = 0.2


def missing_tools() -> list[str]:
    return [tool for tool in JACK_TOOLS if shutil.which(tool) is None]


class JackServer:
    def __init__(self, log_path: Path, sr: int = 48000, buffer: int = 256, realtime: bool = False) -> None:
        self.name = NAMES[0]  # until start() finds a free one
        self.sr = sr
        self.buffer = buffer
        self.realtime = realtime  # SCHED_FIFO for jackd and its clients' audio threads (needs rights)
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        """Environment that points JACK clients (engine, jack_rec, jack_lsp) at this server."""
        return {"JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1"}

    def start(self) -> JackServer:
        for name in NAMES:
            self.name = name
            if not self.running() and self._start_as_name():
                return self
        raise RuntimeError(f"jackd did not start under any of the names {NAMES[0]}…{NAMES[-1]}; "
                           f"see {self.log_path}:\n{self.log_text()[-2000:]}")

    def _start_as_name(self) -> bool:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                ["jackd", "-n", self.name, "--realtime" if self.realtime else "--no-realtime", "-d", "dummy",
                 "-r", str(self.sr), "-p", str(self.buffer)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while self.process.poll() is None and time.monotonic() < deadline:
            if self.running():
                time.sleep(OWN_SERVER_GRACE)
                if self.process.poll() is None:
                    return True
            time.sleep(0.05)
        self.stop()
        return False

    def running(self) -> bool:
        result = self.run(["jack_wait", "-c", "-s", self.name])
        return result.returncode == 0 and "not running" not in result.stdout

    def run(self, argv: list[str], timeout: float = 30.0) -> subprocess.CompletedProcess:
        """Run a JACK tool against this server."""
        return subprocess.run(argv, env={**os.environ, **self.env}, capture_output=True, text=True,
                              timeout=timeout, check=False)

    def ports(self) -> list[str]:
        return [line for line in self.run(["jack_lsp"]).stdout.splitlines() if line and line[0] != " "]

    def connections(self, port: str) -> list[str]:
        lines = self.run(["jack_lsp", "-c", port]).stdout.splitlines()
        return [line.strip() for line in lines[1:] if line.startswith(" ")]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def xrun_lines(self) -> int:
        """XRuns jackd itself logged ("JackEngine::XRun: client = … was not finished")."""
        return sum("XRun" in line for line in self.log_text().splitlines())

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def __enter__(self) -> JackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Timing:
    """What the onsets of a recording say about the step grid, interval by interval
    (hit indexes into the expected hits)."""

    clean: list[tuple[int, int]] = field(default_factory=list)  # exactly as far apart as the grid says
    lost: list[tuple[int, int]] = field(default_factory=list)  # whole periods of audio lost between them
    cut: list[int] = field(default_factory=list)  # hits whose start was lost: found on a period boundary
    wrong: list[str] = field(default_factory=list)  # off the grid by anything else: the timing is wrong

    def has_clean(self, first: int, second: int) -> bool:
        return (first, second) in self.clean

    def intact(self) -> bool:
        """Most intervals lost nothing. A recording that xruns tore apart (hundreds of them
        under heavy load) can show offsets no model of the losses explains: only an intact
        one is trusted where it is wrong."""
        return len(self.clean) > len(self.lost) + len(self.wrong)


def judge_onsets(onsets: list[int], hits: list[int], period: int, lossy: bool) -> Timing:
    """Judge a recording's `onsets` (samples) against the `hits` the grid expects (samples from
    the first one, ascending), each onset against the one before it, never against a clock.

    A recording of JACK ports made while JACK saw xruns (`lossy`) can miss whole periods (a
    recorder that was not finished loses its cycle): the audio after a loss comes earlier by
    whole periods, a hit whose start was lost begins on a period boundary (the file starts on
    one), and a hit can be lost entirely. Those intervals are excused; an interval off by
    anything else is wrong whatever the xruns. Without xruns every interval must be exact,
    and the first onset is the first hit; with them the first hits may be gone, so the first
    onset is taken for each hit of the first half in turn (a later one leaves too little to
    judge), and the reading with the fewest errors counts."""
    firsts = range(max(1, len(hits) // 2)) if lossy else range(1)
    readings = [_judge(onsets, hits, period, lossy, first) for first in firsts]
    return min(readings, key=lambda timing: (len(timing.wrong), -len(timing.clean)))


def _judge(onsets: list[int], hits: list[int], period: int, lossy: bool, first: int) -> Timing:
    """judge_onsets, taking the first onset for hit `first`."""
    timing = Timing()
    if not lossy and len(onsets) < len(hits):
        timing.wrong.append(f"{len(onsets)} hits recorded, {len(hits)} expected")
    previous: tuple[int, int] | None = None  # (sample, hit) of the last onset judged
    hit = first - 1
    for sample in onsets:
        hit += 1
        if hit >= len(hits):
            break
        if lossy and sample % period == 0:
            timing.cut.append(hit)
            continue
        if previous is None:
            previous = (sample, hit)
            continue
        since, earlier = previous
        hit = _match(sample - since, earlier, hit, hits, period, lossy, timing)
        previous = (sample, hit)
    return timing


def _match(interval: int, earlier: int, hit: int, hits: list[int], period: int, lossy: bool,
           timing: Timing) -> int:
    """Which hit an onset `interval` samples after hit `earlier` is (next: `hit`), and what
    the interval says about the grid (added to `timing`)."""
    off = interval - (hits[hit] - hits[earlier])
    if off == 0:
        timing.clean.append((earlier, hit))
        return hit
    if lossy and off % period == 0:
        timing.lost.append((earlier, hit))
        return hit
    later = hit
    while lossy and off > 0 and later + 1 < len(hits):  # whole hits lost with their periods?
        later += 1
        off = interval - (hits[later] - hits[earlier])
        if off < 0 and off % period == 0:
            timing.lost.append((earlier, later))
            return later
    timing.wrong.append(f"hit {hit} came {interval} samples after hit {earlier}, "
                        f"not {hits[hit] - hits[earlier]}")
    return hit


@contextmanager
def chronus_on_jack(tmp_path: Path, patterns_dir: Path, monkeypatch: pytest.MonkeyPatch, *, sr: int,
                    buffer: int) -> Iterator[tuple[JackServer, Headless, OscClient]]:
    """A private real-time JACK server, the real `chronus --no-ui --audio jack` on it, and an OSC
    client of it; afterwards the client is closed and the process must still be running."""
    with JackServer(tmp_path / "jackd.log", sr=sr, buffer=buffer, realtime=True) as jack:
        for name, value in jack.env.items():
            monkeypatch.setenv(name, value)  # for the chronus process
        port = free_udp_port()
        with ready(Headless(patterns_dir, tmp_path / "state", port, "--audio", "jack")) as chronus:
            osc = OscClient(port)
            try:
                assert osc.query("/engine/status")["backend"] == "jack"
                yield jack, chronus, osc
            finally:
                osc.close()
            assert chronus.proc.poll() is None
