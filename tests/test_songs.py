"""Songs: a named chain whose entries may set the tempo and mute tracks, stored in
songs/<name>.json (atomic, with backups, read as hostile files are), listed by `chronus songs`
and /song/list, saved, loaded, edited and played through the Session and OSC."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest
from support.chains import queued_pattern, slot_pattern, switch
from support.fakes import FakeEngine
from support.osc import OscClient, osc_fixture  # noqa: F401

from chronus_tui import store as store_module
from chronus_tui.chain import Chain, ChainEntry, parse_chain
from chronus_tui.cli import main
from chronus_tui.model import Track, parse_steps
from chronus_tui.osc.server import OscServer
from chronus_tui.session import Session, SessionError
from chronus_tui.store import SlotStore, StoreError

VERSE = Chain((ChainEntry(1, 4, bpm=128.0, mute=("hat",)), ChainEntry(2, 2), ChainEntry(17, 1, mute=())),
              loop=False)


def good_song(**changes: Any) -> dict[str, Any]:
    data = {"format": "chronus-song", "schema": 1, "name": "verse", "loop": True,
            "entries": [{"slot": "A01", "repeats": 4, "bpm": 128.0, "mute": ["hat"]},
                        {"slot": "A02", "repeats": 2}, {"slot": "B01", "repeats": 1},
                        {"slot": "A03", "repeats": 1}],
            "saved_at": "2026-12-03T12:00:00.000000Z"}
    data.update(changes)
    return data


def write_song(store: SlotStore, name: str, data: Any) -> Path:
    store.songs_dir.mkdir(exist_ok=True)
    path = store.songs_dir / f"{name}.json"
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    return path


# -- storage ---------------------------------------------------------------------------------


def test_a_song_is_saved_and_read_back_whole(store):
    path = store.save_song("verse", VERSE)
    assert path == store.root / "songs" / "verse.json"
    data = json.loads(path.read_text())
    assert (data["format"], data["schema"], data["name"], data["loop"]) == ("chronus-song", 1, "verse", False)
    assert data["entries"] == [{"slot": "A01", "repeats": 4, "bpm": 128.0, "mute": ["hat"]},
                               {"slot": "A02", "repeats": 2}, {"slot": "B01", "repeats": 1, "mute": []}]
    assert data["saved_at"].endswith("Z")
    assert store.load_song("verse") == VERSE
    assert not any(store.temp_dir.iterdir())


def entry_change(index: int, key: str, value: Any) -> dict[str, Any]:
    data = good_song()
    data["entries"][index][key] = value
    return data


BAD_FILES = {
    "repeats 0": (entry_change(3, "repeats", 0), "entries[3].repeats: 0 is out of range 1–64"),
    "repeats 65": (entry_change(0, "repeats", 65), "entries[0].repeats: 65 is out of range 1–64"),
    "repeats text": (entry_change(0, "repeats", "4"), "entries[0].repeats: '4' is not a whole number"),
    "repeats bool": (entry_change(0, "repeats", True), "entries[0].repeats: True is not a whole number"),
    "slot I01": (entry_change(1, "slot", "I01"), "entries[1].slot: 'I01' is not a slot"),
    "slot 129": (entry_change(1, "slot", "129"), "entries[1].slot: '129' is not a slot"),
    "slot number": (entry_change(1, "slot", 3), "entries[1].slot: 3 is not a slot"),
    "bpm too fast": (entry_change(0, "bpm", 999), "entries[0].bpm: 999 is out of range 20–300"),
    "bpm text": (entry_change(0, "bpm", "fast"), "entries[0].bpm: 'fast' is not a number"),
    "mute not a list": (entry_change(0, "mute", "hat"), "entries[0].mute: expected a list of track names"),
    "mute twice": (entry_change(0, "mute", ["hat", "hat"]), "entries[0].mute: a track is named twice"),
    "mute not a name": (entry_change(0, "mute", ["hat", 7]), "entries[0].mute[1]: 7 is not a string"),
    "mute too many": (entry_change(0, "mute", [f"t{i}" for i in range(17)]), "entries[0].mute: 17 tracks"),
    "entry unknown field": (entry_change(2, "volume", 1), "entries[2].volume: is not a known field"),
    "entry missing repeats": (good_song(entries=[{"slot": "A01"}]), "entries[0].repeats: is missing"),
    "entry not an object": (good_song(entries=["A01x4"]), "entries[0]: expected an object"),
    "no entries": (good_song(entries=[]), "entries: 0 entries; a song has 1–64"),
    "65 entries": (good_song(entries=[{"slot": "A01", "repeats": 1}] * 65), "entries: 65 entries"),
    "entries not a list": (good_song(entries="A01x4"), "entries: expected a list"),
    "format": (good_song(format="chronus-pattern"), "format: 'chronus-pattern' is not 'chronus-song'"),
    "schema newer": (good_song(schema=2), "schema: 2 is newer than this Chronus reads (1)"),
    "schema text": (good_song(schema="1"), "schema: '1' is not a schema number"),
    "loop": (good_song(loop="yes"), "loop: 'yes' is not true or false"),
    "name": (good_song(name=""), "name: '' must be 1–32 printable characters"),
    "saved_at": (good_song(saved_at=5), "saved_at: 5 is not a time string"),
    "unknown field": (good_song(tempo=120), "tempo: is not a known field"),
    "missing field": ({k: v for k, v in good_song().items() if k != "loop"}, "loop: is missing"),
    "a list": ([1, 2], "expected a JSON object, found list"),
    "not JSON": (b"{\"format\": ", "not valid JSON (line 1"),
    "empty": (b"", "the file is empty"),
    "not UTF-8": (b"{\"name\": \"\xff\xfe\"}", "not UTF-8 text (byte 10)"),
    "nested": (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_song_file_names_its_bad_field_and_never_stops_the_listing(store, case):
    data, message = BAD_FILES[case]
    write_song(store, "verse", data)
    store.save_song("zzz", VERSE)  # listed after it
    with pytest.raises(StoreError) as info:
        store.load_song("verse")
    assert str(info.value).startswith(f"songs/verse.json: {message}"), str(info.value)
    listed = store.songs()
    assert [(i.name, i.error) for i in listed] == [("verse", str(info.value)), ("zzz", None)]


def test_the_example_of_a_bad_repeat_count_reads_exactly(store):
    write_song(store, "verse", entry_change(3, "repeats", 0))
    with pytest.raises(StoreError) as info:
        store.load_song("verse")
    assert str(info.value) == "songs/verse.json: entries[3].repeats: 0 is out of range 1–64"


def make_link_outside(path: Path) -> None:
    outside = path.parents[2] / "outside.json"
    outside.write_text(json.dumps(good_song()))
    path.symlink_to(outside)


def make_huge(path: Path) -> None:
    with open(path, "wb") as handle:
        handle.truncate(store_module.MAX_FILE_BYTES + 1)


HOSTILE = {
    "a symbolic link": (make_link_outside, "not a regular file (a symbolic link)"),
    "a FIFO": (os.mkfifo, "not a regular file (a FIFO)"),
    "a directory": (Path.mkdir, "not a regular file (a directory)"),
    "a huge file": (make_huge, "4 MiB file, over the 4 MiB limit; not read"),
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_song_that_is_no_regular_file_or_too_big_is_an_error_never_a_hang(store, kind):
    make, message = HOSTILE[kind]
    store.songs_dir.mkdir()
    make(store.songs_dir / "verse.json")
    store.save_song("chorus", VERSE)
    with pytest.raises(StoreError) as info:
        store.load_song("verse")
    assert str(info.value) == f"songs/verse.json: {message}"
    assert [(i.name, i.error) for i in store.songs()] == [("chorus", None), ("verse", str(info.value))]


def test_a_save_never_writes_through_a_linked_song(store, tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text("mine")
    store.songs_dir.mkdir()
    (store.songs_dir / "verse.json").symlink_to(outside)
    with pytest.raises(StoreError, match=r"not saved: songs/verse\.json is not a regular file"):
        store.save_song("verse", VERSE)
    assert outside.read_text() == "mine"


@pytest.mark.parametrize("name", ["a b", "../x", "x/y", "", " ", "-x", "x" * 33, "a.b", "\x1b[31m"])
def test_a_song_name_is_its_plain_file_name(store, name):
    with pytest.raises(StoreError, match="song name"):
        store.save_song(name, VERSE)
    with pytest.raises(StoreError, match="song name"):
        store.load_song(name)
    assert not store.songs_dir.exists() or not any(store.songs_dir.iterdir())


def test_a_missing_song_says_so(store):
    with pytest.raises(StoreError, match=r"^no song named 'nope' \(songs/nope\.json\)$"):
        store.load_song("nope")
    assert store.songs() == []


def test_backups_keep_the_previous_versions_bounded(patterns_dir):
    store = SlotStore(patterns_dir, max_backups=3)
    versions = [Chain((ChainEntry(1, repeats),)) for repeats in range(1, 7)]
    for chain in versions:
        store.save_song("verse", chain)
    backups = store.song_backups("verse")
    assert [b.parent for b in backups] == [patterns_dir / "backups" / "songs" / "verse"] * 3
    assert [json.loads(b.read_text())["entries"][0]["repeats"] for b in backups] == [3, 4, 5]
    assert store.load_song("verse") == versions[-1]


def test_a_failed_save_keeps_the_old_song_and_its_backups(store, monkeypatch):
    store.save_song("verse", VERSE)
    store.save_song("verse", VERSE)
    before, backups = (store.songs_dir / "verse.json").read_bytes(), store.song_backups("verse")

    def read_only(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(store_module.os, "replace", read_only)
    with pytest.raises(StoreError, match=r"^song verse: not saved, the old file is unchanged: "
                                         r"Read-only file system"):
        store.save_song("verse", Chain((ChainEntry(5, 2),)))
    monkeypatch.undo()
    assert (store.songs_dir / "verse.json").read_bytes() == before
    assert store.song_backups("verse") == backups and not any(store.temp_dir.iterdir())


def test_a_read_only_patterns_folder_refuses_the_first_song_clearly(store, monkeypatch):
    def refused(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(Path, "mkdir", refused)
    with pytest.raises(StoreError, match=r"^song verse: not saved: cannot make songs: Read-only file system"):
        store.save_song("verse", VERSE)


def test_a_save_over_an_unreadable_song_moves_it_aside(store):
    write_song(store, "verse", b"not json")
    moved: list[str] = []
    store.save_song("verse", VERSE, moved_aside=moved)
    aside = [p for p in store.songs_dir.iterdir() if ".unreadable-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes() == b"not json"
    assert len(moved) == 1 and "moved aside" in moved[0]
    assert [i.name for i in store.songs()] == ["verse"]  # the moved-aside file is not a song


def test_the_listing_gives_each_songs_length_at_its_tempos(store):
    store.save(1, slot_pattern("one", bpm=120.0))  # 16 steps
    store.save(2, slot_pattern("two", "x" * 12, bpm=90.0))
    store.save_song("verse", Chain((ChainEntry(1, 4, bpm=60.0), ChainEntry(2, 2))))
    store.save_song("broken", Chain((ChainEntry(1, 1), ChainEntry(9, 1))))
    broken, verse = store.songs()
    # 4 bars at 60 bpm (16 s) and 24 steps at 90 bpm (4 s)
    assert (verse.entries, verse.bars, verse.seconds, verse.missing) == (2, 5.5, 20.0, ())
    assert (broken.bars, broken.seconds, broken.missing) == (None, None, ("A09",))


# -- the session -------------------------------------------------------------------------------


@pytest.fixture
def slots(store) -> SlotStore:
    """A01 (tracks kick, hat; 120 bpm), A02 (12 steps, 100 bpm), A03."""
    tracks = [Track("kick", "voice1", parse_steps("x...x...x...x...")),
              Track("hat", "voice4", parse_steps("..x...x...x...x."))]
    store.save(1, slot_pattern("one", tracks=tracks, bpm=120.0))
    store.save(2, slot_pattern("two", "x" * 12, bpm=100.0))
    store.save(3, slot_pattern("three"))
    return store


def test_a_song_is_saved_from_the_chain_set_and_loaded_back(session, slots, changes):
    with pytest.raises(SessionError, match="no chain is set"):
        session.save_song("verse")
    session.set_chain(parse_chain("A01x2 A02"))
    session.set_song_entry(0, bpm=140.0, mute=["hat"])
    changes.clear()
    session.save_song("verse", source="ui")
    assert session.chain_status()["song"] == "verse"
    assert [c.kind for c in changes] == ["chain", "song"]
    session.set_chain(parse_chain("A03"))
    assert session.load_song("verse", source="ui").entries[0] == ChainEntry(1, 2, 140.0, ("hat",))
    status = session.song_status()
    assert (status["song"], status["chain"], status["entries"]) == ("verse", "A01×2 A02×1", 2)
    assert status["song_entries"] == [{"slot": "A01", "repeats": 2, "bpm": 140.0, "mute": ["hat"]},
                                      {"slot": "A02", "repeats": 1}]
    assert [i.name for i in session.list_songs()] == ["verse"]
    with pytest.raises(SessionError, match="no song named 'gone'"):
        session.load_song("gone")
    assert session.chain_status()["song"] == "verse"


def test_a_songs_entries_are_edited_one_action_at_a_time(session, slots, changes):
    session.insert_song_entry(0, 1)  # with no chain set: the first entry
    session.insert_song_entry(1, 2, repeats=3, bpm=90.0)
    session.insert_song_entry(1, 3, mute=("t",))
    assert session.chain_status()["chain"] == "A01×1 A03×1 A02×3"
    session.move_song_entry(2, 0)
    assert session.chain_status()["chain"] == "A02×3 A01×1 A03×1"
    session.set_song_entry(1, repeats=4, slot=17)
    session.set_song_entry(0, bpm=None)
    assert session.remove_song_entry(2) == ChainEntry(3, 1, None, ("t",))
    session.set_song_loop(False)
    assert session.chain_status()["chain"] == "A02×3 B01×4 once"
    changes.clear()
    for bad in (lambda: session.set_song_entry(2, repeats=2), lambda: session.set_song_entry(0, repeats=0),
                lambda: session.set_song_entry(0, bpm=5.0), lambda: session.set_song_entry(0, slot=129),
                lambda: session.set_song_entry(0, mute="hat"), lambda: session.insert_song_entry(3, 1),
                lambda: session.move_song_entry(0, 2), lambda: session.remove_song_entry(-1)):
        with pytest.raises(SessionError):
            bad()
    session.remove_song_entry(0)
    with pytest.raises(SessionError, match="at least one entry"):
        session.remove_song_entry(0)
    assert session.chain_status()["chain"] == "B01×4 once"
    assert [c.kind for c in changes] == ["chain"]  # only the one edit that was made


def test_a_song_edited_while_it_plays_goes_on_from_its_entries_new_places(session, slots, engine):
    session.apply_snapshot(slot_pattern("before"), "now")
    session.start()
    engine.clear()
    session.set_chain(parse_chain("A01 A02 A03"))
    session.start_chain()
    switch(session, queued_pattern(engine, 1))  # A01 plays, A02 queued
    queued_pattern(engine, 2)
    session.insert_song_entry(0, 3)
    status = session.chain_status()
    assert (status["running"], status["entry"], status["slot"], status["next"]) == (True, 2, "A01", "A02")
    session.remove_song_entry(1)  # the entry playing: the chain ends, the pattern plays on
    assert not session.chain_status()["running"] and session.pattern.name == "one"


def test_playing_a_song_applies_each_entrys_tempo_and_mutes(session, slots, engine):
    entries = (ChainEntry(1, 1, bpm=140.0, mute=("hat",)), ChainEntry(2, 1), ChainEntry(1, 1))
    session.set_chain(Chain(entries))
    with pytest.raises(SessionError, match="no song is loaded"):
        session.play_song()
    session.save_song("verse")
    session.load_song("verse")
    assert session.play_song() is None  # stopped: it loads at once and plays
    assert session.pattern.bpm == 140.0 and session.transport.playing
    assert {t.name: t.mute for t in session.pattern.tracks} == {"kick": False, "hat": True}
    second = queued_pattern(engine, 2)
    assert (second["pattern"]["sequencer"]["bpm"], second["every"]) == (100.0, 16)
    switch(session, second)
    third = queued_pattern(engine, 3)  # A01 again, as the slot has it: its own tempo, nothing muted
    assert third["pattern"]["sequencer"]["bpm"] == 120.0
    assert [t["mute"] for t in third["pattern"]["sequencer"]["tracks"]] == [False, False]


# -- the command line ------------------------------------------------------------------------


def test_chronus_songs_lists_good_and_bad_songs(slots, patterns_dir, capsys):
    assert main(["songs", "--patterns-dir", str(patterns_dir)]) == 0
    assert capsys.readouterr().out == f"no saved songs in {patterns_dir / 'songs'}\n"
    slots.save_song("verse", Chain((ChainEntry(1, 4, bpm=60.0), ChainEntry(2, 2)), loop=False))
    write_song(slots, "bad", entry_change(0, "repeats", 0))
    assert main(["songs", "--patterns-dir", str(patterns_dir)]) == 0
    bad, verse = capsys.readouterr().out.splitlines()
    assert bad == f"{'bad':<32}  ERROR  songs/bad.json: entries[0].repeats: 0 is out of range 1–64"
    assert verse.startswith(f"{'verse':<32}   2 entries      5.5 bars     19.6 s  once  20")
    assert main(["songs", "--json", "--patterns-dir", str(patterns_dir)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(s["name"], s["bars"], s["seconds"], s["loop"], s["error"] is None) for s in listed] == [
        ("bad", None, None, None, False), ("verse", 5.5, 19.6, False, True)]


# -- OSC -------------------------------------------------------------------------------------


def test_songs_are_saved_loaded_played_and_listed_over_osc(osc: tuple[OscServer, OscClient], session: Session,
                                                           slots: SlotStore, engine: FakeEngine) -> None:
    _, client = osc
    client.ok("/chain/set", "A01x2", "A02", "once")
    assert client.ok("/song/save", "verse") == ["verse", 2]
    assert client.error("/song/save", "../verse").startswith("song name: '../verse' is not a song name")
    client.ok("/chain/set", "A03")
    assert client.ok("/song/load", "verse") == ["verse", "A01×2 A02×1 once", 2]
    assert client.error("/song/load", "gone") == "no song named 'gone' (songs/gone.json)"
    status = client.query("/song/status")
    assert (status["song"], status["song_entries"], status["more"]) == (
        "verse", [{"slot": "A01", "repeats": 2}, {"slot": "A02", "repeats": 1}], 0)
    client.ok("/seq/start")
    client.ok("/pattern/quantize", "bar2")
    assert client.ok("/song/play", 2) == ["verse", "queued", "A02", "bar2"]
    assert engine.last("pattern")["every"] == 32
    listed = client.query("/song/list")
    assert [(s["name"], s["entries"], s["path"]) for s in listed] == [("verse", 2, "songs/verse.json")]
    page = client.query("/song/list", 0)
    assert (page["total"], page["next"], [s["name"] for s in page["songs"]]) == (1, None, ["verse"])


def test_a_long_song_list_comes_in_pages_of_one_datagram(osc: tuple[OscServer, OscClient], session: Session,
                                                        store: SlotStore) -> None:
    _, client = osc
    store.songs_dir.mkdir()
    for number in range(600):  # each listed with a long error: more than one datagram
        (store.songs_dir / f"s{number:03d}.json").write_text("x" * 500)
    first = client.query("/song/list")
    assert first["total"] == 600 and first["first"] == 0 and first["next"] == len(first["songs"])
    names = [s["name"] for s in first["songs"]]
    while (page := client.query("/song/list", len(names)))["next"] is not None:
        names += [s["name"] for s in page["songs"]]
    names += [s["name"] for s in page["songs"]]
    assert names == [f"s{number:03d}" for number in range(600)]
