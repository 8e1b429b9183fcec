"""Expressive steps for the render tests and benchmarks: give steps probability, conditions,
micro-timing, ratchets and locks, and predict the hits the engine plays from them.

The prediction is the engine's contract (docs/architecture.md, "Time"; chronus_tui/trigs.py):
trigs.decide says which steps play (the count from 0 at the render's start, the pattern's
seed), and a step n that plays has a hit at onset(n) + round(off × L) for each `off` of
trigs.hit_offsets(step): onset(n) its swung onset, L the unswung step in samples, round half
up. Then, per track: a hit before step 0's onset moves to it; ratchet hits 2..n of a step are
dropped at or after the first hit of the track's next played step; a hit less than
MIN_HIT_SPACING samples after the track's previous hit is dropped.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Container, Iterable
from dataclasses import replace
from fractions import Fraction

from chronus_tui.model import (
    MICRO_SPEC,
    PROB_SPEC,
    RATCHET_SPEC,
    Pattern,
    PatternError,
    check_condition,
    check_locks,
    lock_spec,
    lockable_params,
)
from chronus_tui.trigs import TrigState, decide, hit_offsets
from support.render import SR, expected_onset

MIN_HIT_SPACING = 32  # samples: a hit closer than this after the track's last one is dropped
# the next steps decided past the render's last: step n's hits lie before step n + 2's onset,
# so a played step 3 on is the first that can drop none of them
LOOKAHEAD_STEPS = 3
HALF = Fraction(1, 2)  # round half up: floor(x + ½)


def set_step(pattern: Pattern, track: str, index: int, **fields: object) -> None:
    """Give step `index` of `track` these fields (on, slide, prob, cond, micro, ratchet,
    locks), each checked as a file's is (model's specs; PatternError otherwise)."""
    steps = pattern.track(track).steps
    voice = pattern.track(track).voice
    checks = {"on": _flag, "slide": _flag, "prob": lambda v: PROB_SPEC.check(v, "prob"),
              "cond": check_condition, "micro": lambda v: MICRO_SPEC.check(v, "micro"),
              "ratchet": lambda v: RATCHET_SPEC.check(v, "ratchet"),
              "locks": lambda v: check_locks(v, voice)}
    unknown = set(fields) - set(checks)
    if unknown:
        raise PatternError("step", f"no such step field: {', '.join(sorted(unknown))}")
    steps[index] = replace(steps[index], **{key: checks[key](value) for key, value in fields.items()})


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise PatternError("step", f"{value!r} is not true or false")
    return value


def step_length(pattern: Pattern, sr: int = SR) -> Fraction:
    """L: the unswung step in samples, exactly."""
    return Fraction(60 * sr) / (Fraction(str(pattern.bpm)) * 4)


def expected_hits(pattern: Pattern, steps: int, *, fill: Container[int] = (), sr: int = SR,
                  tracks: Iterable[str] | None = None) -> list[int]:
    """The samples (from step 0's onset, where the render's file starts) where the hits of the
    first `steps` steps of `pattern` are heard, in order: the named `tracks` (default all),
    fill on at the step counts in `fill`. Hits past the last step's are left out (the
    render's file ends on the next step's onset)."""
    chosen = set(t.name for t in pattern.tracks) if tracks is None else set(tracks)
    length = step_length(pattern, sr)
    planned: dict[str, list[list[int]]] = {t.name: [] for t in pattern.tracks}
    state = TrigState()
    for count in range(steps + LOOKAHEAD_STEPS):
        plays, state = decide(pattern.tracks, count, pattern.seed, count in fill, state)
        onset = expected_onset(count, pattern.bpm, pattern.swing, sr)
        for track, played in zip(pattern.tracks, plays, strict=True):
            if played:
                step = track.steps[count % track.length]
                planned[track.name].append([max(0, onset + math.floor(Fraction(off) * length + HALF))
                                            for off in hit_offsets(step)])
    end = expected_onset(steps, pattern.bpm, pattern.swing, sr)
    heard = [hit for name in chosen for hit in _track_hits(planned[name]) if hit < end]
    return sorted(heard)


def _track_hits(played: list[list[int]]) -> list[int]:
    """One track's hits from its played steps' planned hits, by the rules above."""
    kept: list[int] = []
    for k, hits in enumerate(played):
        next_first = played[k + 1][0] if k + 1 < len(played) else math.inf
        for j, hit in enumerate(hits):
            if j and hit >= next_first:
                continue
            if kept and 0 <= hit - kept[-1] < MIN_HIT_SPACING:
                continue
            kept.append(hit)
    return kept


def every_step_expressive(pattern: Pattern, prob: int, locks: int,
                          tracks: Collection[str] | None = None) -> Pattern:
    """A copy of `pattern` whose every step that is on (of the named `tracks`, default all)
    plays with probability `prob` and locks the first `locks` lockable parameters of its
    voice (but amp) to a value off the voice's."""
    copy = replace(pattern, tracks=[replace(t, steps=list(t.steps)) for t in pattern.tracks])
    for track in copy.tracks:
        if tracks is not None and track.name not in tracks:
            continue
        keys = [key for key in lockable_params(track.voice) if key != "amp"][:locks]
        values = {}
        for key in keys:
            spec = lock_spec(track.voice, key)
            values[key] = spec.low + (spec.high - spec.low) * 0.37
        for index, step in enumerate(track.steps):
            if step.on:
                set_step(copy, track.name, index, prob=prob, locks=values)
    return copy
