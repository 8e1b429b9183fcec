"""Chains: which slots play in which order, and how many times.

A chain is an ordered list of slots with repeat counts (`A01x4 A02x2 B05`), across banks,
up to 64 entries, that loops or stops at its end. A song is a chain with a name whose
entries may also set the tempo and mute tracks (songs.py stores them).

One *play* of a pattern is its longest track's length in steps: a bar for a pattern of
16-step tracks, 12 steps for one of 12-step tracks. An entry lasts `repeats` plays, and the
next entry's step 0 falls on the step after them: the engine counts those steps from the
entry's own first step, so every transition is exact to the sample.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from chronus_tui.engine.protocol import Command, Event, ReplacePattern, Switched
from chronus_tui.model import BPM_SPEC, STEPS_PER_BAR, Pattern
from chronus_tui.store import SLOT_COUNT, parse_slot, slot_label
from chronus_tui.timing import ClockMath

MAX_ENTRIES = 64
REPEATS_RANGE = (1, 64)
MAX_CHAIN_TEXT = 4096  # 64 entries of `A01x64` are 400 characters: a longer text is not a chain
_ENTRY = re.compile(r"^([A-Za-z]?\d{1,3})(?:[xX*](\d{1,3}))?$")


class ChainError(ValueError):
    """A chain that cannot be: the message names the entry and why."""


@dataclass(frozen=True)
class ChainEntry:
    slot: int
    repeats: int = 1
    bpm: float | None = None  # a song's tempo from this entry on (None: the pattern's own)
    mute: tuple[str, ...] | None = None  # a song's muted tracks here (None: as the slot has them)

    def label(self) -> str:
        return f"{slot_label(self.slot)}×{self.repeats}"


@dataclass(frozen=True)
class Chain:
    entries: tuple[ChainEntry, ...]
    loop: bool = True  # after the last entry: the first again, or stop

    def next_index(self, index: int) -> int | None:
        """The entry after `index`; None at the end of a chain that does not loop."""
        if index + 1 < len(self.entries):
            return index + 1
        return 0 if self.loop else None

    def text(self) -> str:
        """As typed: `A01×4 A02×2`, then `once` if it does not loop."""
        return " ".join([entry.label() for entry in self.entries] + ([] if self.loop else ["once"]))


def check_entry(slot: object, repeats: object = 1, what: str = "entry") -> ChainEntry:
    """One entry from outside, checked: a slot 1–128 and a repeat count 1–64."""
    if isinstance(slot, bool) or not isinstance(slot, int) or not (1 <= slot <= SLOT_COUNT):
        raise ChainError(f"{what}: slot {slot!r} is not a slot (A01–H16, 1–{SLOT_COUNT})")
    low, high = REPEATS_RANGE
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not (low <= repeats <= high):
        raise ChainError(f"{what}: repeats {repeats!r} is out of range {low}–{high}")
    return ChainEntry(slot, repeats)


def check_entries(entries: list[ChainEntry] | tuple[ChainEntry, ...]) -> tuple[ChainEntry, ...]:
    if not entries:
        raise ChainError("a chain needs at least one entry")
    if len(entries) > MAX_ENTRIES:
        raise ChainError(f"{len(entries)} entries: a chain holds at most {MAX_ENTRIES}")
    return tuple(entries)


def parse_chain(text: str) -> Chain:
    """A chain from `A01x4 A02×2 B05*1 21` (commas or spaces between entries; no count is
    one play); a last word `once` makes it stop at its end, `loop` (the default) repeat."""
    if not isinstance(text, str):
        raise ChainError(f"{text!r} is not a chain")
    if len(text) > MAX_CHAIN_TEXT:
        raise ChainError(f"a chain of {len(text)} characters is too long (at most {MAX_CHAIN_TEXT})")
    words = [word for word in re.split(r"[\s,]+", text.replace("×", "x")) if word]
    loop = True
    if words and words[-1].lower() in ("once", "loop"):
        loop = words.pop().lower() == "loop"
    if len(words) > MAX_ENTRIES:
        raise ChainError(f"{len(words)} entries: a chain holds at most {MAX_ENTRIES}")
    entries = []
    for number, word in enumerate(words, 1):
        match = _ENTRY.match(word)
        slot = parse_slot(match.group(1)) if match else None
        if match is None or slot is None:
            raise ChainError(f"entry {number} {word!r} is not SLOTxN: a slot A01–H16 or 1–{SLOT_COUNT}, "
                             f"then x and how many plays (A01x4, B05, 21x2)")
        entries.append(check_entry(slot, int(match.group(2) or 1), f"entry {number} {word!r}"))
    return Chain(check_entries(entries), loop)


def play_steps(pattern: Pattern) -> int:
    """Steps in one play of `pattern`: its longest track (a bar when it has none)."""
    return max((track.length for track in pattern.tracks), default=STEPS_PER_BAR)


def entry_pattern(entry: ChainEntry, pattern: Pattern) -> Pattern:
    """The slot's pattern as the entry plays it: a song's tempo and mutes applied (a copy)."""
    played = pattern.copy()
    if entry.bpm is not None:
        played = replace(played, bpm=min(max(entry.bpm, BPM_SPEC.low), BPM_SPEC.high))
    if entry.mute is not None:
        for track in played.tracks:
            track.mute = track.name in entry.mute
    return played


def entry_quantum(entry: ChainEntry, steps_per_play: int) -> int:
    """The launch quantum of the entry after `entry`, which plays `steps_per_play` steps a play:
    its plays in steps, counted by the engine from `entry`'s own step 0 (live and in render)."""
    return entry.repeats * steps_per_play


Played = list[tuple[ChainEntry, Pattern]]  # each entry of a chain with the pattern it plays


def played_entries(chain: Chain, load: Callable[[int], Pattern]) -> Played:
    """Each entry with the pattern it plays (`load(slot)`, then its tempo and mutes applied)."""
    return [(entry, entry_pattern(entry, load(entry.slot))) for entry in chain.entries]


def chain_steps(played: Sequence[tuple[ChainEntry, Pattern]]) -> list[int]:
    """Each entry's length in steps: its repeats × one play of its pattern."""
    return [entry_quantum(entry, play_steps(pattern)) for entry, pattern in played]


def entry_onsets(played: Sequence[tuple[ChainEntry, Pattern]], sr: int) -> list[int]:
    """The sample where each entry's step 0 sounds, the first's being 0, then the sample where
    the chain ends (the line after its last entry): worked out as the engine's clock does, each
    line found on the clock of the entry before it and the next entry's tempo and swing
    anchored on it (so an odd-length entry leaves the next one on the swung grid's odd step)."""
    clock = ClockMath(sr)
    step, onset, onsets = 0, 0, [0]
    for length, (_, pattern) in zip(chain_steps(played), played, strict=True):
        clock.anchor(step, onset, pattern.bpm, pattern.swing)
        step += length
        onset = clock.onset(step)
        onsets.append(onset)
    return onsets


class ChainQueue:
    """The loads that play a chain's entries one after another through the engine, once, as
    ChainPlayer does live: each entry is queued, with the length of the one before it as its
    launch quantum, right after that one switches in, and after the last the silent end (the
    last pattern without tracks), so that no hit of a step after the chain sounds (an early
    one, micro-timed, would). For an offline render: `first()` with the transport's start,
    then `react(event)` on every event; entry i's load has token i, the silent end len(played)."""

    def __init__(self, played: Sequence[tuple[ChainEntry, Pattern]]) -> None:
        self.played = list(played)
        self.steps = chain_steps(self.played)

    def first(self) -> list[Command]:
        return self._queue_after(0)

    def react(self, event: Event) -> list[Command]:
        if isinstance(event, Switched) and 0 < event.token < len(self.played):
            return self._queue_after(event.token)
        return []

    def _queue_after(self, index: int) -> list[Command]:
        if index + 1 > len(self.played):
            return []
        if index + 1 == len(self.played):  # the silent end, as live: no step after the chain plays
            ending = replace(self.played[index][1], tracks=[])
            return [ReplacePattern(ending, "bar", index + 1, self.steps[index])]
        return [ReplacePattern(self.played[index + 1][1], "bar", index + 1, self.steps[index])]
