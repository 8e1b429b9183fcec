"""`chronus slots`: every slot file listed, good and broken, never stopping at a bad one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chronus_tui.cli import main
from chronus_tui.model import Pattern, Track, parse_steps
from chronus_tui.patternfile import dumps, pattern_to_dict
from chronus_tui.store import SlotStore

CHRONUS = Path(sys.executable).parent / "chronus"


@pytest.fixture
def mixed_dir(patterns_dir, legacy_dir) -> Path:
    """A good file, an original-format file, a truncated file and one with "bpm": "fast"."""
    store = SlotStore(patterns_dir)
    good = pattern_to_dict(Pattern(name="good one", bpm=126.0,
                                   tracks=[Track("kick", "voice1", parse_steps("X...X...X...X..."))]))
    store.save(1, good)
    shutil.copy(legacy_dir / "slot_002.json", store.slot_path(2))
    text = dumps(good)
    store.slot_path(3).write_text(text[: len(text) // 2])
    store.slot_path(4).write_text(text.replace('"bpm": 126.0', '"bpm": "fast"'))
    return patterns_dir


def check_listing(entries: list[dict]) -> None:
    assert [e["slot"] for e in entries] == [1, 2, 3, 4]
    for entry in entries:
        assert {"slot", "name", "bpm", "saved_at", "error"} <= entry.keys()
    good, original, truncated, fast = entries
    assert (good["name"], good["bpm"], good["tracks"], good["error"]) == ("good one", 126.0, 1, None)
    assert good["saved_at"].endswith("Z")
    assert (original["bpm"], original["tracks"], original["error"]) == (174.0, 4, None)
    assert original["saved_at"] == "2025-09-09T16:04:01Z"
    assert truncated["name"] is None and truncated["error"].startswith("A03: not valid JSON (line ")
    assert fast["error"] == "A04: sequencer.bpm: 'fast' is not a number"


def test_slots_json_through_main(mixed_dir, capsys):
    assert main(["slots", "--json", "--patterns-dir", str(mixed_dir)]) == 0
    check_listing(json.loads(capsys.readouterr().out))


def test_slots_takes_the_folder_before_or_after_the_command(mixed_dir, capsys):
    assert main(["--patterns-dir", str(mixed_dir), "slots", "--json"]) == 0
    check_listing(json.loads(capsys.readouterr().out))


def test_slots_json_as_a_real_command(mixed_dir):
    if not CHRONUS.exists():
        pytest.skip(f"the chronus console script is not installed at {CHRONUS}")
    done = subprocess.run([str(CHRONUS), "slots", "--json", "--patterns-dir", str(mixed_dir)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    check_listing(json.loads(done.stdout))


def test_slots_table(mixed_dir, capsys):
    assert main(["slots", "--patterns-dir", str(mixed_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert lines[0].split()[:4] == ["1", "A01", "good", "one"] and "126.0 bpm" in lines[0]
    assert "174.0 bpm" in lines[1] and " 4 tracks" in lines[1]
    assert lines[2].split()[:3] == ["3", "A03", "ERROR"] and "not valid JSON" in lines[2]
    assert lines[3].endswith("ERROR  A04: sequencer.bpm: 'fast' is not a number")


def test_slots_of_an_empty_folder(patterns_dir, capsys):
    assert main(["slots", "--patterns-dir", str(patterns_dir)]) == 0
    assert capsys.readouterr().out == f"no saved slots in {patterns_dir / 'slots'}\n"
    assert main(["slots", "--json", "--patterns-dir", str(patterns_dir)]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_slots_uses_the_environment_folder_and_loads_no_audio_or_ui(mixed_dir):
    script = ("import sys\nfrom chronus_tui.cli import main\ncode = main(['slots', '--json'])\n"
              "assert 'pyo' not in sys.modules and 'textual' not in sys.modules, 'slots loaded pyo/textual'\n"
              "sys.exit(code)\n")
    env = {**os.environ, "CHRONUS_PATTERNS_DIR": str(mixed_dir)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    check_listing(json.loads(done.stdout))


def test_unusable_folder_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    assert main(["slots", "--patterns-dir", str(blocker)]) == 1
    assert capsys.readouterr().err.startswith(f"chronus: cannot use patterns folder {blocker}: ")
