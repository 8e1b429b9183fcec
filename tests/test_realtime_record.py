"""Recording the set live: the real `chronus --no-ui` plays on a private JACK server (the
dummy driver, support/jack.py) and records itself through OSC (/engine/record/start, stop).

The synth process writes the file from its own blocks, so JACK's xruns (from other load on
the machine) delay the audio but cannot take any out of the file: every hit must sit on the
grid to the sample, and the file's first frame must be the bar line's first sample. The
JACK recording of test_realtime_jack is the one that loses periods to xruns.

Skipped, with the reason, where the JACK tools are missing (CI installs jackd2).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from support.jack import chronus_on_jack, judge_onsets, missing_tools
from support.osc import wait_until
from support.render import click_pattern, expected_onset, onsets, read_wav, render_array, wav_sample_rate

from chronus_tui.store import SlotStore

MISSING = missing_tools()
pytestmark = [pytest.mark.realtime, pytest.mark.skipif(
    bool(MISSING), reason=f"JACK tools not installed: {', '.join(MISSING)} (Debian/Ubuntu package jackd2)")]

SR = 48000
BUFFER = 256
BPM, SWING = 240.0, 0.2  # a step is 3000 samples, a bar 48000; swing moves the odd steps
STEPS = "x..x..x...x.x..."  # irregular, so only the bar line's sample lines the file up with it
BARS = 3  # judged; the recording runs a little longer


def closed(path: Path) -> bool:
    """The WAV's writer closed it: its header counts every byte of the file."""
    try:
        head = path.read_bytes()[:8]
        return len(head) == 8 and struct.unpack("<I", head[4:])[0] == path.stat().st_size - 8 > 36
    except OSError:
        return False


def test_a_recording_starts_on_the_bar_line_and_its_hits_sit_on_the_grid(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pattern = click_pattern([("click", "voice1", STEPS)], bpm=BPM, swing=SWING, name="grid")
    patterns_dir = tmp_path / "patterns"
    SlotStore(patterns_dir).save(1, pattern)
    offline, _ = render_array(tmp_path, pattern, bars=1, buffer=BUFFER)
    lead = onsets(offline[:, 0])[0]  # where a hit on a step's first sample is first heard
    with chronus_on_jack(tmp_path, patterns_dir, monkeypatch, sr=SR, buffer=BUFFER) as (_, _, osc):
        osc.ok("/pattern/load", 1)
        osc.ok("/seq/start")
        wait_until(lambda: osc.query("/engine/status")["bar"] >= 1, timeout=10)  # into a bar
        assert osc.ok("/engine/record/start", "take") == ["take.wav"]
        wait_until(lambda: osc.query("/engine/record/status")["seconds"] >= BARS + 0.5, timeout=20)
        assert osc.ok("/engine/record/stop") == ["take.wav"]
        xruns = osc.query("/engine/status").get("xruns")
        path = patterns_dir / "recordings" / "take.wav"
        wait_until(lambda: closed(path), timeout=10)
    tag, channels, _, _, _, bits = struct.unpack("<HHIIHH", path.read_bytes()[20:36])
    assert (tag, channels, bits, wav_sample_rate(path)) == (1, 2, 24, SR)  # PCM, stereo, 24-bit
    audio = read_wav(path)
    assert len(audio) >= BARS * SR, f"{len(audio)} frames recorded"
    found = onsets(audio[:, 0])
    assert found and found[0] == lead, f"the first hit is heard at frame {found[:1]}, not {lead}"
    grid = [expected_onset(bar * 16 + n, BPM, SWING) for bar in range(BARS)
            for n, c in enumerate(STEPS) if c == "x"]
    timing = judge_onsets(found, grid, BUFFER, lossy=False)
    offsets = [s - found[0] for s in found[:len(grid)]]
    assert not timing.wrong, f"{timing.wrong}: hits at {offsets}, the grid at {grid} ({xruns} JACK xruns)"
    assert len(timing.clean) == len(grid) - 1
