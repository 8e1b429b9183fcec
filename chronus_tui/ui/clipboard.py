"""The app's clipboard: steps, a track or a whole pattern, copied from the live pattern.

It lives in the app, not the pattern, so it outlives a load: copy in one slot, load
another, paste there. Its contents are copies, never the live objects.
"""

from __future__ import annotations

from dataclasses import dataclass

from chronus_tui.model import Pattern, Step, Track, copy_step


@dataclass(frozen=True)
class Clipboard:
    steps: tuple[Step, ...] = ()      # a step range (or a whole track's steps)
    track: Track | None = None        # set when a whole track was copied
    pattern: Pattern | None = None    # set when the whole pattern was copied
    origin: str = ""                  # where it came from, for the screen

    @classmethod
    def of_steps(cls, track: Track, first: int, last: int) -> Clipboard:
        steps = tuple(copy_step(s) for s in track.steps[first:last + 1])  # expressive fields too
        return cls(steps=steps, origin=f"{track.name} {first + 1}–{last + 1}" if last > first
                   else f"{track.name} {first + 1}")

    @classmethod
    def of_track(cls, track: Track) -> Clipboard:
        copy = track.copy()
        return cls(steps=tuple(copy.steps), track=copy, origin=track.name)

    @classmethod
    def of_pattern(cls, pattern: Pattern) -> Clipboard:
        return cls(pattern=pattern.copy(), origin=pattern.name)

    def describe(self) -> str:
        """A few words for the screen: what a paste would put down."""
        if self.pattern is not None:
            return f"pattern “{self.origin}” ({len(self.pattern.tracks)} tracks)"
        if self.track is not None:
            return f"track “{self.origin}” ({len(self.steps)} steps)"
        count = len(self.steps)
        return f"{count} step{'s' if count != 1 else ''} of {self.origin}"
