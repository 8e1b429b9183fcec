"""`chronus render SOURCE -o out.wav [--bars N] [--sr R]` on every kind of source."""

from __future__ import annotations

import gc
import os
import shutil
import stat
import struct
import wave
from pathlib import Path

import numpy as np
import pytest
from support.headless import run_console
from support.render import click_pattern, onsets, pattern_of, read_wav, wav_sample_rate

from chronus_tui import patternfile
from chronus_tui.cli import main
from chronus_tui.store import SlotStore
from chronus_tui.synth.graph import EngineGraph
from chronus_tui.synth.offline import RenderError, _finish_wav, render, render_length

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def check_render(path: Path, pattern, bars: int, sr: int = 48000) -> np.ndarray:
    audio = read_wav(path)
    assert wav_sample_rate(path) == sr
    # N bars and the default tail (tests/test_render_tail.py checks it)
    assert audio.shape[1] == 2 and 0 <= len(audio) - render_length(pattern, bars, sr) <= 10 * sr
    assert np.isfinite(audio).all()
    assert np.abs(audio).max() < 1.0
    assert len(onsets(audio[:, 0] + audio[:, 1], threshold=1e-3, gap=200)) >= bars  # hits
    return audio


def test_render_a_slot(tmp_path, capsys):
    pattern = click_pattern([("kick", "voice1", "x...x...x...x...")], bpm=128)
    SlotStore(tmp_path).save(3, pattern)
    out = tmp_path / "slot.wav"
    assert main(["render", "3", "-o", str(out), "--bars", "2", "--patterns-dir", str(tmp_path)]) == 0
    audio = check_render(out, pattern_of(pattern), 2)
    assert len(onsets(audio[:, 0])) == 8
    assert "2 bars" in capsys.readouterr().out


def test_render_a_pattern_file_at_another_rate(tmp_path):
    pattern = click_pattern([("hat", "voice5", "x.x.x.x.x.x.x.x.")], bpm=174, swing=0.3)
    source = tmp_path / "groove.json"
    source.write_text(patternfile.dumps(pattern))
    out = tmp_path / "file.wav"
    assert main(["render", str(source), "-o", str(out), "--bars", "3", "--sr", "44100",
                 "--patterns-dir", str(tmp_path)]) == 0
    check_render(out, pattern_of(pattern), 3, sr=44100)


def test_render_an_original_format_file(tmp_path, legacy_dir, capsys):
    source = tmp_path / "legacy.json"
    shutil.copy(legacy_dir / "slot_001.json", source)
    out = tmp_path / "legacy.wav"
    assert main(["render", str(source), "-o", str(out), "--bars", "1", "--patterns-dir", str(tmp_path)]) == 0
    check_render(out, patternfile.loads(source.read_bytes()), 1)
    # nothing is lost silently: the fields with no place here are named
    err = capsys.readouterr().err
    assert "not carried over: sequencer.tracks.hats.filter_freq (12000 clamped to 8000)" in err
    assert "not carried over: sequencer.running" in err


def test_render_a_library_name_through_the_console_script(tmp_path):
    """The real command in a child process: nothing but our summary on stdout."""
    out = tmp_path / "demo.wav"
    result = run_console("render", "demo", "-o", str(out), "--bars", "2", "--patterns-dir", str(tmp_path),
                         timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(f"{out}: 2 bars of ")
    assert len(result.stdout.strip().splitlines()) == 1
    check_render(out, SlotStore(tmp_path).load_library("demo"), 2)


@pytest.mark.parametrize("args,message", [
    (["nope"], "is not a slot number"),
    (["7"], "A07 is empty"),
    (["BAD"], "not valid JSON"),
    (["GOOD", "--bars", "0"], "--bars 0 is out of range"),
    (["GOOD", "--sr", "12345"], "--sr 12345 is not one of"),
])
def test_bad_sources_and_options_fail_clearly(tmp_path, capsys, args, message):
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    good = tmp_path / "good.json"
    good.write_text(patternfile.dumps(click_pattern([("a", "voice1", "x...")])))
    args = [str(bad) if a == "BAD" else str(good) if a == "GOOD" else a for a in args]
    out = tmp_path / "out.wav"
    assert main(["render", *args, "-o", str(out), "--patterns-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert message in err
    # a file that is no pattern is not called no song either; a slot number may name one
    assert ("nor a song" in err) == (args[0] in ("nope", "7"))
    assert not out.exists()


def test_missing_output_folder_fails_clearly(tmp_path, capsys):
    source = tmp_path / "good.json"
    source.write_text(patternfile.dumps(click_pattern([("a", "voice1", "x...")])))
    out = tmp_path / "no" / "such" / "out.wav"
    assert main(["render", str(source), "-o", str(out), "--patterns-dir", str(tmp_path)]) == 1
    assert "is not a directory" in capsys.readouterr().err


def test_the_wav_opens_in_pythons_wave_module_and_replaces_an_older_file(tmp_path):
    """pyo's samples stay where it wrote them, behind a JUNK chunk that readers skip."""
    pattern = click_pattern([("kick", "voice1", "x...x...x...x...")], bpm=128)
    source = tmp_path / "kick.json"
    source.write_text(patternfile.dumps(pattern))
    out = tmp_path / "renders" / "kick.wav"
    out.parent.mkdir()
    out.write_bytes(b"an older render")
    umask = os.umask(0o027)
    try:
        assert main(["render", str(source), "-o", str(out), "--patterns-dir", str(tmp_path)]) == 0
    finally:
        os.umask(umask)
    audio = check_render(out, pattern_of(pattern), 4)  # --bars defaults to 4
    with wave.open(str(out)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 3, 48000)
        assert wav.getnframes() == len(audio)
        left = int.from_bytes(wav.readframes(1)[:3], "little", signed=True)
    assert left != 0 and left == round(audio[0, 0] * (1 << 23))  # the file starts on step 0's sound
    assert [p.name for p in out.parent.iterdir()] == ["kick.wav"]  # nothing hidden left
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def pcm_wav(frames: int) -> bytes:
    """A 16-bit mono WAV whose frame k holds k."""
    data = struct.pack(f"<{frames}h", *range(frames))
    fmt = struct.pack("<HHIIHH", 1, 1, 48000, 96000, 2, 16)
    return b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16) + fmt + \
        b"data" + struct.pack("<I", len(data)) + data


def test_finishing_keeps_exactly_the_frames_asked_for(tmp_path):
    raw, out = tmp_path / ".out.raw.wav", tmp_path / "out.wav"
    raw.write_bytes(pcm_wav(1000))
    _finish_wav(raw, out, 300, 500)
    assert not raw.exists()
    with wave.open(str(out)) as wav:
        assert struct.unpack("<500h", wav.readframes(1000)) == tuple(range(300, 800))


def test_a_short_render_file_is_an_error_and_the_older_file_stays(tmp_path):
    """pyo writes what it can (a full disk): finishing says so and touches nothing."""
    raw, out = tmp_path / ".out.raw.wav", tmp_path / "out.wav"
    raw.write_bytes(pcm_wav(700))
    out.write_bytes(b"an older render")
    with pytest.raises(RenderError, match="700 of 800 frames written: is the disk full"):
        _finish_wav(raw, out, 300, 500)
    assert out.read_bytes() == b"an older render"


def test_a_render_lets_go_of_its_graph(tmp_path):
    """pyo keeps its last server and that server's callback until the next server is
    made: if the callback kept the graph, Python's collector would walk its thousands
    of objects again after every render."""
    before = {id(o) for o in gc.get_objects() if isinstance(o, EngineGraph)}
    render(pattern_of(click_pattern([("a", "voice1", "x...")])), tmp_path / "a.wav", bars=1)
    assert not [o for o in gc.get_objects() if isinstance(o, EngineGraph) and id(o) not in before]


def test_a_folder_that_cannot_be_written_fails_before_pyo_with_the_reason(tmp_path, capfd):
    """The file pyo would record to cannot be made (here a folder has its name): the
    error says why, pyo never prints its own, and the older render stays."""
    source = tmp_path / "a.json"
    source.write_text(patternfile.dumps(click_pattern([("a", "voice1", "x...")])))
    out = tmp_path / "renders" / "a.wav"
    out.parent.mkdir()
    out.write_bytes(b"an older render")
    (out.parent / f".a.wav.{os.getpid()}.raw.wav").mkdir()
    assert main(["render", str(source), "-o", str(out), "--patterns-dir", str(tmp_path)]) == 1
    captured = capfd.readouterr()
    assert "chronus render: cannot write" in captured.err and "Is a directory" in captured.err
    assert "Pyo" not in captured.out + captured.err
    assert out.read_bytes() == b"an older render"
