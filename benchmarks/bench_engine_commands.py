"""What each protocol command costs inside the engine's audio callback.

Every command runs in pyo's block callback in the engine process, so its time comes
out of the block's budget (5.3 ms at 256 frames / 48 kHz; want well under 0.5 ms a
command). This drives the real EngineGraph on a manual (no audio device) pyo server
playing the biggest common session (8 tracks × 64 steps, every effect on), with the
commands a real Session sends for each kind of edit, and times graph.handle() alone,
one command per block with a block computed between them: the thread's CPU time (what
the command costs) and wall time (which includes other processes taking the CPU, as
happens on a busy machine without real-time scheduling).

"step edit (8 locks)" edits a step of one track (the soloed one, the track heard) whose
every step that is on is conditional (a probability) and holds 8 parameter locks: it sets
the step's probability and 8 locks at once (Session.set_step_options), which sends that
whole track. The other kinds leave that track alone, so their figures stay comparable with
the runs before it.

    .venv/bin/python benchmarks/bench_engine_commands.py [--repeat 200] [--buffer 256]

Prints p50 / p99 per command kind (and the p99 of the per-block work in the block after it,
where the hits of an edited track are planned) and writes benchmarks/results/engine_commands.json.
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from report import RESULTS, arguments, machine, percentile, write_result

os.environ.setdefault("PYO_GUI_WX", "0")
from support.expressive import every_step_expressive
from support.fakes import FakeEngine  # a recorder
from support.patterns import full_pattern  # the session the tests prove

from chronus_tui.engine.protocol import EngineMessage
from chronus_tui.model import MODULE_PARAMS, VOICES, lock_spec, lockable_params
from chronus_tui.session import Session
from chronus_tui.store import SlotStore
from chronus_tui.synth.pyolib import pyo  # pyo's single-precision build, before anything imports pyo64

RESULT = RESULTS / "engine_commands.json"
TARGET_MS = 0.5
LOCKS = 8  # issue 18: a step edit with 8 locks, p99 under TARGET_MS


def edits(session: Session, rng: random.Random, locked: str) -> dict[str, Callable[[], None]]:
    """One Session call per command kind, with random but valid arguments; the `locked`
    track (every step conditional and locked) is edited by "step edit (8 locks)" alone."""
    tracks = [t.name for t in session.pattern.tracks if t.name != locked]
    lock_voice = session.pattern.track(locked).voice
    lock_specs = {key: lock_spec(lock_voice, key) for key in lockable_params(lock_voice)[:LOCKS]}
    voice_params = [s for s in MODULE_PARAMS["voice1"] if s.name != "osc/type"]
    effects = [(m, s) for m, specs in MODULE_PARAMS.items() if not m.startswith("voice") for s in specs]

    def voice_param() -> None:
        spec = rng.choice(voice_params)
        session.set_param(rng.choice(VOICES), spec.name, rng.uniform(spec.low, spec.high))

    def effect_param() -> None:
        module, spec = rng.choice(effects)
        session.set_param(module, spec.name, rng.uniform(spec.low, spec.high))

    def step_edit() -> None:
        name = rng.choice(tracks)
        session.set_step(name, rng.randrange(session.pattern.track(name).length), on=rng.random() < 0.5,
                         accent=rng.random() < 0.3)

    def locked_step_edit() -> None:
        locks = {key: rng.uniform(spec.low, spec.high) for key, spec in lock_specs.items()}
        session.set_step_options(locked, rng.randrange(session.pattern.track(locked).length),
                                 {"prob": rng.randrange(1, 100), "locks": locks})

    return {
        "param (voice)": voice_param,
        "param (voice freq)": lambda: session.set_param(rng.choice(VOICES), "freq", rng.uniform(50, 2000)),
        "param (voice waveform)": lambda: session.set_param(rng.choice(VOICES), "osc/type", rng.randrange(6)),
        "param (effect)": effect_param,
        "tempo": lambda: session.set_bpm(rng.uniform(110, 140)),
        "step edit": step_edit,
        f"step edit ({LOCKS} locks)": locked_step_edit,
        "track level": lambda: session.set_level(rng.choice(tracks), rng.uniform(0.2, 1.0)),
        "track mute": lambda: session.set_mute(rng.choice(tracks), rng.random() < 0.5),
        "track length": lambda: session.set_length(rng.choice(tracks), rng.choice((16, 32, 48, 64))),
        "add/remove track": lambda: (session.remove_track("extra") if "extra" in
                                     [t.name for t in session.pattern.tracks]
                                     else session.add_track("extra", rng.choice(VOICES), "x.x." * 4)),
    }


def measure(repeat: int, buffer: int, sr: int, workdir: Path) -> dict[str, dict[str, float]]:
    server = pyo.Server(sr=sr, nchnls=2, buffersize=buffer, duplex=0, audio="manual")
    server.setVerbosity(1)
    server.boot()
    from chronus_tui.synth.graph import EngineGraph

    graph = EngineGraph(server)  # before the server starts (its step clock starts with it)
    server.start()
    recorder = FakeEngine()
    pattern = full_pattern()
    pattern.tracks.pop()  # room for the added track (8 of MAX_TRACKS stay playing)
    locked = next(t.name for t in pattern.tracks if t.solo)  # the one track heard: its hits are all planned
    pattern = every_step_expressive(pattern, 50, LOCKS, tracks=[locked])
    session = Session(SlotStore(workdir), recorder, pattern=pattern)
    session.resync()
    session.start()
    for command in recorder.sent:
        graph.handle(command)
    errors: list[str] = []
    for _ in range(20):
        server.process()
        errors += [e.message for e in graph.poll_events() if isinstance(e, EngineMessage)]
    gc.freeze()  # as the engine process does once its graph is built
    rng = random.Random(5)
    kinds = edits(session, rng, locked)
    cpu: dict[str, list[float]] = {kind: [] for kind in kinds}
    wall: dict[str, list[float]] = {kind: [] for kind in kinds}
    after: dict[str, list[float]] = {kind: [] for kind in kinds}  # the next block's poll_events
    for _ in range(repeat):
        for kind, edit in kinds.items():
            recorder.clear()
            edit()
            for command in recorder.sent:
                began, cpu_began = time.perf_counter(), time.thread_time()
                graph.handle(command)
                cpu[kind].append(time.thread_time() - cpu_began)
                wall[kind].append(time.perf_counter() - began)
                server.process()
                cpu_began = time.thread_time()
                events = graph.poll_events()
                after[kind].append(time.thread_time() - cpu_began)
                errors += [e.message for e in events if isinstance(e, EngineMessage)]
    server.stop()
    server.shutdown()
    if errors:
        raise SystemExit(f"the engine reported errors: {errors[:3]}")
    return {kind: {"cpu_p50_ms": ms(statistics.median(cpu[kind])),
                   "cpu_p99_ms": ms(percentile(cpu[kind], 0.99)), "cpu_max_ms": ms(max(cpu[kind])),
                   "wall_p50_ms": ms(statistics.median(wall[kind])),
                   "wall_p99_ms": ms(percentile(wall[kind], 0.99)),
                   "next_block_cpu_p50_ms": ms(statistics.median(after[kind])),
                   "next_block_cpu_p99_ms": ms(percentile(after[kind], 0.99)), "n": len(cpu[kind])}
            for kind in kinds}


def ms(seconds: float) -> float:
    return round(1e3 * seconds, 3)


def main() -> int:
    parser = arguments(__doc__, RESULT)
    parser.add_argument("--repeat", type=int, default=200, help="commands timed per kind")
    parser.add_argument("--buffer", type=int, default=256)
    parser.add_argument("--sr", type=int, default=48000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chronus-commands-") as tmp:
        table = measure(args.repeat, args.buffer, args.sr, Path(tmp))
    width = max(map(len, table))
    columns = ("cpu_p50_ms", "cpu_p99_ms", "cpu_max_ms", "wall_p50_ms", "wall_p99_ms",
               "next_block_cpu_p99_ms")
    print(f"{'command (full 8 × 64 session)':<{width}}  " + "  ".join(f"{c[:-3]:>11}" for c in columns))
    for kind, row in table.items():
        print(f"{kind:<{width}}  " + "  ".join(f"{row[c]:>{max(11, len(c) - 3)}.3f}" for c in columns))
    block_ms = 1e3 * args.buffer / args.sr
    facts = machine()
    print(f"ms; cpu: the engine thread's own time; wall: including time other processes took the CPU "
          f"(load average {facts['load_average_1min']:.1f} on {facts['cpus']} cpus); next_block: the "
          "per-block work of the block after the command (poll_events: plans its hits, follows locks)")
    print(f"target: cpu p99 under {TARGET_MS} ms per command (a block is {block_ms:.2f} ms)")
    result = {"commands": table, "buffer": args.buffer, "sr": args.sr, "block_ms": round(block_ms, 2),
              "target_ms": TARGET_MS, **facts}
    write_result(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
