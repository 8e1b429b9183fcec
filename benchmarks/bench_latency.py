"""Key-to-screen and key-to-engine latency of the terminal UI.

Key to screen: the real `chronus --audio null` runs in a private tmux pane (120×40);
`+` and `-` are sent in turn with `tmux send-keys`, and the pane is read with
`capture-pane` until the transport line shows the new tempo. Each figure therefore
includes one send-keys and at least one capture-pane (each a tmux client process, a few
ms on a loaded machine): what a musician sees is a little sooner than measured.

Key to engine: the app runs in this process under Textual's Pilot on a Session whose
engine link records when each command arrives. A01 and A02 are saved before the set (more
than store.SETTLED_NS before it starts: a file changed later than that is read again at
each load), the perform keys are switched on (f2), which preloads the bank, and a pad key
pressed (shift+q / shift+w: load A01 or A02 now; q / w: queue it for the next bar); the
time runs from the key to the slot's "pattern" command reaching the engine link (the real
client writes it to the engine's pipe from there). One block at 48 kHz / 256 frames is
5.3 ms: the command should be there within it. Loads that had to read the slot file (in a
worker thread) are counted: none should.

    .venv/bin/python benchmarks/bench_latency.py [--presses 200] [--loads 200] [--skip-tmux] [--full]

--full puts the largest common session (8 tracks of 64 steps) in A01 and A02 instead of the
tests' small four-track pattern.

Prints a table and writes benchmarks/results/latency.json. Want: key to screen p95 < 50 ms;
key to engine p95 < one block (5.3 ms).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from report import RESULTS, arguments, machine, percentile, print_rows, write_result
from support.fakes import FakeEngine
from support.patterns import full_pattern
from support.tmux import TmuxChronus, free_udp_port
from support.ui import fixed_pattern, make_app

from chronus_tui import patternfile
from chronus_tui.engine.protocol import Command
from chronus_tui.journalfile import JournalWriter
from chronus_tui.store import SETTLED_NS, SlotStore

RESULT = RESULTS / "latency.json"
BLOCK_MS = 256 / 48000 * 1000
SCREEN_TIMEOUT = 5.0  # a press not on screen (or at the engine) by then is a failure
TEMPO = re.compile(r"(\d+\.\d) BPM")


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def summary(latencies: list[float]) -> dict[str, float]:
    return {"p50_ms": ms(percentile(latencies, 0.5)), "p95_ms": ms(percentile(latencies, 0.95)),
            "max_ms": ms(max(latencies))}


def key_to_screen(workdir: Path, presses: int) -> dict[str, Any]:
    app = TmuxChronus(workdir, ["--audio", "null", "--patterns-dir", str(workdir / "patterns"),
                                "--osc-port", str(free_udp_port())], width=120, height=40)
    try:
        match = TEMPO.search(app.wait_for("BPM", "NO SOUND", timeout=30))
        bpm = float(match.group(1)) if match else 0.0
        time.sleep(1.0)  # the first frames and the slot list are drawn
        latencies: list[float] = []
        captures = missed = 0
        for press in range(presses):
            key, bpm = ("+", bpm + 1) if press % 2 == 0 else ("-", bpm - 1)
            expected = f"{bpm:.1f} BPM"
            started = time.monotonic()
            app.keys(key)
            while expected not in app.screen():
                captures += 1
                if time.monotonic() - started > SCREEN_TIMEOUT:
                    missed += 1
                    break
            else:
                latencies.append(time.monotonic() - started)
            captures += 1
        app.keys("q")
        exit_status = app.exit_status()
    finally:
        app.close()
    return {"presses": presses, "shown": len(latencies), "missed": missed,
            "captures_per_press": round(captures / presses, 1), **summary(latencies),
            "exit_status": exit_status}


class TimedEngine(FakeEngine):
    """A FakeEngine that notes when each command arrives and wakes whoever waits for one."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.arrival = 0.0

    def send(self, command: Command) -> None:
        arrival = time.monotonic()  # before the fake's own bookkeeping, which the real client has not
        super().send(command)
        if self.commands[-1]["op"] == "pattern":
            self.arrival = arrival
            self.arrived.set()


async def perform_loads(workdir: Path, loads: int, *, full: bool = False) -> dict[str, Any]:
    store = SlotStore(workdir / "perform")
    for slot, name in ((1, "first"), (2, "second")):
        pattern = full_pattern() if full else fixed_pattern()
        pattern.name = name
        store.save(slot, patternfile.pattern_to_dict(pattern))
    await asyncio.sleep(SETTLED_NS / 1e9)  # saved before the set, as a set's slots are
    engine = TimedEngine()
    app, session = make_app(workdir / "perform", engine=engine)
    journal = JournalWriter(workdir / "journal.jsonl")  # as in the real app: a load is journaled
    journal.start(session.journal_header())
    session.journal = journal
    read_loads = [0]  # loads not found in memory: the slot file read in a worker thread
    load_slot = session.load_slot

    def counted_load_slot(*args: Any, **kwargs: Any) -> Any:
        read_loads[0] += 1
        return load_slot(*args, **kwargs)

    session.load_slot = counted_load_slot  # type: ignore[method-assign]
    app.redraw_interval = type(app).redraw_interval  # as the real app draws
    now: list[float] = []
    queued: list[float] = []
    to_action: list[float] = []  # of each press, the part before the app's action runs
    in_action: list[float] = []  # and from the action's start to the engine link
    acted = [0.0]
    perform_pad = app.action_perform_pad

    def timed_pad(pad: int, at: str) -> None:
        acted[0] = time.monotonic()
        perform_pad(pad, at)

    app.action_perform_pad = timed_pad  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)  # the slot list is read
        session.start()
        await pilot.press("f2")
        await pilot.pause()
        for load in range(loads):
            key = ("q", "w")[load % 2]
            key = key.upper() if load % 4 < 2 else key  # shift: load now; plain: queue for the bar
            engine.arrived.clear()
            started = time.monotonic()
            await pilot.press(key)
            while not engine.arrived.is_set():
                if time.monotonic() - started > SCREEN_TIMEOUT:
                    raise AssertionError(f"{key}: no pattern command reached the engine")
                await asyncio.sleep(0.0005)
            (now if key.isupper() else queued).append(engine.arrival - started)
            to_action.append(acted[0] - started)
            in_action.append(engine.arrival - acted[0])
            await pilot.pause()
    journal.close()
    return {"loads": loads, "read_from_disk": read_loads[0], "now": summary(now), "queued": summary(queued),
            "to_action": summary(to_action), "in_action": summary(in_action)}


def main() -> int:
    parser = arguments(__doc__, RESULT)
    parser.add_argument("--presses", type=int, default=200, help="tempo key presses in tmux")
    parser.add_argument("--loads", type=int, default=200, help="perform-key loads in process")
    parser.add_argument("--skip-tmux", action="store_true", help="only the key-to-engine part")
    parser.add_argument("--full", action="store_true", help="full 8×64 sessions in the pads' slots")
    args = parser.parse_args()
    if not args.skip_tmux and shutil.which("tmux") is None:
        print("needs tmux")
        return 2
    with tempfile.TemporaryDirectory(prefix="chronus-latency-") as tmp:
        screen = None if args.skip_tmux else key_to_screen(Path(tmp), args.presses)
        engine = asyncio.run(perform_loads(Path(tmp), args.loads, full=args.full))
    result = {"key_to_screen": screen, "key_to_engine": engine, "block_ms": round(BLOCK_MS, 2),
              "pads": "full 8×64 sessions" if args.full else "a small 4-track pattern",
              **machine(), "target": "key to screen p95 < 50 ms; key to engine p95 < one block"}
    rows: list[tuple[str, object]] = []
    if screen is not None:
        rows += [
            ("key to screen (tmux 120×40, + / -)", f"p50 {screen['p50_ms']} ms, p95 {screen['p95_ms']} ms, "
                                                  f"max {screen['max_ms']} ms"),
            ("  presses shown / missed", f"{screen['shown']} / {screen['missed']} "
                                         f"({screen['captures_per_press']} captures a press)"),
        ]
    for kind, label in (("now", "shift+pad, load now"), ("queued", "pad, queue for the bar")):
        figures = engine[kind]
        rows.append((f"key to engine ({label})", f"p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, "
                                                 f"max {figures['max_ms']} ms"))
    for kind, label in (("to_action", "key to the app's action (Textual)"),
                        ("in_action", "the action to the engine link (the load)")):
        figures = engine[kind]
        rows.append((f"  of which {label}", f"p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, "
                                            f"max {figures['max_ms']} ms"))
    rows.append(("  loads that read the slot file", f"{engine['read_from_disk']} of {engine['loads']}"))
    rows.append(("one block (48 kHz / 256)", f"{BLOCK_MS:.2f} ms"))
    print_rows(rows)
    print(f"target: {result['target']}")
    write_result(args.output, result)
    screen_ok = screen is None or (screen["missed"] == 0 and screen["exit_status"] == "EXIT=0")
    return 0 if screen_ok else 1


if __name__ == "__main__":
    sys.exit(main())
