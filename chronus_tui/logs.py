"""Where Chronus logs, and how much: rotated files, a stderr fallback, repeated lines counted.

`--no-ui` logs to stderr; the UI logs to `chronus.log` in the user log folder (rotated at
LOG_MAX_BYTES, LOG_BACKUPS kept), since nothing may print over its screen. The engine
process writes `engine.log` there through its own stdout and stderr; LogCap keeps that file
bounded while an engine runs. Every handler carries a RateLimit: a line repeated more than
LINES_PER_SECOND times a second is counted, not written. A log folder or file that cannot be
written is one warning, never a traceback: the lines go to stderr (`--no-ui`) or nowhere
(the UI), and the engine's output is discarded.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import stat
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

LOG_MAX_BYTES = 1 << 20       # a log file is rotated (or cut) past this size …
LOG_BACKUPS = 3               # … and this many old chronus.log files are kept (engine.log keeps 1)
LINES_PER_SECOND = 20         # of one message template, per handler; the rest are counted
MAX_TEMPLATES = 1024          # templates tracked at once; more share one count
CAP_INTERVAL = 1.0            # seconds between LogCap's looks at the engine log's size
UI_LOG = "chronus.log"
ENGINE_LOG = "engine.log"
STDERR_FORMAT = ("%(asctime)s.%(msecs)03d %(message)s", "%H:%M:%S")
FILE_FORMAT = ("%(asctime)s %(name)s %(levelname)s %(message)s", None)
_SUMMARY = "chronus_summary"  # set on the lines RateLimit writes itself
_OVERFLOW = ("", "(more different lines than tracked)")


def log_dir() -> Path:
    """The user log folder (`~/.local/state/chronus/log` on Linux; `$XDG_STATE_HOME` moves it)."""
    return platformdirs.user_log_path("chronus")


def engine_log_path() -> Path:
    """Where the engine's (pyo, PortAudio, JACK, ALSA) output goes, never the terminal."""
    return log_dir() / ENGINE_LOG


# -- rate limiting --------------------------------------------------------------------


@dataclass
class _Window:
    start: float
    passed: int = 0
    suppressed: int = 0
    last: logging.LogRecord | None = None  # the last suppressed record, shown in the summary


class RateLimit(logging.Filter):
    """Lets each message template (logger name + unformatted message) through at most
    `per_second` times a second on one handler. The rest are counted; when that second is
    over, the next record logged anywhere brings one line "N similar lines suppressed, the
    last: …" onto the handler. State is bounded: windows older than a second are dropped,
    and past MAX_TEMPLATES new templates share one count."""

    def __init__(self, handler: logging.Handler, per_second: int = LINES_PER_SECOND,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.handler = handler
        self.per_second = per_second
        self.clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _SUMMARY, False):
            return True
        now = self.clock()
        key = (record.name, str(record.msg))
        with self._lock:
            ended = self._sweep(now) if now >= self._next_sweep else []
            window = self._windows.get(key)
            if window is not None and now - window.start >= 1.0:
                ended.append(self._windows.pop(key))
                window = None
            if window is None:
                if len(self._windows) >= MAX_TEMPLATES:
                    key = _OVERFLOW
                window = self._windows.setdefault(key, _Window(now))
            window.passed += 1
            allowed = window.passed <= self.per_second
            if not allowed:
                window.suppressed += 1
                window.last = record
        self._report(ended)
        return allowed

    def flush(self) -> None:
        """Write the counts still waiting for their second to end (at exit)."""
        with self._lock:
            ended, self._windows = list(self._windows.values()), {}
        self._report(ended)

    def _report(self, ended: list[_Window]) -> None:
        """One summary line on the handler for each ended window that suppressed any line."""
        for done in ended:
            if done.suppressed:
                self.handler.handle(_summary(done))

    def _sweep(self, now: float) -> list[_Window]:
        """Drop the windows whose second is over; return them (the caller reports suppressions)."""
        self._next_sweep = now + 1.0
        ended = [key for key, window in self._windows.items() if now - window.start >= 1.0]
        return [self._windows.pop(key) for key in ended]


def _summary(window: _Window) -> logging.LogRecord:
    last = window.last
    assert last is not None
    try:
        text = last.getMessage()
    except Exception:  # a record whose arguments do not fit its template still gets counted
        text = str(last.msg)
    summary = logging.LogRecord(last.name, last.levelno, last.pathname, last.lineno,
                                "%d similar lines suppressed, the last: %s", (window.suppressed, text), None)
    setattr(summary, _SUMMARY, True)
    return summary


# -- handlers -------------------------------------------------------------------------


def start_logging(*, ui: bool) -> tuple[Path | None, str | None]:
    """Install the handlers for the UI (chronus.log) or `--no-ui` (stderr). Returns the
    engine log's path (None: it cannot be written, and the engine's output is discarded)
    and the one warning line to give when something could not be written, else None."""
    problems = []
    if ui:
        problem = log_to_file(log_dir() / UI_LOG)
        if problem is not None:
            problems.append(f"{problem}; no log is kept while the UI runs")
    else:
        log_to_stderr()
    engine_log: Path | None = engine_log_path()
    problem = check_writable(engine_log)
    if problem is not None:
        engine_log = None
        problems.append(f"{problem}; the engine's output is discarded")
    return engine_log, "; ".join(problems) or None


def log_to_stderr(level: int = logging.INFO, fmt: tuple[str, str | None] = STDERR_FORMAT) -> None:
    """`--no-ui` (and the engine process, whose stderr is engine.log): every line on stderr,
    rate-limited."""
    _install(logging.StreamHandler(sys.stderr), fmt, level)


def log_to_file(path: Path, level: int = logging.INFO) -> str | None:
    """The UI: lines go to `path`, rotated. If it cannot be written, nothing is logged (a line
    on stderr would land on the UI's screen) and the reason is returned, for the caller's one
    warning; None when all is well."""
    logging.raiseExceptions = False  # a file that fails mid-set (disk full) must not print a traceback
    problem = check_writable(path)
    if problem is not None:
        _install(logging.NullHandler(), FILE_FORMAT, level)  # also keeps logging's last resort quiet
        return problem
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS,
                                                   encoding="utf-8")
    _install(handler, FILE_FORMAT, level)
    return None


def flush_counts() -> None:
    """Write the counts of suppressed lines not yet written, on every handler installed here;
    called before the process ends, so no count is lost with it."""
    for handler in logging.getLogger().handlers:
        for rate_limit in handler.filters:
            if isinstance(rate_limit, RateLimit):
                rate_limit.flush()


# Control characters a sender or a file put into a message are written as \xNN escapes, so a
# line read with `tail` or `less` shows them instead of acting on the terminal.
_ESCAPED = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0)) if code != 0x0A}


class LiteralFormatter(logging.Formatter):
    """A Formatter whose lines carry no raw control character (newlines of tracebacks kept)."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).translate(_ESCAPED)


def _install(handler: logging.Handler, fmt: tuple[str, str | None], level: int) -> None:
    handler.setFormatter(LiteralFormatter(*fmt))
    handler.addFilter(RateLimit(handler))
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = [handler]
    root.setLevel(level)


def check_writable(path: Path) -> str | None:
    """None when `path` is, or can be made, a regular file we can append to (its folder is
    made if need be); else why not, as one line. Never follows a symlink, never waits on a
    FIFO or device."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(open_append(path))
    except OSError as exc:
        return f"cannot write {path}: {exc.strerror or exc}"
    return None


def open_append(path: Path) -> int:
    """A file descriptor appending to the regular file `path` (made if missing), for a child
    process's output: O_APPEND, so LogCap can empty it under a running writer."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                 0o644)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        os.set_blocking(fd, True)
    except OSError:
        os.close(fd)
        raise
    return fd


# -- the engine log, written by another process -----------------------------------------


class LogCap:
    """Keeps a log another process appends to (the engine's stdout and stderr) near max_bytes:
    every `interval` seconds, a file grown past it has its last max_bytes copied to
    `<name>.1` and is emptied. The writer appends (O_APPEND), so it carries on at the new
    end; lines written between the copy and the cut are lost, and never is the writer
    blocked or the file unbounded."""

    def __init__(self, path: Path, max_bytes: int = LOG_MAX_BYTES, interval: float = CAP_INTERVAL) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-cap", daemon=True)

    def start(self) -> LogCap:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(OSError):  # a log folder gone or full: the engine plays on
                self.check()

    def check(self) -> bool:
        """Cut the file if it is over max_bytes; whether it was."""
        fd = os.open(self.path, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size <= self.max_bytes:
                return False
            tail = os.pread(fd, self.max_bytes, info.st_size - self.max_bytes)
            backup = self.path.with_name(self.path.name + ".1")
            with contextlib.suppress(FileNotFoundError):
                backup.unlink()  # never written through: a link there is removed, not followed
            out = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            try:
                os.write(out, tail)
            finally:
                os.close(out)
            os.ftruncate(fd, 0)
            return True
        finally:
            os.close(fd)
