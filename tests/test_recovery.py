"""Crash recovery in process: open_runtime rebuilds the session a journal left behind, a
clean quit removes the journal, and nothing on disk changes before the instance serves.

A "crash" here is a runtime whose journal was written and whose lock was let go without
Runtime.close: what SIGKILL leaves once the writer has synced (test_faults_crash kills the
real process).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from support.osc import free_udp_port, wait_until
from support.patterns import full_pattern
from test_faults_ui import toasts

from chronus_tui import cli
from chronus_tui.journalfile import encode_line, read_journal
from chronus_tui.recovery import CARRIED_HISTORY_BYTES, journal_location
from chronus_tui.runtime import Runtime, open_runtime
from chronus_tui.session import ChangeKind, SessionError
from chronus_tui.store import SlotStore, factory_patterns
from chronus_tui.ui.app import ChronusApp

UI = "ui"
AGENT = "osc 127.0.0.1:9000"


def args_for(patterns_dir: Path | None) -> argparse.Namespace:
    return argparse.Namespace(patterns_dir=patterns_dir, audio="null", sr=48000, buffer=256)


def journal_of(patterns_dir: Path) -> Path:
    return patterns_dir / "journal" / "journal.jsonl"


@pytest.fixture
def start(patterns_dir: Path) -> Iterator[Any]:
    """start(serve=True): a runtime on patterns_dir (no engine), serving unless told not to;
    every one still open is closed at the end."""
    opened: list[Runtime] = []

    def open_one(serve: bool = True) -> Runtime:
        runtime = open_runtime(args_for(patterns_dir), with_engine=False)
        opened.append(runtime)
        if serve:
            runtime.serving()
        return runtime

    yield open_one
    for runtime in opened:
        runtime.close()


def crash(runtime: Runtime) -> None:
    """End `runtime` as a kill would once its journal is on disk: no autosave, no removal."""
    assert runtime.journal is not None and runtime.journal.flush()
    runtime.journal.close(remove=False)
    runtime.autosave = False  # a later close() (the fixture's) is then only the lock's release
    assert runtime.lock is not None
    runtime.lock.release()


def demo_bytes() -> bytes:
    return next(path for path in factory_patterns() if path.stem == "demo").read_bytes()


def every_kind_of_edit(runtime: Runtime) -> None:
    """One edit of each kind the journal records, by two authors, with an undo and a redo."""
    session = runtime.session
    session.set_param("voice2", "filter/freq", 900.0, source=UI)
    session.set_bpm(133.0, source=AGENT)
    session.set_swing(0.2, source=AGENT)
    session.set_name("Crashed Set", source=UI)
    session.add_track("lead", "voice5", "x.x.X...", notes=[60, 62], source=AGENT)
    session.remove_track("stab", source=UI)
    session.set_step("bass", 1, True, note=40, accent=True, slide=True, source=UI)
    session.set_length("hats", 12, source=UI)  # hides four steps, which are kept
    session.set_mute("kick", True, source=AGENT)
    session.set_solo("bass", True, source=AGENT)
    session.set_level("lead", 0.4, source=AGENT)
    session.set_gate("lead", 0.3, source=AGENT)
    session.update_pattern("lead", "X.x.x.x.", source=AGENT)
    session.update_notes("bass", [36, 43], source=UI)
    with session.edit_group(AGENT, "two at once"):
        session.set_param("reverb1", "mix", 0.5, source=AGENT)
        session.set_param("delay1", "mix", 0.1, source=AGENT)
    session.undo(source=AGENT)  # the group
    session.redo(source=AGENT)
    session.undo(source=UI)  # the notes
    session.set_param("voice1", "amp", 0.3, source=UI)


# -- where ---------------------------------------------------------------------------------


@pytest.fixture
def user_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's data and state folders under tmp_path (the default patterns folder is in
    data/); returns the state folder Chronus uses."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("CHRONUS_PATTERNS_DIR", raising=False)
    return tmp_path / "state" / "chronus"


def test_the_journal_lives_in_the_state_folder_for_the_default_patterns_folder_else_inside_it(
        tmp_path: Path, user_folders: Path) -> None:
    default = tmp_path / "data" / "chronus" / "patterns"
    assert journal_location(default) == user_folders / "journal.jsonl"
    assert journal_location(tmp_path / "mine") == tmp_path / "mine" / "journal" / "journal.jsonl"


def test_the_default_folders_session_is_journaled_in_the_state_folder_and_recovered(
        tmp_path: Path, user_folders: Path) -> None:
    first = open_runtime(args_for(None), with_engine=False)
    first.serving()
    first.session.set_bpm(123.0, source=UI)
    crash(first)
    read = read_journal(user_folders / "journal.jsonl")
    assert read.header is not None and read.records[-1]["edit"]["ops"][0][2] == 123.0
    assert not (tmp_path / "data" / "chronus" / "patterns" / "journal").exists()
    second = open_runtime(args_for(None), with_engine=False)
    try:
        second.serving()
        assert second.session.pattern.bpm == 123.0
    finally:
        second.close()
    assert os.listdir(user_folders) == []  # the clean quit removed it


# -- recovery ------------------------------------------------------------------------------


def test_every_kind_of_edit_is_recovered_after_a_crash(start: Any, store: SlotStore) -> None:
    first = start()
    store.save(7, first.session.snapshot(), name="Seven")
    first.session.load_slot(7, "now", source=UI)
    every_kind_of_edit(first)
    expected, entries = first.session.snapshot(), first.session.history.last(100)
    started = first.session.started
    crash(first)

    second = start()
    session = second.session
    assert session.snapshot() == expected
    assert session.pattern.track("hats").hidden  # the hidden steps came back too
    assert session.transport.playing_slot == 7
    assert session.started == started
    assert [(e.id, e.author, e.summary, e.undone) for e in session.history.last(100)] == [
        (e.id, e.author, e.summary, e.undone) for e in entries]
    # the load and 16 edits (the undone notes dropped from the history by UI's next edit),
    # two undos and a redo
    when = datetime.fromtimestamp(started).strftime("%H:%M")
    assert second.notices == [f"recovered 20 edits from the session of {when} (unclean exit)"]
    # recovered edits can be undone like any others
    session.undo(source=UI)
    assert session.pattern.modules["voice1"]["amp"] != 0.3


def test_the_recovered_session_is_saved_to_slot_0_and_the_slot_0_before_is_kept_as_a_backup(
        start: Any, store: SlotStore, patterns_dir: Path) -> None:
    (patterns_dir / "slots" / "slot_000.json").write_bytes(demo_bytes())
    first = start()
    first.session.set_bpm(150.0, source=UI)
    expected = first.session.snapshot()
    crash(first)

    second = start()
    assert second.session.pattern.bpm == 150.0
    saved = json.loads((patterns_dir / "slots" / "slot_000.json").read_text())
    assert saved["saved_at"] is not None
    assert {**saved, "saved_at": None} == expected
    backups = list((patterns_dir / "backups" / "slot_000").glob("*.json"))
    assert [path.read_bytes() for path in backups] == [demo_bytes()]
    # and the new journal starts from the recovered state
    assert second.journal is not None and second.journal.flush()
    read = read_journal(journal_of(patterns_dir))
    assert read.header is not None and read.header["base"]["pattern"] == expected and read.records == []


def test_a_crash_before_any_edit_says_so_and_adds_no_backup(start: Any, store: SlotStore,
                                                             patterns_dir: Path) -> None:
    (patterns_dir / "slots" / "slot_000.json").write_bytes(demo_bytes())
    crash(start())
    second = start()
    assert second.notices[0].startswith("recovered 0 edits from the session of ")
    assert (patterns_dir / "slots" / "slot_000.json").read_bytes() == demo_bytes()
    assert not (patterns_dir / "backups" / "slot_000").exists()


def test_a_coalesced_run_written_several_times_is_one_edit(start: Any, patterns_dir: Path) -> None:
    first = start()
    for value in (1000.0, 1100.0, 1200.0):  # one knob turned: one entry, written three times
        first.session.set_param("acid1", "cutoff", value, source=AGENT)
        assert first.journal is not None and first.journal.flush()
    crash(first)
    records = read_journal(journal_of(patterns_dir)).records
    assert [r["edit"]["id"] for r in records] == [1, 1, 1]

    second = start()
    assert second.session.pattern.modules["acid1"]["cutoff"] == 1200.0
    assert len(second.session.history) == 1
    assert second.notices[0].startswith("recovered 1 edit from ")
    second.session.undo(source=AGENT)  # the run's first value is what it undoes to
    assert second.session.pattern.modules["acid1"]["cutoff"] == 500.0


def test_interleaved_runs_recover_to_the_live_state_and_history(start: Any) -> None:
    """Only a run's last write is replayed, at the run's first place: the recovered history
    keeps the live order, and a run that went on after its author undid someone else's
    edit ends that author's redo branch as it did live."""
    first = start()
    live = first.session
    live.set_bpm(130.0, source=AGENT)
    for value in (900.0, 1000.0):
        live.set_param("acid1", "cutoff", value, source=UI)  # a knob: one entry, written again
        live.set_swing(0.1 + value / 10_000, source=AGENT)  # another author's runs between
    live.undo(everyone=True, source=UI)  # the knob's author takes back the agent's swing run
    live.set_param("acid1", "cutoff", 1100.0, source=UI)  # ... and turns on: the run goes on
    live.set_param("acid1", "cutoff", 1200.0, source=UI)
    expected = (live.snapshot(), [e.as_dict() for e in live.history.entries])
    crash(first)
    second = start()
    recovered = second.session
    assert (recovered.snapshot(), [e.as_dict() for e in recovered.history.entries]) == expected
    with pytest.raises(SessionError):  # the swing run the keyboard undid is gone for it
        recovered.redo(source=UI)


def test_a_crash_after_crash_recovers_the_edits_of_both_sessions(start: Any) -> None:
    first = start()
    first.session.set_bpm(101.0, source=UI)
    crash(first)
    second = start()
    second.session.set_swing(0.3, source=UI)
    crash(second)
    third = start()
    assert (third.session.pattern.bpm, third.session.pattern.swing) == (101.0, 0.3)


def test_undo_and_redo_of_recovered_edits_survive_the_next_crash(start: Any) -> None:
    first = start()
    first.session.set_bpm(150.0, source=UI)
    first.session.set_swing(0.3, source=UI)
    first.session.set_name("Before", source=AGENT)
    first.session.undo(source=AGENT)
    crash(first)
    second = start()
    second.session.undo(source=UI)  # the swing, made before the first crash
    second.session.redo(source=AGENT)  # the name, undone before it
    expected = second.session.snapshot()
    crash(second)

    third = start()
    assert third.session.snapshot() == expected
    assert (third.session.pattern.swing, third.session.pattern.name) == (0.08, "Before")
    third.session.redo(source=UI)  # and the history goes on where it was
    assert third.session.pattern.swing == 0.3
    assert third.notices[0].startswith("recovered 2 edits ")


def test_a_new_journal_carries_a_bounded_history(start: Any, patterns_dir: Path) -> None:
    first = start()
    big = full_pattern()
    for number in range(60):  # loads: an entry holds two whole patterns
        first.session.apply_snapshot(replace(big, name=f"Take {number}"), "now", source=UI)
    crash(first)
    second = start()
    assert second.journal is not None and second.journal.flush()
    header_line = journal_of(patterns_dir).read_bytes().splitlines()[0]
    carried = json.loads(header_line)["history"]
    assert 0 < len(carried) < 60 and len(header_line) < 2 * CARRIED_HISTORY_BYTES
    assert [e.id for e in second.session.history.entries] == [r["id"] for r in carried]
    assert carried[-1]["summary"] == "load 'Take 59'"


# -- hostile journals ----------------------------------------------------------------------


def write_journal(path: Path, header: dict[str, Any], records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(map(encode_line, [header, *records])))


def edit(ident: int, target: list[Any], before: Any, after: Any) -> dict[str, Any]:
    return {"edit": {"id": ident, "author": AGENT, "time": time.time(), "bar": 0, "step": 0,
                     "summary": "edit", "ops": [[target, before, after]]}}


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def test_hostile_records_are_skipped_and_counted_and_the_good_ones_applied(
        start: Any, patterns_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = start()
    header = first.session.journal_header()
    bpm, swing = first.session.pattern.bpm, first.session.pattern.swing
    crash(first)
    hostile = [
        {"edit": "not an entry"},
        {"edit": {**edit(2, ["bpm"], bpm, 130.0)["edit"], "id": "2"}},  # an id of the wrong type
        edit(3, ["volume", "up"], 0, 1),  # no such target
        edit(4, ["step", "nobody", 0], [False, False, None, False], [True, False, None, False]),
        edit(5, ["field", "kick", "level"], 1.0, nested(64)),
        edit(6, ["swing"], swing, 10 ** 400),
        edit(7, ["bpm"], bpm, 1e308),
        edit(8, ["param", "voice1", "amp"], 0.5, float("nan")),
        {"undo": 999, "by": AGENT},  # no such entry
        {"redo": 1},  # not undone
        {"edit": {}, "undo": 1, "redo": 1},
        {"edit": nested(64)},
        edit(11, ["pattern"], None, {"pattern": first.session.snapshot(), "slot": 999}),
    ]
    good = [edit(1, ["bpm"], bpm, 140.0), edit(9, ["swing"], swing, 0.25), {"undo": 9, "by": AGENT},
            {"redo": 9}, edit(10, ["name"], "x", "Survivor")]
    write_journal(journal_of(patterns_dir), header, [good[0], *hostile[:6], good[1], *hostile[6:], *good[2:]])

    second = start()
    session = second.session
    assert (session.pattern.bpm, session.pattern.swing, session.pattern.name) == (140.0, 0.25, "Survivor")
    assert session.pattern.track("kick").level == 1.0
    assert not any(t.name == "nobody" for t in session.pattern.tracks)
    assert second.notices[0].endswith(f"(unclean exit); {len(hostile)} records could not be applied, skipped")
    assert second.notices[0].startswith("recovered 5 edits ")
    assert sum("skipped" in r.getMessage() for r in caplog.records) == 10  # the first ten, one by one


def test_a_torn_journal_recovers_every_whole_record_before_the_tear(start: Any, patterns_dir: Path) -> None:
    first = start()
    for bpm in (121.0, 122.0, 123.0):
        first.session.set_swing(0.0, source=UI)
        first.session.set_bpm(bpm, source=UI)
        first.session.set_swing(0.1, source=AGENT)  # no run: each bpm is an edit of its own
    crash(first)
    path = journal_of(patterns_dir)
    whole = path.read_bytes()
    cut = whole[: len(whole) - len(whole.splitlines()[-1]) // 2 - 1]  # half the last record gone
    path.write_bytes(cut)
    records = read_journal(path).records

    second = start()
    assert second.session.pattern.bpm == 123.0 and second.session.pattern.swing == 0.0
    assert len(records) == 8
    assert second.notices[0].endswith("(unclean exit); the last record was cut off by the crash")


def test_a_damaged_record_stops_the_read_and_says_how_much_was_left(start: Any, patterns_dir: Path) -> None:
    first = start()
    for bpm, swing in ((121.0, 0.1), (122.0, 0.2)):
        first.session.set_bpm(bpm, source=UI)
        first.session.set_swing(swing, source=AGENT)
    crash(first)
    path = journal_of(patterns_dir)
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) == 5  # the header and four records
    path.write_bytes(b"".join([*lines[:2], b"\x00" * 20 + b"\n", *lines[3:]]))  # the second record

    second = start()
    assert second.session.pattern.bpm == 121.0 and second.session.pattern.swing == 0.08
    assert second.notices[0].endswith("(unclean exit); a damaged record stopped the read (3 lines from it "
                                      "on not read)")


def aside_files(patterns_dir: Path) -> list[Path]:
    return sorted((patterns_dir / "journal").glob("journal.jsonl.unreadable-*"))


@pytest.mark.parametrize("content", [
    b"",
    b"\x00\xff garbage \n",
    b'{"not": "a journal"}\n',
    encode_line({"journal": "chronus", "version": 2, "started": 1.0, "next_id": 1, "base": {}}),
    encode_line({"journal": "chronus", "version": 1, "started": "noon", "next_id": 1,
                 "base": {"pattern": {}, "slot": None}}),
    encode_line({"journal": "chronus", "version": 1, "started": 1.7e9, "next_id": 1,
                 "base": {"pattern": {"format": "chronus-pattern"}, "slot": None}}),
    encode_line({"journal": "chronus", "version": 1, "started": 1.7e9, "next_id": 1,
                 "base": {"pattern": json.loads(demo_bytes()), "slot": 999}}),
], ids=["empty", "binary", "other-json", "newer", "bad-time", "bad-pattern", "bad-slot"])
def test_a_file_that_is_no_journal_is_moved_aside_and_the_start_goes_on(
        start: Any, store: SlotStore, patterns_dir: Path, content: bytes) -> None:
    (patterns_dir / "slots" / "slot_000.json").write_bytes(demo_bytes())
    path = journal_of(patterns_dir)
    path.parent.mkdir()
    path.write_bytes(content)

    runtime = start()
    assert runtime.session.snapshot()["name"] == json.loads(demo_bytes())["name"]  # the autosave, as usual
    [aside] = aside_files(patterns_dir)
    assert aside.read_bytes() == content
    assert len(runtime.notices) == 1 and f"moved aside to {aside.name}" in runtime.notices[0]
    runtime.session.set_bpm(100.0, source=UI)  # and the new journal is written
    assert runtime.journal is not None and runtime.journal.flush()
    assert read_journal(path).records


def test_a_link_in_the_journals_place_is_moved_aside_never_followed(
        start: Any, patterns_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.jsonl"
    first = start()
    first.session.set_bpm(180.0, source=UI)
    crash(first)
    journal_of(patterns_dir).rename(elsewhere)  # a real journal, but out of our folder
    before = elsewhere.read_bytes()
    journal_of(patterns_dir).symlink_to(elsewhere)

    second = start()
    assert second.session.pattern.bpm != 180.0
    [aside] = aside_files(patterns_dir)
    assert aside.is_symlink() and elsewhere.read_bytes() == before


def test_a_link_in_the_journal_folders_place_is_not_used(start: Any, patterns_dir: Path,
                                                          tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (patterns_dir / "journal").symlink_to(elsewhere)
    runtime = start()
    assert runtime.journal is None
    assert runtime.notices == [f"edits are not journaled this session: {patterns_dir / 'journal'} is not a "
                               "real folder (a link)"]
    runtime.session.set_bpm(100.0, source=UI)
    assert list(elsewhere.iterdir()) == []


def test_a_journal_that_cannot_be_written_is_reported_to_listeners(start: Any, patterns_dir: Path) -> None:
    runtime = start()
    errors: list[str] = []
    runtime.session.subscribe(lambda c: c.kind == ChangeKind.ERROR and errors.append(c.data["message"]))
    assert runtime.journal is not None and runtime.journal.flush()
    path = journal_of(patterns_dir)
    path.unlink()
    path.mkdir()  # a folder in its place: the writer cannot put the file back
    runtime.session.set_bpm(100.0, source=UI)
    wait_until(lambda: errors, timeout=10)
    assert errors[0].startswith("journal not written: ")


def test_a_journal_that_cannot_start_is_a_notice(start: Any, patterns_dir: Path) -> None:
    runtime = start(serve=False)
    (patterns_dir / "journal").write_text("a file where the folder goes")  # after the read, before serving
    runtime.serving()
    assert len(runtime.notices) == 1 and runtime.notices[0].startswith("journal not written: ")


# -- quitting ------------------------------------------------------------------------------


def test_a_clean_quit_compacts_the_journal_into_slot_0(start: Any, patterns_dir: Path) -> None:
    runtime = start()
    runtime.session.set_bpm(111.0, source=UI)
    assert runtime.close() is not None
    assert not journal_of(patterns_dir).exists()
    assert json.loads((patterns_dir / "slots" / "slot_000.json").read_text())["sequencer"]["bpm"] == 111.0
    assert start().notices == []  # the next start has nothing to recover


def test_a_failed_autosave_keeps_the_journal_for_the_next_start(start: Any, patterns_dir: Path) -> None:
    runtime = start()
    runtime.session.set_bpm(112.0, source=UI)
    autosave = patterns_dir / "slots" / "slot_000.json"
    autosave.mkdir()  # the save is refused: not a regular file
    assert runtime.close() is None
    assert journal_of(patterns_dir).exists()
    autosave.rmdir()
    assert start().session.pattern.bpm == 112.0


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): b"<dir>" if p.is_dir() else p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.name != ".lock"}


def test_a_start_that_fails_before_serving_leaves_a_crashed_journal_and_slot_0_as_they_were(
        start: Any, patterns_dir: Path) -> None:
    first = start()
    first.session.set_bpm(177.0, source=UI)
    crash(first)
    before = folder_bytes(patterns_dir)

    failed = start(serve=False)  # e.g. its OSC port was taken
    assert failed.session.pattern.bpm == 177.0  # read, in memory only
    assert failed.close() is None
    assert folder_bytes(patterns_dir) == before

    assert start().session.pattern.bpm == 177.0


def test_a_start_that_fails_before_serving_leaves_no_journal(start: Any, patterns_dir: Path) -> None:
    start(serve=False).close()
    assert not (patterns_dir / "journal").exists()


def test_a_file_to_move_aside_stays_until_an_instance_serves(start: Any, patterns_dir: Path) -> None:
    path = journal_of(patterns_dir)
    path.parent.mkdir()
    path.write_bytes(b"junk")
    start(serve=False).close()
    assert path.read_bytes() == b"junk" and aside_files(patterns_dir) == []


def test_the_ui_recovers_shows_and_logs_it_and_its_quit_removes_the_journal(
        start: Any, patterns_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        root_logging: None) -> None:
    first = start()
    first.session.set_bpm(166.0, source=UI)
    crash(first)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    seen: list[tuple[float, list[str]]] = []

    async def look_and_quit(pilot: Any) -> None:
        seen.append((pilot.app.session.pattern.bpm, list(pilot.app.notices)))
        await pilot.press("q")

    def run_headless(app: ChronusApp) -> None:
        super(ChronusApp, app).run(headless=True, auto_pilot=look_and_quit)

    monkeypatch.setattr(ChronusApp, "run", run_headless)
    argv = ["--audio", "null", "--osc-port", str(free_udp_port()), "--patterns-dir", str(patterns_dir)]
    assert cli.main(argv) == 0
    [(bpm, notices)] = seen
    assert bpm == 166.0 and notices[0].startswith("recovered 1 edit from the session of ")
    log_text = (tmp_path / "state" / "chronus" / "log" / "chronus.log").read_text()
    assert notices[0] in log_text
    assert not journal_of(patterns_dir).exists()  # the quit autosaved, then removed it
    assert json.loads((patterns_dir / "slots" / "slot_000.json").read_text())["sequencer"]["bpm"] == 166.0


# -- on screen -----------------------------------------------------------------------------


async def test_the_ui_shows_the_recovery_notice_at_start(start: Any) -> None:
    first = start()
    first.session.set_bpm(144.0, source=UI)
    crash(first)
    runtime = start()
    app = ChronusApp(runtime.session, audio="null", notices=runtime.notices)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.pause()
        shown = toasts(app)
        assert any(text.startswith("recovered 1 edit from the session of ") for text in shown), shown
