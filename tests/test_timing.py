"""The clock's arithmetic (chronus_tui/timing.py): shared by both processes, without pyo."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chronus_tui.timing import BUFFER_SIZES, ClockMath, block_fits, buffer_problem, max_buffer


def test_the_clock_arithmetic_loads_neither_pyo_nor_the_synth() -> None:
    code = ("import sys, chronus_tui.timing, chronus_tui.engine.backends; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyo', 'pyo64', '_pyo', '_pyo64') "
            "or m.startswith('chronus_tui.synth')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("sr", [22050, 44100, 48000, 96000, 192000])
def test_the_longest_buffer_keeps_every_step_apart_and_the_next_one_does_not(sr: int) -> None:
    longest = max_buffer(sr)
    assert block_fits(longest, sr) and buffer_problem(sr, longest) is None
    longer = [size for size in BUFFER_SIZES if size > longest]
    assert all(not block_fits(size, sr) for size in longer)
    assert all(f"({longest} frames or less" in buffer_problem(sr, size) for size in longer)


def test_a_step_starts_on_the_first_sample_at_or_after_its_ideal_time() -> None:
    clock = ClockMath(48000)
    clock.start_at(100, 120.0)  # a step is 6000 samples
    clock.swing = 0.5  # odd steps 1500 samples late
    assert [clock.onset(n) for n in range(4)] == [100, 7600, 12100, 19600]
    assert [clock.step_at(s) for s in (99, 100, 7599, 7600)] == [-1, 0, 0, 1]
