"""Save and load latency of a full session (8 tracks × 64 steps) through the SlotStore.

save = validate + write to temp/ + fsync + keep the old file in backups/ + os.replace +
fsync the folder + prune backups (what `/pattern/save` and the UI's save key do).
load = read + parse + validate into a Pattern (what a slot load does before the engine).
The stages are timed apart too, to show where the time goes.

    .venv/bin/python benchmarks/bench_store.py [--runs 500] [--dir FOLDER]

Prints a table and writes benchmarks/results/store.json.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from report import RESULTS, arguments, machine, percentile, write_result
from support.patterns import full_pattern  # the session the tests prove

from chronus_tui import patternfile
from chronus_tui.store import SlotStore, load_file

TARGETS_MS = {"save": 2.0, "load": 1.0}


def timed(fn: Callable[[], object], runs: int) -> dict[str, float]:
    for _ in range(min(20, runs)):  # warm caches and the allocator
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return {"p50": statistics.median(samples), "p99": percentile(samples, 0.99), "max": max(samples),
            "runs": runs}


def main() -> int:
    parser = arguments(__doc__, RESULTS / "store.json")
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--dir", type=Path, default=None,
                        help="folder for the slot files (default: a temporary folder)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="chronus-bench-", dir=args.dir))
    store = SlotStore(root)
    snapshot = patternfile.pattern_to_dict(full_pattern())
    path = store.save(1, snapshot)
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    pattern = patternfile.loads(text)
    payload = text.encode()
    scratch = root / "temp" / "fsync.probe"

    def write_fsync() -> None:
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)

    results = {
        "save": timed(lambda: store.save(1, snapshot), args.runs),
        "load": timed(lambda: store.load(1), args.runs),
        "stage: validate snapshot (pattern_from_dict)": timed(
            lambda: patternfile.pattern_from_dict(data), args.runs),
        "stage: pattern_to_dict": timed(lambda: patternfile.pattern_to_dict(pattern), args.runs),
        "stage: dumps": timed(lambda: patternfile.dumps(snapshot), args.runs),
        "stage: json.loads only": timed(lambda: json.loads(text), args.runs),
        "stage: write + fsync only": timed(write_fsync, args.runs),
        "stage: read + loads (no store)": timed(lambda: load_file(path), args.runs),
    }
    shutil.rmtree(root)

    facts = machine()  # other work on the machine shows in the disk and CPU times
    print(f"full session: 8 tracks × 64 steps, {len(payload)} bytes; {args.runs} runs; folder {root}; "
          f"load average {facts['load_average_1min']:.2f} on {facts['cpus']} CPUs")
    print(f"{'operation':46} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  target")
    for name, r in results.items():
        target = TARGETS_MS.get(name)
        verdict = "" if target is None else f"< {target:g} ms p50: {'met' if r['p50'] < target else 'MISSED'}"
        print(f"{name:46} {r['p50']:8.3f} {r['p99']:8.3f} {r['max']:8.3f}  {verdict}")

    write_result(args.output, {
        "benchmark": "store", "file_bytes": len(payload), "tracks": 8, "steps": 64,
        "folder": str(root.parent), **facts,
        "targets_ms_p50": TARGETS_MS,
        "met": {k: results[k]["p50"] < v for k, v in TARGETS_MS.items()},
        "results_ms": results,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
