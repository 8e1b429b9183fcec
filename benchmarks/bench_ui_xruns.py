"""JACK xruns while the terminal UI redraws constantly under an OSC flood.

The real `chronus` command runs in a private tmux pane (120×40) on a private JACK
server with the dummy driver, playing, while this script sends OSC tempo and step
changes every few milliseconds: every one redraws the transport line or the step
grid, on top of the playhead moving with the engine's position events. The engine
runs in its own process, so the UI's work must not cost the audio anything.

Xruns are counted as in bench_engine_xruns.py: a port-less JACK client's xrun
callback (backends.JackMonitor) and jackd's own log. Also measured: the UI
process's CPU while flooded, and how long the screen takes to show the last tempo
sent (the UI keeps up rather than falling behind).

    .venv/bin/python benchmarks/bench_ui_xruns.py [--duration 30] [--interval-ms 3] [--messages tempo,step]
                                                  [--realtime] [--no-ui]

Prints a table and writes benchmarks/results/ui_xruns.json. Want: 0 xruns.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pythonosc.udp_client import SimpleUDPClient
from report import RESULTS, arguments, jack_missing, machine, print_rows, write_result
from support.jack import JackServer, missing_tools
from support.tmux import TmuxChronus, free_udp_port

from chronus_tui.engine.backends import JackMonitor

RESULT = RESULTS / "ui_xruns.json"
TRACKS = {"kick": ("voice1", "X...x...X...x..."), "hat": ("voice3", "..x...x...x...X."),
          "bass": ("voice2", "x.xX..x.x.xX..x."), "flood": ("voice4", "x.......x.......")}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def chronus_pid(app: TmuxChronus) -> int:
    """The chronus process: the child of the tmux pane's shell."""
    shell = int(app.tmux("display-message", "-p", "-t", "chronus", "#{pane_pid}").strip())
    children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
    return int(children[0])


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    port = free_udp_port()
    with JackServer(workdir / "jackd.log", buffer=args.buffer, realtime=args.realtime) as server:
        os.environ.update(server.env)  # for the monitor client in this process
        app = TmuxChronus(workdir, [*(["--no-ui"] if args.no_ui else []), "--audio", "jack",
                                    "--buffer", str(args.buffer), "--patterns-dir", str(workdir / "patterns"),
                                    "--osc-port", str(port)],
                          env=server.env)
        try:
            app.wait_for(*(["listening for OSC"] if args.no_ui else ["audio jack", f"OSC 127.0.0.1:{port}"]),
                         timeout=30)
            osc = SimpleUDPClient("127.0.0.1", port)
            for name, (voice, steps) in TRACKS.items():
                osc.send_message("/seq/add", [name, voice, steps])
            osc.send_message("/seq/start", [])
            if not args.no_ui:
                app.wait_for("flood", "PLAY")
            time.sleep(1.5)  # settle: first bars playing
            pid = chronus_pid(app)
            log_before = server.xrun_lines()
            rng = random.Random(5)
            sent = 0
            with JackMonitor("chronus-ui-bench") as monitor:
                cpu_before, started = process_cpu_seconds(pid), time.monotonic()
                next_at = started
                while time.monotonic() - started < args.duration:
                    kind = args.messages[sent % len(args.messages)]
                    if kind == "tempo":
                        osc.send_message("/seq/bpm", round(rng.uniform(110, 140), 1))
                    else:
                        osc.send_message("/seq/step", ["flood", rng.randrange(16), rng.randrange(2)])
                    sent += 1
                    next_at += args.interval_ms / 1000
                    time.sleep(max(0.0, next_at - time.monotonic()))
                elapsed = time.monotonic() - started
                ui_cpu = (process_cpu_seconds(pid) - cpu_before) / elapsed * 100
                last_sent = time.monotonic()
                osc.send_message("/seq/bpm", 123.4)
                catch_up = None
                if not args.no_ui:
                    app.wait_for("123.4 BPM", timeout=10)
                    catch_up = round(time.monotonic() - last_sent, 3)
                monitor_xruns = monitor.xruns
            log_xruns = server.xrun_lines() - log_before
            if args.no_ui:
                app.keys("C-c")
            else:
                app.keys("q")
            exit_status = app.exit_status()
        finally:
            app.close()
    return {
        "duration_s": round(elapsed, 2), "buffer": args.buffer, "sr": 48000,
        "osc_messages": args.messages, "osc_messages_sent": sent, "osc_rate_per_s": round(sent / elapsed, 1),
        "xruns_jack_callback": monitor_xruns, "xruns_jackd_log": log_xruns,
        "chronus_cpu_percent_of_a_core": round(ui_cpu, 1),
        "ui": not args.no_ui, "screen_caught_up_s": catch_up,
        "jackd": "realtime" if args.realtime else "no-realtime",
        "exit_status": exit_status,
        **machine(),
        "target": "0 xruns",
    }


def main() -> int:
    parser = arguments(__doc__, RESULT)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of OSC flood")
    parser.add_argument("--interval-ms", type=float, default=3.0, help="milliseconds between OSC messages")
    parser.add_argument("--messages", type=lambda text: text.split(","), default=["tempo", "step"],
                        help="what the flood sends, in turn: tempo,step (default) or one of them")
    parser.add_argument("--no-ui", action="store_true",
                        help="control run: the same flood on `chronus --no-ui` (no terminal UI)")
    parser.add_argument("--realtime", action="store_true",
                        help="jackd --realtime: SCHED_FIFO audio threads (needs the rights), as on a stage")
    parser.add_argument("--buffer", type=int, default=256)
    args = parser.parse_args()
    if jack_missing(missing_tools()):
        return 2

    with tempfile.TemporaryDirectory(prefix="chronus-ui-xruns-") as tmp:
        result = run(args, Path(tmp))

    rows = [
        ("flood measured", f"{result['duration_s']} s, JACK dummy 48000 Hz / {result['buffer']} frames, "
                           f"jackd {result['jackd']}"),
        ("terminal UI", "yes (120×40 tmux pane)" if result["ui"] else "no (--no-ui control run)"),
        ("OSC tempo + step messages sent", f"{result['osc_messages_sent']} ({result['osc_rate_per_s']}/s)"),
        ("xruns (JACK xrun callback)", str(result["xruns_jack_callback"])),
        ("xruns (jackd log)", str(result["xruns_jackd_log"])),
        ("chronus process CPU while flooded", f"{result['chronus_cpu_percent_of_a_core']} % of a core"),
        ("last tempo on screen after", f"{result['screen_caught_up_s']} s"),
        ("chronus exit", result["exit_status"]),
    ]
    print_rows(rows)
    print(f"target: {result['target']}")
    write_result(args.output, result)
    return 0 if result["exit_status"] == "EXIT=0" else 1


if __name__ == "__main__":
    sys.exit(main())
