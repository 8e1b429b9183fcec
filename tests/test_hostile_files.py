"""Hostile files and names for today's songs/ and exports/ folders and the commands that read them.

A song file, a folder in a file's place, a link, a FIFO, a 4 GB sparse file, file names with
control characters or bytes that are no UTF-8, song and export names with Unicode tricks
(a right-to-left override, combining marks, zero-width characters), and `chronus render` /
`export-midi` SOURCE arguments that are huge, a path, or digits int() cannot read: each gets a
clear error, changes nothing, and never hangs, crashes or writes outside its folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support.osc import OscClient, osc_fixture  # noqa: F401

from chronus_tui import patternfile
from chronus_tui.chain import Chain, ChainEntry
from chronus_tui.cli import main
from chronus_tui.model import Pattern, Track, parse_steps
from chronus_tui.osc.server import OscServer
from chronus_tui.session import Session
from chronus_tui.store import SlotStore, StoreError

Osc = tuple[OscServer, OscClient]
ONE_PLAY = Chain((ChainEntry(1, 2),))
FOUR_GB = 4 << 30


def save_hit(store: SlotStore, slot: int) -> None:
    pattern = Pattern(tracks=[Track("kick", "voice1", parse_steps("x..."))])
    store.save(slot, patternfile.pattern_to_dict(pattern))


def sparse(path: Path, size: int = FOUR_GB) -> Path:
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path


def song_file(**entry: object) -> str:
    return json.dumps({"format": "chronus-song", "schema": 1, "name": "x", "loop": True,
                       "entries": [{"slot": "A01", "repeats": 1, **entry}]})


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- the command line's SOURCE ----------------------------------------------------------------


CHAIN_OF_20000 = "A01x2 " * 20000  # 120 kB: one argument the kernel still passes (128 kB each)


@pytest.mark.parametrize("command", ["render", "export-midi"])
@pytest.mark.parametrize("source,reason", [
    pytest.param(CHAIN_OF_20000, "is not a slot number", id="20000 entries"),  # no file has that name
    ("~no-such-user-chronus/verse", "is not a slot number"),  # ~user that is no user
    ("²", "is not a slot number"),  # isdigit() says yes, int() cannot read it
    ("A²", "is not a slot number"),
    ("A01x2 A²x2", "is not a slot number"),
    ("A01\x1b[2J", "is not a slot number"),
    ("../verse", "is not a slot number"),  # a song's name is never a path
    ("songs/verse", "is not a slot number"),
])
def test_a_hostile_source_is_refused_in_one_short_line(patterns_dir, tmp_path, capsys, command, source,
                                                       reason):
    SlotStore(patterns_dir).save_song("verse", ONE_PLAY)
    output = tmp_path / "out.file"
    code, out, err = run(capsys, command, source, "-o", str(output), "--patterns-dir", str(patterns_dir))
    assert (code, out) == (1, "")
    assert err.startswith(f"chronus {command}: ") and reason in err and err.count("\n") == 1
    assert len(err) < 600 and "\x1b" not in err
    assert not output.exists()


@pytest.mark.parametrize("make,reason", [
    (lambda path: sparse(path), "4 GiB file, over the 4 MiB limit; not read"),
    (os.mkfifo, "not a regular file (a FIFO)"),  # refused before it is opened: no hang
])
def test_a_source_file_too_big_or_no_regular_file_is_refused(patterns_dir, tmp_path, capsys, make, reason):
    source = tmp_path / "set.json"
    make(source)
    code, _, err = run(capsys, "export-midi", str(source), "-o", str(tmp_path / "x.mid"),
                       "--patterns-dir", str(patterns_dir))
    assert code == 1 and reason in err
    assert not (tmp_path / "x.mid").exists()


def test_a_song_is_found_by_its_name_and_only_by_it(patterns_dir, tmp_path, capsys):
    store = SlotStore(patterns_dir)
    save_hit(store, 1)
    store.save_song("verse", ONE_PLAY)
    code, out, _ = run(capsys, "export-midi", "verse", "-o", str(tmp_path / "x.mid"), "--patterns-dir",
                       str(patterns_dir))
    assert code == 0 and out.startswith(f"{tmp_path / 'x.mid'}: the song 'verse' (A01×2), 8 steps")


# -- songs/ -----------------------------------------------------------------------------------


def test_a_4_gb_sparse_song_is_listed_as_an_error_and_never_read(patterns_dir, capsys):
    store = SlotStore(patterns_dir)
    store.songs_dir.mkdir()
    sparse(store.songs_dir / "huge.json")
    store.save_song("verse", ONE_PLAY)
    with pytest.raises(StoreError, match="4 GiB file, over the 4 MiB limit; not read"):
        store.load_song("huge")
    assert [(info.name, info.error is None) for info in store.songs()] == [("huge", False), ("verse", True)]


@pytest.mark.parametrize("slot", ["²", "A²", "A٣", "１２"])
def test_a_song_entry_whose_slot_has_unicode_digits_names_its_field(patterns_dir, slot):
    store = SlotStore(patterns_dir)
    store.songs_dir.mkdir()
    (store.songs_dir / "odd.json").write_text(song_file(slot=slot))
    with pytest.raises(StoreError, match=r"entries\[0\]\.slot: .* is not a slot"):
        store.load_song("odd")
    assert [info.error is not None for info in store.songs()] == [True]


@pytest.mark.parametrize("name", [b"a\x1b[31mred.json", b"bell\x07.json", b"\xff\xfe.json", "tab\there.json"])
def test_chronus_songs_quotes_a_file_name_a_terminal_would_act_on(patterns_dir, capsys, name):
    store = SlotStore(patterns_dir)
    store.save_song("verse", ONE_PLAY)
    raw = name if isinstance(name, bytes) else name.encode()
    with open(os.path.join(os.fsencode(store.songs_dir), raw), "w") as handle:
        handle.write(song_file())
    code, out, _ = run(capsys, "songs", "--patterns-dir", str(patterns_dir))
    assert code == 0
    assert all(line.isprintable() for line in out.splitlines())
    assert len(out.splitlines()) == 2 and "ERROR" in out
    code, out, _ = run(capsys, "songs", "--json", "--patterns-dir", str(patterns_dir))
    assert code == 0 and sorted(song["error"] is None for song in json.loads(out)) == [False, True]


def test_a_file_in_the_songs_folders_place_is_an_error_for_every_song(patterns_dir):
    store = SlotStore(patterns_dir)
    store.songs_dir.write_text("not a folder")
    with pytest.raises(StoreError, match=r"^no song named 'x' \(songs/x\.json\)$"):
        store.load_song("x")
    with pytest.raises(StoreError, match="not saved"):
        store.save_song("x", ONE_PLAY)
    assert store.songs() == []
    assert store.songs_dir.read_text() == "not a folder"


def test_a_linked_backup_folder_refuses_the_save_and_keeps_the_song(patterns_dir, tmp_path):
    store = SlotStore(patterns_dir)
    store.save_song("verse", ONE_PLAY)
    outside = tmp_path / "outside"
    outside.mkdir()
    backups = store.backups_dir / "songs" / "verse"
    if backups.exists():
        backups.rmdir()
    backups.symlink_to(outside)
    with pytest.raises(StoreError, match=r"backups/songs/verse is not a directory \(a symbolic link\)"):
        store.save_song("verse", Chain((ChainEntry(2, 1),)))
    assert store.load_song("verse") == ONE_PLAY and os.listdir(outside) == []


UNICODE_TRICKS = ["verse\u202e", "\u202everse", "ver\u200bse", "cafe\u0301", "\u200fverse", "verse\u2028",
                  "a\ufeff", "..", "verse/../x", "\x1b[2J", "x" * 33]


@pytest.mark.parametrize("name", UNICODE_TRICKS)
def test_a_song_name_with_a_unicode_trick_is_refused_over_osc(osc: Osc, session: Session, name):
    _, client = osc
    client.ok("/chain/set", "A01x2")
    assert "song name" in client.error("/song/save", name)
    assert "song name" in client.error("/song/load", name)
    assert not session.store.songs_dir.exists() or os.listdir(session.store.songs_dir) == []


# -- exports/ ---------------------------------------------------------------------------------


@pytest.fixture
def exports(osc: Osc, session: Session) -> tuple[OscClient, Path]:
    save_hit(session.store, 1)
    folder = session.store.root / "exports"
    folder.mkdir()
    return osc[1], folder


def test_a_folder_named_like_the_export_is_an_error_and_stays(exports):
    client, folder = exports
    (folder / "set.mid").mkdir()
    assert client.error("/pattern/export_midi", 1, "set") == "cannot write exports/set.mid: Is a directory"
    assert os.listdir(folder) == ["set.mid"] and (folder / "set.mid").is_dir()


@pytest.mark.parametrize("make", [os.mkfifo, lambda path: path.symlink_to(path.parents[2] / "outside.txt")])
def test_a_fifo_or_link_in_the_exports_place_is_replaced_never_followed(exports, tmp_path, make):
    client, folder = exports
    outside = tmp_path / "outside.txt"
    outside.write_text("mine")
    make(folder / "set.mid")
    assert client.ok("/pattern/export_midi", 1, "set") == [1, "set.mid", 4]
    assert (folder / "set.mid").is_file() and not (folder / "set.mid").is_symlink()
    assert (folder / "set.mid").read_bytes().startswith(b"MThd")
    assert outside.read_text() == "mine" and os.listdir(folder) == ["set.mid"]


def test_a_file_in_the_exports_folders_place_is_an_error(osc: Osc, session: Session):
    _, client = osc
    save_hit(session.store, 1)
    (session.store.root / "exports").write_text("mine")
    assert "exports folder" in client.error("/pattern/export_midi", 1, "set")
    assert (session.store.root / "exports").read_text() == "mine"


@pytest.mark.parametrize("name", ["set\u202e", "\u202edim.mid", "s\u200bet", "\u200fset", "set\u2028",
                                  "\ufeffset", "set\x1b", ".", "..", "../set", "x" * 65])
def test_an_export_name_with_a_unicode_trick_is_refused(exports, name):
    client, folder = exports
    assert client.error("/pattern/export_midi", 1, name)
    assert os.listdir(folder) == []


def test_an_export_name_the_file_system_cannot_hold_is_an_error_leaving_nothing(exports):
    client, folder = exports
    name = "\U0001f600" * 64  # 64 characters, 256 bytes: past the file system's 255
    assert client.error("/pattern/export_midi", 1, name).endswith(": File name too long")
    assert os.listdir(folder) == []


def test_a_combining_mark_is_part_of_an_export_name_as_sent(exports):
    client, folder = exports
    assert client.ok("/pattern/export_midi", 1, "cafe\u0301") == [1, "cafe\u0301.mid", 4]
    assert os.listdir(folder) == ["cafe\u0301.mid"]
