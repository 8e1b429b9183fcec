"""SlotStore: numbered slot files with atomic, durable saves and bounded backups.

Files only: knows nothing of pyo, Textual or the Session. Layout (docs/architecture.md, "Storage"):
`slots/slot_001.json` … `slot_128.json`, `slot_000.json` the autosave,
`backups/slot_NNN/` the previous versions, `temp/` the staging area, `library/`
named user patterns, `songs/<name>.json` the songs (songs.py: their format) with their
previous versions in `backups/songs/<name>/`. The factory library ships inside the package.

Only regular files are read, and at most MAX_FILE_BYTES of one: a FIFO, device,
folder or link in a slot's place is an error, never a hang. Nothing is written,
linked or pruned through a link or a non-regular file, and a slot file that cannot
be read is moved aside, never overwritten. Messages name files relative to the
patterns folder (they reach OSC clients).
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from chronus_tui import patternfile
from chronus_tui.model import Follow, Pattern, PatternError, excerpt

if TYPE_CHECKING:
    from chronus_tui.chain import Chain
    from chronus_tui.songs import Song, SongInfo

BANKS = "ABCDEFGH"  # 8 banks of 16 pads, as on the hardware this workflow comes from
PADS = 16
SLOT_COUNT = len(BANKS) * PADS
AUTOSAVE_SLOT = 0
MAX_BACKUPS = 10
STALE_TEMP_SECONDS = 60.0  # a save takes milliseconds; an older temp file is a crash's leftover
SPARE = ".spare"  # in a slot's backup folder: a pruned backup's file, for the next save to reuse
MAX_FILE_BYTES = 4 * 1024 * 1024  # a full 8×64 session is about 40 KB; a bigger file is no pattern
KEPT_PATTERNS = 2 * PADS  # slot patterns kept in memory: the perform strip's bank and the one before
# A file changed this shortly before it was read is not kept: a second change within the file
# system's timestamp granularity (2 s on FAT, a clock tick on older Linux) could leave its stat as
# it was, and a load from memory would then play the first version.
SETTLED_NS = 2_000_000_000
_unique = itertools.count()


class StoreError(Exception):
    """A slot could not be read or written; the message says which and why."""


@dataclass(frozen=True)
class _Kept:
    """A slot file's pattern as read, with the stat that says it is still that file."""

    version: tuple[int, ...]
    pattern: Pattern  # never handed out, only copies of it
    dropped: tuple[str, ...]


@dataclass(frozen=True)
class SlotInfo:
    slot: int
    path: Path
    name: str | None = None
    bpm: float | None = None
    tracks: int | None = None
    saved_at: str | None = None
    error: str | None = None
    follow: Follow | None = None  # the pattern's follow action

    def as_dict(self) -> dict[str, Any]:
        follow = None if self.follow is None else patternfile.follow_to_dict(self.follow)
        return {"slot": self.slot, "name": self.name, "bpm": self.bpm, "tracks": self.tracks,
                "saved_at": self.saved_at, "error": self.error, "path": str(self.path), "follow": follow}


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
    if not text.isascii():  # isdigit() also finds digits int() cannot read (² is one)
        return None
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
        self.songs_dir = self.root / "songs"  # made by the first song saved
        self.max_backups = max_backups
        self._prune_lock = threading.Lock()
        # (device, inode, size, mtime) of the files this store wrote or read whole and
        # valid: a save over one of them need not read it again to know it is not lost
        self._known_good: dict[Path, tuple[int, int, int, int]] = {}
        # The patterns of slot files read lately (most recent last), for loads with no read
        # or parse: a perform key's load must reach the engine within an audio block.
        self._kept: OrderedDict[int, _Kept] = OrderedDict()
        self._kept_lock = threading.Lock()
        try:
            for folder in (self.slots_dir, self.backups_dir, self.temp_dir, self.library_dir):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot use patterns folder {self.root}: {exc.strerror or exc}") from exc
        self._clean_temp()
        # A save killed between replacing the slot and pruning leaves one backup too many.
        if _is_real_folder(self.backups_dir):
            for folder in self.backups_dir.glob("slot_*"):
                self._prune_backups(folder)

    def _clean_temp(self) -> None:
        """Staging files left by a crash are never a slot's only copy: drop them. One whose
        writer still runs may be another chronus (`chronus slots` beside the UI) in the
        middle of a save, so it stays unless it is too old to be one."""
        if not _is_real_folder(self.temp_dir):
            return  # a link: what it points to is not ours to clean
        now = time.time()
        for stale in self.temp_dir.glob("*.tmp"):
            with contextlib.suppress(OSError):
                if _writer_alive(stale.name) and now - stale.stat().st_mtime < STALE_TEMP_SECONDS:
                    continue
                stale.unlink()

    def slot_path(self, slot: int) -> Path:
        return self.slots_dir / f"slot_{check_slot(slot):03d}.json"

    def relative(self, path: Path) -> str:
        """A file as messages name it, relative to the patterns folder (slots/slot_008.json):
        the messages reach OSC clients, which have no business knowing where it lives."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.name

    # -- saving ---------------------------------------------------------------

    def save(self, slot: int, snapshot: dict[str, Any], *, name: str | None = None,
             moved_aside: list[str] | None = None) -> Path:
        """Write a session snapshot to a slot atomically and durably; return its path.

        Old file kept in backups/, new text staged in temp/ and fsynced, then
        os.replace'd into slots/ and the folder fsynced: a crash at any moment
        leaves the old or the new file, never a torn one. On error the old file
        and every backup are untouched and StoreError says why. An old file that
        cannot be read is moved aside (slot_NNN.unreadable-<time>.json) rather than
        kept as a backup that pruning would one day delete; a message saying so is
        appended to `moved_aside`.
        """
        target = self.slot_path(slot)
        data = {**snapshot, "saved_at": now_iso()}
        if name is not None:
            data["name"] = name
        self._write_atomic(target, _validated_text(data, slot_label(slot)), slot_label(slot), moved_aside)
        self._forget(slot)  # its stat has changed anyway; the next load reads the new file
        return target

    def _write_atomic(self, target: Path, payload: bytes, label: str,
                      moved_aside: list[str] | None = None, *, backups: Path | None = None,
                      read: Callable[[Path, str], object] | None = None) -> None:
        """`backups` (default backups/<file's stem>) keeps the old versions; `read` (default: as
        a pattern) tells whether the old file is readable, else it is moved aside."""
        backups = backups or self.backups_dir / target.stem
        self._refuse_links(label, target, backups)
        unreadable = self._unreadable_reason(target, label, read or self._read)
        temp = self.temp_dir / f"{target.stem}.{os.getpid()}.{threading.get_ident()}.{next(_unique)}.tmp"
        kept = None
        try:
            fd = self._reused_spare(backups, temp)
            if fd is None:
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            try:
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view):]
                os.ftruncate(fd, len(payload))  # a reused file may have been longer
                os.fsync(fd)
                written = _identity(os.fstat(fd))
            finally:
                os.close(fd)
            kept = self._keep_old(target, backups, unreadable is not None)
            os.replace(temp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink()
            if kept is not None:  # our own second name of the unchanged file: no backup of before
                with contextlib.suppress(OSError):
                    kept.unlink()
            where = self.relative(Path(exc.filename)) if exc.filename else self.relative(target)
            raise StoreError(f"{label}: not saved, the old file is unchanged: "
                             f"{exc.strerror or exc} ({where})") from exc
        self._known_good[target] = written
        if unreadable is not None and kept is not None and moved_aside is not None:
            moved_aside.append(f"{label}: the old {self.relative(target)} could not be read "
                               f"({unreadable}); moved aside to {self.relative(kept)}, not overwritten")
        try:
            _fsync_dir(target.parent)
        except OSError as exc:  # the new file is in place; only its durability is in doubt
            raise StoreError(f"{label}: saved, but the folder could not be synced to disk: "
                             f"{exc.strerror or exc}") from exc
        self._prune_backups(backups, keep_spare=True)  # only now: a failed save costs no backup

    def _reused_spare(self, backups: Path, temp: Path) -> int | None:
        """The slot's spare (backups/slot_NNN/.spare: the file of the backup pruned last)
        renamed to `temp` and opened for writing over, else None.

        Freeing one file's blocks and allocating another's is most of a save's disk time
        on ext4 (benchmarks/README.md has the figures); overwriting a file in
        place costs neither. The spare is no backup any more, so a save that fails while
        writing it loses nothing; only a regular file with no other name is written.
        """
        try:
            os.rename(backups / SPARE, temp)
        except OSError:  # none yet (or taken by a save beside this one): stage a new file
            return None
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            temp.unlink(missing_ok=True)
            return None
        info = os.fstat(fd)
        if info.st_nlink == 1 and stat.S_ISREG(info.st_mode):
            return fd
        os.close(fd)
        os.unlink(temp)  # drops only this name; the file lives on under its other one
        return None

    def _refuse_links(self, label: str, target: Path, backups: Path) -> None:
        """StoreError, before anything is written, if a save would write, link or prune
        through a link or a non-regular file (the patterns folder itself may be a link)."""
        for folder in (target.parent, self.temp_dir, self.backups_dir, backups.parent, backups):
            kind = _kind(folder)
            if kind != "a directory" and not (kind is None and folder == backups):  # made on first use
                self._refuse(label, folder, kind or "missing", "a directory")
        kind = _kind(target)
        if kind not in ("a regular file", None):
            self._refuse(label, target, kind, "a regular file")
        with contextlib.suppress(FileNotFoundError), os.scandir(backups) as entries:
            for entry in entries:
                if not entry.is_file(follow_symlinks=False):
                    self._refuse(label, Path(entry.path), _kind(Path(entry.path)) or "missing",
                                 "a regular file")

    def _refuse(self, label: str, path: Path, kind: str, expected: str) -> None:
        raise StoreError(f"{label}: not saved: {self.relative(path)} is not {expected} ({kind}); "
                         "nothing was changed")

    def _unreadable_reason(self, target: Path, label: str, read: Callable[[Path, str], object]) -> str | None:
        """Why the regular file a save would replace is not a readable pattern; None if it
        is one, or there is none. A file this store wrote or read, unchanged since, is not
        read again (a save must stay quick)."""
        try:
            identity = _identity(os.lstat(target))
        except FileNotFoundError:
            return None
        if self._known_good.get(target) == identity:
            return None
        try:
            read(target, label)
        except StoreError as exc:
            with contextlib.suppress(OSError):
                if _identity(os.lstat(target)) != identity:
                    return None  # replaced while read, by a save beside this one
            return str(exc).removeprefix(f"{label}: ")
        return None

    def _keep_old(self, target: Path, backups: Path, unreadable: bool) -> Path | None:
        """A second name for the file about to be replaced (a hard link costs no copy): in
        backups/, or beside it as slot_NNN.unreadable-<time>.json when it cannot be read.
        None when there is no old file (the first save of a slot)."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        if unreadable:
            keep = target.with_name(f"{target.stem}.unreadable-{stamp}.json")
        else:
            with contextlib.suppress(FileExistsError):
                os.mkdir(backups)
            keep = backups / f"{stamp}-{os.getpid()}-{next(_unique):08d}.json"
        try:
            os.link(target, keep, follow_symlinks=False)  # links a link itself, never its target
        except FileNotFoundError:
            return None
        return keep

    def _prune_backups(self, folder: Path, *, keep_spare: bool = False) -> None:
        """Keep the newest max_backups of one slot's backups; the only code that removes one.
        With keep_spare, the first one pruned becomes the slot's spare (_reused_spare): a
        name that is not a backup's, so nothing counts or lists it as one."""
        with self._prune_lock:
            try:
                if not _is_real_folder(folder):
                    return  # a link: what it points to is not ours to prune
                names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
                for old in names[: max(0, len(names) - self.max_backups)]:
                    if keep_spare:
                        keep_spare = False
                        with contextlib.suppress(OSError):
                            os.rename(folder / old, folder / SPARE)  # over an unused older spare
                    # gone if renamed; else still there: rename leaves both names when they
                    # are one file (two backups of one slot file, by saves side by side)
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
        """Whether anything is in the slot's place: a file, or a link or FIFO that is an error."""
        return _kind(self.slot_path(slot)) is not None

    def load(self, slot: int, *, dropped: list[str] | None = None) -> Pattern:
        """The slot's pattern: from memory if its file is the one read last, else read."""
        kept = self.load_kept(slot, dropped=dropped)
        if kept is not None:
            return kept
        if not self.exists(slot):
            raise StoreError(f"{slot_label(slot)} is empty")
        return self._read_slot(slot, dropped)

    def load_kept(self, slot: int, *, dropped: list[str] | None = None) -> Pattern | None:
        """A copy of the slot's pattern kept in memory, if its file is still the one read
        (same device, inode, size, mtime and ctime: one lstat, no read); else None."""
        try:
            version: tuple[int, ...] | None = _version(os.lstat(self.slot_path(slot)))
        except OSError:
            version = None
        with self._kept_lock:
            kept = self._kept.get(slot)
            if kept is None:
                return None
            if kept.version != version:  # saved, replaced, edited or removed since
                del self._kept[slot]
                return None
            self._kept.move_to_end(slot)
        if dropped is not None:
            dropped.extend(kept.dropped)
        return kept.pattern.copy()

    def preload(self, slots: Iterable[int]) -> None:
        """Read these slots' files into memory (disk work: call it off the UI thread), so
        that loading one of them reads nothing. Empty and unreadable slots are skipped: a
        load of one reads it and says why, as ever."""
        for slot in slots:
            with contextlib.suppress(StoreError, OSError):
                if self.load_kept(slot) is None and self.exists(slot):
                    self._read_slot(slot, None)

    def _read_slot(self, slot: int, dropped: list[str] | None) -> Pattern:
        found: list[str] = []
        started = time.time_ns()
        path = self.slot_path(slot)
        pattern, info = _read_pattern(path, slot_label(slot), dropped=found, follow_links=False)
        self._known_good[path] = _identity(info)
        if started - info.st_ctime_ns >= SETTLED_NS:
            with self._kept_lock:
                self._kept[slot] = _Kept(_version(info), pattern.copy(), tuple(found))
                self._kept.move_to_end(slot)
                while len(self._kept) > KEPT_PATTERNS:
                    self._kept.popitem(last=False)
        if dropped is not None:
            dropped.extend(found)
        return pattern

    def _forget(self, slot: int) -> None:
        with self._kept_lock:
            self._kept.pop(slot, None)

    def _read(self, path: Path, label: str, *, dropped: list[str] | None = None) -> Pattern:
        """A pattern from a file in our folders (never through a link), noted as known good."""
        pattern, info = _read_pattern(path, label, dropped=dropped, follow_links=False)
        self._known_good[path] = _identity(info)
        return pattern

    def list(self) -> list[SlotInfo]:
        """Every slot file, readable or not, in slot order; never stops or blocks at a bad one."""
        infos = []
        for slot in range(AUTOSAVE_SLOT, SLOT_COUNT + 1):
            if not self.exists(slot):
                continue
            path = self.slot_path(slot)
            try:
                pattern = self._read(path, slot_label(slot))
            except StoreError as exc:
                infos.append(SlotInfo(slot, path, error=str(exc)))
                continue
            infos.append(SlotInfo(slot, path, pattern.name, pattern.bpm, len(pattern.tracks),
                                  pattern.saved_at, follow=pattern.follow))
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
        # the user's library is ours (no links); the factory's is the installed package's
        ours = path.parent == self.library_dir
        return load_file(path, label=f"library {name}", follow_links=not ours)

    def save_library(self, name: str, snapshot: dict[str, Any]) -> Path:
        safe = file_stem(name)
        if not safe:
            raise StoreError(f"{name!r} is not a usable pattern name")
        data = {**snapshot, "name": name, "saved_at": now_iso()}
        target = self.library_dir / f"{safe}.json"
        self._write_atomic(target, _validated_text(data, f"library {name}"), f"library {name}")
        return target

    # -- songs (songs.py: the format; it reads chains, whose slots are this module's, so it is
    # imported where used: neither module needs the other to load first) -----------------

    def song_path(self, name: str) -> Path:
        from chronus_tui.songs import check_song_name

        try:
            return self.songs_dir / f"{check_song_name(name)}.json"
        except PatternError as exc:
            raise StoreError(str(exc)) from exc

    def save_song(self, name: str, chain: Chain, *, moved_aside: list[str] | None = None) -> Path:
        """Write a song atomically and durably, as a slot is: the old file kept in
        backups/songs/<name>/ (the newest max_backups), an unreadable one moved aside."""
        from chronus_tui import songs

        target = self.song_path(name)
        label = f"song {name}"
        for folder in (self.songs_dir, self.backups_dir / "songs"):
            try:
                folder.mkdir(exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{label}: not saved: cannot make {self.relative(folder)}: "
                                 f"{exc.strerror or exc}") from exc
        payload = songs.dumps(songs.Song(name, chain, now_iso()))
        self._write_atomic(target, payload, label, moved_aside, backups=self.backups_dir / "songs" / name,
                           read=self._read_song)
        return target

    def load_song(self, name: str) -> Chain:
        """The chain of the song `name`; StoreError names the file and the bad field."""
        path = self.song_path(name)
        if _kind(path) is None:
            raise StoreError(f"no song named {name!r} ({self.relative(path)})")
        return self._read_song(path, self.relative(path)).chain

    def song_backups(self, name: str) -> list[Path]:
        return sorted((self.backups_dir / "songs" / self.song_path(name).stem).glob("*.json"))

    def songs(self) -> list[SongInfo]:
        """Every song file, readable or not, by name; never stops or blocks at a bad one. A
        file a save moved aside (<name>.unreadable-<time>.json) is not listed: the save said so."""
        from chronus_tui import songs

        infos = []
        plays: dict[int, tuple[int, float] | None] = {}
        try:
            paths = sorted(path for path in self.songs_dir.glob("*.json") if ".unreadable-" not in path.name)
        except OSError:
            paths = []
        for path in paths:
            try:
                self.song_path(path.stem)
                song = self._read_song(path, self.relative(path))
            except StoreError as exc:
                infos.append(songs.SongInfo(path.stem, path, error=str(exc)))
                continue
            infos.append(songs.song_info(song, path, self.load, plays))
        return infos

    def _read_song(self, path: Path, label: str) -> Song:
        """A song from a file in our folders (never through a link), noted as known good."""
        from chronus_tui import songs

        raw, info = _read_bounded(path, label, follow_links=False)
        try:
            song = songs.loads(raw, path.stem)
        except PatternError as exc:
            raise StoreError(f"{label}: {exc}") from exc
        self._known_good[path] = _identity(info)
        return song

    def resolve(self, source: str, *, dropped: list[str] | None = None) -> Pattern:
        """A pattern named on the command line: a slot number, a pattern file, or a library name.

        Fields of an original Music Chronus file with no place here are appended to `dropped`.
        A file named here is the user's choice, so a link to one is followed.
        """
        text = str(source).strip()
        if text.isascii() and text.isdigit():
            return self.load(check_slot(int(text)), dropped=dropped)
        if (path := _existing_file(text)) is not None:
            return load_file(path, dropped=dropped, follow_links=True)
        if text in self.library():
            return self.load_library(text)
        raise StoreError(f"{excerpt(repr(source), 80)} is not a slot number (0–{SLOT_COUNT}), a pattern "
                         f"file, or a library name (known: {', '.join(sorted(self.library())) or 'none'})")


def _existing_file(text: str) -> Path | None:
    """The file (not a folder) `text` names, if one exists; a name no file can have (longer
    than the system takes, ~ of an unknown user) names none."""
    try:
        path = Path(text).expanduser()
        return path if path.exists() and not path.is_dir() else None
    except (OSError, RuntimeError, ValueError):
        return None


def file_stem(name: str) -> str:
    """The file name (no extension) a library pattern or song of this name is saved under."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name.strip()).strip("-")


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


def load_file(path: Path, *, label: str | None = None, dropped: list[str] | None = None,
              follow_links: bool = False) -> Pattern:
    """A Pattern from a file of this format or the original's; StoreError names the bad field.

    Only a regular file of at most MAX_FILE_BYTES is read; a link is refused unless
    `follow_links` (for files the user names, not files in our folders).
    """
    return _read_pattern(path, label or str(path), dropped=dropped, follow_links=follow_links)[0]


def _read_pattern(path: Path, label: str, *, dropped: list[str] | None,
                  follow_links: bool) -> tuple[Pattern, os.stat_result]:
    raw, info = _read_bounded(path, label, follow_links)
    try:
        return patternfile.loads(raw, dropped=dropped), info
    except PatternError as exc:
        raise StoreError(f"{label}: {exc}") from exc


def _read_bounded(path: Path, label: str, follow_links: bool) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file of at most MAX_FILE_BYTES, and its stat. Anything else is
    refused before it is opened (a FIFO would block, a device might do anything), and
    checked again on the open descriptor, which a swap since cannot change."""
    try:
        _check_readable(os.stat(path, follow_symlinks=follow_links), label)
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StoreError(f"{label}: not a regular file (a symbolic link)") from exc
        raise StoreError(f"{label}: cannot read: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        _check_readable(info, label)
        try:
            raw = handle.read(info.st_size + 1)  # one byte more tells a file that grew since
            if len(raw) > info.st_size:  # read on, but never past the limit
                raw += handle.read(MAX_FILE_BYTES + 1 - len(raw))
        except OSError as exc:
            raise StoreError(f"{label}: cannot read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise StoreError(f"{label}: grew past the {_size_text(MAX_FILE_BYTES)} limit; not read")
    return raw, info


def _check_readable(info: os.stat_result, label: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise StoreError(f"{label}: not a regular file ({_mode_kind(info.st_mode)})")
    if info.st_size > MAX_FILE_BYTES:
        raise StoreError(f"{label}: {_size_text(info.st_size)} file, over the "
                         f"{_size_text(MAX_FILE_BYTES)} limit; not read")


def _size_text(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


_KINDS = ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symbolic link"),
          (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def _mode_kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "an unknown kind of file")


def _kind(path: Path) -> str | None:
    """What is at `path` itself (a link is "a symbolic link", not what it points to); None if nothing."""
    try:
        return _mode_kind(os.lstat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):  # nothing there, or a file where its folder should be
        return None


def _is_real_folder(path: Path) -> bool:
    return _kind(path) == "a directory"


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _version(info: os.stat_result) -> tuple[int, ...]:
    """The identity and the ctime: an edit in place that keeps the size and sets the mtime
    back (cp -p, touch -r) still moves the ctime, which nothing can set."""
    return (*_identity(info), info.st_ctime_ns)


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

