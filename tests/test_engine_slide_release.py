"""A slide holds its note until the next hit: whatever takes the next hit away (stop,
a load or edit without the track, a mute) must let the note go into its release, never
leave it droning. Offline renders, asserted on samples."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from support.render import SR, click_pattern, pattern_of, render_array

from chronus_tui.engine.protocol import ReplacePattern, ReplaceTrack, SetTransport

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BUFFER = 256
STEP = SR // 8  # samples per step at 120 bpm
RELEASE = 0.05  # seconds
QUIET = 10 ** (-80 / 20)  # -80 dBFS
HOLDING_BLOCK = 331  # sample 84736, in step 14: the slide from step 12 holds the note (no hit follows)


def sliding_bass() -> dict:
    """voice1 (a 220 Hz sine, full sustain) hitting every beat, its last hit a slide."""
    pattern = click_pattern([("bass", "voice1", "x...x...x...x...")],
                            voices={"voice1": {"freq": 220.0, "adsr/sustain": 1.0, "adsr/release": RELEASE}})
    pattern["sequencer"]["tracks"][0]["steps"][12]["slide"] = True
    return pattern


def peak(audio: np.ndarray, start: int, end: int) -> float:
    return float(np.abs(audio[start:end]).max())


def quiet_from(block: int) -> int:
    """The first sample that must be silent after the note is let go at `block`."""
    return block * BUFFER + int((RELEASE + 0.05) * SR)


def test_the_slide_holds_its_note_while_playing(tmp_path):
    """The premise: at HOLDING_BLOCK the slide still sounds (no hit comes before the bar line)."""
    audio, _ = render_array(tmp_path, sliding_bass(), bars=1, buffer=BUFFER)
    assert peak(audio, HOLDING_BLOCK * BUFFER, 16 * STEP) > 0.1


def test_stop_releases_a_held_slide_and_a_later_start_plays(tmp_path):
    restart = 500  # block (sample 128000, in the third bar's time)
    schedule = {HOLDING_BLOCK: [SetTransport(False)], restart: [SetTransport(True)]}
    audio, _ = render_array(tmp_path, sliding_bass(), bars=3, buffer=BUFFER, schedule=schedule)
    assert peak(audio, HOLDING_BLOCK * BUFFER - STEP // 2, HOLDING_BLOCK * BUFFER) > 0.1  # it was sounding
    assert peak(audio, quiet_from(HOLDING_BLOCK), restart * BUFFER) < QUIET
    # started again: step 0 plays its hit, from its own sample on
    assert peak(audio, restart * BUFFER + 1, restart * BUFFER + STEP // 2) > 0.1


def test_a_track_muted_while_sliding_stays_silent_after_stop_and_unmute(tmp_path):
    pattern = sliding_bass()
    track = pattern_of(pattern).tracks[0]
    schedule = {HOLDING_BLOCK: [ReplaceTrack(0, dataclasses.replace(track, mute=True))],
                HOLDING_BLOCK + 2: [SetTransport(False)],
                HOLDING_BLOCK + 40: [ReplaceTrack(0, track)]}  # unmuted while stopped
    audio, _ = render_array(tmp_path, pattern, bars=2, buffer=BUFFER, schedule=schedule)
    assert peak(audio, quiet_from(HOLDING_BLOCK + 2), len(audio)) < QUIET


@pytest.mark.parametrize("mode", ["edit", "now", "bar"])
def test_a_pattern_without_the_sliding_track_lets_the_note_go(tmp_path, mode):
    pattern = sliding_bass()
    empty = dataclasses.replace(pattern_of(pattern), tracks=[])
    schedule = {HOLDING_BLOCK: [ReplacePattern(empty, mode)]}
    audio, _ = render_array(tmp_path, pattern, bars=2, buffer=BUFFER, schedule=schedule)
    let_go = 16 * STEP // BUFFER if mode == "bar" else HOLDING_BLOCK  # "bar": at the bar line
    assert peak(audio, quiet_from(let_go), len(audio)) < QUIET


def test_a_load_now_whose_track_rests_lets_the_note_go_at_the_next_step(tmp_path):
    pattern = sliding_bass()
    resting = pattern_of(pattern)
    resting = dataclasses.replace(
        resting, tracks=[dataclasses.replace(resting.tracks[0], steps=[dataclasses.replace(s, on=False)
                                                                       for s in resting.tracks[0].steps])])
    schedule = {HOLDING_BLOCK: [ReplacePattern(resting, "now")]}
    audio, _ = render_array(tmp_path, pattern, bars=2, buffer=BUFFER, schedule=schedule)
    assert peak(audio, quiet_from(HOLDING_BLOCK) + STEP, len(audio)) < QUIET


def test_a_load_now_while_stopped_keeps_the_released_note_silent(tmp_path):
    pattern = sliding_bass()
    schedule = {HOLDING_BLOCK: [SetTransport(False)],
                HOLDING_BLOCK + 40: [ReplacePattern(pattern_of(pattern), "now")]}
    audio, _ = render_array(tmp_path, pattern, bars=2, buffer=BUFFER, schedule=schedule)
    assert peak(audio, quiet_from(HOLDING_BLOCK), len(audio)) < QUIET


def test_a_changed_load_now_while_stopped_keeps_the_released_note_silent(tmp_path):
    """The lane gets its track again while stopped (its first step's pitch waits in its ring):
    the gate the slide held must have ended, not just been turned down."""
    pattern = sliding_bass()
    changed = pattern_of(pattern)
    track = changed.tracks[0]
    steps = [dataclasses.replace(step, note=45) if step.on else step for step in track.steps]
    changed = dataclasses.replace(changed, tracks=[dataclasses.replace(track, steps=steps)])
    schedule = {HOLDING_BLOCK: [SetTransport(False)], HOLDING_BLOCK + 40: [ReplacePattern(changed, "now")]}
    audio, _ = render_array(tmp_path, pattern, bars=2, buffer=BUFFER, schedule=schedule)
    assert peak(audio, quiet_from(HOLDING_BLOCK), len(audio)) < QUIET
