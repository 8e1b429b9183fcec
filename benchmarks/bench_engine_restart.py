"""How fast a killed engine process is replaced and playing the same session again.

A Session plays the biggest common session (8 tracks × 64 steps) through a real
EngineClient; the engine process is SIGKILLed during playback, `--kills` times.
Measured from the kill: the client's "restarted" event (new process booted, graph
built) and the first position event of the new process (the Session's resync
arrived and the transport runs). On the null backend by default; --audio jack
runs a private JACK dummy server.

    .venv/bin/python benchmarks/bench_engine_restart.py [--kills 10] [--audio null|jack]

Prints a table and writes benchmarks/results/engine_restart.json. Want: playing again
within 1 s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from report import RESULTS, arguments, jack_missing, machine, write_result
from support.jack import JackServer, missing_tools
from support.patterns import full_pattern  # the session the tests prove

from chronus_tui.engine import client as client_module
from chronus_tui.engine.client import EngineClient
from chronus_tui.engine.protocol import Event, Position, Restarted
from chronus_tui.session import Session
from chronus_tui.store import SlotStore

RESULT = RESULTS / "engine_restart.json"
TARGET_S = 1.0


class Marks:
    """Times of the first restarted and position events after a kill."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.restarted: float | None = None
        self.playing: float | None = None

    def reset(self) -> None:
        with self.cond:
            self.restarted = self.playing = None

    def __call__(self, event: Event) -> None:
        now = time.monotonic()
        with self.cond:
            if isinstance(event, Restarted) and self.restarted is None:
                self.restarted = now
            elif isinstance(event, Position) and self.restarted is not None and self.playing is None:
                self.playing = now
            self.cond.notify_all()

    def wait_playing(self, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.playing is not None, timeout)


def measure(args: argparse.Namespace, workdir: Path, env: dict[str, str]) -> list[dict[str, float]]:
    # Each engine killed here has played for a second: count it as one that ran well, so this
    # measures a restart, not the back-off between restarts of an engine that keeps dying.
    client_module.STABLE_AFTER = 0.5
    marks = Marks()
    client = EngineClient(audio=args.audio, log_path=workdir / "engine.log", env=env)
    session = Session(SlotStore(workdir / "patterns"), client, pattern=full_pattern())

    def on_event(event: Event) -> None:
        session.on_engine_event(event)
        marks(event)

    client.start(on_event)
    rounds = []
    try:
        session.resync()
        session.start()
        for _ in range(args.kills):
            time.sleep(1.0)  # playing for a while
            marks.reset()
            killed = time.monotonic()
            os.kill(client.pid, signal.SIGKILL)
            if not marks.wait_playing(10):
                raise RuntimeError("the engine did not come back within 10 s")
            rounds.append({"restarted_s": marks.restarted - killed, "playing_s": marks.playing - killed})
    finally:
        client.close()
    return rounds


def main() -> int:
    parser = arguments(__doc__, RESULT)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--audio", choices=("null", "jack"), default="null")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="chronus-restart-") as tmp, contextlib.ExitStack() as stack:
        env: dict[str, str] = {}
        if args.audio == "jack":
            if jack_missing(missing_tools()):
                return 2
            env = stack.enter_context(JackServer(Path(tmp) / "jackd.log")).env
        rounds = measure(args, Path(tmp), env)

    summary = {}
    for key in ("restarted_s", "playing_s"):
        values = sorted(r[key] for r in rounds)
        summary[key] = {"p50": round(statistics.median(values), 3), "max": round(values[-1], 3)}
    result = {"audio": args.audio, "kills": len(rounds), "summary": summary,
              "rounds": [{k: round(v, 3) for k, v in r.items()} for r in rounds],
              "target_s": TARGET_S, "met": summary["playing_s"]["max"] < TARGET_S,
              **machine()}

    print(f"engine restart after SIGKILL, {args.audio} backend, {len(rounds)} kills (seconds from the kill)")
    print(f"{'measure':<40} {'p50':>7} {'max':>7}")
    for key, label in (("restarted_s", "new process booted (restarted event)"),
                       ("playing_s", "playing again (first position event)")):
        print(f"{label:<40} {summary[key]['p50']:>7.3f} {summary[key]['max']:>7.3f}")
    print(f"target: playing again within {TARGET_S} s — {'met' if result['met'] else 'NOT met'}")
    write_result(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
