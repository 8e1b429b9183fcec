"""The render speed of this engine against an earlier one, side by side on this machine.

Issue 18 asks that a busy pattern with every step conditional and locked renders no more
than 15 % slower than the engine before it rendered the same pattern plain. This renders,
round after round and in turn, each in a fresh process:

- "before plain": the busy pattern of bench_engine_render.py (8 tracks × 64 steps, every
  effect on, pink noise) on the engine of git revision --before (default: the last commit
  before the engine that plans each lane's hits), checked out with `git archive`;
- "now plain": the same pattern on this tree's engine;
- "now expressive": the same with every step that is on at a 99 % probability (rolled, nearly
  all play) and two locks (filter/freq and filter/q).

Each is 30 s of audio with 1024-sample blocks (chronus render's), × real time by the child
process's CPU time, set-up included; the fastest of --repeats rounds counts (the machine's
speed wanders; other processes only ever slow a render down), the median is shown too.

    .venv/bin/python benchmarks/bench_engine_against.py [--before REV] [--repeats 7]

Prints the table and writes benchmarks/results/engine_against.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

from report import RESULTS, arguments, machine, write_result

ROOT = Path(__file__).resolve().parent.parent
RESULT = RESULTS / "engine_against.json"
BEFORE = "2bf56c7"  # issue 18's model and trigs landed; the engine still played step rows
WANT_SLOWER = 0.15
SECONDS = 30.0
KINDS = ("before plain", "now plain", "now expressive")


def child(tree: str, kind: str, seconds: float) -> None:
    """In a fresh process: render the busy pattern with the engine of `tree`; print its
    audio seconds and CPU seconds as JSON."""
    sys.path[:0] = [tree, f"{tree}/tests", f"{tree}/benchmarks"]
    os.environ.setdefault("PYO_GUI_WX", "0")
    import bench_engine_render as engine  # that tree's

    pattern = engine.busy_pattern()
    if kind == "now expressive":
        from support.expressive import every_step_expressive

        pattern = every_step_expressive(pattern, engine.EXPRESSIVE_PROB, engine.EXPRESSIVE_LOCKS)
    with tempfile.TemporaryDirectory() as folder:
        audio, _, cpu = engine.timed_render(pattern, Path(folder), max(1, round(seconds * pattern.bpm / 240)),
                                            1024)
    print(json.dumps({"audio": audio, "cpu": cpu}))


def checkout(rev: str, folder: Path) -> Path:
    """The files of revision `rev` of this repository, unpacked into `folder`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def timed(tree: Path, kind: str, seconds: float) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", str(tree), kind, str(seconds)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], float(sys.argv[4]))
        return 0
    parser = arguments(__doc__, RESULT)
    parser.add_argument("--before", default=BEFORE, help="the git revision of the engine to compare with")
    parser.add_argument("--repeats", type=int, default=7, help="rounds (the fastest counts)")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="audio rendered each time")
    args = parser.parse_args()
    cpus: dict[str, list[float]] = {kind: [] for kind in KINDS}
    audio = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        before = checkout(args.before, Path(tmp))
        trees = {"before plain": before, "now plain": ROOT, "now expressive": ROOT}
        started = time.monotonic()
        for round_number in range(args.repeats):
            for kind in KINDS:
                run = timed(trees[kind], kind, args.seconds)
                audio = run["audio"]
                cpus[kind].append(run["cpu"])
            print(f"round {round_number + 1}/{args.repeats} ({time.monotonic() - started:.0f} s)",
                  file=sys.stderr)
    rows: dict[str, Any] = {
        kind: {"cpu_s": round(min(times), 3), "x_realtime_cpu": round(audio / min(times), 1),
               "x_realtime_cpu_median": round(audio / statistics.median(times), 1)}
        for kind, times in cpus.items()}
    slower = {kind: round(100 * (min(cpus[kind]) / min(cpus[KINDS[0]]) - 1), 1) for kind in KINDS[1:]}
    median = {kind: statistics.median(times) for kind, times in cpus.items()}
    slower_median = {kind: round(100 * (median[kind] / median[KINDS[0]] - 1), 1) for kind in KINDS[1:]}
    print(f"busy pattern, {audio:.1f} s of audio, 1024-sample blocks, fastest (median) of {args.repeats}; "
          f"before = {args.before}")
    for kind in KINDS:
        row = rows[kind]
        extra = "" if kind == KINDS[0] else \
            f"   {slower[kind]:+.1f} % CPU against before plain (median {slower_median[kind]:+.1f} %)"
        print(f"{kind:>15}: {row['x_realtime_cpu']:>5}× real time ({row['x_realtime_cpu_median']}×){extra}")
    met = slower["now expressive"] <= 100 * WANT_SLOWER
    print(f"want: now expressive at most {100 * WANT_SLOWER:g} % slower than before plain: "
          f"{'yes' if met else 'no'}")
    write_result(args.output, {**machine(), "before": args.before, "audio_s": round(audio, 2), **rows,
                               "slower_percent": slower, "slower_percent_median": slower_median,
                               "want_at_most_percent": 100 * WANT_SLOWER})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
