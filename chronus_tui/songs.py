"""The song file format: a named chain whose entries may set the tempo and mute tracks.

`songs/<name>.json` in the patterns folder (store.py writes and reads it, atomically and
with backups, as it does slots):

    {"format": "chronus-song", "schema": 1, "name": "verse", "loop": true,
     "entries": [{"slot": "A01", "repeats": 4, "bpm": 128.0, "mute": ["hat"]}],
     "saved_at": "2026-12-03T12:00:00.000000Z"}

`bpm` and `mute` are optional: left out, the entry plays its slot's own tempo and mutes; a
`mute` list is the whole set of muted tracks (`[]` unmutes every one). Reading checks every
field and names the bad one (`entries[3].repeats: 0 is out of range 1–64`). A song is known
by its file's name, so a song's name is a plain file name: one name, one file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chronus_tui import patternfile
from chronus_tui.chain import MAX_ENTRIES, REPEATS_RANGE, Chain, ChainEntry, play_steps
from chronus_tui.model import (
    BPM_RANGE,
    MAX_NAME,
    MAX_TRACKS,
    STEPS_PER_BAR,
    Pattern,
    PatternError,
    check_name,
    fmt_range,
)
from chronus_tui.patternfile import _expect_keys, check_header
from chronus_tui.store import SLOT_COUNT, StoreError, file_stem, parse_slot, slot_label
from chronus_tui.timing import step_samples

FORMAT = "chronus-song"
SCHEMA = 1


@dataclass(frozen=True)
class Song:
    name: str
    chain: Chain
    saved_at: str | None = None


@dataclass(frozen=True)
class SongInfo:
    """A song file as `chronus songs` and /song/list show it: its length when every slot it
    plays can be read (bars and seconds, each entry at its own tempo), else the slots missing."""

    name: str
    path: Path
    entries: int | None = None
    loop: bool | None = None
    bars: float | None = None
    seconds: float | None = None
    missing: tuple[str, ...] = ()  # slots it plays that are empty or unreadable
    saved_at: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "entries": self.entries, "loop": self.loop, "bars": self.bars,
                "seconds": self.seconds, "missing": list(self.missing), "saved_at": self.saved_at,
                "error": self.error, "path": str(self.path)}


def check_song_name(value: object, what: str = "song name") -> str:
    """A name that is its own file name: 1–32 letters, digits, - and _ (as a library name's
    file is made), so two names are never one file."""
    name = check_name(value, what)
    if file_stem(name) != name:
        raise PatternError(what, f"{name!r} is not a song name: 1–{MAX_NAME} letters, digits, - or _ "
                                 "(it is the file's name)")
    return name


def song_to_dict(song: Song) -> dict[str, Any]:
    return {"format": FORMAT, "schema": SCHEMA, "name": song.name, "loop": song.chain.loop,
            "entries": [song_entry_dict(entry) for entry in song.chain.entries], "saved_at": song.saved_at}


def song_entry_dict(entry: ChainEntry) -> dict[str, Any]:
    """An entry as a song file holds it: `bpm` and `mute` only when the entry sets them."""
    data: dict[str, Any] = {"slot": slot_label(entry.slot), "repeats": entry.repeats}
    if entry.bpm is not None:
        data["bpm"] = entry.bpm
    if entry.mute is not None:
        data["mute"] = list(entry.mute)
    return data


def dumps(song: Song) -> bytes:
    """The file's text: one entry a line, so a diff of two versions shows the entries changed."""
    data = song_to_dict(song)
    head = ",\n".join(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}"
                      for key, value in data.items() if key != "entries")
    entries = ",\n".join(f"    {json.dumps(entry, ensure_ascii=False)}" for entry in data["entries"])
    return f"{{\n{head},\n  \"entries\": [\n{entries}\n  ]\n}}\n".encode()


def loads(raw: bytes, name: str) -> Song:
    """The song in a file's bytes, known as `name` (its file's); PatternError names the bad field."""
    data = patternfile.read_json(raw)
    if not isinstance(data, dict):
        raise PatternError("", f"expected a JSON object, found {type(data).__name__}")
    _expect_keys(data, "", required={"format", "schema", "name", "loop", "entries"}, optional={"saved_at"})
    _, saved_at = check_header(data, FORMAT, SCHEMA)
    check_name(data["name"], "name")  # informative: a copied file is a song of its own name
    if not isinstance(data["loop"], bool):
        raise PatternError("loop", f"{data['loop']!r} is not true or false")
    entries = data["entries"]
    if not isinstance(entries, list):
        raise PatternError("entries", "expected a list")
    if not 1 <= len(entries) <= MAX_ENTRIES:
        raise PatternError("entries", f"{len(entries)} entries; a song has 1–{MAX_ENTRIES}")
    chain = Chain(tuple(entry_from_dict(entry, f"entries[{i}]") for i, entry in enumerate(entries)),
                  data["loop"])
    return Song(name, chain, saved_at)


def entry_from_dict(data: object, path: str) -> ChainEntry:
    if not isinstance(data, dict):
        raise PatternError(path, "expected an object")
    _expect_keys(data, path, required={"slot", "repeats"}, optional={"bpm", "mute"})
    slot = data["slot"]
    number = parse_slot(slot) if isinstance(slot, str) else None
    if number is None:
        raise PatternError(f"{path}.slot", f"{slot!r} is not a slot (A01–H16, or 1–{SLOT_COUNT} as a string)")
    repeats = data["repeats"]
    low, high = REPEATS_RANGE
    if isinstance(repeats, bool) or not isinstance(repeats, int):
        raise PatternError(f"{path}.repeats", f"{repeats!r} is not a whole number")
    if not low <= repeats <= high:
        raise PatternError(f"{path}.repeats", f"{repeats} is out of range {low}–{high}")
    return ChainEntry(number, repeats, check_entry_bpm(data.get("bpm"), f"{path}.bpm"),
                      check_entry_mute(data.get("mute"), f"{path}.mute"))


def check_entry_bpm(bpm: object, path: str = "bpm") -> float | None:
    """A song entry's tempo: None (the slot's own) or a number within the tempo range."""
    if bpm is None:
        return None
    if isinstance(bpm, bool) or not isinstance(bpm, (int, float)) or not math.isfinite(bpm):
        raise PatternError(path, f"{bpm!r} is not a number")
    if not BPM_RANGE[0] <= bpm <= BPM_RANGE[1]:
        raise PatternError(path, f"{bpm:g} is out of range {fmt_range(*BPM_RANGE)}")
    return float(bpm)


def check_entry_mute(mute: object, path: str = "mute") -> tuple[str, ...] | None:
    """A song entry's muted tracks: None (as the slot has them) or track names, each once."""
    if mute is None:
        return None
    if not isinstance(mute, (list, tuple)):
        raise PatternError(path, "expected a list of track names")
    if len(mute) > MAX_TRACKS:
        raise PatternError(path, f"{len(mute)} tracks; a pattern has at most {MAX_TRACKS}")
    names = tuple(check_name(name, f"{path}[{i}]") for i, name in enumerate(mute))
    if len(set(names)) < len(names):
        raise PatternError(path, "a track is named twice")
    return names


def song_info(song: Song, path: Path, load: Callable[[int], Pattern],
              plays: dict[int, tuple[int, float] | None]) -> SongInfo:
    """The listing of a song. `plays` keeps each slot's (steps in one play, bpm) as `load` read
    it, None if it could not, for the next song listed."""
    for slot in {entry.slot for entry in song.chain.entries} - plays.keys():
        try:
            pattern = load(slot)
        except (StoreError, OSError):
            plays[slot] = None
        else:
            plays[slot] = (play_steps(pattern), pattern.bpm)
    missing = sorted({entry.slot for entry in song.chain.entries if plays[entry.slot] is None})
    bars = seconds = None
    if not missing:
        plays_at = [(entry.repeats * play[0], entry.bpm or play[1]) for entry in song.chain.entries
                    if (play := plays[entry.slot]) is not None]
        bars = round(sum(steps for steps, _ in plays_at) / STEPS_PER_BAR, 3)
        seconds = round(sum(steps * step_samples(bpm, 1) for steps, bpm in plays_at), 3)
    return SongInfo(song.name, path, len(song.chain.entries), song.chain.loop, bars, seconds,
                    tuple(slot_label(slot) for slot in missing), song.saved_at)

