"""Start-up faults against the real `chronus`: a second instance on one patterns folder, a
start that fails, a log folder that cannot be written, and a flood that must not flood the
log. Each one exits or runs as it should, says why in one line, and leaves the patterns
folder byte for byte as it was."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pythonosc.osc_message_builder import build_msg
from support.headless import Headless, ready
from support.osc import OscClient, free_udp_port

from chronus_tui import cli, logs
from chronus_tui.folderlock import LOCK_NAME, FolderInUse, FolderLock
from chronus_tui.store import SlotStore, StoreError, factory_patterns
from chronus_tui.ui.app import ChronusApp


def snapshot(folder: Path, *, lock_holder: bool = True) -> dict[str, bytes]:
    """Every file under `folder` and its bytes (folders as an empty marker). Without
    lock_holder, the lock file's content (the pid of whoever held it last) is left out."""
    def content(path: Path) -> bytes:
        if path.is_dir():
            return b"<dir>"
        return path.read_bytes() if lock_holder or path.name != LOCK_NAME else b"<lock>"

    return {str(p.relative_to(folder)): content(p) for p in sorted(folder.rglob("*"))}


def finished(process: Headless, timeout: float = 60) -> int:
    code = process.proc.wait(timeout)
    process._reader.join(5)
    return code


def saved_folder(tmp_path: Path) -> Path:
    """A patterns folder a chronus has used, with a set in it: an autosave and slot 1."""
    patterns = tmp_path / "patterns"
    SlotStore(patterns)
    FolderLock.acquire(patterns).release()
    demo = next(path for path in factory_patterns() if path.stem == "demo").read_bytes()
    for slot in (0, 1):
        (patterns / "slots" / f"slot_{slot:03d}.json").write_bytes(demo)
    return patterns


@pytest.fixture
def first(tmp_path: Path) -> Iterator[Headless]:
    with ready(Headless(saved_folder(tmp_path), tmp_path / "state1", free_udp_port())) as process:
        yield process


# -- one instance per patterns folder ----------------------------------------------------


def test_a_second_headless_on_the_folder_exits_1_naming_the_first_and_writes_nothing(
        first: Headless, tmp_path: Path) -> None:
    patterns = tmp_path / "patterns"
    before = snapshot(patterns)
    assert (patterns / LOCK_NAME).read_text() == f"{first.proc.pid}\n"
    second = Headless(patterns, tmp_path / "state2", free_udp_port())
    assert finished(second) == 1
    assert any(f"the patterns folder {patterns} is in use by chronus (pid {first.proc.pid}); stop it first "
               "or use another --patterns-dir" in line for line in second.lines), second.lines
    assert snapshot(patterns) == before
    engine_log = tmp_path / "state2" / "chronus" / "log" / "engine.log"
    assert not engine_log.exists() or engine_log.stat().st_size == 0  # no engine ever ran
    client = OscClient(first.port)
    try:
        assert client.query("/engine/status")["backend"] == "null"  # the first plays on
    finally:
        client.close()


def test_the_ui_refuses_a_held_folder_before_starting_an_engine(first: Headless, tmp_path: Path) -> None:
    patterns = tmp_path / "patterns"
    before = snapshot(patterns)
    env = {**os.environ, "PYO_GUI_WX": "0", "XDG_STATE_HOME": str(tmp_path / "state2")}
    ui = subprocess.run([sys.executable, "-m", "chronus_tui", "--audio", "null", "--osc-port",
                         str(free_udp_port()), "--patterns-dir", str(patterns)],
                        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=60)
    assert ui.returncode == 1
    assert ui.stderr.strip() == (f"chronus: the patterns folder {patterns} is in use by chronus "
                                 f"(pid {first.proc.pid}); stop it first or use another --patterns-dir")
    assert snapshot(patterns) == before
    engine_log = tmp_path / "state2" / "chronus" / "log" / "engine.log"
    assert not engine_log.exists() or engine_log.stat().st_size == 0


def test_a_folder_held_by_a_killed_instance_is_simply_locked_again(first: Headless, tmp_path: Path) -> None:
    first.proc.kill()
    first.proc.wait()
    patterns = tmp_path / "patterns"
    assert (patterns / LOCK_NAME).read_text() == f"{first.proc.pid}\n"  # the stale file stays
    with ready(Headless(patterns, tmp_path / "state2", free_udp_port())) as again:
        assert (patterns / LOCK_NAME).read_text() == f"{again.proc.pid}\n"
        assert again.stop(signal.SIGTERM) == 0


def test_read_only_commands_take_no_lock(first: Headless, tmp_path: Path) -> None:
    env = {**os.environ, "PYO_GUI_WX": "0"}
    listing = subprocess.run([sys.executable, "-m", "chronus_tui", "slots", "--json", "--patterns-dir",
                              str(tmp_path / "patterns")],
                             capture_output=True, text=True, env=env, timeout=60)
    assert listing.returncode == 0, listing.stderr
    assert [entry["slot"] for entry in json.loads(listing.stdout)] == [0, 1]


def test_the_lock_in_process(tmp_path: Path) -> None:
    root = tmp_path / "new" / "patterns"
    held = FolderLock.acquire(root)  # makes the folder
    try:
        with pytest.raises(FolderInUse, match=rf"in use by chronus \(pid {os.getpid()}\)"):
            FolderLock.acquire(root)  # flock is per open file: a second open conflicts even here
    finally:
        held.release()
    FolderLock.acquire(root).release()
    (root / LOCK_NAME).write_text("not a pid")  # a damaged file is locked again and rewritten
    FolderLock.acquire(root).release()
    assert (root / LOCK_NAME).read_text() == f"{os.getpid()}\n"


@pytest.mark.parametrize("kind", ["symlink", "fifo", "folder"])
def test_a_lock_file_that_is_not_a_regular_file_is_refused_not_followed_or_waited_on(
        tmp_path: Path, kind: str) -> None:
    root, outside = tmp_path / "patterns", tmp_path / "outside.txt"
    root.mkdir()
    outside.write_text("keep me")
    lock = root / LOCK_NAME
    if kind == "symlink":
        lock.symlink_to(outside)
    elif kind == "fifo":
        os.mkfifo(lock)
    else:
        lock.mkdir()
    with pytest.raises(StoreError, match="cannot lock the patterns folder") as refused:
        FolderLock.acquire(root)
    assert not isinstance(refused.value, FolderInUse)
    assert outside.read_text() == "keep me"
    assert sorted(p.name for p in root.iterdir()) == [LOCK_NAME]


# -- a start that fails writes nothing ---------------------------------------------------


def test_port_taken_exits_1_and_leaves_the_set_untouched(tmp_path: Path) -> None:
    patterns = saved_folder(tmp_path)
    before = snapshot(patterns, lock_holder=False)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        process = Headless(patterns, tmp_path / "state", taken.getsockname()[1])
        code = finished(process)
    assert code == 1
    assert any("cannot listen for OSC" in line for line in process.lines), process.lines
    assert snapshot(patterns, lock_holder=False) == before  # no autosave, no backup of it, no temp file


def test_port_taken_on_a_new_folder_creates_no_autosave(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        process = Headless(tmp_path / "patterns", tmp_path / "state", taken.getsockname()[1])
        assert finished(process) == 1
    assert not (tmp_path / "patterns" / "slots" / "slot_000.json").exists()
    assert not any((tmp_path / "patterns" / "backups").rglob("*.json"))


@pytest.mark.parametrize("extra", [("--buffer", "100"), ("--sr", "1000")], ids=["buffer", "sr"])
def test_bad_audio_options_exit_1_before_the_folder_is_touched(tmp_path: Path,
                                                               extra: tuple[str, ...]) -> None:
    process = Headless(tmp_path / "patterns", tmp_path / "state", free_udp_port(), *extra)
    assert finished(process) == 1
    assert not (tmp_path / "patterns").exists()
    assert not any("Traceback" in line for line in process.lines), process.lines


def test_an_engine_that_cannot_start_leaves_the_set_untouched(tmp_path: Path, monkeypatch) -> None:
    patterns = saved_folder(tmp_path)
    before = snapshot(patterns, lock_holder=False)
    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"chronus-no-such-server-{os.getpid()}")
    process = Headless(patterns, tmp_path / "state", free_udp_port(), "--audio", "jack")
    assert finished(process) == 1
    assert any("cannot start the audio engine" in line for line in process.lines), process.lines
    assert snapshot(patterns, lock_holder=False) == before
    FolderLock.acquire(patterns).release()  # and the folder is free again


# -- a log folder that cannot be written -------------------------------------------------


def break_log_folder(state: Path, broken: str) -> None:
    if broken == "log folder is a file":
        (state / "chronus").mkdir(parents=True)
        (state / "chronus" / "log").write_text("not a folder")
    else:
        (state / "chronus" / "log" / "engine.log").mkdir(parents=True)
        (state / "chronus" / "log" / "chronus.log").mkdir()


@pytest.mark.parametrize("broken", ["log folder is a file", "log files are folders"])
def test_headless_with_an_unwritable_log_folder_warns_once_and_plays(tmp_path: Path, broken: str) -> None:
    break_log_folder(tmp_path / "state", broken)
    with ready(Headless(tmp_path / "patterns", tmp_path / "state", free_udp_port())) as process:
        client = OscClient(process.port)
        try:
            assert client.query("/engine/status")["backend"] == "null"
        finally:
            client.close()
        assert process.stop(signal.SIGTERM) == 0
    warnings = [line for line in process.lines if "cannot write" in line]
    assert len(warnings) == 1 and "the engine's output is discarded" in warnings[0], process.lines
    assert not any("Traceback" in line for line in process.lines), process.lines


@pytest.mark.parametrize("broken", ["log folder is a file", "log files are folders"])
def test_the_ui_with_an_unwritable_log_folder_warns_once_and_runs(tmp_path: Path, monkeypatch, capsys,
                                                                  root_logging, broken: str) -> None:
    break_log_folder(tmp_path / "state", broken)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    shown: list[list[str]] = []

    async def look_and_quit(pilot) -> None:
        shown.append(list(pilot.app.notices))
        await pilot.press("q")

    def run_headless(app: ChronusApp) -> None:
        super(ChronusApp, app).run(headless=True, auto_pilot=look_and_quit)

    monkeypatch.setattr(ChronusApp, "run", run_headless)
    code = cli.main(["--audio", "null", "--osc-port", str(free_udp_port()),
                     "--patterns-dir", str(tmp_path / "patterns")])
    err = capsys.readouterr().err
    assert code == 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chronus: cannot write"), err
    assert "no log is kept while the UI runs" in lines[0] and "the engine's output is discarded" in lines[0]
    assert shown and any("cannot write" in notice for notice in shown[0])  # said on screen too
    assert (tmp_path / "patterns" / "slots" / "slot_000.json").exists()  # it ran: quit autosaved


# -- a flood must not flood the log ------------------------------------------------------


def test_a_flood_of_messages_leaves_the_log_bounded(tmp_path: Path) -> None:
    with ready(Headless(tmp_path / "patterns", tmp_path / "state", free_udp_port())) as process:
        started = time.monotonic()
        logged_before = len(process.lines)
        flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        refused, accepted = build_msg("/seq/bpm", ["fast"]).dgram, build_msg("/seq/bpm", [120.0]).dgram
        client = OscClient(process.port)
        queries = 0

        def round_trip() -> None:
            nonlocal queries
            queries += 1
            client.send("/seq/status")
            assert client.recv(timeout=30)[0] == "/seq/status"  # answered once the datagrams before it are

        try:
            for n in range(20_000):
                flood.sendto(refused if n % 2 else accepted, ("127.0.0.1", process.port))
                if n % 50 == 49:  # paced, so the socket's buffer never drops what the log must count
                    round_trip()
        finally:
            flood.close()
            client.close()
        # The counts come with the first line logged once their second is over: before it.
        time.sleep(1.2)
        last = OscClient(process.port)
        try:
            assert last.query("/seq/status")["bpm"] == 120.0
        finally:
            last.close()
        queries += 1
        process.wait_for(f"127.0.0.1:{last.port} /seq/status", timeout=30)
        elapsed = time.monotonic() - started
        assert process.stop(signal.SIGTERM) == 0
    during = process.lines[logged_before:]
    # Per second: each template at most LINES_PER_SECOND times plus its count line; the flood
    # has two templates, the status queries share one with the accepted messages.
    bound = 4 * (logs.LINES_PER_SECOND + 1) * (elapsed + 2)
    assert len(during) < bound, (len(during), elapsed)
    # Every accepted message and every query is in the log: as a line of its own, or counted.
    answered = 0
    for line in during:
        if " -> " in line:
            counted = re.search(r"(\d+) similar lines suppressed", line)
            answered += int(counted.group(1)) if counted else 1
    assert answered >= 0.99 * (10_000 + queries), (answered, queries)


def test_the_engine_log_is_kept_bounded_while_an_engine_runs(tmp_path: Path) -> None:
    path = tmp_path / "state" / "chronus" / "log" / "engine.log"
    with ready(Headless(tmp_path / "patterns", tmp_path / "state", free_udp_port())) as process:
        with open(path, "ab") as flood:  # as a chatty engine would: appending to the same file
            flood.write(b"chatter\n" * (3 * logs.LOG_MAX_BYTES // 8))
            flood.write(b"the last line\n")
        deadline = time.monotonic() + 60
        while path.stat().st_size > logs.LOG_MAX_BYTES:
            assert time.monotonic() < deadline, path.stat().st_size
            time.sleep(0.1)
        backup = path.with_name("engine.log.1").read_bytes()
        # The tail is kept (the engine may have written a line after ours).
        assert len(backup) <= logs.LOG_MAX_BYTES and b"the last line\n" in backup[-4096:]
        assert process.stop(signal.SIGTERM) == 0
