"""SlotStore: atomic, durable saves; bounded backups; clear errors; the factory library."""

from __future__ import annotations

import errno
import gc
import json
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import full_pattern

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
    with pytest.raises(StoreError, match="slot 4 is empty"):
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
    assert str(info.value) == ("slot 5: not saved: sequencer.tracks[1].steps[3].note: "
                               "140 is out of range 0–127")
    assert store.slot_path(5).read_bytes() == before
    assert not list(store.temp_dir.iterdir()) and not store.backups(5)


def test_load_empty_slot(store):
    with pytest.raises(StoreError, match=r"^slot 9 is empty$"):
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


def test_oldest_backup_is_reused_only_when_nothing_else_names_it(patterns_dir):
    """Saving past the bound overwrites the pruned backup's file instead of freeing it, but
    never a backup that is still the slot file (left by a save killed before its replace)."""
    store = SlotStore(patterns_dir, max_backups=1)
    store.save(3, snap("v0"))
    store.save(3, snap("v1"))
    (oldest,) = store.backups(3)
    inode = oldest.stat().st_ino
    store.save(3, snap("v2"))
    assert store.slot_path(3).stat().st_ino == inode  # the pruned backup's file now holds v2
    assert assert_canonical(store.slot_path(3)).name == "v2"
    assert [loads(b.read_bytes()).name for b in store.backups(3)] == ["v1"]

    for backup in store.backups(3):
        backup.unlink()
    killed = store.backups_dir / "slot_003" / "20000101T000000000000Z-1-00000001.json"
    os.link(store.slot_path(3), killed)  # as a save killed after its backup leaves it
    with open(store.slot_path(3), "rb") as live:
        before = live.read()
        store.save(3, snap("v3"))
        live.seek(0)
        assert live.read() == before  # the file that was the slot was not written over
    assert assert_canonical(store.slot_path(3)).name == "v3"
    assert [loads(b.read_bytes()).name for b in store.backups(3)] == ["v2"]
    assert not any(store.temp_dir.iterdir())


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
    15: (GOOD_TEXT.replace('"schema": 1', '"schema": 7').encode(),
         "schema: 7 is newer than this Chronus reads (1); upgrade Chronus"),
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
    assert str(info.value).startswith(f"slot {slot}: ")
    assert fragment in str(info.value)


def test_unreadable_path_gives_a_clear_error(store):
    store.slot_path(20).mkdir()
    with pytest.raises(StoreError, match=r"^slot 20: cannot read: Is a directory$"):
        store.load(20)


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
    assert "Is a directory" in by_slot[20].error
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
    assert str(info.value).startswith(f"slot 6: not saved, the old file is unchanged: {message}")
    monkeypatch.undo()
    assert store.slot_path(6).read_bytes() == before
    assert not any(store.temp_dir.iterdir())
    assert all(b in store.backups(6) for b in backups_before)
    store.save(6, snap("new"))  # the store still works once the disk does
    assert store.load(6).name == "new"


def test_folder_sync_failure_after_replace_is_not_called_unchanged(store, monkeypatch):
    store.save(6, snap("old"))
    monkeypatch.setattr(store_module, "os", FaultyOs({"fsync": errno.EIO}, after=1))
    with pytest.raises(StoreError, match=r"^slot 6: saved, but the folder could not be synced"):
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
        with pytest.raises(StoreError, match=r"^slot 1: not saved, the old file is unchanged: "
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
    with pytest.raises(StoreError, match=r"^slot 1: not saved, the old file is unchanged: "
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
    with pytest.raises(StoreError, match="slot 13 is empty"):
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
