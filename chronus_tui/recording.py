"""Where a recording of the set goes and what it is called (control process, no pyo).

The synth process writes the file (synth/graph.py, Recorder); the Session picks its path
here and keeps the recording going across engine restarts, each new engine writing the
next part (`<name>-part2.wav`, …). A name from outside (OSC) is hostile: only a plain
file name is taken, never a path, a hidden name or a link, and no file is ever written over.
"""

from __future__ import annotations

import os
import stat
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import platformdirs

RECORDINGS_FOLDER = "recordings"
NAME_MAX = 64  # characters of a name, before ".wav"
_REFUSED = set('/\\:*?"<>|')


class RecordingError(ValueError):
    """A recording could not be started: a bad name or a folder that cannot hold it."""


@dataclass
class Recording:
    """The recording in progress: its first file, and the part the engine now writes."""

    first: Path
    path: Path
    part: int = 1
    started: float | None = None  # time.monotonic() when the current part's first frame sounded
    earlier: float = 0.0  # seconds of audio in the parts before it
    held: float = 0.0  # seconds the current part recorded before its engine went down
    sent: bool = False  # an engine was asked to record the current part

    def seconds(self) -> float:
        """The audio recorded: no time counts while no engine records."""
        running = 0.0 if self.started is None else time.monotonic() - self.started
        return self.earlier + self.held + running

    def engine_down(self) -> None:
        """The engine recording the current part died: its time stops until the next part."""
        if self.started is not None:
            self.held += time.monotonic() - self.started
            self.started = None

    def as_dict(self) -> dict[str, object]:
        return {"recording": True, "file": str(self.path), "part": self.part,
                "seconds": round(self.seconds(), 1), "waiting": self.started is None}


def recordings_folder(patterns_root: Path) -> Path:
    """Beside the default patterns folder in the user data folder, else inside the patterns
    folder --patterns-dir or $CHRONUS_PATTERNS_DIR names (as the journal decides)."""
    data = platformdirs.user_data_path("chronus")
    if patterns_root == data / "patterns":
        return data / RECORDINGS_FOLDER
    return patterns_root / RECORDINGS_FOLDER


def check_name(name: str) -> str:
    """A plain file name (".wav" taken off), else RecordingError."""
    if not isinstance(name, str):
        raise RecordingError(f"a recording's name must be text, not {type(name).__name__}")
    stem = name[:-4] if name.lower().endswith(".wav") else name
    if not stem or len(stem) > NAME_MAX:
        raise RecordingError(f"a recording's name must have 1–{NAME_MAX} characters")
    if stem.startswith(".") or any(c in _REFUSED or not c.isprintable() for c in stem):
        raise RecordingError(f"{name!r} is not a plain file name (no folders, no leading '.', "
                             f"none of {''.join(sorted(_REFUSED))}, no control characters)")
    return stem


def new_path(folder: Path, stem: str) -> Path:
    """`<stem>.wav` in `folder` (made if need be), or `<stem>-2.wav`, … : never a file that
    exists, and never in a folder that is a link."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            raise RecordingError(f"{folder} is not a folder (a link is not followed)")
    except OSError as exc:
        raise RecordingError(f"the recordings folder {folder} cannot be made: "
                             f"{exc.strerror or exc}") from None
    path, n = folder / f"{stem}.wav", 1
    while os.path.lexists(path):
        n += 1
        path = folder / f"{stem}-{n}.wav"
    return path


def start(folder: Path, name: str | None = None) -> Recording:
    """A new recording named `name`, else `chronus-YYYYMMDD-HHMMSS`."""
    stem = check_name(name) if name is not None else time.strftime("chronus-%Y%m%d-%H%M%S")
    return Recording(first=(path := new_path(folder, stem)), path=path)


def next_part(recording: Recording) -> None:
    """The engine restarted: its recording goes on in the next part's file (the part the
    dead engine left gets the header it could not write, and counts for what it holds)."""
    on_disk = repair_header(recording.path)
    recording.engine_down()
    recording.earlier += recording.held if on_disk is None else on_disk
    recording.held = 0.0
    recording.part += 1
    recording.path = new_path(recording.first.parent, f"{recording.first.stem}-part{recording.part}")


def repair_header(path: Path) -> float | None:
    """Make a WAV whose writer died (its header still says no data) say how much data it
    holds: the whole frames on the disk; returns their seconds. Leaves anything that is not
    such a WAV alone (None)."""
    try:
        with open(path, "r+b") as wav:
            head = wav.read(12)
            if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            frame = rate = 0
            while (chunk := wav.read(8)) and len(chunk) == 8:
                name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if name == b"fmt ":
                    fmt = wav.read(size)
                    rate, _, frame = struct.unpack("<IIH", fmt[4:14])
                    wav.seek(size & 1, os.SEEK_CUR)
                elif name == b"data":
                    break
                else:
                    wav.seek(size + (size & 1), os.SEEK_CUR)
            else:
                return None
            if not frame or not rate:
                return None
            start = wav.tell()
            data = (os.fstat(wav.fileno()).st_size - start) // frame * frame
            wav.truncate(start + data)
            wav.seek(start - 4)
            wav.write(struct.pack("<I", data))
            wav.seek(4)
            wav.write(struct.pack("<I", start + data - 8))
            return data / frame / rate
    except (OSError, struct.error):
        return None  # a part that cannot be mended stays as it is: the next one is what matters
