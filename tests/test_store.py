"""SlotStore: atomic, durable saves; bounded backups; clear errors; the factory library."""

from __future__ import annotations

import errno
import gc
import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest
from support.patterns import full_pattern
from support.slotreads import spy_reads

from chronus_tui import store as store_module
from chronus_tui.model import Pattern, Track, parse_steps
from chronus_tui.patternfile import dumps, loads, pattern_to_dict
from chronus_tui.store import (
    MAX_BACKUPS,
    SlotStore,
    StoreError,
    check_slot,
    default_root,
    factory_patterns,
    load_file,
    parse_slot,
    slot_label,
)


def snap(name: str = "groove", *, full: bool = False) -> dict:
    if full:
        return pattern_to_dict(full_pattern(name=name))
    return pattern_to_dict(Pattern(name=name, bpm=124.0, tracks=[
        Track("kick", "voice1", parse_steps("X...x...X...x...")),
        Track("hats", "voice3", parse_steps("..x...x...x...x."))]))


def assert_canonical(path: Path) -> Pattern:
    """The file is complete and valid, in the one canonical layout."""
    text = path.read_text(encoding="utf-8")
    pattern = loads(text)
    assert dumps(pattern_to_dict(pattern)) == text
    return pattern


# -- layout, labels, saving and loading -------------------------------------------------

def test_layout_and_slot_numbers(store, patterns_dir):
    for folder in ("slots", "backups", "temp", "library"):
        assert (patterns_dir / folder).is_dir()
    assert store.slot_path(0).name == "slot_000.json"
    assert store.slot_path(128) == patterns_dir / "slots" / "slot_128.json"
    for bad in (-1, 129, "3", 2.0, True, None):
        with pytest.raises(StoreError, match=r"is not a slot number \(0–128\)"):
            check_slot(bad)
    assert [slot_label(s) for s in (0, 1, 16, 17, 128)] == ["autosave", "A01", "A16", "B01", "H16"]


def test_storage_root_order(monkeypatch, tmp_path):
    monkeypatch.setenv("CHRONUS_PATTERNS_DIR", str(tmp_path / "env"))
    assert default_root() == tmp_path / "env"
    assert SlotStore().root == tmp_path / "env"
    assert SlotStore(tmp_path / "given").root == tmp_path / "given"
    monkeypatch.delenv("CHRONUS_PATTERNS_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_root() == tmp_path / "xdg" / "chronus" / "patterns"


def test_save_then_load(store):
    path = store.save(7, snap(full=True))
    assert path == store.slot_path(7) and store.exists(7) and not store.exists(8)
    pattern = assert_canonical(path)
    assert pattern.saved_at and pattern.saved_at.endswith("Z")
    expected = full_pattern(name="groove")
    expected.saved_at = pattern.saved_at
    assert store.load(7) == expected


def test_save_with_name_and_rename(store):
    store.save(3, snap("first"), name="renamed at save")
    assert store.load(3).name == "renamed at save"
    store.rename(3, "second")
    assert store.load(3).name == "second" and len(store.load(3).tracks) == 2
    with pytest.raises(StoreError, match="name"):
        store.rename(3, "")
    with pytest.raises(StoreError, match="A04 is empty"):
        store.rename(4, "x")


def test_save_writes_the_canonical_file_whatever_the_snapshot(store, legacy_dir):
    """Ints for floats, left-out modules and even an original-format dict are written as
    complete files of this format."""
    data = snap()
    data["sequencer"]["bpm"] = 128
    del data["modules"]
    path = store.save(1, data)
    assert assert_canonical(path).bpm == 128.0
    assert '"adsr/release"' in path.read_text()
    legacy = json.loads((legacy_dir / "slot_002.json").read_text())
    path = store.save(2, legacy)
    assert json.loads(path.read_text())["format"] == "chronus-pattern"
    assert assert_canonical(path).bpm == 174.0


def test_invalid_snapshot_is_refused_and_the_old_file_kept(store):
    store.save(5, snap("good"))
    before = store.slot_path(5).read_bytes()
    bad = snap("bad")
    bad["sequencer"]["tracks"][1]["steps"][3]["note"] = 140
    with pytest.raises(StoreError) as info:
        store.save(5, bad)
    assert str(info.value) == ("A05: not saved: sequencer.tracks[1].steps[3].note: "
                               "140 is out of range 0–127")
    assert store.slot_path(5).read_bytes() == before
    assert not list(store.temp_dir.iterdir()) and not store.backups(5)


def test_load_empty_slot(store):
    with pytest.raises(StoreError, match=r"^A09 is empty$"):
        store.load(9)


# -- backups ------------------------------------------------------------------------------

def test_backups_hold_the_previous_content_and_are_bounded(patterns_dir):
    store = SlotStore(patterns_dir, max_backups=3)
    store.save(2, snap("v0"))
    assert store.backups(2) == []  # first save: nothing to keep
    texts = [store.slot_path(2).read_bytes()]
    for i in range(1, 7):
        store.save(2, snap(f"v{i}"))
        texts.append(store.slot_path(2).read_bytes())
        backups = store.backups(2)
        assert len(backups) == min(i, 3)
        assert backups[-1].read_bytes() == texts[i - 1]  # the newest backup is the previous file
    assert [b.read_bytes() for b in store.backups(2)] == texts[3:6]
    assert [loads(b.read_bytes()).name for b in store.backups(2)] == ["v3", "v4", "v5"]
    assert store.backups(1) == []  # per slot
    store.save(1, snap("other"))
    store.save(1, snap("other2"))
    assert len(store.backups(1)) == 1 and len(store.backups(2)) == 3


def test_start_prunes_backups_beyond_the_bound(patterns_dir):
    store = SlotStore(patterns_dir, max_backups=2)
    for i in range(3):
        store.save(9, snap(f"v{i}"))
    folder = store.backups_dir / "slot_009"
    for extra in ("20990101T000000000000Z-1-00000001.json", "20990101T000000000000Z-1-00000002.json"):
        (folder / extra).write_bytes(store.slot_path(9).read_bytes())  # as a killed save leaves them
    assert len(store.backups(9)) == 4
    SlotStore(patterns_dir, max_backups=2)
    assert [b.name for b in store.backups(9)] == ["20990101T000000000000Z-1-00000001.json",
                                                  "20990101T000000000000Z-1-00000002.json"]


def test_a_pruned_backup_is_reused_by_the_next_save_never_a_kept_one(patterns_dir):
    """Saving past the bound writes over the file of the backup pruned last (its blocks are
    reused, not freed and allocated again), never over a backup still kept, and never over
    a file with another name."""
    store = SlotStore(patterns_dir, max_backups=1)
    store.save(3, snap("v0"))
    v0_inode = store.slot_path(3).stat().st_ino
    store.save(3, snap("v1"))
    store.save(3, snap("v2"))  # prunes v0's backup: it becomes the spare
    spare = store.backups_dir / "slot_003" / store_module.SPARE
    assert spare.stat().st_ino == v0_inode
    assert [loads(b.read_bytes()).name for b in store.backups(3)] == ["v1"]  # not a backup
    store.save(3, snap("v3"))
    assert store.slot_path(3).stat().st_ino == v0_inode  # written over, in place
    assert assert_canonical(store.slot_path(3)).name == "v3"
    assert [loads(b.read_bytes()).name for b in store.backups(3)] == ["v2"]

    spare.unlink()
    outside = patterns_dir.parent / "outside.json"
    outside.write_bytes(b"someone else's")
    os.link(outside, spare)  # a spare with another name is never written
    store.save(3, snap("v4"))
    assert outside.read_bytes() == b"someone else's" and store.load(3).name == "v4"
    assert not any(store.temp_dir.iterdir())


def test_pruning_onto_a_spare_that_is_the_same_file_still_prunes(patterns_dir, monkeypatch):
    """Saves side by side can leave two backups (or a backup and the spare) that are one file;
    renaming one name of a file onto another does nothing, and must not keep a backup."""
    store = SlotStore(patterns_dir, max_backups=1)
    store.save(3, snap("v0"))
    store.save(3, snap("v1"))
    (oldest,) = store.backups(3)
    os.link(oldest, store.backups_dir / "slot_003" / store_module.SPARE)
    monkeypatch.setattr(store, "_reused_spare", lambda *_: None)  # as if another save took it
    store.save(3, snap("v2"))
    assert [loads(b.read_bytes()).name for b in store.backups(3)] == ["v1"]


def test_default_backup_bound(store):
    for i in range(MAX_BACKUPS + 4):
        store.save(1, snap(f"v{i}"))
    assert len(store.backups(1)) == MAX_BACKUPS


# -- bad files ---------------------------------------------------------------------------

GOOD_TEXT = dumps(snap("good"))
BAD_FILES = {
    10: (GOOD_TEXT.replace('"sequencer": {', '"sequencer": {{').encode(), "not valid JSON (line"),
    11: (GOOD_TEXT.encode()[: len(GOOD_TEXT) // 2], "not valid JSON (line"),  # truncated
    12: (b"", "the file is empty"),
    13: (bytes(range(256)) * 4, "not UTF-8 text (byte 128)"),  # binary
    14: (GOOD_TEXT.replace('"bpm": 124.0', '"bpm": "fast"').encode(),
         "sequencer.bpm: 'fast' is not a number"),
    15: (GOOD_TEXT.replace('"schema": 2', '"schema": 7').encode(),
         "schema: 7 is newer than this Chronus reads (3); upgrade Chronus"),
    16: (b"[1, 2, 3]", "expected a JSON object, found list"),
    17: (GOOD_TEXT.replace('"on": true', '"on": "yes"', 1).encode(),
         "sequencer.tracks[0].steps[0].on: 'yes' is not true or false"),
    18: (b"\x00" * 4096, "not valid JSON"),
}


def write_bad_files(store: SlotStore) -> None:
    for slot, (raw, _) in BAD_FILES.items():
        store.slot_path(slot).write_bytes(raw)


@pytest.mark.parametrize("slot", sorted(BAD_FILES))
def test_bad_file_gives_a_clear_error(store, slot):
    raw, fragment = BAD_FILES[slot]
    store.slot_path(slot).write_bytes(raw)
    with pytest.raises(StoreError) as info:
        store.load(slot)
    assert str(info.value).startswith(f"{slot_label(slot)}: ")
    assert fragment in str(info.value)




def test_list_reports_good_and_bad_files_and_never_stops(store, legacy_dir):
    store.save(0, snap("autosave"))
    store.save(1, snap("first"))
    write_bad_files(store)
    store.slot_path(20).mkdir()
    shutil.copy(legacy_dir / "slot_001.json", store.slot_path(100))
    store.save(128, snap("last", full=True))
    infos = store.list()
    assert [i.slot for i in infos] == [0, 1, *sorted(BAD_FILES), 20, 100, 128]
    by_slot = {i.slot: i for i in infos}
    for slot, (_, fragment) in BAD_FILES.items():
        assert fragment in by_slot[slot].error and by_slot[slot].name is None
    assert by_slot[20].error == "B04: not a regular file (a directory)"
    assert (by_slot[1].name, by_slot[1].bpm, by_slot[1].tracks, by_slot[1].error) == ("first", 124.0, 2, None)
    assert (by_slot[100].bpm, by_slot[100].tracks, by_slot[100].error) == (125.0, 3, None)
    assert by_slot[128].tracks == 8 and by_slot[128].saved_at
    assert set(by_slot[1].as_dict()) >= {"slot", "name", "bpm", "saved_at", "error"}


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_stale_temp_files_are_cleaned_at_start(store, patterns_dir):
    store.save(1, snap())
    crashed = store.temp_dir / f"slot_001.{dead_pid()}.1.1.tmp"
    in_flight = store.temp_dir / f"slot_002.{os.getpid()}.1.2.tmp"  # a live writer mid-save
    forgotten = store.temp_dir / f"slot_003.{os.getpid()}.1.3.tmp"  # live pid, but far too old
    odd = store.temp_dir / "unnamed.tmp"
    for temp in (crashed, in_flight, forgotten, odd):
        temp.write_bytes(b'{"form')
    old = time.time() - store_module.STALE_TEMP_SECONDS - 5
    os.utime(forgotten, (old, old))
    (store.temp_dir / "notes.txt").write_text("not ours")
    SlotStore(patterns_dir)
    assert sorted(p.name for p in store.temp_dir.iterdir()) == ["notes.txt", in_flight.name]
    assert store.load(1).name == "groove"


# -- crashes, concurrency, failing disks -------------------------------------------------

def save_in_child(store: SlotStore, snapshot: dict) -> tuple[int, int]:
    """Fork a child that saves `snapshot` to slot 1 once, then exits without any Python
    clean-up. Returns (pid, fd): the child writes b"r" to fd just before it saves, and
    the seconds the save took once it is done."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            gc.disable()  # a collection would touch (copy) every page shared with the parent
            os.write(write_fd, b"r")
            start = time.perf_counter()
            store.save(1, snapshot)
            os.write(write_fd, str(time.perf_counter() - start).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    assert os.read(read_fd, 1) == b"r"
    return pid, read_fd


def test_save_killed_at_random_moments_never_leaves_a_torn_file(patterns_dir):
    """Hundreds of saves in a child process, each killed with SIGKILL at a random moment
    (before, during and after the write, fsync, backup and replace): the slot always
    loads, and holds the old or the new pattern; the next start cleans the temp files."""
    store = SlotStore(patterns_dir, max_backups=4)
    store.save(1, snap("gen0", full=True))
    durations = []
    for _ in range(3):  # how long a save takes in a child, where the kills will land
        pid, read_fd = save_in_child(store, snap("gen0", full=True))
        durations.append(float(os.read(read_fd, 64)))
        os.close(read_fd)
        os.waitpid(pid, 0)
    # Kill after uniform(0, window); the window adapts so that about half the saves finish
    # (under load a save in a child can take several times longer than calibrated).
    window = 2 * sorted(durations)[1]
    rng = random.Random(1234)
    current, outcomes, stale_seen = "gen0", {"old": 0, "new": 0}, 0
    for i in range(1, 301):
        new_name = f"gen{i}"
        pid, read_fd = save_in_child(store, snap(new_name, full=True))
        deadline = time.perf_counter() + rng.uniform(0, window)
        while time.perf_counter() < deadline:
            pass
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_fd)
        stale_seen += any(store.temp_dir.iterdir())
        SlotStore(patterns_dir, max_backups=4)  # the next start cleans stale temp files
        assert not any(store.temp_dir.iterdir())
        assert len(store.backups(1)) <= 4  # and prunes a backup kept by a save killed before pruning
        name = assert_canonical(store.slot_path(1)).name
        assert name in (current, new_name), f"iteration {i}: found {name!r}"
        outcomes["new" if name == new_name else "old"] += 1
        window *= 0.95 if name == new_name else 1.05
        current = name
        if i % 10 == 0:
            for backup in store.backups(1):
                assert_canonical(backup)
    # the kills landed on both sides of the switch, and in the middle of writes
    assert outcomes["old"] > 10 and outcomes["new"] > 10, outcomes
    assert stale_seen > 0


def test_concurrent_saves_leave_one_complete_file(patterns_dir):
    store = SlotStore(patterns_dir, max_backups=5)
    threads, rounds = 8, 12
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []
    names = {f"t{t}r{r}" for t in range(threads) for r in range(rounds)}

    def worker(t: int) -> None:
        try:
            barrier.wait()
            for r in range(rounds):
                store.save(4, snap(f"t{t}r{r}", full=r % 2 == 0))
        except BaseException as exc:  # reported below
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert errors == []
    assert assert_canonical(store.slot_path(4)).name in names
    assert not any(store.temp_dir.iterdir())
    backups = store.backups(4)
    assert 1 <= len(backups) <= 5
    for backup in backups:
        assert assert_canonical(backup).name in names


class FaultyOs:
    """The os module as the store sees it, with some calls failing like a bad disk."""

    def __init__(self, failures: dict[str, int], *, after: int = 0) -> None:
        self.failures = failures
        self.calls = dict.fromkeys(failures, 0)
        self.after = after  # let this many calls of each failing function succeed first

    def __getattr__(self, name: str):
        real = getattr(os, name)
        if name not in self.failures:
            return real

        def failing(*args, **kwargs):
            self.calls[name] += 1
            if self.calls[name] > self.after:
                raise OSError(self.failures[name], os.strerror(self.failures[name]))
            return real(*args, **kwargs)
        return failing


@pytest.mark.parametrize(("call", "code", "message"), [
    ("write", errno.ENOSPC, "No space left on device"),
    ("open", errno.EROFS, "Read-only file system"),
    ("replace", errno.EROFS, "Read-only file system"),
    ("fsync", errno.EIO, "Input/output error"),
    ("link", errno.EACCES, "Permission denied"),
])
def test_failed_save_keeps_the_old_file_and_says_why(store, monkeypatch, call, code, message):
    store.save(6, snap("old"))
    store.save(6, snap("old"))
    before = store.slot_path(6).read_bytes()
    backups_before = store.backups(6)
    monkeypatch.setattr(store_module, "os", FaultyOs({call: code}))
    with pytest.raises(StoreError) as info:
        store.save(6, snap("new", full=True))
    assert str(info.value).startswith(f"A06: not saved, the old file is unchanged: {message}")
    monkeypatch.undo()
    assert store.slot_path(6).read_bytes() == before
    assert not any(store.temp_dir.iterdir())
    assert all(b in store.backups(6) for b in backups_before)
    store.save(6, snap("new"))  # the store still works once the disk does
    assert store.load(6).name == "new"


def test_folder_sync_failure_after_replace_is_not_called_unchanged(store, monkeypatch):
    store.save(6, snap("old"))
    monkeypatch.setattr(store_module, "os", FaultyOs({"fsync": errno.EIO}, after=1))
    with pytest.raises(StoreError, match=r"^A06: saved, but the folder could not be synced"):
        store.save(6, snap("new"))
    monkeypatch.undo()
    assert store.load(6).name == "new"


@pytest.fixture
def tmpfs(tmp_path):
    """A real small tmpfs mount (root only); skipped where mounting is not permitted."""
    mounts: list[Path] = []

    def mount(size: str) -> Path:
        point = tmp_path / f"mnt{len(mounts)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); "
                        "the fault-injection tests cover full and read-only disks")
        mounts.append(point)
        return point

    if shutil.which("mount") is None:
        pytest.skip("no mount command; the fault-injection tests cover full and read-only disks")
    yield mount
    for point in mounts:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)


def test_real_read_only_filesystem(tmpfs):
    root = tmpfs("1m")
    store = SlotStore(root)
    store.save(1, snap("kept"))
    before = store.slot_path(1).read_bytes()
    subprocess.run(["mount", "-o", "remount,ro", str(root)], check=True)
    try:
        with pytest.raises(StoreError, match=r"^A01: not saved, the old file is unchanged: "
                                             r"Read-only file system"):
            store.save(1, snap("new"))
        reopened = SlotStore(root)  # starting on a read-only folder works, for reading
        assert reopened.load(1).name == "kept"
        assert [i.name for i in reopened.list()] == ["kept"]
        assert store.slot_path(1).read_bytes() == before
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(root)], check=True)


def test_real_full_disk(tmpfs):
    root = tmpfs("64k")
    store = SlotStore(root)
    store.save(1, snap("kept"))
    before = store.slot_path(1).read_bytes()
    filler = root / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    with pytest.raises(StoreError, match=r"^A01: not saved, the old file is unchanged: "
                                         r"No space left on device"):
        store.save(1, snap("too big", full=True))
    assert store.slot_path(1).read_bytes() == before
    assert not any(store.temp_dir.iterdir())  # the partial temp file does not eat the space
    filler.unlink()
    store.save(1, snap("fits now", full=True))
    assert store.load(1).name == "fits now"


# -- library and sources -----------------------------------------------------------------

def test_factory_library(store):
    files = factory_patterns()
    names = {p.stem for p in files}
    assert {"demo", "acid", "techno", "house", "electro", "drum-and-bass"} <= names
    assert set(store.library()) >= names
    for path in files:
        pattern = assert_canonical(path)
        assert pattern.tracks, path.name
        assert load_file(path) == pattern
    demo = store.resolve("demo")
    assert demo == store.load_library("demo") and len(demo.tracks) >= 4


NOISE = (3, 4, 5)


@pytest.mark.parametrize("path", factory_patterns(), ids=lambda p: p.stem)
def test_factory_patterns_are_musically_sensible(path):
    pattern = load_file(path)
    m = pattern.modules
    assert 2 <= len(pattern.tracks) <= 8 and 80 <= pattern.bpm <= 180
    voices = [t.voice for t in pattern.tracks]
    assert len(set(voices)) == len(voices), "one track per voice, so no track's sound fights another's"
    for track in pattern.tracks:
        v = m[track.voice]
        assert any(s.on for s in track.steps), track.name
        if track.name == "kick":
            assert v["osc/type"] == 0 and 40 <= v["freq"] <= 65 and v["adsr/attack"] == 0.001
            assert v["adsr/sustain"] == 0 and 0.1 <= v["adsr/decay"] <= 0.35
            assert track.steps[0].on and all(s.note is None for s in track.steps)
        if "hat" in track.name or track.name == "shaker":
            assert v["osc/type"] in NOISE and v["filter/freq"] >= 6000 and v["adsr/decay"] <= 0.2
        if track.voice == "voice2":  # the bass line through the acid insert
            assert v["osc/type"] in (0, 1, 2)
            notes = [s.note for s in track.steps if s.on]
            assert None not in notes and all(24 <= n <= 48 for n in notes), notes
        if track.voice != "voice2" and track.name not in ("kick",) and v["osc/type"] not in NOISE:
            assert all(s.note is not None for s in track.steps if s.on), track.name


def test_demo_is_the_first_start_groove():
    demo = load_file(next(p for p in factory_patterns() if p.stem == "demo"))
    assert 120 <= demo.bpm <= 128 and len(demo.tracks) == 4
    assert [t.name for t in demo.tracks][:3] == ["kick", "hats", "bass"]
    bass = demo.track("bass")
    assert bass.voice == "voice2"
    assert any(s.accent for s in bass.steps) and any(s.slide for s in bass.steps)
    assert len({s.note for s in bass.steps if s.on}) >= 4
    assert demo.modules["acid1"]["res"] >= 0.5 and demo.modules["voice2"]["osc/type"] == 1


def test_user_library_wins_and_resolve(store, tmp_path):
    store.save_library("demo", snap("my demo"))
    assert store.load_library("demo").name == "demo"  # saved under the library name
    assert store.library()["demo"].parent == store.library_dir
    store.save_library("Late Night / Dub", snap())
    assert (store.library_dir / "Late-Night---Dub.json").is_file()
    with pytest.raises(StoreError, match="is not a usable pattern name"):
        store.save_library(" / ", snap())
    store.save(12, snap("twelve"))
    assert store.resolve("12").name == "twelve"
    outside = tmp_path / "loose.json"
    outside.write_text(dumps(snap("loose")))
    assert store.resolve(str(outside)).name == "loose"
    with pytest.raises(StoreError, match="A13 is empty"):
        store.resolve("13")
    with pytest.raises(StoreError, match=r"'nothing' is not a slot number \(0–128\), a pattern file, "
                                         r"or a library name \(known: .*demo"):
        store.resolve("nothing")
    with pytest.raises(StoreError, match="no library pattern named 'nothing'"):
        store.load_library("nothing")


def test_parse_slot_reads_what_slot_label_writes() -> None:
    assert all(parse_slot(slot_label(slot)) == slot for slot in range(1, 129))
    assert [parse_slot(t) for t in ("A01", "a1", "H16", "1", "128")] == [1, 1, 128, 1, 128]
    assert [parse_slot(t) for t in ("I01", "A17", "0", "129", "", "B")] == [None] * 6


# -- what is read: regular files only, and only so much ------------------------------------

def call_with_deadline(fn, timeout: float = 30.0):
    """fn() in a thread; fails (instead of hanging the suite) if it has not returned in time."""
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["value"] = fn()
        except BaseException as exc:  # handed back below
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"{fn} still blocked after {timeout} s"
    if "error" in result:
        raise result["error"]
    return result["value"]


def make_fifo(path: Path) -> None:
    os.mkfifo(path)


def make_directory(path: Path) -> None:
    path.mkdir()


def make_link_outside(path: Path) -> None:
    outside = path.parents[2] / "outside.json"
    outside.write_text(GOOD_TEXT)
    path.symlink_to(outside)


def make_link_inside(path: Path) -> None:
    inside = path.with_name("slot_100.json")
    inside.write_text(GOOD_TEXT)
    path.symlink_to(inside.name)


def make_dangling_link(path: Path) -> None:
    path.symlink_to("nowhere.json")


def make_device(path: Path) -> None:
    null = os.stat("/dev/null")
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, null.st_rdev)
    except PermissionError:
        pytest.skip("making a device node needs root")


NOT_REGULAR = {
    "a FIFO": make_fifo, "a directory": make_directory, "a symbolic link": make_link_outside,
    "a symbolic link inside": make_link_inside, "a dangling symbolic link": make_dangling_link,
    "a character device": make_device,
}


@pytest.mark.parametrize("kind", NOT_REGULAR)
def test_only_regular_files_are_read_and_listing_never_blocks(store, kind):
    """A FIFO would block an open for reading forever; a device may do anything. Each is an
    error in load and list, and list goes on to the slots after it."""
    NOT_REGULAR[kind](store.slot_path(5))
    store.save(6, snap("after"))
    message = f"A05: not a regular file ({kind.removeprefix('a dangling ').removesuffix(' inside')})"
    message = message.replace("(symbolic link)", "(a symbolic link)")
    with pytest.raises(StoreError) as info:
        call_with_deadline(lambda: store.load(5))
    assert str(info.value) == message
    infos = call_with_deadline(store.list)
    assert [(i.slot, i.error) for i in infos if i.slot != 100] == [(5, message), (6, None)]
    assert store.exists(5)


def test_a_slot_over_the_size_limit_is_not_read(store, monkeypatch):
    for slot, size in ((5, 5 << 20), (6, 1 << 30), (7, (4 << 20) + 1)):
        with open(store.slot_path(slot), "wb") as handle:
            handle.truncate(size)  # sparse: no disk space, but that size to stat and read
    reads: list[int] = []
    real_fdopen = os.fdopen
    monkeypatch.setattr(store_module.os, "fdopen", lambda *a, **k: reads.append(1) or real_fdopen(*a, **k))
    infos = store.list()
    assert [(i.slot, i.error) for i in infos] == [
        (5, "A05: 5 MiB file, over the 4 MiB limit; not read"),
        (6, "A06: 1 GiB file, over the 4 MiB limit; not read"),
        (7, "A07: 4 MiB file, over the 4 MiB limit; not read")]
    assert reads == []  # refused on its size alone
    exactly = GOOD_TEXT.encode() + b" " * (store_module.MAX_FILE_BYTES - len(GOOD_TEXT.encode()))
    store.slot_path(8).write_bytes(exactly)
    assert store.load(8).name == "good"  # the limit itself is allowed


class LyingSizeOs:
    """os as the store sees it, with stat and fstat reporting a file smaller than it is
    (a file that grows after it was looked at)."""

    def __getattr__(self, name: str):
        real = getattr(os, name)
        if name not in ("stat", "fstat"):
            return real

        def small(*args, **kwargs):
            info = list(real(*args, **kwargs))
            info[stat.ST_SIZE] = 10
            return os.stat_result(info)
        return small


def test_a_file_is_read_only_to_one_byte_past_the_limit(store, monkeypatch):
    store.slot_path(5).write_bytes(b"x" * 5000)
    monkeypatch.setattr(store_module, "MAX_FILE_BYTES", 1000)
    monkeypatch.setattr(store_module, "os", LyingSizeOs())
    with pytest.raises(StoreError, match=r"^A05: grew past the 1000 bytes limit; not read$"):
        store.load(5)


def test_library_and_named_files_are_bounded_and_regular_only(store, tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as handle:
        handle.truncate(5 << 20)
    with pytest.raises(StoreError, match=r"big.json: 5 MiB file, over the 4 MiB limit; not read$"):
        store.resolve(str(big))
    shutil.copy(big, store.library_dir / "huge.json")
    with pytest.raises(StoreError, match=r"^library huge: 5 MiB file, over the 4 MiB limit; not read$"):
        store.load_library("huge")
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(StoreError, match=r"pipe.json: not a regular file \(a FIFO\)$"):
        call_with_deadline(lambda: store.resolve(str(fifo)))
    (store.library_dir / "linked.json").symlink_to(tmp_path / "loose.json")
    (tmp_path / "loose.json").write_text(GOOD_TEXT)
    with pytest.raises(StoreError, match=r"^library linked: not a regular file \(a symbolic link\)$"):
        store.load_library("linked")
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "loose.json")
    assert store.resolve(str(link)).name == "good"  # a file the user names may be a link


def test_long_strings_in_a_file_are_errors_that_quote_an_excerpt(store):
    """Names are 32 characters in the model and on read; every message quoting the file
    stays short, however long what it quotes."""
    huge = "n" * 1_000_000
    cases = {
        1: (GOOD_TEXT.replace('"name": "good"', f'"name": "{huge}"', 1),
            "A01: name: 'nnn", "is 1000000 characters; names must be 1–32 printable characters"),
        2: (GOOD_TEXT.replace('"name": "kick"', f'"name": "{huge}"', 1),
            "A02: sequencer.tracks[0].name: 'nnn", "names must be 1–32 printable characters"),
        3: (GOOD_TEXT.replace('"voice": "voice1"', f'"voice": "{huge}"', 1),
            "A03: sequencer.tracks[0].voice: 'nnn", "is not a voice (voice1–voice8)"),
        4: (GOOD_TEXT.replace('"format": "chronus-pattern"', f'"format": "{huge}"', 1),
            "A04: format: 'nnn", "is not 'chronus-pattern'"),
        5: (GOOD_TEXT.replace('"schema": 2,', f'"schema": 2, "{huge}": 1,', 1), "A05: nnn",
            "is not a known field"),
        6: (GOOD_TEXT.replace('"saved_at": null', f'"saved_at": "{huge}"', 1),
            "A06: saved_at: 'nnn", "is not a time string (at most 40 printable characters)"),
        7: (GOOD_TEXT.replace('"bpm": 124.0', f'"bpm": "{huge}"', 1),
            "A07: sequencer.bpm: 'nnn", "is not a number"),
    }
    for slot, (text, *_) in cases.items():
        assert huge in text, slot
        store.slot_path(slot).write_text(text)
    for info in store.list():
        head, tail = cases[info.slot][1:]
        assert info.error.startswith(head) and info.error.endswith(tail), info.error
        assert len(info.error) < 400, (info.slot, len(info.error))
    store.slot_path(9).write_text(GOOD_TEXT.replace('"name": "good"', '"name": "' + "n" * 33 + '"', 1))
    with pytest.raises(StoreError, match=r"^A09: name: 'n{33}' is 33 characters; names must be 1–32"):
        store.load(9)


def test_a_50_mb_name_is_refused_by_size_before_it_is_parsed(store):
    with open(store.slot_path(1), "w") as handle:
        handle.write(GOOD_TEXT.replace('"name": "good"', '"name": "' + "n" * 50_000_000 + '"', 1))
    (info,) = store.list()
    assert info.error.startswith("A01: 47.7 MiB file, over the 4 MiB limit; not read")


def test_messages_name_files_relative_to_the_patterns_folder(store, patterns_dir, monkeypatch):
    messages = []
    store.save(1, snap())
    store.save(1, snap())
    for call, code in (("write", errno.ENOSPC), ("link", errno.EACCES), ("replace", errno.EROFS),
                       ("open", errno.EROFS)):
        monkeypatch.setattr(store_module, "os", FaultyOs({call: code}))
        with pytest.raises(StoreError) as info:
            store.save(1, snap("new"))
        monkeypatch.undo()
        messages.append(str(info.value))
    store.slot_path(2).symlink_to(patterns_dir.parent / "elsewhere.json")
    os.mkfifo(store.slot_path(3))
    for slot in (2, 3):
        for action in (store.load, lambda s: store.save(s, snap())):
            with pytest.raises(StoreError) as info:
                action(slot)
            messages.append(str(info.value))
    messages += [i.error for i in store.list() if i.error]
    assert messages[0].endswith("No space left on device (slots/slot_001.json)")
    assert "slots/slot_002.json is not a regular file (a symbolic link)" in " ".join(messages)
    for message in messages:
        assert str(patterns_dir) not in message and "/tmp" not in message, message


# -- saves: never through a link, never at a backup's cost ---------------------------------

class PartWriteOs:
    """os as the store sees it, on a disk that fills up during a write: the first write
    call stores part of the bytes, the next one fails with ENOSPC."""

    def __init__(self) -> None:
        self.writes = 0

    def __getattr__(self, name: str):
        real = getattr(os, name)
        if name != "write":
            return real

        def write(fd, data):
            self.writes += 1
            if self.writes > 1:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(fd, bytes(data)[: len(data) // 2])
        return write


def backup_bytes(store: SlotStore, slot: int) -> dict[str, bytes]:
    return {b.name: b.read_bytes() for b in store.backups(slot)}


def test_a_save_that_fills_the_disk_keeps_every_backup_and_the_slot(store, monkeypatch):
    for i in range(MAX_BACKUPS + 2):  # one more than fills the backups: one was pruned
        store.save(4, snap(f"v{i}"))
    assert len(store.backups(4)) == MAX_BACKUPS
    before, backups_before = store.slot_path(4).read_bytes(), backup_bytes(store, 4)
    assert (store.backups_dir / "slot_004" / store_module.SPARE).is_file()  # what it writes over
    faulty = PartWriteOs()
    monkeypatch.setattr(store_module, "os", faulty)
    with pytest.raises(StoreError, match=r"^A04: not saved, the old file is unchanged: "
                                         r"No space left on device"):
        store.save(4, snap("too big", full=True))
    monkeypatch.undo()
    assert faulty.writes == 2  # it failed part-way, not before it began
    assert store.slot_path(4).read_bytes() == before
    assert backup_bytes(store, 4) == backups_before  # every backup, byte for byte
    assert not any(store.temp_dir.iterdir())
    store.save(4, snap("fits"))
    assert len(store.backups(4)) == MAX_BACKUPS and store.load(4).name == "fits"
    assert store.backups(4)[-1].read_bytes() == before


def test_a_failed_replace_leaves_no_extra_backup(store, monkeypatch):
    store.save(4, snap("v0"))
    store.save(4, snap("v1"))
    backups_before = backup_bytes(store, 4)
    monkeypatch.setattr(store_module, "os", FaultyOs({"replace": errno.EIO}))
    with pytest.raises(StoreError):
        store.save(4, snap("v2"))
    monkeypatch.undo()
    assert backup_bytes(store, 4) == backups_before


def outside_file(tmp_path: Path) -> tuple[Path, bytes]:
    target = tmp_path / "outside" / "precious.json"
    target.parent.mkdir()
    target.write_text(dumps(snap("precious")))
    return target, target.read_bytes()


def test_a_save_never_writes_through_a_linked_slot(store, tmp_path):
    """The issue's repro: slot_008.json a link to a file outside; the 11th save overwrote it."""
    target, content = outside_file(tmp_path)
    store.slot_path(8).symlink_to(target)
    for _ in range(MAX_BACKUPS + 1):
        with pytest.raises(StoreError) as info:
            store.save(8, snap("new"))
        assert str(info.value) == ("A08: not saved: slots/slot_008.json is not a regular file "
                                   "(a symbolic link); nothing was changed")
    assert target.read_bytes() == content and os.readlink(store.slot_path(8)) == str(target)
    assert store.backups(8) == [] and not any(store.temp_dir.iterdir())
    assert sorted(p.name for p in target.parent.iterdir()) == ["precious.json"]


@pytest.mark.parametrize("kind", ["a FIFO", "a directory", "a character device"])
def test_a_save_refuses_a_slot_that_is_not_a_regular_file(store, kind):
    NOT_REGULAR[kind](store.slot_path(8))
    mode = os.lstat(store.slot_path(8)).st_mode
    with pytest.raises(StoreError, match=rf"^A08: not saved: slots/slot_008.json is not a regular "
                                         rf"file \({kind}\); nothing was changed$"):
        call_with_deadline(lambda: store.save(8, snap()))
    assert os.lstat(store.slot_path(8)).st_mode == mode


def test_a_save_never_links_or_prunes_through_a_linked_backup_folder_or_file(patterns_dir, tmp_path):
    store = SlotStore(patterns_dir, max_backups=2)
    target, content = outside_file(tmp_path)
    for i in range(5):  # a folder outside with more files than a slot keeps
        (target.parent / f"2000010{i}T000000000000Z-1-0000000{i}.json").write_bytes(content)
    outside_names = sorted(p.name for p in target.parent.iterdir())
    store.save(7, snap("v0"))
    (store.backups_dir / "slot_007").rmdir()  # empty: the first save had nothing to keep
    (store.backups_dir / "slot_007").symlink_to(target.parent)
    with pytest.raises(StoreError, match=r"^A07: not saved: backups/slot_007 is not a directory "
                                         r"\(a symbolic link\); nothing was changed$"):
        store.save(7, snap("v1"))
    SlotStore(patterns_dir, max_backups=2)  # the start-up prune does not follow it either
    assert sorted(p.name for p in target.parent.iterdir()) == outside_names
    (store.backups_dir / "slot_007").unlink()
    store.save(7, snap("v1"))
    (store.backups_dir / "slot_007" / "20000101T000000000000Z-1-00000000.json").symlink_to(target)
    with pytest.raises(StoreError, match=r"^A07: not saved: backups/slot_007/2000.*\.json is not a "
                                         r"regular file \(a symbolic link\); nothing was changed$"):
        store.save(7, snap("v2"))
    assert target.read_bytes() == content and store.load(7).name == "v1"


@pytest.mark.parametrize("folder", ["slots", "backups", "temp"])
def test_a_save_refuses_a_linked_store_folder(patterns_dir, tmp_path, folder):
    """The patterns folder may be a link (a synced folder); its own folders are ours and
    may not lead elsewhere."""
    store = SlotStore(patterns_dir)
    elsewhere = tmp_path / "elsewhere"
    (patterns_dir / folder).rename(elsewhere)
    (patterns_dir / folder).symlink_to(elsewhere)
    (elsewhere / "old.tmp").write_text("someone else's")
    before = sorted(p.name for p in elsewhere.iterdir())
    with pytest.raises(StoreError, match=rf"^A01: not saved: {folder} is not a directory "
                                         rf"\(a symbolic link\); nothing was changed$"):
        store.save(1, snap())
    SlotStore(patterns_dir)  # nor does start-up clean or prune in it
    assert sorted(p.name for p in elsewhere.iterdir()) == before


def test_the_patterns_folder_itself_may_be_a_link(tmp_path):
    real = tmp_path / "synced"
    real.mkdir()
    (tmp_path / "patterns").symlink_to(real)
    store = SlotStore(tmp_path / "patterns")
    store.save(1, snap("one"))
    store.save(1, snap("two"))
    assert store.load(1).name == "two" and len(store.backups(1)) == 1
    assert (real / "slots" / "slot_001.json").is_file()


# -- unreadable slot files are moved aside, never overwritten -------------------------------

def aside_files(store: SlotStore, slot: int) -> list[Path]:
    return sorted(store.slots_dir.glob(f"slot_{slot:03d}.unreadable-*.json"))


@pytest.mark.parametrize("slot", [0, *sorted(BAD_FILES)])
def test_a_save_moves_an_unreadable_slot_file_aside(store, slot):
    raw = BAD_FILES.get(slot, (b"\x00garbage", ""))[0]
    store.slot_path(slot).write_bytes(raw)
    with pytest.raises(StoreError) as info:
        store.load(slot)
    reason = str(info.value).removeprefix(f"{slot_label(slot)}: ")
    moved: list[str] = []
    store.save(slot, snap("new"), moved_aside=moved)
    (aside,) = aside_files(store, slot)
    assert aside.read_bytes() == raw and store.load(slot).name == "new"
    assert re.fullmatch(rf"slot_{slot:03d}\.unreadable-\d{{8}}T\d{{12}}Z\.json", aside.name)
    assert moved == [f"{slot_label(slot)}: the old slots/slot_{slot:03d}.json could not be read ({reason}); "
                     f"moved aside to slots/{aside.name}, not overwritten"]
    assert store.backups(slot) == []  # not a backup: pruning never reaches it
    assert [i.slot for i in store.list()] == [slot]  # and not a slot


def test_an_unreadable_file_survives_any_number_of_saves(store):
    store.slot_path(3).write_bytes(b"{garbage")
    for i in range(MAX_BACKUPS + 3):
        moved: list[str] = []
        store.save(3, snap(f"v{i}"), moved_aside=moved)
        assert len(moved) == (1 if i == 0 else 0)  # said once
    (aside,) = aside_files(store, 3)
    assert aside.read_bytes() == b"{garbage" and len(store.backups(3)) == MAX_BACKUPS


def test_a_file_made_unreadable_after_a_save_is_moved_aside_too(store):
    store.save(3, snap("v0"))
    store.slot_path(3).write_bytes(b"[damaged since]")
    store.save(3, snap("v1"))
    (aside,) = aside_files(store, 3)
    assert aside.read_bytes() == b"[damaged since]" and store.backups(3) == []


def test_an_over_the_limit_slot_file_is_moved_aside_not_read(store):
    with open(store.slot_path(3), "wb") as handle:
        handle.truncate(5 << 20)
    moved: list[str] = []
    store.save(3, snap(), moved_aside=moved)
    (aside,) = aside_files(store, 3)
    assert aside.stat().st_size == 5 << 20 and "5 MiB file, over the 4 MiB limit" in moved[0]


def test_a_failed_save_over_an_unreadable_file_leaves_it_in_place(store, monkeypatch):
    store.slot_path(3).write_bytes(b"{garbage")
    monkeypatch.setattr(store_module, "os", FaultyOs({"replace": errno.ENOSPC}))
    moved: list[str] = []
    with pytest.raises(StoreError, match="not saved, the old file is unchanged"):
        store.save(3, snap(), moved_aside=moved)
    monkeypatch.undo()
    assert store.slot_path(3).read_bytes() == b"{garbage" and aside_files(store, 3) == [] and moved == []


# -- patterns kept in memory (a perform key's load reads no file) --------------------------

def test_a_load_of_an_unchanged_slot_reads_no_file_and_hands_out_a_copy(store, monkeypatch):
    reads = spy_reads(monkeypatch)
    store.save(1, snap("kept"))
    first = store.load(1)
    assert reads == [store.slot_path(1)]
    first.tracks.clear()  # the caller's copy: nothing it does reaches the store's
    again = store.load_kept(1)
    assert store.load(1) == again == loads(store.slot_path(1).read_text())
    assert len(again.tracks) == 2
    assert reads == [store.slot_path(1)]


def _saved_elsewhere(store: SlotStore, slot: int) -> None:
    SlotStore(store.root).save(slot, snap("from elsewhere"))  # another process's store


def _replaced_by_rename(store: SlotStore, slot: int) -> None:
    staged = store.root / "edited.json"
    staged.write_text(dumps(snap("from elsewhere")))
    os.replace(staged, store.slot_path(slot))


def _edited_in_place_keeping_size_and_mtime(store: SlotStore, slot: int) -> None:
    """Same inode, same size, mtime set back: only the ctime tells (cp -p, touch -r)."""
    path = store.slot_path(slot)
    before = path.stat()
    text = path.read_text()
    assert '"kept!"' in text
    time.sleep(0.05)  # past one timestamp tick, on a kernel with coarse ones
    with open(path, "r+", encoding="utf-8") as handle:
        handle.write(text.replace('"kept!"', '"other"'))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size,
                                                                before.st_mtime_ns)


@pytest.mark.parametrize("change", [_saved_elsewhere, _replaced_by_rename,
                                    _edited_in_place_keeping_size_and_mtime])
def test_a_slot_file_changed_behind_the_stores_back_loads_its_new_content(store, monkeypatch, change):
    reads = spy_reads(monkeypatch)
    store.save(1, snap("kept!"))
    store.preload([1])
    assert store.load(1).name == "kept!" and len(reads) == 1
    change(store, 1)
    assert store.load_kept(1) is None
    reads.clear()
    fresh = SlotStore(store.root).load(1)
    assert fresh.name != "kept!"
    assert store.load(1) == fresh
    assert len(reads) == 2  # the fresh store's read and ours


def test_a_kept_slot_whose_file_went_bad_or_away_says_so_as_before(store, monkeypatch):
    spy_reads(monkeypatch)
    store.save(1, snap("good"))
    store.save(2, snap("good"))
    store.preload([1, 2])
    store.slot_path(1).write_text("{ not json")
    store.slot_path(2).unlink()
    with pytest.raises(StoreError) as fresh:
        SlotStore(store.root).load(1)
    with pytest.raises(StoreError) as kept:
        store.load(1)
    assert str(kept.value) == str(fresh.value) and "not valid JSON" in str(kept.value)
    with pytest.raises(StoreError, match=r"^A02 is empty$"):
        store.load(2)


def test_a_save_by_this_store_is_loaded_not_the_pattern_kept_before(store, monkeypatch):
    spy_reads(monkeypatch)
    store.save(1, snap("old"))
    store.preload([1])
    store.save(1, snap("new"))
    assert store.load_kept(1) is None
    assert store.load(1).name == "new"
    store.rename(1, "renamed")
    assert store.load(1).name == "renamed"


def test_a_file_changed_just_before_it_was_read_is_not_kept(store, monkeypatch):
    # Another change in the same timestamp tick could keep its stat: read it again until settled.
    reads = spy_reads(monkeypatch, settled_now=False)
    store.save(1, snap("fresh"))
    store.preload([1])
    assert store.load_kept(1) is None
    store.load(1)
    store.load(1)
    assert reads == [store.slot_path(1)] * 3


def test_preload_keeps_a_bank_skipping_empty_and_unreadable_slots(store, monkeypatch):
    reads = spy_reads(monkeypatch)
    store.save(1, snap("one"))
    store.save(2, snap("two"))
    store.slot_path(3).write_text("{ not json")
    store.slot_path(4).mkdir()
    store.preload(range(1, 17))
    assert sorted(reads) == [store.slot_path(slot) for slot in (1, 2, 3, 4)]  # 4: refused at its stat
    reads.clear()
    assert [store.load(slot).name for slot in (1, 2)] == ["one", "two"]
    assert reads == []
    for slot, message in ((3, "not valid JSON"), (4, "not a regular file"), (5, "is empty")):
        with pytest.raises(StoreError, match=message):
            store.load(slot)
    store.preload(range(1, 17))  # again: only the unreadable ones are tried, to see if they were mended
    assert reads == [store.slot_path(slot) for slot in (3, 4, 3, 4)]


def test_at_most_two_banks_of_patterns_are_kept(store, monkeypatch):
    reads = spy_reads(monkeypatch)
    slots = range(1, store_module.KEPT_PATTERNS + 3)
    for slot in slots:
        store.save(slot, snap(f"p{slot}"))
    store.preload(slots)
    reads.clear()
    assert [store.load_kept(slot) is None for slot in slots] == [True, True] + [False] * (len(slots) - 2)
    assert store.load(1).name == "p1" and reads == [store.slot_path(1)]


def test_an_original_files_left_behind_fields_are_reported_at_every_load(store, monkeypatch, legacy_dir):
    reads = spy_reads(monkeypatch)
    shutil.copy(legacy_dir / "slot_001.json", store.slot_path(1))
    first: list[str] = []
    second: list[str] = []
    store.load(1, dropped=first)
    store.load(1, dropped=second)
    assert len(reads) == 1
    assert second == first and len(first) == 11
