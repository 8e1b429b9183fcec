"""Which steps play, and when inside their step: probability, trig conditions, micro-timing
and ratchets, decided the same way for the engine (live and in a render) and the MIDI export.

No pyo, no I/O. The decisions are a pure function of the pattern, the step count since the
pattern started (a transport start or a load; edits keep counting) and the fill flag:

- A step's roll is a hash of (pattern seed, track name, repetition, step index), a number
  0–99; the step passes its probability when the roll is below it. Nothing advances
  between rolls, so a render and a live run from the same start roll the same numbers,
  and an edit or a mute elsewhere changes no other step's roll. A new seed is a new set of rolls.
- A trig's condition is checked with the roll: `A:B` plays on repetition A of every B of
  its track (repetitions count from 1 at the pattern's start), `1ST` on the first,
  `FILL` while fill mode is on, `PRE` when the track's latest conditional trig played, and
  `NEI` when the previous track's did (as it stands after that track's same step); `!`
  negates each. A trig is conditional when it has a probability under 100 % or a
  condition other than PRE and NEI: only those set what PRE and NEI read, which is false
  until one has been decided. Muted tracks decide their trigs too (muting changes no
  other track's NEI).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from chronus_tui.model import MICRO_DIVISIONS, PLAIN_VELOCITY, Step, Track

_MASK = (1 << 64) - 1


def roll(seed: int, track: str, repetition: int, index: int) -> int:
    """The roll 0–99 of step `index` of `track` on its `repetition` (from 0): splitmix64 of
    the four, so every step of every repetition has its own, with no state to keep."""
    x = (seed * 0x9E3779B97F4A7C15 + zlib.crc32(track.encode()) * 0xBF58476D1CE4E5B9
         + repetition * 0x94D049BB133111EB + index * 0x2545F4914F6CDD1D) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return ((x ^ (x >> 31)) * 100) >> 64


def hit_offsets(step: Step) -> list[float]:
    """Where a played step's hits fall, in steps from its (swung) grid position: its
    micro-timing, then its ratchets evenly through one step from there."""
    micro = step.micro / MICRO_DIVISIONS
    return [micro + j / step.ratchet for j in range(step.ratchet)]


def hit_level(step: Step, voice_amp: float) -> float:
    """A played step's level: its velocity (an accent's 1, else PLAIN_VELOCITY), scaled by an
    amp lock's share of its voice's amp, up to an accent's level (none at voice amp 0)."""
    level = 1.0 if step.accent else PLAIN_VELOCITY
    if "amp" in step.locks and voice_amp > 0:
        level *= min(step.locks["amp"] / voice_amp, 1.0 / PLAIN_VELOCITY)
    return level


def _condition_holds(condition: str | None, repetition: int, fill: bool, previous: bool,
                     neighbour: bool) -> bool:
    if condition is None:
        return True
    negated = condition.startswith("!")
    name = condition.lstrip("!")
    if name == "FILL":
        holds = fill
    elif name == "PRE":
        holds = previous
    elif name == "NEI":
        holds = neighbour
    elif name == "1ST":
        holds = repetition == 0
    else:
        a, _, b = name.partition(":")
        return repetition % int(b) == int(a) - 1
    return holds != negated


@dataclass(frozen=True)
class TrigState:
    """What PRE and NEI read: each track's latest conditional trig's result, by name."""

    played: tuple[tuple[str, bool], ...] = ()

    def of(self, name: str) -> bool:
        return dict(self.played).get(name, False)


def decide(tracks: Sequence[Track], count: int, seed: int, fill: bool,
           state: TrigState) -> tuple[list[bool], TrigState]:
    """Whether each track's step plays at `count` steps since the pattern started (its
    steps index count mod its length), and the state after them. Call it for each
    count in turn with the state the last call returned (TrigState() at the start)."""
    results = dict(state.played)
    plays = []
    neighbour = False
    for track in tracks:
        repetition, index = divmod(count, track.length)
        step = track.steps[index]
        played = False
        if step.on:
            previous = results.get(track.name, False)
            played = (_condition_holds(step.cond, repetition, fill, previous, neighbour)
                      and (step.prob >= 100 or roll(seed, track.name, repetition, index) < step.prob))
            if step.conditional:
                results[track.name] = played
        plays.append(played)
        neighbour = results.get(track.name, False)
    return plays, TrigState(tuple(sorted(results.items())))
