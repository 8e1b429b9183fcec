"""Logging that stays bounded and never ends in a traceback: the rate limit (with a fake
clock), rotation of chronus.log, the engine log's cap, and a log folder that cannot be
written (a file or folder where the other must be: the tests run as root, which ignores
permission bits)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fakes import FakeClock

from chronus_tui import logs
from chronus_tui.engine.client import EngineClient


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def limited() -> Iterator[tuple[logging.Logger, ListHandler, FakeClock]]:
    handler, clock = ListHandler(), FakeClock()
    handler.addFilter(logs.RateLimit(handler, per_second=5, clock=clock))
    logger = logging.getLogger("test_logs.limited")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger, handler, clock
    logger.removeHandler(handler)


def test_a_repeated_template_passes_n_times_a_second_then_one_line_counts_the_rest(limited) -> None:
    logger, handler, clock = limited
    for n in range(100):
        logger.info("refused %s", n)
    assert handler.lines == [f"refused {n}" for n in range(5)]
    clock.now += 1.0
    logger.info("refused %s", "late")
    assert handler.lines[5:] == ["95 similar lines suppressed, the last: refused 99", "refused late"]


def test_templates_and_loggers_are_counted_apart(limited) -> None:
    logger, handler, _ = limited
    other = logging.getLogger("test_logs.limited.other")
    for n in range(10):
        logger.info("a %s", n)
        logger.info("b %s", n)
        other.info("a %s", n)  # propagates to the same handler, under its own logger name
    assert len(handler.lines) == 15
    assert [line for line in handler.lines if line.startswith("a")].count("a 4") == 2


def test_a_burst_that_ends_is_reported_when_anything_is_next_logged(limited) -> None:
    logger, handler, clock = limited
    for _ in range(8):
        logger.warning("flood")
    clock.now += 1.5
    logger.info("something else")
    assert handler.lines == ["flood"] * 5 + ["3 similar lines suppressed, the last: flood", "something else"]


def test_counts_still_waiting_are_written_at_exit(limited, root_logging) -> None:
    logger, handler, _ = limited
    logging.getLogger().handlers[:] = [handler]  # where flush_counts looks
    for _ in range(7):
        logger.error("last words")
    logs.flush_counts()
    assert handler.lines == ["last words"] * 5 + ["2 similar lines suppressed, the last: last words"]
    logs.flush_counts()
    assert len(handler.lines) == 6  # said once


def test_nothing_suppressed_means_no_summary(limited) -> None:
    logger, handler, clock = limited
    for _ in range(4):
        for n in range(5):
            logger.info("steady %s", n)
        clock.now += 1.0
    logger.info("end")
    assert len(handler.lines) == 21 and not any("suppressed" in line for line in handler.lines)


def test_the_templates_it_tracks_are_bounded(limited, monkeypatch) -> None:
    logger, handler, _ = limited
    monkeypatch.setattr(logs, "MAX_TEMPLATES", 50)
    rate_limit = handler.filters[0]
    for n in range(10_000):
        logger.info(f"unique {n}")  # an f-string: every line its own template
    assert len(rate_limit._windows) <= 51  # the cap, and the one count they share past it
    assert len(handler.lines) == 50 + 5


def test_chronus_log_rotates_and_keeps_three(tmp_path: Path, root_logging, monkeypatch) -> None:
    monkeypatch.setattr(logs, "LOG_MAX_BYTES", 10_000)
    path = tmp_path / "log" / "chronus.log"
    assert logs.log_to_file(path) is None
    for n in range(200):  # 100 kB, each line a template of its own logger: none is rate-limited
        logging.getLogger(f"test_logs.rotate{n}").info("%s", "x" * 500)
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["chronus.log", "chronus.log.1", "chronus.log.2", "chronus.log.3"]
    assert all(p.stat().st_size <= 10_000 for p in path.parent.iterdir())


@pytest.mark.parametrize("broken", ["log folder is a file", "log file is a folder", "file above"])
@pytest.mark.parametrize("ui", [True, False], ids=["ui", "no-ui"])
def test_an_unwritable_log_is_one_warning_never_a_traceback(tmp_path: Path, root_logging, monkeypatch,
                                                            capsys, broken: str, ui: bool) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    folder = logs.log_dir()
    if broken == "log folder is a file":
        folder.parent.mkdir(parents=True)
        folder.write_text("not a folder")
    elif broken == "log file is a folder":
        (folder / "engine.log").mkdir(parents=True)
        (folder / "chronus.log").mkdir()
    else:
        (tmp_path / "state").write_text("not a folder")
    engine_log, warning = logs.start_logging(ui=ui)
    assert engine_log is None
    assert warning is not None and "\n" not in warning and "the engine's output is discarded" in warning
    assert ("no log is kept while the UI runs" in warning) is ui
    logging.getLogger("test_logs").error("after the fallback")
    err = capsys.readouterr().err
    assert ("after the fallback" in err) is not ui  # --no-ui logs on stderr; the UI prints nothing
    assert "Traceback" not in err


def test_the_engine_log_is_cut_with_its_tail_kept_while_a_writer_appends(tmp_path: Path) -> None:
    path = tmp_path / "engine.log"
    writer = logs.open_append(path)
    try:
        os.write(writer, b"old\n" * 1000)  # 4000 bytes
        cap = logs.LogCap(path, max_bytes=1000)
        assert cap.check()
        assert path.stat().st_size == 0
        assert (tmp_path / "engine.log.1").read_bytes() == b"old\n" * 250
        os.write(writer, b"new\n")  # appends at the new end: no hole of zeros before it
        assert path.read_bytes() == b"new\n"
        assert not cap.check()
    finally:
        os.close(writer)


def test_the_engine_log_cap_never_writes_through_a_link(tmp_path: Path) -> None:
    path, outside = tmp_path / "engine.log", tmp_path / "outside.txt"
    outside.write_text("keep me")
    path.write_bytes(b"x" * 3000)
    (tmp_path / "engine.log.1").symlink_to(outside)
    assert logs.LogCap(path, max_bytes=1000).check()
    assert outside.read_text() == "keep me"
    assert (tmp_path / "engine.log.1").read_bytes() == b"x" * 1000


def test_an_engine_starts_when_its_log_folder_is_gone(tmp_path: Path) -> None:
    client = EngineClient(audio="null", log_path=tmp_path / "gone" / "engine.log")
    try:
        client.start(lambda event: None)  # used to fail with FileNotFoundError
        assert client.backend == "null"
    finally:
        client.close()


def test_an_engine_log_over_the_limit_is_moved_aside_when_an_engine_starts(tmp_path: Path) -> None:
    path = tmp_path / "engine.log"
    path.write_bytes(b"old\n" * (logs.LOG_MAX_BYTES // 4 + 1))
    client = EngineClient(audio="null", log_path=path)
    try:
        client.start(lambda event: None)
    finally:
        client.close()
    assert (tmp_path / "engine.log.1").read_bytes().startswith(b"old\n")
    assert b"old\n" not in path.read_bytes() and path.stat().st_size > 0  # the new engine's lines


def test_control_characters_in_a_line_are_written_as_escapes(tmp_path: Path, root_logging) -> None:
    """A name or message from a file or a sender may carry terminal escapes: `tail` of the log
    must show them, not act on them; a traceback keeps its lines."""
    path = tmp_path / "chronus.log"
    assert logs.log_to_file(path) is None
    log = logging.getLogger("test_logs.literal")
    log.warning("slot name %r", "\x1b[2J\x07bell\x9b")
    log.warning("%s", "clear\x1b[2Jscreen\rback")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    text = path.read_text(encoding="utf-8")
    assert "\\x1b[2J" in text and "\\x07bell" in text and "clear\\x1b[2Jscreen\\x0dback" in text
    assert not any((ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0 for c in text)
    assert "Traceback (most recent call last):\n" in text


def test_the_engine_process_logs_through_the_rate_limit(root_logging) -> None:
    """The engine's own lines (engine.log) are bounded like the UI's and --no-ui's."""
    from chronus_tui.synth import process

    with pytest.raises(SystemExit):  # parse_args refuses; logging was set up before
        process.main(["--audio", "nothing", "--commands", "0", "--events", "0"])
    handler, = logging.getLogger().handlers
    assert any(isinstance(f, logs.RateLimit) for f in handler.filters)
    assert isinstance(handler.formatter, logs.LiteralFormatter)
