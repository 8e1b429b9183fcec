"""The clock's arithmetic: where steps and bars fall, in samples. Pure Python, no pyo.

Both sides use it: the synth process plays its clock by it (synth/sequencer.py), the
offline renderer sizes its file by it, and the control side checks with it that a
buffer size can play every step on its sample (engine/backends.py).

The clock is a line through the samples, worked out in double precision (ClockMath):
the step position of sample j is

    pos = (j + 1 - c0) * inc + base
    n = 2 * floor(pos / 2) + (pos / 2 - floor(pos / 2) >= 1/2 + swing / 4)

so that step n starts on the first sample at or after its ideal time
`n * step + (n odd) * swing * step / 2`, where a step is 60 / bpm / 4 seconds: odd steps
are late by swing × step / 2 and a pair of steps (so a bar) keeps its length. The line
(c0, base, inc) moves only at block boundaries, for start, stop, tempo and swing changes
and pattern switches, chosen so the step position is continuous.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from chronus_tui.model import BPM_RANGE, STEPS_PER_BAR, SWING_RANGE

STOPPED_POS = -10.0  # a position below step 0: n is negative, no step triggers
# Added to the position so a step whose ideal time is an exact sample starts on that
# sample despite rounding in (c - c0) * inc; 1e-7 of a step is < 0.01 sample.
EPS_STEPS = 1e-7
SWITCH_MARGIN = 8  # samples: arm a switch a block early when it falls this close after the block
# Powers of two (JACK's rule), and short enough that no two steps start in one block
# (block_fits): 1024 frames from 29.5 kHz up, 512 below.
BUFFER_SIZES = tuple(2**k for k in range(4, 11))


def step_boundary(n: int, swing: float) -> float:
    """Where step n starts, in steps, on the swung grid (odd steps late by swing/2)."""
    return 2 * (n // 2) + (1 + swing / 2 if n % 2 else 0.0)


def odd_threshold(swing: float) -> float:
    """Where in a pair of steps (in pairs) the odd step starts."""
    return 0.5 + swing / 4


def step_samples(bpm: float, sr: int) -> float:
    return sr * 60.0 / bpm / 4.0


def block_fits(buffer: int, sr: int) -> bool:
    """Whether blocks of `buffer` samples keep every step start apart from the one before.

    A queued switch is installed at the boundary of the block before its step, up to a
    block and SWITCH_MARGIN samples ahead: no other step may start in between. The
    closest two steps can start is an odd step to the next, at the fastest tempo and
    widest swing (closest_steps).
    """
    return buffer + SWITCH_MARGIN <= closest_steps(sr)


def max_buffer(sr: int) -> int:
    """The longest buffer the sequencer can run at `sr`."""
    return max(size for size in BUFFER_SIZES if block_fits(size, sr))


def buffer_problem(sr: int, buffer: int) -> str | None:
    """Why `buffer`-frame blocks at `sr` Hz cannot play every step on its sample, if they cannot."""
    if block_fits(buffer, sr):
        return None
    return (f"{buffer}-frame buffers are too long at {sr} Hz: two steps could start in one "
            f"buffer at 300 bpm with swing ({max_buffer(sr)} frames or less play every step on time)")


def closest_steps(sr: int) -> int:
    """Whole samples between the closest two step starts: an odd step and the next, at the
    fastest tempo and widest swing (1 - 0.6 / 2 of a step at 300 bpm: 1680 at 48 kHz, 771
    at 22050)."""
    return math.floor((1 - SWING_RANGE[1] / 2) * step_samples(BPM_RANGE[1], sr))


def next_line(step: int, every: int) -> int:
    """The first step after `step` that is a multiple of `every` (steps counted from a pattern's
    start): where a load queued at `step` with launch quantum `every` switches."""
    return every * (step // every + 1)


def bar_of(n: int, n0: int) -> tuple[int, int]:
    """(bar, step in bar) of global step n, counting from the restart step n0."""
    return divmod(n - n0, STEPS_PER_BAR)


@dataclass
class ClockMath:
    """The clock's line: pos(j), the step position of sample index j."""

    sr: int
    c0: float = 0.0
    base: float = STOPPED_POS
    inc: float = 0.0
    swing: float = 0.0

    @property
    def playing(self) -> bool:
        return self.inc > 0.0

    def half(self, sample: int) -> float:
        """Half the position at `sample`."""
        return (sample + 1) * (self.inc * 0.5) + (self.base - self.c0 * self.inc) * 0.5

    def pos(self, sample: int) -> float:
        return 2.0 * self.half(sample)

    def step_at(self, sample: int) -> int:
        half = self.half(sample)
        pair = math.floor(half)
        return 2 * pair + (1 if half - pair >= odd_threshold(self.swing) else 0)

    def start_at(self, sample: int, bpm: float) -> None:
        """Step 0 on `sample`."""
        self.c0, self.base, self.inc = sample + 1, EPS_STEPS, 1.0 / step_samples(bpm, self.sr)

    def stop(self) -> None:
        self.c0, self.base, self.inc = 0.0, STOPPED_POS, 0.0

    def rebase(self, sample: int, bpm: float) -> None:
        """Continue from the position at `sample` at a new tempo."""
        if self.playing:
            self.c0, self.base, self.inc = sample + 1, self.pos(sample), 1.0 / step_samples(bpm, self.sr)

    def anchor(self, n: int, sample: int, bpm: float, swing: float) -> None:
        """Put the start of step n exactly on `sample`, at a new tempo and swing."""
        self.swing = swing
        self.c0 = sample + 1
        self.base = step_boundary(n, swing) + EPS_STEPS
        self.inc = 1.0 / step_samples(bpm, self.sr)

    def onset(self, n: int) -> int:
        """The first sample at which step n has started (the clock must be running)."""
        target = step_boundary(n, self.swing)
        guess = math.ceil((target - self.base) / self.inc + self.c0 - 1)
        while self.step_at(guess - 1) >= n:
            guess -= 1
        while self.step_at(guess) < n:
            guess += 1
        return guess
