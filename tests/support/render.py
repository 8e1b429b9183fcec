"""Helpers for the offline engine tests: render, read the WAV, find onsets, predict them."""

from __future__ import annotations

import math
import struct
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from chronus_tui import patternfile
from chronus_tui.engine.protocol import Command
from chronus_tui.model import Pattern, Track, default_modules, parse_steps

SR = 48000
SILENCE = 1e-6  # below this a sample counts as silent
GAP = 16  # samples of silence that must come before an onset


def read_wav(path: Path) -> np.ndarray:
    """Frames × channels as float64, from a float32 or 16/24/32-bit PCM WAV."""
    blob = Path(path).read_bytes()
    chunks: dict[bytes, bytes] = {}
    offset = 12
    while offset + 8 <= len(blob):
        name, size = blob[offset:offset + 4], struct.unpack("<I", blob[offset + 4:offset + 8])[0]
        chunks[name] = blob[offset + 8:offset + 8 + size]
        offset += 8 + size + (size & 1)
    tag, channels, _, _, _, bits = struct.unpack("<HHIIHH", chunks[b"fmt "][:16])
    data = chunks[b"data"]
    if tag == 3:
        samples = np.frombuffer(data, dtype="<f4").astype(np.float64)
    elif bits == 24:
        raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        samples = np.where(value >= 1 << 23, value - (1 << 24), value) / float(1 << 23)
    else:
        samples = np.frombuffer(data, dtype=f"<i{bits // 8}") / float(1 << (bits - 1))
    return samples.reshape(-1, channels)


def wav_sample_rate(path: Path) -> int:
    blob = Path(path).read_bytes()
    return struct.unpack("<I", blob[24:28])[0]


def click_modules(**voices: dict[str, float]) -> dict[str, dict[str, float]]:
    """Clean test sound: short sine clicks, no effects; voices={"voice1": {...overrides}}."""
    modules = default_modules()
    for module in ("reverb1", "delay1", "dist1"):
        modules[module]["mix"] = 0.0
    for voice, overrides in voices.items():
        modules[voice].update({"osc/type": 0, "freq": 1000.0, "amp": 0.5, "filter/freq": 8000.0,
                               "filter/q": 0.7, "adsr/attack": 0.001, "adsr/decay": 0.0,
                               "adsr/sustain": 1.0, "adsr/release": 0.01, "send/reverb": 0.0,
                               "send/delay": 0.0, "pan": 0.0})
        modules[voice].update(overrides)
    return modules


def click_pattern(tracks: list[tuple[str, str, str]], *, bpm: float = 120.0, swing: float = 0.0,
                  voices: dict[str, dict[str, float]] | None = None, name: str = "clicks") -> dict[str, Any]:
    """A pattern dict of (name, voice, steps) tracks with a short gate."""
    used = {voice for _, voice, _ in tracks} | set(voices or {})
    overrides = {voice: (voices or {}).get(voice, {}) for voice in used}
    pattern = Pattern(name=name, bpm=bpm, swing=swing,
                      tracks=[Track(n, v, parse_steps(s), gate=0.2) for n, v, s in tracks],
                      modules=click_modules(**overrides))
    return patternfile.pattern_to_dict(pattern)


def pattern_of(data: dict[str, Any]) -> Pattern:
    """A pattern dict validated into the Pattern a command carries (as a file is, at the edge)."""
    return patternfile.pattern_from_dict(data)


def track_of(data: dict[str, Any]) -> Track:
    """One track dict (a pattern dict's sequencer.tracks[i]) validated into a Track."""
    return patternfile.track_from_dict(data)


def onsets(channel: np.ndarray, threshold: float = SILENCE, gap: int = GAP) -> list[int]:
    """Samples where the signal rises above `threshold` after more than `gap` silent samples."""
    loud = np.flatnonzero(np.abs(channel) > threshold)
    if not len(loud):
        return []
    return [int(loud[0]), *(int(x) for x in loud[1:][np.diff(loud) > gap])]


def period_frequencies(channel: np.ndarray, start: int, end: int) -> np.ndarray:
    """The frequency of each period between rising zero crossings, in order."""
    x = channel[start:end]
    rising = np.flatnonzero((x[:-1] < 0) & (x[1:] >= 0))
    exact = rising + x[rising] / (x[rising] - x[rising + 1])  # linear interpolation
    return SR / np.diff(exact)


def step_time(n: int, bpm: float, swing: float, sr: int = SR) -> Fraction:
    """The ideal start of step n, in samples, exactly (docs/architecture.md, "Timing")."""
    step = Fraction(sr * 60) / (Fraction(str(bpm)) * 4)  # str: 0.4 means 2/5, not the nearest double
    return n * step + (step * Fraction(str(swing)) / 2 if n % 2 else 0)


def expected_onset(n: int, bpm: float, swing: float, sr: int = SR, origin: int = 0) -> int:
    """The sample where step n sounds: the first sample at or after its ideal time."""
    return origin + math.ceil(step_time(n, bpm, swing, sr))


def render_array(tmp_path: Path, pattern: dict[str, Any], *, bars: int, buffer: int = 256,
                 schedule: dict[int, list[Command]] | None = None, sr: int = SR,
                 name: str = "out.wav") -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The render's audio, and its events as listeners see them (Event.as_dict())."""
    return render_pattern(tmp_path, pattern_of(pattern), bars=bars, buffer=buffer, schedule=schedule, sr=sr,
                          name=name)


def render_pattern(tmp_path: Path, pattern: Pattern, *, bars: int, buffer: int = 256,
                   schedule: dict[int, list[Command]] | None = None, sr: int = SR,
                   name: str = "out.wav") -> tuple[np.ndarray, list[dict[str, Any]]]:
    """render_array of a Pattern the caller built and checked (support.expressive.set_step)."""
    from chronus_tui.synth.offline import render

    result = render(pattern, tmp_path / name, bars=bars, sr=sr, buffer=buffer, schedule=schedule,
                    float32=True)
    audio = read_wav(result.path)
    assert len(audio) == result.frames
    return audio, [event.as_dict() for event in result.events]
