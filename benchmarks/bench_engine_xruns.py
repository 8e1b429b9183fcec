"""JACK xruns while the engine plays and the controlling process is busy.

A private JACK server with the dummy driver (jackd --no-realtime -d dummy) runs the
engine process through EngineClient, as the app does, playing the biggest common
session (8 tracks × 64 steps, every effect on). Meanwhile this process runs a busy
pure-Python thread (the GIL pressure that caused 26 xruns in 5 s with pyo in the
same process) and sends parameter and tempo changes through the Session
(and, with --edit-rate, step edits, each of which sends the edited track; with
--fill-rate, fill mode toggled that often a second through Session.set_fill, the pattern's
steps then played on FILL and !FILL conditions, so each toggle changes what plays from the
next step: the engine plans every lane's hits again).

Xruns are counted two ways, which should agree:
- a port-less JACK client in this process (backends.JackMonitor) whose xrun
  callback JACK calls for every xrun in the graph;
- the "JackEngine::XRun" lines jackd writes to its log.
The engine's own status events give its CPU load, the longest per-block Python work
and the commands that took over a quarter of a block; its position events show
that no step was lost.

jackd runs --no-realtime by default (as the issue specifies); then the busy thread
competes with jackd and the engine for the CPU itself, which on a 2-core machine
costs xruns whatever the engine does. --realtime gives jackd and its clients'
audio threads real-time scheduling, as on a live rig, and isolates what the engine
and its commands cost.

    .venv/bin/python benchmarks/bench_engine_xruns.py [--duration 60] [--rate 50] [--edit-rate 0]
                                                      [--fill-rate 0] [--buffer 256] [--realtime]

Prints a table and writes benchmarks/results/engine_xruns.json. Want: 0 xruns.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from report import RESULTS, arguments, jack_missing, machine, print_rows, write_result
from support.expressive import set_step
from support.jack import JackServer, missing_tools
from support.patterns import full_pattern  # the session the tests prove

from chronus_tui.engine.backends import JackMonitor
from chronus_tui.engine.client import EngineClient
from chronus_tui.engine.protocol import EngineMessage, Event, Status
from chronus_tui.model import MODULE_PARAMS, Pattern
from chronus_tui.session import Session
from chronus_tui.store import SlotStore

RESULT = RESULTS / "engine_xruns.json"


def busy(stop: threading.Event, counter: list[int]) -> None:
    """Pure-Python work that wants the GIL all the time."""
    while not stop.is_set():
        counter[0] += sum(i * i for i in range(2000)) & 1 or 1


def change_parameters(session: Session, rate: float, stop: threading.Event, sent: list[int]) -> None:
    """Sound-parameter changes at `rate` per second, a tempo change with every 50th."""
    rng = random.Random(7)
    params = [(module, spec) for module, specs in MODULE_PARAMS.items() for spec in specs
              if spec.name != "osc/type"]
    next_at = time.monotonic()
    while not stop.is_set():
        module, spec = rng.choice(params)
        session.set_param(module, spec.name, rng.uniform(spec.low, spec.high), source="bench")
        sent[0] += 1
        if sent[0] % 50 == 0:
            session.set_bpm(rng.uniform(110, 140), source="bench")
        next_at += 1 / rate
        stop.wait(max(0.0, next_at - time.monotonic()))


def edit_steps(session: Session, rate: float, stop: threading.Event, sent: list[int]) -> None:
    """Step toggles at `rate` per second: each sends the edited track to play in place."""
    rng = random.Random(11)
    tracks = [t.name for t in session.pattern.tracks]
    next_at = time.monotonic()
    while not stop.is_set():
        session.set_step(rng.choice(tracks), rng.randrange(16), on=rng.random() < 0.5, source="bench")
        sent[0] += 1
        next_at += 1 / rate
        stop.wait(max(0.0, next_at - time.monotonic()))


def toggle_fill(session: Session, rate: float, stop: threading.Event, sent: list[int]) -> None:
    """Fill mode on and off in turn, `rate` changes per second."""
    next_at = time.monotonic()
    while not stop.is_set():
        session.set_fill(not session.fill, source="bench")
        sent[0] += 1
        next_at += 1 / rate
        stop.wait(max(0.0, next_at - time.monotonic()))


def fill_pattern() -> Pattern:
    """full_pattern with every 4th step that is on played only in fill mode (FILL), and the
    one two steps on only out of it (!FILL)."""
    pattern = full_pattern()
    for track in pattern.tracks:
        for index, step in enumerate(track.steps):
            if step.on and index % 2 == 0:
                set_step(pattern, track.name, index, cond="FILL" if index % 4 == 0 else "!FILL")
    return pattern


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    load_before = os.getloadavg()[0]  # other work on the machine steals the engine's time too
    statuses: list[dict[str, Any]] = []
    counts = {"position": 0, "error": 0, "restarted": 0}
    errors: list[str] = []

    with JackServer(workdir / "jackd.log", sr=args.sr, buffer=args.buffer, realtime=args.realtime) as server:
        os.environ.update(server.env)  # for the monitor client in this process
        client = EngineClient(audio="jack", sr=args.sr, buffer=args.buffer, log_path=workdir / "engine.log",
                              env=server.env)
        pattern = fill_pattern() if args.fill_rate > 0 else full_pattern()
        session = Session(SlotStore(workdir / "patterns"), client, pattern=pattern)

        def on_event(event: Event) -> None:
            session.on_engine_event(event)
            if isinstance(event, Status):
                statuses.append(event.as_dict())
            elif event.kind in counts:
                counts[event.kind] += 1
                if isinstance(event, EngineMessage):
                    errors.append(event.message)

        client.start(on_event)
        try:
            session.resync()
            session.start()
            time.sleep(1.0)  # settle: graph built, first bar playing
            log_xruns_before = server.xrun_lines()
            stop = threading.Event()
            spins, sent, edits, fills = [0], [0], [0], [0]
            with JackMonitor("chronus-bench") as monitor:
                threads = [threading.Thread(target=busy, args=(stop, spins), daemon=True)
                           for _ in range(args.busy_threads)]
                for work, rate, count in ((change_parameters, args.rate, sent),
                                          (edit_steps, args.edit_rate, edits),
                                          (toggle_fill, args.fill_rate, fills)):
                    if rate > 0:
                        threads.append(threading.Thread(target=work, args=(session, rate, stop, count),
                                                        daemon=True))
                counts["position"] = 0
                started = time.monotonic()
                for thread in threads:
                    thread.start()
                time.sleep(args.duration)
                stop.set()
                for thread in threads:
                    thread.join()
                elapsed = time.monotonic() - started
                monitor_xruns = monitor.xruns
        finally:
            client.close()
        log_xruns = server.xrun_lines() - log_xruns_before

    slowest = [line.split("slowest: ", 1)[1] for line in (workdir / "engine.log").read_text().splitlines()
               if "slowest: " in line]
    loads = [s["cpu"] for s in statuses[2:]] or [0.0]
    facts = machine()  # the load average now, after the run
    return {
        "duration_s": round(elapsed, 2),
        "sr": args.sr, "buffer": args.buffer,
        "jackd": "realtime" if args.realtime else "no-realtime",
        "busy_threads": args.busy_threads,
        "busy_spins": spins[0],
        "param_changes_sent": sent[0],
        "param_rate_per_s": round(sent[0] / elapsed, 1),
        "step_edits_sent": edits[0],
        "fill_toggles_sent": fills[0],
        "xruns_jack_callback": monitor_xruns,
        "xruns_jackd_log": log_xruns,
        "xruns_engine_status": statuses[-1].get("xruns") if statuses else None,
        "engine_cpu_percent_mean": round(sum(loads) / len(loads), 1),
        "engine_cpu_percent_max": max(loads),
        "engine_callback_ms_max": max((s["callback_ms"] for s in statuses[2:]), default=0.0),
        "block_ms": round(1e3 * args.buffer / args.sr, 2),
        "position_events": counts["position"],
        # took over a quarter of a block in the engine's callback
        "slow_commands": sum(s.get("slow_commands", 0) for s in statuses[2:]),
        "slowest_commands_logged": sorted(slowest, key=lambda t: -float(t.rsplit(" ", 2)[-2]))[:5],
        "engine_errors": errors[:5],
        "engine_restarts": counts["restarted"],
        "load_average_1min_before_after": [round(load_before, 2), facts["load_average_1min"]],
        **facts,
        "target": "0 xruns",
    }


def main() -> int:
    parser = arguments(__doc__, RESULT)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of playback measured")
    parser.add_argument("--rate", type=float, default=50.0, help="parameter changes per second")
    parser.add_argument("--edit-rate", type=float, default=0.0,
                        help="step edits per second (each sends the edited track; default none)")
    parser.add_argument("--fill-rate", type=float, default=0.0,
                        help="fill mode toggles per second (the pattern then has FILL and !FILL steps; "
                             "default none)")
    parser.add_argument("--busy-threads", type=int, default=1)
    parser.add_argument("--sr", type=int, default=48000)
    parser.add_argument("--buffer", type=int, default=256)
    parser.add_argument("--realtime", action="store_true",
                        help="run jackd with real-time scheduling (as on a live rig; needs the rights)")
    args = parser.parse_args()
    if jack_missing(missing_tools()):
        return 2

    with tempfile.TemporaryDirectory(prefix="chronus-xruns-") as tmp:
        result = run(args, Path(tmp))

    rows = [
        ("playback measured", f"{result['duration_s']} s at {result['sr']} Hz, {result['buffer']} frames, "
                              f"jackd {result['jackd']}"),
        ("busy Python threads in the control process", str(result["busy_threads"])),
        ("parameter (and tempo) changes sent", f"{result['param_changes_sent']} "
                                               f"({result['param_rate_per_s']}/s)"),
        ("step edits sent (one track each)", str(result["step_edits_sent"])),
        ("fill toggles sent", str(result["fill_toggles_sent"])),
        ("xruns (JACK xrun callback)", str(result["xruns_jack_callback"])),
        ("xruns (jackd log)", str(result["xruns_jackd_log"])),
        ("engine CPU, mean / max", f"{result['engine_cpu_percent_mean']} % / "
                                   f"{result['engine_cpu_percent_max']} % of a core"),
        ("longest per-block Python work in the engine", f"{result['engine_callback_ms_max']} ms "
                                                         f"(a block is {result['block_ms']} ms)"),
        ("commands that took > 1/4 block in the engine", str(result["slow_commands"])),
        ("position events (steps seen)", str(result["position_events"])),
        ("engine errors / restarts", f"{len(result['engine_errors'])} / {result['engine_restarts']}"),
        ("machine load average before / after",
         " / ".join(map(str, result["load_average_1min_before_after"]))),
    ]
    print_rows(rows)
    print(f"target: {result['target']}")
    write_result(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
