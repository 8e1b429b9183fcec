"""SlotStore: numbered slot files with atomic, durable saves and bounded backups.

Files only: knows nothing of pyo, Textual or the Session. Layout (DESIGN.md §4):
`slots/slot_001.json` … `slot_128.json`, `slot_000.json` the autosave,
`backups/slot_NNN/` the previous versions, `temp/` the staging area, `library/`
named user patterns. The factory library ships inside the package.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import stat
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import platformdirs

from chronus_tui import patternfile
from chronus_tui.model import Pattern, PatternError

BANKS = "ABCDEFGH"  # 8 banks of 16 pads, as on the hardware this workflow comes from
PADS = 16
SLOT_COUNT = len(BANKS) * PADS
AUTOSAVE_SLOT = 0
MAX_BACKUPS = 10
STALE_TEMP_SECONDS = 60.0  # a save takes milliseconds; an older temp file is a crash's leftover
_unique = itertools.count()


class StoreError(Exception):
    """A slot could not be read or written; the message says which and why."""


@dataclass(frozen=True)
class SlotInfo:
    slot: int
    path: Path
    name: str | None = None
    bpm: float | None = None
    tracks: int | None = None
    saved_at: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"slot": self.slot, "name": self.name, "bpm": self.bpm, "tracks": self.tracks,
                "saved_at": self.saved_at, "error": self.error, "path": str(self.path)}


def default_root() -> Path:
    """--patterns-dir is handled by the caller; then $CHRONUS_PATTERNS_DIR, then platformdirs."""
    env = os.environ.get("CHRONUS_PATTERNS_DIR")
    if env:
        return Path(env).expanduser()
    return platformdirs.user_data_path("chronus") / "patterns"


def check_slot(slot: object, what: str = "slot") -> int:
    """A slot number 0–128 (0 is the autosave), else StoreError."""
    if isinstance(slot, bool) or not isinstance(slot, int) or not (AUTOSAVE_SLOT <= slot <= SLOT_COUNT):
        raise StoreError(f"{what} {slot!r} is not a slot number ({AUTOSAVE_SLOT}–{SLOT_COUNT})")
    return slot


def slot_label(slot: int) -> str:
    """Bank and pad of a slot, as on the hardware: 1 → A01, 16 → A16, 17 → B01; 0 is the autosave."""
    if slot == AUTOSAVE_SLOT:
        return "autosave"
    return f"{BANKS[(slot - 1) // PADS]}{(slot - 1) % PADS + 1:02d}"


def parse_slot(text: str) -> int | None:
    """A slot number from "B05", "b5" or "21" (the inverse of slot_label); None if it is not one."""
    text = text.strip().upper()
    if text.isdigit():
        slot = int(text)
    elif len(text) >= 2 and text[0] in BANKS and text[1:].isdigit() and 1 <= int(text[1:]) <= PADS:
        slot = BANKS.index(text[0]) * PADS + int(text[1:])
    else:
        return None
    return slot if 1 <= slot <= SLOT_COUNT else None


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SlotStore:
    def __init__(self, root: Path | str | None = None, *, max_backups: int = MAX_BACKUPS) -> None:
        self.root = Path(root) if root is not None else default_root()
        self.slots_dir = self.root / "slots"
        self.backups_dir = self.root / "backups"
        self.temp_dir = self.root / "temp"
        self.library_dir = self.root / "library"
        self.max_backups = max_backups
        self._prune_lock = threading.Lock()
        try:
            for folder in (self.slots_dir, self.backups_dir, self.temp_dir, self.library_dir):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot use patterns folder {self.root}: {exc.strerror or exc}") from exc
        self._clean_temp()
        # A save killed between keeping its backup and pruning leaves one too many.
        for folder in self.backups_dir.glob("slot_*"):
            self._prune_backups(folder.name)

    def _clean_temp(self) -> None:
        """Staging files left by a crash are never a slot's only copy: drop them. One whose
        writer still runs may be another chronus (`chronus slots` beside the UI) in the
        middle of a save, so it stays unless it is too old to be one."""
        now = time.time()
        for stale in self.temp_dir.glob("*.tmp"):
            with contextlib.suppress(OSError):
                if _writer_alive(stale.name) and now - stale.stat().st_mtime < STALE_TEMP_SECONDS:
                    continue
                stale.unlink()

    def slot_path(self, slot: int) -> Path:
        return self.slots_dir / f"slot_{check_slot(slot):03d}.json"

    # -- saving ---------------------------------------------------------------

    def save(self, slot: int, snapshot: dict[str, Any], *, name: str | None = None) -> Path:
        """Write a session snapshot to a slot atomically and durably; return its path.

        Old file kept in backups/, new text staged in temp/ and fsynced, then
        os.replace'd into slots/ and the folder fsynced: a crash at any moment
        leaves the old or the new file, never a torn one. On error the old file
        is untouched and StoreError says why.
        """
        target = self.slot_path(slot)
        data = {**snapshot, "saved_at": now_iso()}
        if name is not None:
            data["name"] = name
        self._write_atomic(target, _validated_text(data, f"slot {slot}"), f"slot {slot}")
        return target

    def _write_atomic(self, target: Path, payload: bytes, label: str) -> None:
        temp = self.temp_dir / f"{target.stem}.{os.getpid()}.{threading.get_ident()}.{next(_unique)}.tmp"
        try:
            fd = self._recycled_backup(target.stem, temp)
            if fd is None:
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view):]
                os.ftruncate(fd, len(payload))  # a reused file may have been longer
                os.fsync(fd)
            finally:
                os.close(fd)
            self._backup(target)
            os.replace(temp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise StoreError(f"{label}: not saved, the old file is unchanged: "
                             f"{exc.strerror or exc} ({exc.filename or target})") from exc
        try:
            _fsync_dir(target.parent)
        except OSError as exc:  # the new file is in place; only its durability is in doubt
            raise StoreError(f"{label}: saved, but the folder could not be synced to disk: "
                             f"{exc.strerror or exc}") from exc
        self._prune_backups(target.stem)

    def _recycled_backup(self, stem: str, temp: Path) -> int | None:
        """The oldest backup moved to `temp` and opened for overwriting, when the slot
        already keeps all the backups it may (this save would prune that one); else None.

        Freeing one file's blocks and allocating another's is most of a save's disk time
        on ext4 (about 1.2 of 1.8 ms, measured on a busy machine); overwriting a file in
        place costs neither. Only a file with no other name is reused: a save killed between keeping
        its backup and the replace leaves a backup that IS the slot file. (A save that
        then fails has used up that oldest backup, which it would have pruned anyway.)
        """
        folder = self.backups_dir / stem
        with self._prune_lock:
            try:
                names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
            except OSError:
                return None
            if not names or len(names) < self.max_backups:
                return None
            try:
                os.rename(folder / names[0], temp)
            except OSError:  # pruned by another process: stage a new file instead
                return None
        try:
            fd = os.open(temp, os.O_WRONLY)
        except OSError:
            return None
        info = os.fstat(fd)
        if info.st_nlink == 1 and stat.S_ISREG(info.st_mode):
            return fd
        os.close(fd)
        os.unlink(temp)  # drops only this name; the file lives on under its other one
        return None

    def _backup(self, target: Path) -> None:
        """Keep the file about to be replaced: a hard link costs no copy."""
        folder = self.backups_dir / target.stem
        folder.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        backup = folder / f"{stamp}-{os.getpid()}-{next(_unique):08d}.json"
        try:
            os.link(target, backup)
        except FileNotFoundError:
            return  # first save of this slot: nothing to keep

    def _prune_backups(self, stem: str) -> None:
        folder = self.backups_dir / stem
        with self._prune_lock:
            try:
                names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
                for old in names[: max(0, len(names) - self.max_backups)]:
                    (folder / old).unlink(missing_ok=True)
            except OSError:
                pass  # a backup we could not prune is harmless

    def backups(self, slot: int) -> list[Path]:
        return sorted((self.backups_dir / self.slot_path(slot).stem).glob("*.json"))

    def rename(self, slot: int, name: str) -> Path:
        pattern = self.load(slot)
        return self.save(slot, patternfile.pattern_to_dict(pattern), name=name)

    # -- loading --------------------------------------------------------------

    def exists(self, slot: int) -> bool:
        return self.slot_path(slot).is_file()

    def load(self, slot: int, *, dropped: list[str] | None = None) -> Pattern:
        path = self.slot_path(slot)
        if not path.exists():
            raise StoreError(f"slot {slot} is empty")
        return load_file(path, label=f"slot {slot}", dropped=dropped)

    def list(self) -> list[SlotInfo]:
        """Every slot file, readable or not, in slot order; never stops at a bad file."""
        infos = []
        for slot in range(AUTOSAVE_SLOT, SLOT_COUNT + 1):
            path = self.slots_dir / f"slot_{slot:03d}.json"
            if not path.exists():
                continue
            try:
                pattern = load_file(path, label=f"slot {slot}")
            except StoreError as exc:
                infos.append(SlotInfo(slot, path, error=str(exc)))
                continue
            infos.append(SlotInfo(slot, path, pattern.name, pattern.bpm, len(pattern.tracks),
                                  pattern.saved_at))
        return infos

    # -- library --------------------------------------------------------------

    def library(self) -> dict[str, Path]:
        """Named patterns: the factory library, then the user's (which wins on a clash)."""
        found = {path.stem: Path(str(path)) for path in factory_patterns()}
        found.update({path.stem: path for path in sorted(self.library_dir.glob("*.json"))})
        return found

    def load_library(self, name: str) -> Pattern:
        path = self.library().get(name)
        if path is None:
            raise StoreError(f"no library pattern named {name!r}")
        return load_file(path, label=f"library {name}")

    def save_library(self, name: str, snapshot: dict[str, Any]) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name.strip()).strip("-")
        if not safe:
            raise StoreError(f"{name!r} is not a usable pattern name")
        data = {**snapshot, "name": name, "saved_at": now_iso()}
        target = self.library_dir / f"{safe}.json"
        self._write_atomic(target, _validated_text(data, f"library {name}"), f"library {name}")
        return target

    def resolve(self, source: str, *, dropped: list[str] | None = None) -> Pattern:
        """A pattern named on the command line: a slot number, a pattern file, or a library name.

        Fields of an original Music Chronus file with no place here are appended to `dropped`.
        """
        text = str(source).strip()
        if text.isdigit():
            return self.load(check_slot(int(text)), dropped=dropped)
        path = Path(text).expanduser()
        if path.is_file():
            return load_file(path, dropped=dropped)
        if text in self.library():
            return self.load_library(text)
        raise StoreError(f"{source!r} is not a slot number (0–{SLOT_COUNT}), a pattern file, "
                         f"or a library name (known: {', '.join(sorted(self.library())) or 'none'})")


def factory_patterns() -> list[Path]:
    """The pattern files shipped in the package (the repository's top-level patterns/)."""
    folder = resources.files("chronus_tui.patterns")
    return sorted((Path(str(p)) for p in folder.iterdir() if p.name.endswith(".json")),
                  key=lambda p: p.name)


def _validated_text(data: dict[str, Any], label: str) -> bytes:
    """The file text of a snapshot, validated before anything touches the disk (a bad
    snapshot must not replace a good slot) and written from the validated pattern, so a
    file always holds every parameter in the one canonical layout."""
    try:
        pattern = patternfile.pattern_from_dict(data)
    except PatternError as exc:
        raise StoreError(f"{label}: not saved: {exc}") from exc
    return patternfile.dumps(patternfile.pattern_to_dict(pattern)).encode("utf-8")


def load_file(path: Path, *, label: str | None = None, dropped: list[str] | None = None) -> Pattern:
    """A Pattern from a file of this format or the original's; StoreError names the bad field."""
    label = label or str(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise StoreError(f"{label}: cannot read: {exc.strerror or exc}") from exc
    try:
        return patternfile.loads(raw, dropped=dropped)
    except PatternError as exc:
        raise StoreError(f"{label}: {exc}") from exc


def _writer_alive(name: str) -> bool:
    """Whether the process that staged this temp file (slot_NNN.PID.thread.n.tmp) still runs."""
    try:
        pid = int(name.split(".")[1])
    except (IndexError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

