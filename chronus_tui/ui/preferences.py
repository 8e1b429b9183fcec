"""The UI's own preferences (how notes are named, the launch quantize), kept in settings.json
between runs.

The file lives in `$CHRONUS_CONFIG_DIR`, else the user config folder (~/.config/chronus on
Linux). It is a convenience, never a reason to stop: a missing, unreadable, oversized or
malformed file gives the defaults and one log line, and a failed write leaves the choice
for this run (the caller says so once).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

from chronus_tui.session import QUANTUM_STEPS

log = logging.getLogger(__name__)

CONFIG_DIR_ENV = "CHRONUS_CONFIG_DIR"
SETTINGS_FILE = "settings.json"
MAX_SETTINGS_BYTES = 64 * 1024  # a few fields; anything bigger is not ours


@dataclass
class Preferences:
    flats: bool = False  # notes named Eb2 rather than D#2
    quantize: str = "bar"  # the launch quantize of loads and chain starts (session.QUANTUM_STEPS)


def config_dir() -> Path:
    """$CHRONUS_CONFIG_DIR when set, else the platform's user config folder for chronus."""
    named = os.environ.get(CONFIG_DIR_ENV)
    return Path(named) if named else platformdirs.user_config_path("chronus")


def load_preferences(directory: Path) -> Preferences:
    """The preferences in directory/settings.json; the defaults (and one log line) when the
    file is missing or is not a small JSON object of the right types."""
    path = directory / SETTINGS_FILE
    try:
        data = json.loads(_read_bounded(path))
    except FileNotFoundError:
        log.info("no %s: default preferences", path)
        return Preferences()
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: deeply nested JSON
        log.warning("%s not read, default preferences used: %s", path, exc)
        return Preferences()
    if not isinstance(data, dict):
        log.warning("%s is not a JSON object, default preferences used", path)
        return Preferences()
    preferences = Preferences()
    flats = data.get("flats", preferences.flats)
    if isinstance(flats, bool):
        preferences.flats = flats
    else:
        log.warning("%s: flats is %.40r, not true or false; sharps used", path, flats)
    quantize = data.get("quantize", preferences.quantize)
    if isinstance(quantize, str) and quantize in QUANTUM_STEPS:
        preferences.quantize = quantize
    else:
        log.warning("%s: quantize is %.40r, not one of %s; bar used", path, quantize,
                    ", ".join(QUANTUM_STEPS))
    return preferences


def _read_bounded(path: Path) -> bytes:
    """The file's bytes: a regular file of up to MAX_SETTINGS_BYTES, never a FIFO or device."""
    # O_NONBLOCK: opening a FIFO put in the file's place must not wait for a writer.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        data = file.read(MAX_SETTINGS_BYTES + 1)
    if len(data) > MAX_SETTINGS_BYTES:
        raise ValueError(f"larger than {MAX_SETTINGS_BYTES // 1024} KiB")
    return data


def save_preferences(directory: Path, preferences: Preferences) -> None:
    """Write directory/settings.json atomically (a temp file, fsynced, renamed over it):
    a crash leaves the old file or the new one. OSError when it cannot be written."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / SETTINGS_FILE
    temp = directory / f".{SETTINGS_FILE}.{os.getpid()}.tmp"
    text = json.dumps(asdict(preferences), indent=2) + "\n"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except OSError:
        with contextlib.suppress(OSError):  # a read-only folder may refuse the cleanup too
            temp.unlink()
        raise
    folder = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a power cut
    finally:
        os.close(folder)
