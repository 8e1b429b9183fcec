"""One running chronus per patterns folder: an exclusive `flock` on `<folder>/.lock`.

The UI and `--no-ui` take it before they start an engine or write anything in the folder;
the read-only commands (`slots`, `render`, `send`) do not. The kernel drops the lock with
the process, even on SIGKILL, so a lock file left by a dead process is simply locked again.
The file holds the holder's pid, so a second instance can say who holds the folder.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from pathlib import Path

from chronus_tui.store import StoreError

LOCK_NAME = ".lock"
_PID_BYTES = 32  # all we read of a lock file: a pid and a newline


class FolderInUse(StoreError):
    """Another process holds the patterns folder's lock."""


class FolderLock:
    """The held lock on a patterns folder; release() (or the process's end) lets it go."""

    def __init__(self, root: Path, fd: int) -> None:
        self.root = root
        self.path = root / LOCK_NAME
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, root: Path) -> FolderLock:
        """Lock `root` (made if missing) for this process, and write our pid in the lock file.

        Raises FolderInUse, naming the holder's pid, when another process holds it, and
        StoreError when the lock file cannot be used (a symlink, a folder, a FIFO, …): in both
        cases nothing in the folder was written.
        """
        path = root / LOCK_NAME
        try:
            root.mkdir(parents=True, exist_ok=True)
            fd = _open(path)
        except OSError as exc:
            raise StoreError(f"cannot lock the patterns folder {root}: {_why(path, exc)}") from exc
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise StoreError(f"cannot lock the patterns folder {root}: {path} is not a regular file; "
                                 f"remove it")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                raise FolderInUse(f"the patterns folder {root} is in use by {holder}; "
                                  f"stop it first or use another --patterns-dir") from None
            except OSError as exc:
                raise StoreError(f"cannot lock the patterns folder {root}: {exc.strerror or exc}") from exc
        except BaseException:
            os.close(fd)
            raise
        _write_pid(fd)
        return cls(root, fd)

    def release(self) -> None:
        """Let the folder go (idempotent). The file stays: unlinking it would race a newcomer."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _open(path: Path) -> int:
    """The lock file, made if missing; never through a symlink, never waiting on a FIFO. On a
    read-only folder an existing lock file is opened for reading (flock works on it)."""
    flags = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | flags, 0o644)
    except OSError as exc:
        if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        return os.open(path, os.O_RDONLY | flags)


def _why(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return f"{path} is a symbolic link, which chronus does not follow; remove it"
    return f"{path}: {exc.strerror or exc}"


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, _PID_BYTES, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    return f"chronus (pid {int(text)})" if text.isdigit() else "another chronus"


def _write_pid(fd: int) -> None:
    """Best effort: the pid only names us in another instance's refusal."""
    with contextlib.suppress(OSError):  # read-only folder or full disk: the lock itself holds
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
