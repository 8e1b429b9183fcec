"""The soak benchmark, short: the same code as `benchmarks/bench_soak.py` for 20 s, so it cannot rot.

The real `chronus --no-ui` plays while four senders send valid and hostile OSC and its engine
is killed every 6 s; afterwards it must never have gone 5 s without answering /seq/status,
its saved state must be intact, and SIGTERM must end it with exit 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_soak import Settings, run_soak


@pytest.mark.slow
def test_short_soak_has_no_hang_and_no_state_corruption(tmp_path: Path) -> None:
    result = run_soak(Settings(duration=20, senders=4, kill_every=6, rate=40), tmp_path)
    failure = f"{result['verdict']}\nchronus's stderr ends:\n" + "\n".join(result["stderr_tail"])

    assert result["hangs"] == [], failure
    assert result["corruption"] == [], failure
    assert result["sigterm_status"] == 0, failure
    assert result["verdict"] == "0 hangs, 0 state corruption"
    assert result["ok"]
    # the soak really ran: requests were answered, the hostile kinds went out, the engine was killed
    messages = result["messages"]
    assert messages["answered"] > 0 and result["probe"]["answered"] > 0
    hostile = {"negative_bundle", "nested_bundle", "self_subscribe", "forged", "subnormal", "truncated"}
    assert hostile <= set(messages["by_kind"])
    assert result["engine"]["kills"] >= 1
