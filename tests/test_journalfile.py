"""The journal on disk: the background writer (ordering, batching, errors) and the torn-tail-safe reader."""

from __future__ import annotations

import errno
import logging
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.osc import wait_until

from chronus_tui import journalfile
from chronus_tui.journalfile import JournalRead, JournalWriter, journal_path, read_journal

HEADER = {"journal": "chronus", "base": {"bpm": 120}}


def lines_of(*documents: dict) -> bytes:
    return b"".join(journalfile.encode_line(document) for document in documents)


def records(count: int, start: int = 0) -> list[dict]:
    return [{"n": n, "summary": f"step {n} on"} for n in range(start, start + count)]


class FlakyOs:
    """The os module as the journal sees it, with calls that fail or wait while a test says so."""

    def __init__(self) -> None:
        self.failing: dict[str, int | Exception] = {}  # name → errno or exception to raise
        self.calls: dict[str, int] = {}
        self.hold_fsync: threading.Event | None = None  # fsync waits for it to be set
        self.in_fsync = threading.Event()

    def __getattr__(self, name: str):
        real = getattr(os, name)
        if not callable(real):
            return real

        def call(*args, **kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            failure = self.failing.get(name)
            if isinstance(failure, Exception):
                raise failure
            if failure is not None:
                raise OSError(failure, os.strerror(failure))
            if name == "fsync" and self.hold_fsync is not None:
                self.in_fsync.set()
                assert self.hold_fsync.wait(30)
            return real(*args, **kwargs)
        return call


@pytest.fixture
def flaky(monkeypatch) -> FlakyOs:
    fake = FlakyOs()
    monkeypatch.setattr(journalfile, "os", fake)
    return fake


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return journal_path(tmp_path / "state")


def written(path: Path, header: dict, appended: list[dict]) -> JournalRead:
    """What read_journal gives; it must be exactly header and appended, whole and untorn."""
    read = read_journal(path)
    assert read == JournalRead(header, appended, False, 0, None)
    return read


# -- the writer ------------------------------------------------------------------------------


def test_round_trip_keeps_every_record_exactly(path):
    writer = JournalWriter(path)
    writer.start(HEADER)
    appended = [{"n": 0, "name": "Fußtritt ☃ [bold]"}, {"n": 1, "text": "two\nlines\ttab"},
                {"n": 2, "odd": "\ud800 lone surrogate"}, {"n": 3, "nested": {"a": [1, 2.5, None, True]}}]
    for record in appended:
        writer.append(record)
    assert writer.flush()
    written(path, HEADER, appended)
    assert path.read_bytes().count(b"\n") == 5  # one line each: a newline in a string is escaped
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert writer.bytes_written == len(path.read_bytes())
    assert writer.bytes_since_base == len(path.read_bytes()) - len(lines_of(HEADER))
    assert writer.error is None
    writer.close()


def test_the_header_is_always_marked_as_a_chronus_journal(path):
    writer = JournalWriter(path)
    writer.start({"base": {"bpm": 99}, "journal": "something else"})
    writer.close()
    written(path, {"base": {"bpm": 99}, "journal": "chronus"}, [])


def test_a_record_is_frozen_when_appended(path):
    writer = JournalWriter(path)
    writer.start(HEADER)
    record = {"n": 0, "steps": [1, 2]}
    writer.append(record)
    record["steps"].append(3)
    writer.close()
    written(path, HEADER, [{"n": 0, "steps": [1, 2]}])


def test_records_before_a_rebase_stay_in_the_old_file_and_later_ones_go_to_the_new(path):
    writer = JournalWriter(path)
    writer.start(HEADER)
    writer.append({"n": 0})
    assert writer.flush()
    with path.open("rb") as old:  # the old file, even once replaced
        writer.append({"n": 1})
        new_header = {"journal": "chronus", "base": {"bpm": 140}}
        writer.rebase(new_header)
        assert writer.bytes_since_base == 0
        writer.append({"n": 2})
        assert writer.bytes_since_base == len(lines_of({"n": 2}))
        assert writer.flush()
        assert old.read() == lines_of(HEADER, {"n": 0}, {"n": 1})
    written(path, new_header, [{"n": 2}])
    assert not [p for p in path.parent.iterdir() if p != path]  # no temp file left behind
    writer.close()


def test_close_writes_what_is_queued_and_remove_deletes_the_journal(path):
    writer = JournalWriter(path)
    writer.start(HEADER)
    writer.append({"n": 0})
    writer.close()
    written(path, HEADER, [{"n": 0}])
    writer.append({"n": 1})  # after close: nothing is written, nothing is raised
    assert writer.flush()
    written(path, HEADER, [{"n": 0}])

    second = JournalWriter(path)
    second.start(HEADER)
    second.append({"n": 0})
    second.close(remove=True)
    assert not path.exists()
    assert read_journal(path) == JournalRead(None)


def test_flush_before_start_says_nothing_was_written(path):
    writer = JournalWriter(path)
    writer.append({"n": 0})
    assert not writer.flush(timeout=0.1)
    assert not path.exists()


def test_fsyncs_are_batched_while_edits_arrive_and_every_record_is_written(path, flaky):
    writer = JournalWriter(path, sync_interval=0.1)
    writer.start(HEADER)
    assert writer.flush()
    before = flaky.calls["fsync"]
    appended = records(1000)
    began = time.monotonic()
    for record in appended:
        writer.append(record)
        time.sleep(0.0005)
    assert writer.flush(timeout=30)
    elapsed = time.monotonic() - began
    fsyncs = flaky.calls["fsync"] - before
    assert 1 <= fsyncs <= min(100, elapsed / 0.1 + 3), (fsyncs, elapsed)
    written(path, HEADER, appended)
    writer.close()


def test_append_never_waits_for_a_slow_fsync(path, flaky):
    flaky.hold_fsync = threading.Event()
    writer = JournalWriter(path)
    writer.start(HEADER)
    assert flaky.in_fsync.wait(10)  # the writer thread is inside fsync, and stays there
    appended = records(100)
    done = threading.Event()

    def append_all() -> None:
        for record in appended:
            writer.append(record)
        done.set()

    threading.Thread(target=append_all, daemon=True).start()
    returned = done.wait(20)
    still_in_fsync = not flaky.hold_fsync.is_set()
    flaky.hold_fsync.set()
    assert returned and still_in_fsync
    assert writer.flush(timeout=20)
    written(path, HEADER, appended)
    writer.close()


def test_a_full_disk_keeps_the_records_says_so_once_and_catches_up(path, flaky, caplog):
    heard: list[str] = []
    writer = JournalWriter(path, sync_interval=0.01, on_error=heard.append)
    writer.start(HEADER)
    writer.append({"n": 0})
    assert writer.flush()
    flaky.failing["write"] = errno.ENOSPC
    appended = records(50, start=1)
    for record in appended[:25]:
        writer.append(record)
    wait_until(lambda: writer.error is not None, timeout=10)
    writes = flaky.calls["write"]
    for record in appended[25:]:  # each new batch tries again, and fails again
        writer.append(record)
    wait_until(lambda: flaky.calls["write"] > writes + 1, timeout=10)
    assert not writer.flush(timeout=0.2)
    message = (f"journal not written: No space left on device ({path}); "
               "edits are kept in memory and retried")
    assert heard == [message] and writer.error == message
    with caplog.at_level(logging.WARNING, logger="chronus_tui.journalfile"):
        del flaky.failing["write"]
        assert writer.flush(timeout=10)
    assert writer.error is None and heard == [message]
    assert "journal writing again" in caplog.text
    written(path, HEADER, [{"n": 0}, *appended])
    writer.close()


def test_a_failed_fsync_writes_the_file_anew_on_the_writers_own_timer(path, flaky):
    heard: list[str] = []
    writer = JournalWriter(path, on_error=heard.append)
    writer.start(HEADER)
    writer.append({"n": 0})
    assert writer.flush()
    first_file = path.stat().st_ino
    flaky.failing["fsync"] = errno.EIO  # the kernel may have dropped the written pages
    writer.append({"n": 1})
    wait_until(lambda: writer.error is not None, timeout=10)
    del flaky.failing["fsync"]
    wait_until(lambda: writer.error is None, timeout=10)  # no new edit, no flush: a timer retries
    assert len(heard) == 1 and "Input/output error" in heard[0]
    assert path.stat().st_ino != first_file
    written(path, HEADER, [{"n": 0}, {"n": 1}])
    writer.close()


@pytest.mark.parametrize("call", ["open", "replace"])
def test_a_failed_rebase_leaves_the_old_journal_and_no_temp_file_then_succeeds(path, flaky, call):
    writer = JournalWriter(path)
    writer.start(HEADER)
    writer.append({"n": 0})
    assert writer.flush()
    flaky.failing[call] = errno.EROFS
    new_header = {"journal": "chronus", "base": {"bpm": 90}}
    writer.rebase(new_header)
    writer.append({"n": 1})
    wait_until(lambda: writer.error is not None, timeout=10)
    assert "Read-only file system" in writer.error
    assert sorted(path.parent.iterdir()) == [path]
    assert path.read_bytes() == lines_of(HEADER, {"n": 0})
    del flaky.failing[call]
    assert writer.flush(timeout=10)
    written(path, new_header, [{"n": 1}])
    writer.close()


def test_an_unexpected_exception_does_not_end_the_writer(path, flaky):
    writer = JournalWriter(path)
    writer.start(HEADER)
    flaky.failing["write"] = MemoryError()
    writer.append({"n": 0})
    wait_until(lambda: writer.error is not None, timeout=10)
    assert "MemoryError" in writer.error
    del flaky.failing["write"]
    assert writer.flush(timeout=10)
    written(path, HEADER, [{"n": 0}])
    writer.close()


def test_a_removed_folder_or_replaced_file_is_written_anew_with_every_record(path):
    writer = JournalWriter(path)
    writer.start(HEADER)
    writer.append({"n": 0})
    assert writer.flush()
    shutil.rmtree(path.parent)
    writer.append({"n": 1})
    wait_until(lambda: writer.flush(timeout=0.5) and path.exists(), timeout=10)
    other = path.with_name("other")
    other.write_bytes(lines_of(HEADER))
    os.replace(other, path)  # another file in its place
    writer.append({"n": 2})
    wait_until(lambda: writer.flush(timeout=0.5) and len(read_journal(path).records) == 3, timeout=10)
    written(path, HEADER, [{"n": 0}, {"n": 1}, {"n": 2}])
    writer.close()


def test_beyond_the_pending_limit_the_oldest_records_are_dropped_and_counted(path, flaky, monkeypatch):
    monkeypatch.setattr(journalfile, "MAX_PENDING_BYTES", 400)
    heard: list[str] = []
    writer = JournalWriter(path, sync_interval=0.01, on_error=heard.append)
    writer.start(HEADER)
    assert writer.flush()
    flaky.failing["write"] = errno.ENOSPC
    appended = records(40)
    for record in appended:
        writer.append(record)
        time.sleep(0.002)
    wait_until(lambda: "oldest dropped" in (writer.error or ""), timeout=10)
    assert heard[-1].endswith("oldest dropped: over 16 MiB waiting)")
    del flaky.failing["write"]
    assert writer.flush(timeout=10)
    kept = read_journal(path).records
    assert 0 < len(kept) < len(appended) and kept == appended[-len(kept):]
    writer.close()


def make_link(path: Path) -> Path:
    outside = path.parent.parent / "outside.txt"
    outside.write_text("not ours\n")
    path.symlink_to(outside)
    return outside


def make_fifo(path: Path) -> None:
    os.mkfifo(path)


def make_directory(path: Path) -> None:
    path.mkdir()


@pytest.mark.parametrize(("make", "kind"), [(make_link, "a symbolic link"), (make_fifo, "a FIFO"),
                                             (make_directory, "a directory")])
def test_the_writer_refuses_anything_but_a_regular_file_in_the_journals_place(path, make, kind):
    path.parent.mkdir()
    outside = make(path)
    kind_before = stat.S_IFMT(os.lstat(path).st_mode)
    heard: list[str] = []
    writer = JournalWriter(path, on_error=heard.append)
    writer.start(HEADER)
    writer.append({"n": 0})
    assert not writer.flush(timeout=0.5)
    assert heard == [f"journal not written: not a regular file ({kind}) ({path}); "
                     "edits are kept in memory and retried"]
    assert stat.S_IFMT(os.lstat(path).st_mode) == kind_before
    if outside is not None:
        assert outside.read_text() == "not ours\n" and path.is_symlink()
    writer.close()


def test_the_writer_never_makes_its_folder_through_a_link(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "state").symlink_to(tmp_path / "elsewhere")
    heard: list[str] = []
    writer = JournalWriter(journal_path(tmp_path / "state"), on_error=heard.append)
    writer.start(HEADER)
    assert not writer.flush(timeout=0.5)
    assert "its folder is not a real folder" in heard[0]
    assert not any((tmp_path / "elsewhere").iterdir())
    writer.close()


def test_temp_files_of_killed_rebases_are_removed_and_no_others(path):
    path.parent.mkdir()
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    stale = [path.with_name(f"journal.jsonl.{pid}.tmp") for pid in (ended.pid, os.getpid())]
    kept = [path.with_name(name) for name in (f"journal.jsonl.{os.getppid()}.tmp", "journal.jsonl.x.tmp",
                                              f"journal.jsonl.{ended.pid}.tmp.old", "notes.tmp")]
    for file in stale + kept:
        file.write_bytes(b"{")
    writer = JournalWriter(path)
    writer.start(HEADER)
    assert writer.flush()
    assert sorted(path.parent.iterdir()) == sorted([path, *kept])
    writer.close()


# -- the reader ------------------------------------------------------------------------------


def test_a_torn_last_line_keeps_every_whole_record_before_it(tmp_path):
    whole = records(3)
    data = lines_of(HEADER, *whole)
    last = data.rindex(b"\n", 0, len(data) - 1) + 1
    journal = tmp_path / "journal.jsonl"
    for cut in range(last, len(data) + 1):
        journal.write_bytes(data[:cut])
        read = read_journal(journal)
        if cut == last:
            assert read == JournalRead(HEADER, whole[:2])
        elif cut == len(data):
            assert read == JournalRead(HEADER, whole)
        else:  # even `{...}` without its newline: the write did not finish
            assert read == JournalRead(HEADER, whole[:2], torn=True, skipped=1), cut


@pytest.mark.parametrize("bad", [
    b"not json", b"[1, 2]", b'"a string"', b"", b"   ", b"\xff\xfe{}", b'{"a": "\xc3"}',
    b'{"n": 1},{"n": 2}', b"[" * 100_000 + b"]" * 100_000, b"\x00" * 64,
    b'{"big": "' + b"x" * (1 << 20) + b'"}', b'{"n": ' + b"9" * 5000 + b"}",
])
def test_an_unreadable_middle_line_stops_the_read_after_the_records_before_it(tmp_path, bad):
    journal = tmp_path / "journal.jsonl"
    first, after = records(2), records(3, start=2)
    journal.write_bytes(lines_of(HEADER, *first) + bad + b"\n" + lines_of(*after))
    assert read_journal(journal) == JournalRead(HEADER, first, torn=True, skipped=1 + len(after))


@pytest.mark.parametrize("content", [
    b"", b"\n", lines_of({"journal": "other"}, {"n": 1}), b"[1]\n", b"garbage\n{}\n",
    b'{"journal": "chronus"}',  # the header itself torn
    b"\xef\xbb\xbf" + lines_of(HEADER),  # a byte-order mark: not what we write
])
def test_a_file_that_is_not_a_journal_gives_no_header_and_says_so(tmp_path, content):
    journal = tmp_path / "journal.jsonl"
    journal.write_bytes(content)
    read = read_journal(journal)
    assert (read.header, read.records, read.error) == (None, [], "not a Chronus journal")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(max_size=300) | st.text(max_size=100).map(str.encode))
def test_whatever_follows_whole_records_they_are_all_read_and_nothing_raises(tmp_path, garbage):
    journal = tmp_path / "journal.jsonl"
    whole = records(3)
    journal.write_bytes(lines_of(HEADER, *whole) + garbage)
    read = read_journal(journal)
    assert read.header == HEADER and read.records[:3] == whole
    assert all(isinstance(record, dict) for record in read.records)
    lines_after = garbage.count(b"\n") + (bool(garbage) and not garbage.endswith(b"\n"))
    assert len(read.records) - 3 + read.skipped == lines_after  # every line read or counted


def test_no_journal_is_no_error(tmp_path):
    assert read_journal(tmp_path / "journal.jsonl") == JournalRead(None)


def call_with_deadline(function, timeout: float = 20.0):
    """The result of function(), from a thread: a read that blocked would fail here, not hang."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(function()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert result, "the call did not return"
    return result[0]


@pytest.mark.parametrize(("make", "kind"), [(make_link, "a symbolic link"), (make_fifo, "a FIFO"),
                                             (make_directory, "a directory")])
def test_the_reader_refuses_anything_but_a_regular_file_and_never_blocks(tmp_path, make, kind):
    journal = tmp_path / "state" / "journal.jsonl"
    journal.parent.mkdir()
    outside = make(journal)
    if outside is not None:
        outside.write_bytes(lines_of(HEADER, {"n": 0}))
    read = call_with_deadline(lambda: read_journal(journal))
    assert read == JournalRead(None, error=f"journal {journal}: not a regular file ({kind})")


def test_an_oversized_journal_is_read_only_to_the_limit(tmp_path):
    journal = tmp_path / "journal.jsonl"
    whole = records(100)
    data = lines_of(HEADER, *whole)
    journal.write_bytes(data)
    limit = len(data) // 2
    read = read_journal(journal, max_bytes=limit)
    kept = data[:limit].count(b"\n") - 1
    assert read.header == HEADER and read.records == whole[:kept] and read.torn
    assert read.error == f"journal {journal}: over {limit:,} bytes; only the first {limit:,} read"
    exact = len(lines_of(HEADER, *whole[:10]))  # cut on a line's end: still not all of it
    assert read_journal(journal, max_bytes=exact) == JournalRead(
        HEADER, whole[:10], True, 0,
        f"journal {journal}: over {exact:,} bytes; only the first {exact:,} read")


def test_the_number_of_records_read_is_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(journalfile, "MAX_RECORDS", 5)
    journal = tmp_path / "journal.jsonl"
    whole = records(8)
    journal.write_bytes(lines_of(HEADER, *whole))
    assert read_journal(journal) == JournalRead(HEADER, whole[:5], True, 3,
                                                "more than 5 records; the rest not read")


# -- a real crash ------------------------------------------------------------------------------

CHILD = """
import sys, time
from pathlib import Path
from chronus_tui.journalfile import JournalWriter

writer = JournalWriter(Path(sys.argv[1]))
writer.start({"journal": "chronus"})
appended_at, acked = [], -1
while True:
    writer.append({"n": len(appended_at), "pad": "x" * 120})
    appended_at.append(time.monotonic())
    while acked + 1 < len(appended_at) and appended_at[acked + 1] <= time.monotonic() - 0.25:
        acked += 1
        print("acked", acked, flush=True)
    time.sleep(0.001)
"""


def test_every_record_appended_250_ms_before_a_sigkill_is_in_the_journal(tmp_path):
    rng = random.Random(15)
    for run in range(20):
        journal = journal_path(tmp_path / f"run{run}")
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(journal)], stdout=subprocess.PIPE,
                                 text=True)
        try:
            assert child.stdout is not None
            first = child.stdout.readline()  # the first ack: the writer has run 250 ms
            assert first.startswith("acked"), first
            time.sleep(rng.uniform(0.0, 0.4))
        finally:
            child.send_signal(signal.SIGKILL)
            rest = child.communicate(timeout=30)[0]
        # the last whole "acked N" line: the kill may cut the one being written
        acked = max(int(line.split()[1]) for line in (first + rest).splitlines(keepends=True)
                    if line.endswith("\n") and len(line.split()) == 2)
        kept = [record["n"] for record in read_journal(journal).records]
        assert kept == list(range(len(kept))) and len(kept) > acked, (run, acked, len(kept))
