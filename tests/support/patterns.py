"""Patterns and files the tests and benchmarks share."""

from __future__ import annotations

from pathlib import Path

from chronus_tui.model import MODULE_PARAMS, VOICES, Pattern, Step, Track

# A copy of shared/fixtures/legacy kept in the repository, so the tests never depend on a
# folder outside the clone; test_legacy checks it still matches shared/ where that exists.
LEGACY_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "legacy"


def full_pattern(tracks: int = 8, steps: int = 64, name: str = "full session") -> Pattern:
    """A session as big as a live set gets: every track 64 steps with hits, accents,
    notes and slides that differ per track, and every module parameter off its default
    (so a field lost on the way through a file shows)."""
    pattern = Pattern(name=name, bpm=127.5, swing=0.12)
    for t in range(tracks):
        pattern.tracks.append(Track(
            name=f"track{t + 1}", voice=VOICES[t % len(VOICES)],
            steps=[Step(on=(i + t) % 3 != 1, accent=(i * (t + 1)) % 5 == 0,
                        note=None if (i + t) % 4 == 3 else 24 + (i * 7 + t * 5) % 60,
                        slide=(i + t) % 7 == 0)
                   for i in range(steps)],
            mute=t == 5, solo=t == 6, level=round(0.5 + t * 0.05, 2), gate=round(0.25 + t * 0.1, 2)))
    for module, specs in MODULE_PARAMS.items():
        for k, spec in enumerate(specs):
            span = spec.high - spec.low
            value = spec.low + span * ((k + len(module)) % 7 + 1) / 9
            pattern.modules[module][spec.name] = round(value) if spec.integer else round(value, 4)
    return pattern
