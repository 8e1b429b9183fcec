"""The slot store under hostile and careless files, against the real `chronus --no-ui` and
`chronus slots`: a FIFO or a huge file in slots/ never stalls a listing, a linked slot is
never saved through, and an unreadable autosave is moved aside, never overwritten."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

from support.headless import READY, Headless
from support.osc import OscClient, free_udp_port

from chronus_tui.model import Pattern, Track, parse_steps
from chronus_tui.patternfile import dumps, pattern_to_dict
from chronus_tui.runtime import Runtime, initial_pattern
from chronus_tui.session import Session
from chronus_tui.store import MAX_BACKUPS, SlotStore

GARBAGE = b'{"format": "chronus-pattern", "sequencer": [garbage'
REPLY_SECONDS = 10.0  # generous: a loaded 2-core machine; a blocked listing never answers at all


def good_text(name: str) -> str:
    return dumps(pattern_to_dict(Pattern(name=name, tracks=[Track("kick", "voice1", parse_steps("X..."))])))


def start(tmp_path: Path) -> Headless:
    process = Headless(tmp_path / "patterns", tmp_path / "state", free_udp_port())
    try:
        process.wait_for(READY)
    except BaseException:
        process.proc.kill()
        process.proc.wait()
        raise
    return process


def stop(process: Headless) -> None:
    """SIGTERM, as a user stops it: exit 0. A process that does not stop is killed."""
    try:
        code = process.stop(signal.SIGTERM)
    finally:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()
    assert code == 0, "\n".join(process.lines)


def aside_files(patterns: Path, slot: int) -> list[Path]:
    return sorted((patterns / "slots").glob(f"slot_{slot:03d}.unreadable-*.json"))


def odd_slots(patterns: Path) -> None:
    """A FIFO at slot 5, a 5 MiB file at slot 6, a good pattern at slot 7."""
    store = SlotStore(patterns)
    os.mkfifo(store.slot_path(5))
    with open(store.slot_path(6), "wb") as handle:
        handle.truncate(5 << 20)
    store.slot_path(7).write_text(good_text("seven"))


def test_pattern_list_answers_with_a_fifo_and_a_huge_file_in_slots(tmp_path):
    patterns = tmp_path / "patterns"
    odd_slots(patterns)
    process = start(tmp_path)
    client = OscClient(process.port)
    try:
        client.send("/pattern/list")
        address, args = client.recv(REPLY_SECONDS)
        assert address == "/pattern/list"
        entries = {e["slot"]: e for e in json.loads(args[0])}
        assert entries[5]["error"] == "A05: not a regular file (a FIFO)"
        assert entries[6]["error"] == "A06: 5 MiB file, over the 4 MiB limit; not read"
        assert entries[7]["name"] == "seven" and entries[7]["error"] is None
        os.mkfifo(patterns / "slots" / "slot_009.json")  # one that appears while it runs
        client.send("/pattern/load", 9)
        address, args = client.recv(REPLY_SECONDS)
        assert address == "/error" and "A09: not a regular file (a FIFO)" in args[1]
        client.send("/seq/status")
        assert client.recv(REPLY_SECONDS)[0] == "/seq/status"
    finally:
        client.close()
        stop(process)


def test_chronus_slots_returns_with_a_fifo_and_a_huge_file(tmp_path):
    patterns = tmp_path / "patterns"
    odd_slots(patterns)
    for extra in ([], ["--json"]):
        done = subprocess.run([sys.executable, "-m", "chronus_tui", "slots", "--patterns-dir", str(patterns),
                               *extra], capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert "A05: not a regular file (a FIFO)" in done.stdout
        assert "A06: 5 MiB file, over the 4 MiB limit; not read" in done.stdout
        assert "seven" in done.stdout


def test_a_linked_slot_is_refused_and_its_target_untouched_after_11_saves(tmp_path):
    outside = tmp_path / "outside" / "precious.json"
    outside.parent.mkdir()
    outside.write_text(good_text("precious"))
    content = outside.read_bytes()
    patterns = tmp_path / "patterns"
    (patterns / "slots").mkdir(parents=True)
    (patterns / "slots" / "slot_008.json").symlink_to(outside)
    process = start(tmp_path)
    client = OscClient(process.port)
    try:
        for _ in range(MAX_BACKUPS + 1):
            client.send("/pattern/save", 8)
            address, args = client.recv(REPLY_SECONDS)
            assert address == "/error", (address, args)
            assert ("A08: not saved: slots/slot_008.json is not a regular file (a symbolic link)"
                    in args[1])
            assert str(tmp_path) not in args[1]
    finally:
        client.close()
        stop(process)
    assert outside.read_bytes() == content
    assert sorted(p.name for p in outside.parent.iterdir()) == ["precious.json"]
    assert (patterns / "slots" / "slot_008.json").is_symlink()


def test_an_unreadable_autosave_survives_quits_of_the_real_process(tmp_path):
    patterns = tmp_path / "patterns"
    (patterns / "slots").mkdir(parents=True)
    (patterns / "slots" / "slot_000.json").write_bytes(GARBAGE)
    for run in range(3):
        process = start(tmp_path)
        stop(process)
        log = "\n".join(process.lines)
        if run == 0:
            assert "autosave not loaded: autosave: not valid JSON" in log
            assert "the file is kept, never overwritten" in log
            (aside,) = aside_files(patterns, 0)
            assert f"moved aside to slots/{aside.name}, not overwritten" in log
        else:
            assert "autosave not loaded" not in log and "moved aside" not in log  # said once
    assert [p.read_bytes() for p in aside_files(patterns, 0)] == [GARBAGE]
    assert SlotStore(patterns).load(0).tracks  # the autosave is the live session again


def quit_once(patterns: Path, changes: list, notices: list[str]) -> None:
    """One start and quit as open_runtime and Runtime.close do them, without an engine."""
    store = SlotStore(patterns)
    session = Session(store, pattern=initial_pattern(store, notices))
    session.subscribe(changes.append)
    Runtime(store, session, None, notices).close()


def test_an_unreadable_autosave_survives_11_quits(tmp_path, caplog):
    patterns = tmp_path / "patterns"
    (patterns / "slots").mkdir(parents=True)
    (patterns / "slots" / "slot_000.json").write_bytes(GARBAGE)
    changes: list = []
    notices: list[str] = []
    with caplog.at_level(logging.WARNING):
        for _ in range(MAX_BACKUPS + 1):
            quit_once(patterns, changes, notices)
    (aside,) = aside_files(patterns, 0)
    assert aside.read_bytes() == GARBAGE
    assert len(notices) == 1 and notices[0].startswith("autosave not loaded: autosave: not valid JSON")
    reported = [c.data["message"] for c in changes if c.kind == "error"]
    assert len(reported) == 1 and f"moved aside to slots/{aside.name}" in reported[0]
    assert [r.getMessage() for r in caplog.records if "moved aside" in r.getMessage()] == reported
    store = SlotStore(patterns)
    demo = store.load_library("demo")
    assert len(store.backups(0)) == MAX_BACKUPS and store.load(0).tracks == demo.tracks
