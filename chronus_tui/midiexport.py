"""Standard MIDI File export: patterns played back to back → a type 1 SMF (mido). No pyo, no I/O
but the atomic file writers at the end.

What is exported is what the engine plays (chronus_tui/synth/sequencer.py):
- a step starts on its swung position (timing.step_boundary, the engine's own function) at
  480 ticks per quarter, so a 16th is 120 ticks; a track of length L plays step n mod L;
- entries follow one another as a chain plays them: each for its own number of steps (a
  12-step pattern three times is 36 steps, not whole bars), the next one's step 0 on the step
  after; the swung grid runs on through them (after an odd number of steps the next entry
  starts on an odd, late step, as the engine's clock does), each entry's tempo at its tick;
- which steps play is trigs.decide's answer (probability, conditions), counted from the
  entry's start with fill off, as the engine counts from a pattern's start; a step's hits fall
  at trigs.hit_offsets from its grid position (micro-timing, ratchets), rounded to the tick;
  a hit before the entry's first step moves onto it, one at or after the entry's end is not
  played (the next pattern, or the end of the file, has come), and a pattern exported alone
  plays its next step's hits that come before its end (as a render of N bars does); ratchet
  hits 2..n at or after the first hit of a later played step of the track are dropped, and
  so is a hit within HIT_GAP_SECONDS after the track's hit before it (or on its tick);
- a hit lasts its track's gate of its span (a step / its ratchets) and ends by the track's
  next hit; a slid step's last hit is held until the next hit, which it overlaps by
  SLIDE_OVERLAP ticks (legato), or runs on into as one note when both have the same pitch
  (the engine does not retrigger);
- velocity follows the engine's gate level: an accent plays at full level and a plain hit at
  PLAIN_VELOCITY of it, times the track's level and a step's amp lock over its voice's amp
  (capped as the engine caps it: a lock raises a hit at most to 1 / PLAIN_VELOCITY of its
  level, a plain hit to an accent's); full level is velocity 127, and a hit locked to amp 0
  is silent (no note). Other parameter locks are sound, not notes, and are not exported;
- muted tracks, tracks silenced by another's solo and tracks at level 0 export no notes;
- the channel is the track's voice (voice1 → channel 1 …); a voice on a noise waveform is a
  drum: channel 10, and a hit without a note plays the GM drum note its track's name (or the
  voice's filter frequency) suggests;
- a note's fine tune (cents) is a pitch bend (±2 semitones range) before the note, back to 0
  once the track's notes on that channel have ended.
"""

from __future__ import annotations

import math
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import mido

from chronus_tui.model import (
    BPM_RANGE,
    STEPS_PER_BAR,
    VOICES,
    WAVEFORMS,
    Pattern,
    Step,
    Track,
    hz_to_midi,
)
from chronus_tui.timing import step_boundary
from chronus_tui.trigs import TrigState, decide, hit_level, hit_offsets

TICKS_PER_BEAT = 480
TICKS_PER_STEP = TICKS_PER_BEAT // 4  # a step is a 16th
TICKS_PER_BAR = TICKS_PER_STEP * STEPS_PER_BAR
BARS_RANGE = (1, 1024)
STEPS_RANGE = (1, BARS_RANGE[1] * STEPS_PER_BAR)  # one entry's length
FULL_VELOCITY = 127  # the velocity of a hit at full level (an accent on a track at level 1)
SLIDE_OVERLAP = 30  # ticks a slid note sounds on into the next one (a 64th): legato, as a 303's slide
HIT_GAP_SECONDS = 32 / 48000  # the engine drops a hit this soon after its track's last (32 samples at 48 kHz)
BEND_RANGE_CENTS = 200.0  # the GM default pitch bend range, ±2 semitones
BEND_LIMIT = 8191
DRUM_CHANNEL = 9  # MIDI channel 10
NOISE_WAVEFORMS = frozenset(WAVEFORMS.index(name) for name in ("white", "pink", "brown"))
# GM drum notes by what a track's name says it is, first match wins (words, or parts of words)
GM_KICK, GM_SNARE, GM_CLAP, GM_CLOSED_HAT, GM_OPEN_HAT = 36, 38, 39, 42, 46
_DRUM_NAMES = (
    (re.compile(r"open.*(hat|hh)|(hat|hh).*open|\boh\b"), GM_OPEN_HAT),
    (re.compile(r"kick|\bbd\b"), GM_KICK),
    (re.compile(r"clap|\bcp\b"), GM_CLAP),
    (re.compile(r"snare|\bsd\b"), GM_SNARE),
    (re.compile(r"hat|\bhh\b"), GM_CLOSED_HAT),
)
# else by the voice's filter: below these frequencies (Hz) a kick, a snare, else a hat
_DRUM_FILTERS = ((300.0, GM_KICK), (3000.0, GM_SNARE))
EXPORTS_FOLDER = "exports"
NAME_MAX = 64  # characters of an export's name, before ".mid"
_REFUSED = set('/\\:*?"<>|')


class ExportError(ValueError):
    """An export cannot be made: a bad length, tempo or name, or a file that cannot be written."""


@dataclass(frozen=True)
class ExportEntry:
    """A pattern played for `steps` steps from its step 0, which falls on the step after the
    entry before it; `bpm` is its tempo (default: the pattern's). One that `runs_on` is not
    followed by another pattern but stopped, as a render of N bars stops: a hit of its next
    step early enough to come before its end sounds (in a chain the next entry starts there)."""

    pattern: Pattern
    steps: int
    bpm: float | None = None
    runs_on: bool = False

    @property
    def tempo(self) -> float:
        return self.pattern.bpm if self.bpm is None else self.bpm


@dataclass
class _Note:
    start: int
    end: int
    pitch: int
    velocity: int
    channel: int
    bend: int


def default_bars(pattern: Pattern) -> int:
    """The longest track's length in whole bars, at least 1."""
    longest = max((track.length for track in pattern.tracks), default=1)
    return max(1, -(-longest // STEPS_PER_BAR))


def bars_entry(pattern: Pattern, bars: int | None = None) -> ExportEntry:
    """One pattern for `bars` whole bars (checked; default: default_bars), as a single
    pattern is exported."""
    return ExportEntry(pattern, check_bars(default_bars(pattern) if bars is None else bars) * STEPS_PER_BAR,
                       runs_on=True)


def check_bars(bars: object) -> int:
    low, high = BARS_RANGE
    if isinstance(bars, bool) or not isinstance(bars, int) or not low <= bars <= high:
        raise ExportError(f"bars: {bars!r} is not a whole number {low}–{high}")
    return bars


def check_steps(steps: object) -> int:
    low, high = STEPS_RANGE
    if isinstance(steps, bool) or not isinstance(steps, int) or not low <= steps <= high:
        raise ExportError(f"steps: {steps!r} is not a whole number {low}–{high}")
    return steps


def export_midi(entries: Sequence[ExportEntry]) -> mido.MidiFile:
    """The entries back to back as a type 1 SMF: a tempo track, then one track per Chronus
    track name (in the order they first appear), each with its notes from every entry."""
    if not entries:
        raise ExportError("nothing to export")
    for entry in entries:
        check_steps(entry.steps)
        if not BPM_RANGE[0] <= entry.tempo <= BPM_RANGE[1]:
            raise ExportError(f"bpm: {entry.tempo!r} is out of range {BPM_RANGE[0]:g}–{BPM_RANGE[1]:g}")
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    tempo: list[tuple[int, mido.MetaMessage]] = [
        (0, mido.MetaMessage("track_name", name=entries[0].pattern.name)),
        (0, mido.MetaMessage("time_signature", numerator=4, denominator=4)),
    ]
    notes: dict[str, list[_Note]] = {}
    exact, first, bpm = 0.0, 0, None  # the entry's start: its tick (unrounded) and global step
    end = 0  # the last entry's end tick
    for entry in entries:
        swing = entry.pattern.swing
        zero = exact - step_boundary(first, swing) * TICKS_PER_STEP  # global step 0 on this grid
        if entry.tempo != bpm:
            bpm = entry.tempo
            tempo.append((round(exact), mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))))
        exact = zero + step_boundary(first + entry.steps, swing) * TICKS_PER_STEP
        end = round(exact)
        soloing = any(track.solo for track in entry.pattern.tracks)
        grid = _Grid(zero, first, swing, end,
                     HIT_GAP_SECONDS * bpm / 60 * TICKS_PER_BEAT)
        played_steps = _played(entry.pattern, entry.steps + entry.runs_on)
        for track, played in zip(entry.pattern.tracks, played_steps, strict=True):
            heard = not track.mute and (track.solo or not soloing) and track.level > 0
            found = _track_notes(entry.pattern, track, _hits(track, played, grid), end) if heard else []
            notes.setdefault(track.name, []).extend(found)
        first += entry.steps
    midi.tracks.append(_track(tempo, end))
    for name, track_notes in notes.items():
        midi.tracks.append(_track([(0, mido.MetaMessage("track_name", name=name)),
                                   *_note_events(track_notes)], end))
    return midi


@dataclass(frozen=True)
class _Grid:
    """Where one entry's steps fall: its count 0 is global step `first`, `zero` the tick of
    global step 0 on its swung grid, `end` its end tick; `gap` is HIT_GAP_SECONDS in ticks at
    its tempo."""

    zero: float
    first: int
    swing: float
    end: int
    gap: float

    @property
    def start(self) -> float:
        """The tick of its count 0."""
        return self.zero + step_boundary(self.first, self.swing) * TICKS_PER_STEP

    def tick(self, count: int, offset: float = 0.0) -> float:
        """The exact tick `offset` steps after step `count`'s grid position."""
        return self.zero + (step_boundary(self.first + count, self.swing) + offset) * TICKS_PER_STEP


@dataclass(slots=True)
class _Hit:
    at: float  # its exact tick
    step: Step
    slides: bool  # held until the track's next hit, which glides from it (a slid step's last hit)
    cut: float = 0.0  # the next hit's tick (or the end), even one dropped as too soon: its gate closes by it


def _played(pattern: Pattern, steps: int) -> list[list[bool]]:
    """For each track, whether its step plays at each count of an entry of `steps` steps:
    trigs.decide from a fresh state at the pattern's start, with fill off."""
    state = TrigState()
    rows: list[list[bool]] = [[] for _ in pattern.tracks]
    for count in range(steps):
        plays, state = decide(pattern.tracks, count, pattern.seed, False, state)
        for row, plays_now in zip(rows, plays, strict=True):
            row.append(plays_now)
    return rows


def _hits(track: Track, played: list[bool], grid: _Grid) -> list[_Hit]:
    """The track's hits in one entry, in time order, by the engine's rules (module docstring)."""
    counts = [count for count, plays in enumerate(played) if plays]
    steps = [track.steps[count % track.length] for count in counts]
    start = grid.start  # nothing plays before it: an earlier hit is moved onto it
    ticks = [[max(grid.tick(count, offset), start) for offset in hit_offsets(step)]
             for count, step in zip(counts, steps, strict=True)]
    hits: list[_Hit] = []
    later = math.inf  # the earliest first hit of the steps after this one
    for step, step_ticks in reversed(list(zip(steps, ticks, strict=True))):
        last = len(step_ticks) - 1
        hits.extend(_Hit(at, step, step.slide and j == last) for j, at in enumerate(step_ticks)
                    if (j == 0 or at < later) and round(at) < grid.end)  # ratchets stop at a later step
        later = min(later, step_ticks[0])
    hits.sort(key=lambda hit: hit.at)
    kept: list[_Hit] = []
    for i, hit in enumerate(hits):
        if kept and (hit.at - kept[-1].at < grid.gap or round(hit.at) == round(kept[-1].at)):
            continue
        hit.cut = hits[i + 1].at if i + 1 < len(hits) else grid.end
        kept.append(hit)
    return kept


def _track_notes(pattern: Pattern, track: Track, hits: list[_Hit], end: int) -> list[_Note]:
    """The notes of one track's hits (in time order) up to tick `end`."""
    voice = pattern.modules[track.voice]
    drum = round(voice["osc/type"]) in NOISE_WAVEFORMS
    channel = DRUM_CHANNEL if drum else VOICES.index(track.voice)
    notes: list[_Note] = []
    sounding: _Note | None = None  # the note of the hit before, if it had one
    for i, hit in enumerate(hits):
        step, on = hit.step, round(hit.at)
        following = round(hits[i + 1].at) if i + 1 < len(hits) else end  # the next hit's tick
        pitch, bend = _pitch(step, track, voice, drum)
        velocity = _velocity(step, track, voice)
        glides = i > 0 and hits[i - 1].slides and sounding is not None and velocity > 0  # (not into silence)
        if glides and (sounding.pitch, sounding.bend) == (pitch, bend):
            note = sounding  # the engine glides to the same pitch without a new attack
        else:
            if glides:
                sounding.end = min(on + SLIDE_OVERLAP, following)
            if not velocity:
                sounding = None
                continue
            note = _Note(on, on, pitch, velocity, channel, bend)
            notes.append(note)
        # the gate's share of the hit's span (a step / its ratchets), closed by the next hit
        gate = round(track.gate * TICKS_PER_STEP / step.ratchet)
        note.end = following if hit.slides else max(on + 1, min(on + gate, following, round(hit.cut)))
        sounding = note
    return notes


def _pitch(step: Step, track: Track, voice: dict[str, float], drum: bool) -> tuple[int, int]:
    """The MIDI note of a hit and its pitch bend."""
    if step.note is not None:
        bend = 0 if drum else round(step.cents * (BEND_LIMIT + 1) / BEND_RANGE_CENTS)
        return step.note, max(-BEND_LIMIT - 1, min(bend, BEND_LIMIT))
    if drum:
        return drum_note(track.name, voice["filter/freq"]), 0
    return hz_to_midi(voice["freq"]), 0


def drum_note(name: str, filter_freq: float) -> int:
    """The GM drum note a noise track's hit without a note plays: by its name, else by its filter."""
    lowered = name.lower().replace("_", " ").replace("-", " ")
    for pattern, note in _DRUM_NAMES:
        if pattern.search(lowered):
            return note
    return next((note for below, note in _DRUM_FILTERS if filter_freq < below), GM_CLOSED_HAT)


def _velocity(step: Step, track: Track, voice: dict[str, float]) -> int:
    """A hit's velocity, 1–127; 0 for a hit locked to amp 0 (silent: no note, but a hit)."""
    level = hit_level(step, voice["amp"]) * track.level  # as the engine plays it
    if level == 0 and "amp" in step.locks and voice["amp"] > 0:  # locked silent: a hit, no note
        return 0
    return max(1, min(round(FULL_VELOCITY * level), FULL_VELOCITY))


def _note_events(notes: list[_Note]) -> list[tuple[int, mido.Message]]:
    """Note on/off and pitch bend messages at absolute ticks: at one tick, ends before starts;
    a bend is sent before a note that needs another, and reset once the track's notes on that
    channel have all ended."""
    points = sorted([(note.end, 0, i) for i, note in enumerate(notes)]
                    + [(note.start, 1, i) for i, note in enumerate(notes)])
    sounding: dict[int, int] = {}
    bends: dict[int, int] = {}
    events: list[tuple[int, mido.Message]] = []
    for tick, starts, i in points:
        note = notes[i]
        channel = note.channel
        if starts:
            if note.bend != bends.get(channel, 0):
                bends[channel] = note.bend
                events.append((tick, mido.Message("pitchwheel", channel=channel, pitch=note.bend)))
            events.append((tick, mido.Message("note_on", channel=channel, note=note.pitch,
                                              velocity=note.velocity)))
            sounding[channel] = sounding.get(channel, 0) + 1
            continue
        events.append((tick, mido.Message("note_off", channel=channel, note=note.pitch, velocity=0)))
        sounding[channel] -= 1
        if not sounding[channel] and bends.get(channel, 0):
            bends[channel] = 0
            events.append((tick, mido.Message("pitchwheel", channel=channel, pitch=0)))
    return events


def _track(events: list[tuple[int, mido.Message | mido.MetaMessage]], end: int) -> mido.MidiTrack:
    """A track of events at absolute ticks (already in order), ending at tick `end`."""
    track = mido.MidiTrack()
    now = 0
    for tick, message in events:
        message.time = tick - now  # each message is made for this track alone
        track.append(message)
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=end - now))
    return track


def note_count(midi: mido.MidiFile) -> int:
    return sum(message.type == "note_on" for track in midi.tracks for message in track)


# -- writing ------------------------------------------------------------------------------


def exports_folder(data_folder: Path) -> Path:
    return data_folder / EXPORTS_FOLDER


def export_file_name(name: object) -> str:
    """`<name>.mid` for a plain file name from outside (".mid" added if missing), else ExportError."""
    if not isinstance(name, str):
        raise ExportError(f"an export's name must be text, not {type(name).__name__}")
    stem = name[:-4] if name.lower().endswith(".mid") else name
    if not stem or len(stem) > NAME_MAX:
        raise ExportError(f"an export's name must have 1–{NAME_MAX} characters")
    if stem.startswith(".") or any(c in _REFUSED or not c.isprintable() for c in stem):
        raise ExportError(f"{name!r} is not a plain file name (no folders, no leading '.', "
                          f"none of {''.join(sorted(_REFUSED))}, no control characters)")
    return f"{stem}.mid"


def save(midi: mido.MidiFile, path: Path) -> None:
    """Write the file atomically (a temporary file beside it, then a rename): a reader sees
    the old file or the whole new one. The folder is the user's choice: a link to it is followed."""
    try:
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    _save_in(midi, folder, path.name, path)


def save_export(midi: mido.MidiFile, folder: Path, name: str) -> Path:
    """`<name>.mid` in `folder` (made if need be), replaced atomically; the name comes from the
    network, so only a plain file name is taken, and a folder that is a link is refused."""
    path = folder / export_file_name(name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # O_NOFOLLOW: a link put in the folder's place cannot send the file elsewhere
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise ExportError(f"the exports folder {folder} cannot be used (a link is not followed): "
                          f"{exc.strerror or exc}") from None
    _save_in(midi, descriptor, path.name, path)
    return path


def _save_in(midi: mido.MidiFile, folder: int, name: str, path: Path) -> None:
    """Write `name` in the open folder `folder` through a new temporary file (never a link)."""
    temp = f".{name}.{secrets.token_hex(4)}.tmp"
    try:
        descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644,
                             dir_fd=folder)
        try:
            with os.fdopen(descriptor, "wb") as file:
                midi.save(file=file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            os.unlink(temp, dir_fd=folder)
            raise
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        os.close(folder)
