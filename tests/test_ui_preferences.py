"""settings.json, the UI's preferences: written atomically, and any file that is not a small
JSON object of the right types gives the defaults and one log line, never a crash."""

from __future__ import annotations

import errno
import json
import logging
import os
from pathlib import Path

import platformdirs
import pytest

from chronus_tui.ui import preferences
from chronus_tui.ui.preferences import (
    CONFIG_DIR_ENV,
    MAX_SETTINGS_BYTES,
    Preferences,
    config_dir,
    load_preferences,
    save_preferences,
)


def test_saved_preferences_load_back_and_no_temp_file_is_left(tmp_path: Path) -> None:
    folder = tmp_path / "made" / "on" / "save"
    save_preferences(folder, Preferences(flats=True))
    assert json.loads((folder / "settings.json").read_text()) == {"flats": True, "quantize": "bar"}
    assert load_preferences(folder) == Preferences(flats=True)
    save_preferences(folder, Preferences(flats=False))
    assert load_preferences(folder) == Preferences(flats=False)
    assert [p.name for p in folder.iterdir()] == ["settings.json"]


def test_the_folder_is_chronus_config_dir_else_the_user_config_folder(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(CONFIG_DIR_ENV, raising=False)
    assert config_dir() == platformdirs.user_config_path("chronus")
    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path))
    assert config_dir() == tmp_path


def test_unknown_fields_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text('{"flats": true, "from_a_newer_chronus": [1, 2]}')
    assert load_preferences(tmp_path) == Preferences(flats=True)


def test_a_missing_file_gives_the_defaults_and_one_log_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=preferences.__name__):
        assert load_preferences(tmp_path / "nowhere") == Preferences()
    assert len(caplog.records) == 1 and "default preferences" in caplog.records[0].getMessage()


BAD_FILES = {
    "corrupt": b'{"flats": tru',
    "not utf-8": b'{"flats": "\xff"}',
    "empty": b"",
    "too big": json.dumps({"flats": True, "pad": "x" * MAX_SETTINGS_BYTES}).encode(),
    "a list": b"[true]",
    "a string": b'"flats"',
    "null": b"null",
    "flats a string": b'{"flats": "yes"}',
    "flats a number": b'{"flats": 1}',
    "flats null": b'{"flats": null}',
    "deeply nested": b'{"flats": ' + b"[" * 60000 + b"]" * 60000 + b"}",
}


@pytest.mark.parametrize("content", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_file_gives_the_defaults_one_log_line_and_is_left_as_it_was(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes) -> None:
    settings = tmp_path / "settings.json"
    settings.write_bytes(content)
    with caplog.at_level(logging.INFO, logger=preferences.__name__):
        assert load_preferences(tmp_path) == Preferences()
    assert len(caplog.records) == 1 and caplog.records[0].levelno == logging.WARNING
    assert settings.read_bytes() == content


@pytest.mark.parametrize("kind", ["fifo", "folder", "device"])
def test_a_fifo_folder_or_device_in_the_files_place_is_never_read(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str) -> None:
    settings = tmp_path / "settings.json"
    if kind == "fifo":
        os.mkfifo(settings)  # a read would wait for a writer forever
    elif kind == "folder":
        settings.mkdir()
    else:
        settings.symlink_to("/dev/zero")  # endless bytes
    with caplog.at_level(logging.INFO, logger=preferences.__name__):
        assert load_preferences(tmp_path) == Preferences()
    assert len(caplog.records) == 1 and caplog.records[0].levelno == logging.WARNING


@pytest.mark.parametrize("call", ["open", "fsync", "replace"])
def test_a_failed_write_raises_and_leaves_the_old_file_and_no_temp_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: str) -> None:
    save_preferences(tmp_path, Preferences(flats=True))
    before = (tmp_path / "settings.json").read_bytes()
    real = getattr(os, call)

    def refused(*args: object, **kwargs: object) -> object:
        if call == "open" and not str(args[0]).endswith(".tmp"):
            return real(*args, **kwargs)
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(preferences.os, call, refused)
    with pytest.raises(OSError, match="Read-only file system"):
        save_preferences(tmp_path, Preferences(flats=False))
    monkeypatch.undo()
    assert (tmp_path / "settings.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_folder_refuses_the_save(tmp_path: Path) -> None:
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(PermissionError):
            save_preferences(tmp_path, Preferences(flats=True))
    finally:
        tmp_path.chmod(0o755)
    assert not any(tmp_path.iterdir())
