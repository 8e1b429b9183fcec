"""Helpers for the tests of the MIDI export: export a pattern, and read a file's notes back
with mido (each named track's notes, note on to note off), so a test compares them with what
it works out from the rules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mido

from chronus_tui import midiexport
from chronus_tui.midiexport import export_midi
from chronus_tui.model import Pattern, Step, Track, default_modules


@dataclass(frozen=True)
class Heard:
    """A note read back from a file."""

    start: int
    length: int
    pitch: int
    velocity: int
    channel: int


def read(path_or_midi: Path | mido.MidiFile) -> mido.MidiFile:
    return path_or_midi if isinstance(path_or_midi, mido.MidiFile) else mido.MidiFile(path_or_midi)


def heard(midi: mido.MidiFile) -> dict[str, list[Heard]]:
    """Each named track's notes (note_on to its note_off on the same channel and pitch)."""
    tracks: dict[str, list[Heard]] = {}
    for track in midi.tracks[1:]:
        names = [m.name for m in track if m.type == "track_name"]
        now, open_notes, notes = 0, {}, []
        for message in track:
            now += message.time
            if message.type == "note_on" and message.velocity:
                open_notes[(message.channel, message.note)] = (now, message.velocity)
            elif message.type in ("note_off", "note_on"):
                start, velocity = open_notes.pop((message.channel, message.note))
                notes.append(Heard(start, now - start, message.note, velocity, message.channel))
        assert not open_notes, f"notes never ended: {open_notes}"
        tracks[names[0]] = sorted(notes, key=lambda n: n.start)
    return tracks


def with_voices(**voices: dict[str, float]) -> dict[str, dict[str, float]]:
    modules = default_modules()
    for voice, values in voices.items():
        modules[voice].update(values)
    return modules


def one_track(steps: list[Step], *, voice: str = "voice1", name: str = "lead", swing: float = 0.0,
              gate: float = 0.5, level: float = 1.0, **voice_values: float) -> Pattern:
    return Pattern(name="p", swing=swing, tracks=[Track(name, voice, steps, gate=gate, level=level)],
                   modules=with_voices(**{voice: voice_values}))


def exported(pattern: Pattern, bars: int = 1) -> mido.MidiFile:
    return export_midi([midiexport.bars_entry(pattern, bars)])
