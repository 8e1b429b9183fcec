"""The edit journal on disk: JSON Lines written by a background thread, read back torn-tail-safe.

Knows nothing of patterns: a journal is a header dict (its first line, `"journal": "chronus"`)
and then one record dict per line, UTF-8, compact JSON. The Session appends a record per edit
and, when the file has grown enough, rebases it: a new file holding only a new header (the
state so far) replaces the old one atomically.

JournalWriter.append never touches the disk: it serialises the record in the caller's thread
(so the record is frozen as it was) and queues the bytes. One daemon thread writes what is
queued and fsyncs it, at most once per sync_interval while edits keep arriving. A write that
fails (a full or read-only disk, a removed folder, a link in the journal's place) is never
raised to the caller: the bytes stay queued (up to MAX_PENDING_BYTES), on_error hears it once,
and the next batch, or a timer, tries again by writing the whole file anew.

read_journal treats the file as hostile: a regular file only, bounded in size, lines and
records, and it stops at the first line that is not a whole JSON object (the torn tail a
crash in the middle of a write leaves), keeping every record before it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JOURNAL_NAME = "journal.jsonl"
JOURNAL_MARK = "chronus"            # the header's "journal" value
MAX_PENDING_BYTES = 16 << 20        # unwritten bytes kept while the disk fails; older ones are dropped
RETRY_SECONDS = 1.0                 # a failed write is tried again at least this often
MAX_READ_BYTES = 64 << 20
MAX_LINE_BYTES = 1 << 20            # one record; a bigger line is no record of ours
MAX_RECORDS = 1_000_000

log = logging.getLogger(__name__)


def journal_path(state_dir: Path) -> Path:
    return state_dir / JOURNAL_NAME


def encode_line(record: dict[str, Any]) -> bytes:
    """One record as its line: compact JSON, UTF-8, newline-terminated (JSON escapes every
    newline inside a string). A string that cannot be UTF-8 (a lone surrogate) is escaped."""
    text = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode() + b"\n"
    except UnicodeEncodeError:
        return json.dumps(record, separators=(",", ":")).encode() + b"\n"


@dataclass(frozen=True)
class _Base:
    """A queued start or rebase: the writer makes a new file holding this header line."""

    header: bytes


class JournalWriter:
    """Appends records to the journal at `path` from a background thread (see the module).
    on_error is called from that thread."""

    def __init__(self, path: Path, *, sync_interval: float = 0.1,
                 on_error: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self._sync_interval = sync_interval
        self._on_error = on_error
        self._cond = threading.Condition()
        # shared with callers, under _cond
        self._queue: list[bytes | _Base] = []
        self._queued = 0            # items ever queued …
        self._synced = 0            # … and how many of them are written and fsynced
        self._urgent = False        # a flush waits: do not wait for the interval
        self._stopping = False
        self._closed = False
        self._since_base = 0
        self._error: str | None = None
        self._thread: threading.Thread | None = None
        # the writer thread's own
        self._pending: deque[bytes | _Base] = deque()
        self._pending_bytes = 0
        self._dropped = 0
        self._fd: int | None = None
        self._header: bytes | None = None
        self._written: list[bytes] | None = []  # the lines since the header, to rebuild the file
        self._written_bytes = 0
        self._dirty = False
        self._reported: tuple[str, bool] | None = None  # the failure on_error last heard
        self._total = 0

    # -- the caller's side ---------------------------------------------------------------

    def start(self, header: dict[str, Any]) -> None:
        """Begin a new journal file whose first line is `header`, and start the writer thread."""
        self.rebase(header)
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="chronus-journal", daemon=True)
                self._thread.start()

    def append(self, record: dict[str, Any]) -> None:
        """Queue one record; returns at once (the disk is the writer thread's business)."""
        self._put(encode_line(record), counts=True)

    def rebase(self, header: dict[str, Any]) -> None:
        """Queue a new file holding only `header` (marked `"journal": "chronus"`, which
        read_journal requires), to replace the journal after what is queued."""
        self._put(_Base(encode_line({**header, "journal": JOURNAL_MARK})), counts=False)

    def _put(self, item: bytes | _Base, *, counts: bool) -> None:
        with self._cond:
            if self._closed:
                return
            self._queue.append(item)
            self._queued += 1
            self._since_base = self._since_base + len(item) if counts else 0
            if len(self._queue) == 1:  # with more, the writer already knows when to wake
                self._cond.notify()

    @property
    def bytes_since_base(self) -> int:
        return self._since_base

    @property
    def bytes_written(self) -> int:
        return self._total

    @property
    def error(self) -> str | None:
        return self._error

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is written and fsynced; False on timeout."""
        with self._cond:
            target = self._queued
            if self._synced >= target:
                return True
            if self._thread is None:
                return False
            self._urgent = True
            self._cond.notify()
            return self._cond.wait_for(lambda: self._synced >= target, timeout)

    def close(self, *, remove: bool = False) -> None:
        """Write what is queued, stop the thread; remove=True then deletes the journal (a clean
        quit saved its edits elsewhere)."""
        with self._cond:  # the thread writes what is queued once more, then ends
            self._closed = self._stopping = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=5.0)
        if thread is None or not thread.is_alive():
            self._close_fd()
        if remove:
            with contextlib.suppress(OSError):
                if stat.S_ISREG(os.lstat(self.path).st_mode):
                    self.path.unlink()
                    _fsync_folder(self.path.parent)

    # -- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        last_start = float("-inf")
        while True:
            with self._cond:
                while not self._stopping:
                    if self._queue:
                        wake = last_start + self._sync_interval
                    elif self._error is not None:
                        wake = last_start + RETRY_SECONDS
                    else:
                        wake = None
                    if wake is not None and (self._urgent or time.monotonic() >= wake):
                        break
                    self._cond.wait(None if wake is None else wake - time.monotonic())
                items, self._queue = self._queue, []
                target, stopping, self._urgent = self._queued, self._stopping, False
            last_start = time.monotonic()
            self._take(items)
            done = self._attempt()
            with self._cond:
                if done:
                    self._synced = target
                self._cond.notify_all()
            if stopping:
                return

    def _take(self, items: list[bytes | _Base]) -> None:
        for item in items:
            if isinstance(item, _Base):
                if self._error is not None:  # failing: what waits for the old file need not,
                    self._pending.clear()    # the new header holds it
                    self._pending_bytes = 0
            else:
                self._pending_bytes += len(item)
            self._pending.append(item)
        while self._pending_bytes > MAX_PENDING_BYTES:
            oldest = next(i for i, item in enumerate(self._pending) if not isinstance(item, _Base))
            self._pending_bytes -= len(self._pending[oldest])  # type: ignore[arg-type]
            del self._pending[oldest]
            self._dropped += 1

    def _attempt(self) -> bool:
        """Write what is pending and fsync it; True when all of it is on disk."""
        try:
            self._drain()
            if self._fd is not None and self._dirty:
                os.fsync(self._fd)
                self._dirty = False
                self._check_identity()
        except Exception as exc:  # an OSError is the disk's; anything else must not end the thread either
            if not isinstance(exc, OSError):
                log.exception("journal writer")
            self._close_fd()
            self._fail(exc if isinstance(exc, OSError) else OSError(errno.EIO, repr(exc)))
            return False
        if self._error is not None:
            log.warning("journal writing again (%s)", self.path)
            with self._cond:
                self._error = None
            self._reported = None
        return True

    def _drain(self) -> None:
        while True:
            if self._fd is None and self._header is not None and not (
                    self._pending and isinstance(self._pending[0], _Base)):
                self._rebuild()
            if not self._pending:
                return
            base = self._pending[0]
            if isinstance(base, _Base):  # stays queued until its file is in place
                self._close_fd()
                self._new_file(base.header)
                self._pending.popleft()
                self._header, self._written, self._written_bytes = base.header, [], 0
                continue
            count = next((i for i, item in enumerate(self._pending) if isinstance(item, _Base)),
                         len(self._pending))
            data = b"".join(self._pending.popleft() for _ in range(count))  # type: ignore[misc]
            try:
                self._write(data)
            except OSError:
                self._pending.appendleft(data)  # the file is rebuilt on the next try
                raise
            self._pending_bytes -= len(data)
            self._remember(data)

    def _write(self, data: bytes) -> None:
        assert self._fd is not None
        view, done = memoryview(data), 0
        while done < len(data):
            written = os.write(self._fd, view[done:])
            if written <= 0:
                raise OSError(errno.EIO, "the disk took no bytes")
            done += written
        self._dirty = True
        self._total += len(data)

    def _remember(self, data: bytes) -> None:
        """Keep the lines since the header (bounded) so a failed file can be written anew."""
        if self._written is None:
            return
        self._written.append(data)
        self._written_bytes += len(data)
        if self._written_bytes > MAX_PENDING_BYTES:
            self._written, self._written_bytes = None, 0

    def _rebuild(self) -> None:
        """After a failure the file's tail is unknown (a torn write, a failed fsync whose pages
        the kernel may have dropped, a file removed or replaced): write it whole again."""
        if self._written is None:
            raise OSError(errno.EFBIG, "over 16 MiB since the last rebase, waiting for the next one")
        assert self._header is not None
        self._new_file(self._header + b"".join(self._written))

    def _new_file(self, content: bytes) -> None:
        """Write `content` to a temp file beside the journal, fsync it, rename it over the
        journal and fsync the folder; keep it open for appends. Nothing is followed through a
        link, and anything but a regular file in the journal's place is refused."""
        folder = _open_folder(self.path.parent)
        try:
            with contextlib.suppress(FileNotFoundError):
                mode = os.stat(self.path.name, dir_fd=folder, follow_symlinks=False).st_mode
                if not stat.S_ISREG(mode):
                    raise OSError(errno.EEXIST, f"not a regular file ({_kind(mode)})")
            self._sweep_temps(folder)
            temp = f"{self.path.name}.{os.getpid()}.tmp"
            fd = os.open(temp, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600, dir_fd=folder)
            self._fd = fd
            try:
                self._write(content)
                os.fsync(fd)
                os.replace(temp, self.path.name, src_dir_fd=folder, dst_dir_fd=folder)
            except OSError:
                self._close_fd()
                with contextlib.suppress(OSError):
                    os.unlink(temp, dir_fd=folder)
                raise
            self._dirty = False
            os.fsync(folder)
        finally:
            os.close(folder)

    def _sweep_temps(self, folder: int) -> None:
        """A rebase killed midway leaves its temp file (journal.jsonl.PID.tmp): remove those of
        processes that are gone, and this one's (a failed try's, or an earlier process's pid)."""
        prefix = f"{self.path.name}."
        for name in os.listdir(folder):
            pid = name.removeprefix(prefix).removesuffix(".tmp")
            if name == f"{prefix}{pid}.tmp" and pid.isdigit() and not _other_process(int(pid)):
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=folder)

    def _check_identity(self) -> None:
        """The journal at `path` must still be the file written: a removed folder or a
        replaced file would take every later record with it."""
        assert self._fd is not None
        try:
            there = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            raise OSError(errno.ENOENT, "the journal file was removed") from None
        ours = os.fstat(self._fd)
        if (there.st_dev, there.st_ino) != (ours.st_dev, ours.st_ino):
            raise OSError(errno.ENOENT, "the journal file was replaced")

    def _close_fd(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _fail(self, exc: OSError) -> None:
        reason = exc.strerror or str(exc)
        message = f"journal not written: {reason} ({self.path}); edits are kept in memory and retried"
        if self._dropped:
            message += f" ({self._dropped} oldest dropped: over 16 MiB waiting)"
        with self._cond:
            self._error = message
        key = (reason, bool(self._dropped))
        if key == self._reported:
            return
        self._reported = key
        log.warning("%s", message)
        if self._on_error is not None:
            try:
                self._on_error(message)
            except Exception:
                log.exception("journal error listener failed")


def _open_folder(folder: Path) -> int:
    """The journal's folder (made 0o700 if missing), opened without following a link."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(folder, flags)
    except FileNotFoundError:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return os.open(folder, flags)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise OSError(exc.errno, "its folder is not a real folder (a link or a file)") from None
        raise


def _other_process(pid: int) -> bool:
    """Whether a process other than this one has this pid."""
    if pid in (0, os.getpid()):
        return False
    try:
        os.kill(pid, 0)  # signal 0 only asks whether it exists
    except ProcessLookupError:
        return False
    except OSError:  # someone else's
        return True
    return True


def _fsync_folder(folder: Path) -> None:
    fd = _open_folder(folder)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISFIFO, "a FIFO")):
        if test(mode):
            return name
    return "a device or socket"


# -- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class JournalRead:
    header: dict[str, Any] | None       # None: no journal, or no readable header (error says why)
    records: list[dict[str, Any]] = field(default_factory=list)
    torn: bool = False                   # a partial or unreadable line stopped the read …
    skipped: int = 0                     # … leaving this many lines unread
    error: str | None = None


def read_journal(path: Path, *, max_bytes: int = MAX_READ_BYTES) -> JournalRead:
    """Every whole record of the journal at `path`, up to the first torn or unreadable line."""
    raw, error = _read_bounded(Path(path), max_bytes)
    if raw is None:
        return JournalRead(None, error=error)
    lines = raw.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with its newline; else a torn line
    header = _parse(lines[0]) if lines else None
    if header is None or header.get("journal") != JOURNAL_MARK:
        return JournalRead(None, skipped=len(lines) + bool(tail), error="not a Chronus journal")
    body = lines[1:MAX_RECORDS + 1]
    records = _parse_lines(body)
    if records is None:  # some line is not a record: keep those before the first such
        records = []
        for line in body:
            record = _parse(line)
            if record is None:
                break
            records.append(record)
    unread = len(lines) - 1 - len(records)
    if len(records) == MAX_RECORDS and unread:
        error = error or f"more than {MAX_RECORDS:,} records; the rest not read"
    return JournalRead(header, records, bool(unread or tail or error), unread + bool(tail), error)


def _parse_lines(lines: list[bytes]) -> list[dict[str, Any]] | None:
    """Every line as a record, parsed in one call (a third faster than a call per line), or
    None when that fails. Lines that are each a whole JSON object join into an array of exactly
    as many objects; a bad line shows as a parse error or a wrong count (only a file made to
    pass could hide one, and it could as well hold any records line by line)."""
    if not lines:
        return []
    if max(map(len, lines)) > MAX_LINE_BYTES:
        return None
    try:
        values = json.loads((b"[" + b",".join(lines) + b"]").decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if len(values) != len(lines) or not all(isinstance(value, dict) for value in values):
        return None
    return values


def _parse(line: bytes) -> dict[str, Any] | None:
    if len(line) > MAX_LINE_BYTES:
        return None
    try:
        value = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _read_bounded(path: Path, max_bytes: int) -> tuple[bytes | None, str | None]:
    """At most max_bytes of the regular file at `path` (and why it stopped short), or None and
    why not. A link is never followed, and a FIFO or device is refused before it is read."""
    try:
        info = os.stat(path, follow_symlinks=False)
        if not stat.S_ISREG(info.st_mode):
            return None, f"journal {path}: not a regular file ({_kind(info.st_mode)})"
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"journal {path}: cannot read: {exc.strerror or exc}"
    with os.fdopen(fd, "rb") as handle:
        try:
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode):  # swapped since the stat
                return None, f"journal {path}: not a regular file"
            size = opened.st_size
            raw = handle.read(min(size, max_bytes) + 1)  # one byte more tells a file that grew
            if size < len(raw) <= max_bytes:
                raw += handle.read(max_bytes + 1 - len(raw))
        except OSError as exc:
            return None, f"journal {path}: cannot read: {exc.strerror or exc}"
    if len(raw) > max_bytes:
        return raw[:max_bytes], f"journal {path}: over {max_bytes:,} bytes; only the first {max_bytes:,} read"
    return raw, None
