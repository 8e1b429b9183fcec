"""What every benchmark shares: options, machine facts, percentiles, a measure/value table, the result."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"

# The benchmarks measure what the tests prove, with the same helpers: the tests' `support`
# package (fake engine, full pattern, JACK server, OSC client) is imported from tests/, as
# pytest does. Every benchmark imports this module first, so this is the one place that says so.
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))


def arguments(doc: str, output: Path) -> argparse.ArgumentParser:
    """A parser described by the script's docstring, with --output (where the JSON result goes)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--output", type=Path, default=output, help="the JSON result file")
    return parser


def jack_missing(tools: list[str]) -> bool:
    """Says which JACK tools are missing, if any (then the JACK benchmarks exit 2)."""
    if tools:
        print(f"needs JACK tools not installed here: {', '.join(tools)} (Debian: jackd2)")
    return bool(tools)


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank, no interpolation)."""
    ordered = sorted(values)
    return ordered[int(fraction * (len(ordered) - 1))]


def machine() -> dict[str, Any]:
    """The facts a reader needs to weigh a number: platform, CPUs and the load while it ran."""
    return {"machine": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2)}


def print_rows(rows: list[tuple[str, object]], heading: str = "measure") -> None:
    width = max(len(heading), *(len(name) for name, _ in rows))
    print(f"{heading:<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def write_result(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
