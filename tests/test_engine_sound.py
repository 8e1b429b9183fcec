"""The sound model, measured in offline renders: accents, slides, drums, smoothing, and
500 random parameter sets (extremes included) that never produce NaN, never reach
0 dBFS and never leave the engine silent."""

from __future__ import annotations

import random

import numpy as np
import pytest
from support.render import (
    SR,
    click_pattern,
    expected_onset,
    onsets,
    pattern_of,
    period_frequencies,
    render_array,
    track_of,
)

from chronus_tui import patternfile
from chronus_tui.engine.protocol import Gate, ReplacePattern, ReplaceTrack, SetParam
from chronus_tui.model import MODULE_PARAMS, Pattern, Step, Track, default_modules

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def centroid(window: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(window * np.hanning(len(window))))
    freqs = np.fft.rfftfreq(len(window), 1 / SR)
    return float((spectrum * freqs).sum() / spectrum.sum())


def hit_windows(channel: np.ndarray, starts: list[int], length: int) -> list[np.ndarray]:
    return [channel[s:s + length] for s in starts]


def pattern_with(tracks: list[Track], modules: dict, bpm: float = 120.0) -> dict:
    return patternfile.pattern_to_dict(Pattern(name="sound", bpm=bpm, tracks=tracks, modules=modules))


def dry_modules() -> dict:
    modules = default_modules()
    for module in ("reverb1", "delay1", "dist1"):
        modules[module]["mix"] = 0.0
    return modules


@pytest.mark.parametrize("voice", ["voice1", "voice2"])  # voice2: through the acid1 insert
def test_accented_hits_are_louder_and_brighter_through_acid1(tmp_path, voice):
    modules = dry_modules()
    modules[voice].update({"osc/type": 1, "freq": 110.0, "filter/freq": 600.0, "filter/q": 0.7, "amp": 0.5,
                           "adsr/attack": 0.002, "adsr/decay": 0.1, "adsr/sustain": 0.6})
    modules["acid1"].update({"accent": 1.0, "cutoff": 400.0, "env_amount": 1500.0})
    steps = [Step(on=i % 2 == 0, accent=i % 4 == 2) for i in range(16)]
    audio, _ = render_array(tmp_path, pattern_with([Track("t", voice, steps)], modules), bars=1)
    mono = audio[:, 0] + audio[:, 1]
    length = int(0.05 * SR)
    plain = hit_windows(mono, [expected_onset(n, 120, 0) for n in range(0, 16, 4)], length)
    accented = hit_windows(mono, [expected_onset(n, 120, 0) for n in range(2, 16, 4)], length)
    plain_peak = np.mean([np.abs(w).max() for w in plain])
    accent_peak = np.mean([np.abs(w).max() for w in accented])
    assert accent_peak > 1.4 * plain_peak
    if voice == "voice2":  # acid1 opens its filter on accents
        assert min(centroid(w) for w in accented) > 1.2 * max(centroid(w) for w in plain)
    else:  # a plain voice's accent is its level alone: the same sound, louder
        assert max(centroid(w) for w in accented) < 1.05 * min(centroid(w) for w in plain)


def slide_render(tmp_path, slide: bool):
    modules = dry_modules()
    modules["voice1"].update({"osc/type": 0, "amp": 0.6, "filter/freq": 8000.0, "adsr/attack": 0.005,
                              "adsr/decay": 0.05, "adsr/sustain": 0.5, "adsr/release": 0.01,
                              "slide_time": 0.1})
    steps = [Step(on=True, note=45, slide=slide), Step(on=True, note=57)] + [Step() for _ in range(14)]
    track = Track("bass", "voice1", steps, gate=0.9)
    audio, _ = render_array(tmp_path, pattern_with([track], modules, bpm=60), bars=1,
                            name=f"slide{slide}.wav")
    return audio[:, 0]


def test_slide_glides_the_pitch_and_holds_the_gate(tmp_path):
    step = SR // 4  # 60 bpm
    sliding = slide_render(tmp_path, slide=True)
    freqs = period_frequencies(sliding, step, step + int(0.2 * SR))
    assert abs(freqs[-1] - 220.0) < 2  # arrives at A3 …
    gliding = freqs[(freqs > 120) & (freqs < 205)]
    assert len(gliding) >= 5  # … through the pitches between (0.1 s of glide)
    assert np.all(np.diff(freqs[freqs < 215]) > -1)  # rising all the way
    # gate held: no silence and no new attack between the two steps
    envelope = np.abs(sliding[int(0.02 * SR):step + int(0.05 * SR)])
    level = [envelope[i:i + 600].max() for i in range(0, len(envelope) - 600, 600)]
    assert min(level) > 0.5 * max(level)
    assert onsets(sliding) == [0]

    plain = slide_render(tmp_path, slide=False)
    assert onsets(plain) == [0, step]  # retriggered after the gate closed
    freqs = period_frequencies(plain, step, step + int(0.05 * SR))
    assert np.all(np.abs(freqs[1:] - 220.0) < 3)  # jumps straight to the note


def test_kick_is_a_short_low_sine_and_hats_are_bright_noise(tmp_path):
    modules = dry_modules()
    modules["voice1"].update({"osc/type": 0, "freq": 50.0, "amp": 0.9, "filter/freq": 2000.0,
                              "adsr/attack": 0.001, "adsr/decay": 0.15, "adsr/sustain": 0.0,
                              "adsr/release": 0.05})
    modules["voice5"].update({"osc/type": 3, "amp": 0.4, "filter/freq": 8000.0, "filter/q": 0.7,
                              "adsr/attack": 0.001, "adsr/decay": 0.03, "adsr/sustain": 0.0,
                              "adsr/release": 0.02, "pan": 1.0})
    modules["voice1"]["pan"] = -1.0
    tracks = [Track("kick", "voice1", [Step(on=i % 4 == 0) for i in range(16)]),
              Track("hats", "voice5", [Step(on=i % 2 == 1) for i in range(16)])]
    audio, _ = render_array(tmp_path, pattern_with(tracks, modules), bars=1)
    kick, hats = audio[:, 0], audio[:, 1]
    step = 6000
    first_kick = kick[:4 * step]
    assert centroid(first_kick[:int(0.1 * SR)]) < 150
    assert np.abs(first_kick[int(0.25 * SR):]).max() < 0.05 * np.abs(first_kick).max()  # short
    hat = hats[expected_onset(1, 120, 0):expected_onset(1, 120, 0) + int(0.04 * SR)]
    assert centroid(hat) > 3000
    assert np.abs(hats[expected_onset(1, 120, 0) + int(0.08 * SR):expected_onset(3, 120, 0)]).max() < 1e-4


def held_note(voices: dict[str, float]) -> dict:
    """voice1 holding one sine note all bar long (a slide step, gate 1)."""
    pattern = click_pattern([("pad", "voice1", "x" + "." * 15)],
                            voices={"voice1": {"freq": 220.0, "adsr/sustain": 1.0, **voices}})
    pattern["sequencer"]["tracks"][0]["gate"] = 1.0
    pattern["sequencer"]["tracks"][0]["steps"][0]["slide"] = True
    return pattern


def test_parameter_changes_are_smoothed(tmp_path):
    pattern = held_note({"amp": 0.2})
    schedule = {100: [SetParam("voice1", "amp", 1.0)],
                200: [SetParam("master", "volume", 0.2)]}
    audio, _ = render_array(tmp_path, pattern, bars=1, schedule=schedule)
    left = audio[20000:70000, 0]
    assert np.abs(np.diff(left)).max() < 2 * np.pi * 220 / SR * 0.8  # no step anywhere
    assert np.abs(audio[40000:45000, 0]).max() > 3 * np.abs(audio[20000:25000, 0]).max()


@pytest.mark.parametrize("module,param,value", [("dist1", "mix", 1.0), ("lfo1", "depth", 0.9)])
def test_an_effect_resting_at_0_plays_again_once_a_command_raises_it(tmp_path, module, param, value):
    """dist1 at mix 0 and lfo1 at depth 0 stop what they drive (dist1's chain, voice2's
    audio-rate cutoff); a command raising them brings it back: after the glide the
    sound is the one of a render that had the value from the start."""
    modules = dry_modules()
    modules["voice2"].update({"osc/type": 1, "freq": 110.0, "filter/freq": 900.0, "adsr/sustain": 1.0})
    modules["dist1"].update({"drive": 0.8, "tone": 0.5})
    modules["lfo1"]["rate"] = 4.0
    modules["acid1"]["mix"] = 0.0
    steps = [Step(on=True, slide=True)] + [Step() for _ in range(15)]

    def pattern(start: float) -> dict:
        return pattern_with([Track("t", "voice2", steps, gate=1.0)], {**modules, module: {**modules[module],
                                                                                      param: start}})

    schedule = {40: [SetParam(module, param, value)]}
    raised, _ = render_array(tmp_path, pattern(0.0), bars=1, schedule=schedule, name="raised.wav")
    always, _ = render_array(tmp_path, pattern(value), bars=1, name="always.wav")
    late = slice(60 * 256, len(always))  # 20 blocks after the command
    assert np.abs(always[late] - raised[late]).max() < 1e-3 * np.abs(always[late]).max()
    assert np.abs(always[:40 * 256] - raised[:40 * 256]).max() > 0.05 * np.abs(always[:40 * 256]).max()


def test_a_change_during_a_glide_glides_on_from_where_it_was(tmp_path):
    """amp 0.2 -> 1.0, and two blocks into that glide back down to 0.1: one smooth
    movement, ending on the last value."""
    def amp(value: float) -> list[dict]:
        return [SetParam("voice1", "amp", value)]

    schedule = {100: amp(1.0), 102: amp(0.1)}
    audio, _ = render_array(tmp_path, held_note({"amp": 0.2}), bars=1, schedule=schedule)
    left = audio[20000:70000, 0]
    assert np.abs(np.diff(left)).max() < 2 * np.pi * 220 / SR * 0.8  # no step anywhere
    before, after = (np.abs(audio[a:a + 4800, 0]).max() for a in (20000, 40000))
    assert after == pytest.approx(before / 2, rel=0.05)


@pytest.mark.parametrize("change", ["voice", "removed"])
def test_a_switch_lets_the_old_patterns_notes_ring_out(tmp_path, change):
    """At a bar switch a track of the new pattern on another voice, or a track that has
    gone, must not change or cut the note its lane still sounds (that steps the wave, a
    click, a block before the bar line): the note rings out, at its own pitch, and the
    new pattern starts on the bar line."""
    modules = dry_modules()
    modules["voice4"].update({"osc/type": 0, "freq": 300.0, "amp": 0.5, "filter/freq": 8000.0,
                              "adsr/attack": 0.005, "adsr/sustain": 1.0, "adsr/release": 0.3, "pan": -1.0})
    modules["voice1"].update({"osc/type": 0, "freq": 500.0, "amp": 0.5, "filter/freq": 8000.0,
                              "adsr/release": 0.05, "pan": 1.0})
    ringing = Track("ring", "voice4", [Step(on=True, note=57) for _ in range(16)], gate=0.5)  # 220 Hz
    right = Track("new", "voice1", [Step(on=i % 4 == 0) for i in range(16)])
    a = pattern_with([ringing] if change == "voice" else [right, ringing], modules)
    b = pattern_with([right], modules)
    schedule = {100: [ReplacePattern(pattern_of(b), "bar", 1)]}
    audio, events = render_array(tmp_path, a, bars=2, schedule=schedule)
    bar_line = expected_onset(16, 120, 0)
    assert [e["sample"] for e in events if e["event"] == "switched"] == [bar_line]
    left = audio[:, 0]
    assert np.abs(np.diff(left[bar_line - 6000:bar_line + 6000])).max() < 2 * np.pi * 220 / SR * 0.5
    tail = left[bar_line:bar_line + 4800]  # the last note, released before the bar line
    assert np.abs(tail).max() > 0.05
    assert period_frequencies(left, bar_line, bar_line + 4800) == pytest.approx(220.0, rel=0.02)
    assert np.abs(left[bar_line + 16000:]).max() < 1e-9  # then nothing more on the left
    assert onsets(audio[:, 1])[-4:] == [bar_line + expected_onset(n, 120, 0) for n in range(0, 16, 4)]


@pytest.mark.parametrize("buffer", [256, 1024])
@pytest.mark.parametrize("mode", ["bar", "edit"])
def test_a_sounding_note_keeps_its_pitch_until_the_next_step(tmp_path, mode, buffer):
    """A legato bass on A2, changed to A4 by a bar load (the same track) or by an edit:
    the rows change at a block boundary, up to a block before the next step, but the
    note sounding plays on at its own pitch until that step starts, on its sample."""
    modules = dry_modules()
    modules["voice1"].update({"osc/type": 0, "amp": 0.5, "filter/freq": 8000.0, "adsr/attack": 0.005,
                              "adsr/sustain": 1.0, "adsr/release": 0.05, "pan": 0.0})
    low, high = (pattern_with([Track("bass", "voice1", [Step(on=True, note=note) for _ in range(16)],
                                     gate=1.0)], modules) for note in (45, 69))  # 110 Hz, 440 Hz
    change = expected_onset(16, 120, 0)  # the bar line; an edit takes the step after the one it falls in
    command = ReplacePattern(pattern_of(high), "bar", 1) if mode == "bar" else \
        ReplaceTrack(0, track_of(high["sequencer"]["tracks"][0]))
    schedule = {(change - 1500) // buffer: [command]}
    audio, _ = render_array(tmp_path, low, bars=2, buffer=buffer, schedule=schedule)
    left = audio[:, 0]
    # every period up to the step is A2's, and from it A4's
    assert period_frequencies(left, change - 1500, change - 2) == pytest.approx(110, rel=0.03)
    assert period_frequencies(left, change + 500, change + 2500) == pytest.approx(440, rel=0.03)


def test_a_track_moved_onto_voice2_takes_acid1s_settings(tmp_path):
    """acid1's controls follow only the lanes playing voice2: a lane that comes to voice2
    by an edit gets acid1's values as they are (here a dark, fully wet filter)."""
    modules = dry_modules()
    for voice in ("voice1", "voice2"):
        modules[voice].update({"osc/type": 1, "freq": 110.0, "amp": 0.5, "filter/freq": 8000.0,
                               "filter/q": 0.5, "adsr/sustain": 1.0})
    modules["acid1"].update({"cutoff": 150.0, "res": 0.0, "env_amount": 0.0, "mix": 1.0})
    steps = [Step(on=True, slide=True)] + [Step() for _ in range(15)]
    plain = pattern_with([Track("t", "voice1", steps)], modules)
    acid = pattern_with([Track("t", "voice2", steps)], modules)
    schedule = {100: [ReplacePattern(pattern_of(acid), "edit", 1)]}
    audio, _ = render_array(tmp_path, plain, bars=1, schedule=schedule)
    mono = audio[:, 0] + audio[:, 1]
    assert centroid(mono[30000:34096]) < 0.5 * centroid(mono[10000:14096])


def test_gate_command_holds_a_voice_by_hand(tmp_path):
    pattern = click_pattern([("a", "voice1", "................")],
                            voices={"voice6": {"freq": 330.0, "pan": 0.0}})
    schedule = {10: [Gate("voice6", True)],
                60: [Gate("voice6", False)]}
    audio, events = render_array(tmp_path, pattern, bars=1, schedule=schedule)
    # heard one sample after its block starts, as a hit is (ENVELOPE_LATENCY): in the
    # file, which starts where step 0 sounds, that is exactly 10 blocks in
    assert onsets(audio[:, 0]) == [10 * 256]
    assert np.abs(audio[40 * 256:50 * 256, 0]).max() > 0.1
    assert np.abs(audio[70 * 256:, 0]).max() == 0.0
    assert not [e for e in events if e["event"] == "error"]


def random_modules(rng: random.Random) -> dict[str, dict[str, float]]:
    """Every parameter at its low end, its high end, or anywhere between."""
    modules = {}
    for module, specs in MODULE_PARAMS.items():
        modules[module] = {}
        for spec in specs:
            value = rng.choice([spec.low, spec.high, rng.uniform(spec.low, spec.high)])
            modules[module][spec.name] = round(value) if spec.integer else float(value)
    return modules


def busy_tracks(rng: random.Random) -> list[Track]:
    return [Track(f"t{v}", f"voice{v}",
                  [Step(on=rng.random() < 0.6, accent=rng.random() < 0.3,
                        note=rng.choice([None, 30, 45, 69, 96]), slide=rng.random() < 0.3)
                   for _ in range(rng.choice([16, 12, 7]))],
                  level=1.0, gate=rng.choice([0.05, 0.5, 1.0])) for v in range(1, 9)]


def test_500_random_parameter_sets_never_break_the_sound(tmp_path):
    rng = random.Random(20261125)
    tracks = busy_tracks(rng)
    base = pattern_with(tracks, default_modules())
    schedule: dict[int, list[dict]] = {}
    sets = [{m: {s.name: s.low for s in specs} for m, specs in MODULE_PARAMS.items()},
            {m: {s.name: s.high for s in specs} for m, specs in MODULE_PARAMS.items()}]
    sets += [random_modules(rng) for _ in range(498)]
    blocks_per_set = 4
    for index, modules in enumerate(sets):
        block = index * blocks_per_set
        if index % 2:  # half through single "param" commands, half as whole patterns
            schedule[block] = [SetParam(m, p, v)
                               for m, params in modules.items() for p, v in params.items()]
        else:
            edited = dict(base, modules=modules)
            edited["sequencer"] = dict(base["sequencer"], bpm=rng.choice([20.0, 300.0, 133.0]),
                                       swing=rng.choice([0.0, 0.6]))
            schedule[block] = [ReplacePattern(pattern_of(edited), "edit", 0)]
    after = len(sets) * blocks_per_set
    schedule[after] = [ReplacePattern(pattern_of(base), "now", 0)]
    audio, events = render_array(tmp_path, base, bars=7, schedule=schedule)
    assert np.isfinite(audio).all()
    assert np.abs(audio).max() < 1.0
    assert not [e for e in events if e["event"] == "error"]
    settled = audio[(after + 100) * 256:]
    assert len(settled) > SR // 2
    assert np.sqrt(np.mean(settled ** 2)) > 1e-3  # the sound came back


def lfo1_acid_render(tmp_path, depth: float) -> np.ndarray:
    """voice2 holding a saw through acid1 at full mix, lfo1 at 1 Hz."""
    modules = dry_modules()
    modules["voice2"].update({"osc/type": 1, "freq": 110.0, "amp": 0.5, "filter/freq": 8000.0,
                              "filter/q": 0.5, "adsr/attack": 0.001, "adsr/sustain": 1.0})
    modules["acid1"].update({"cutoff": 300.0, "res": 0.3, "env_amount": 0.0, "drive": 0.0, "mix": 1.0,
                             "accent": 0.0})
    modules["lfo1"].update({"rate": 1.0, "depth": depth})
    steps = [Step(on=True, slide=True)] + [Step() for _ in range(15)]  # one note held all bar
    audio, _ = render_array(tmp_path, pattern_with([Track("acid", "voice2", steps)], modules), bars=1,
                            name=f"lfo{depth}.wav")
    return audio[:, 0] + audio[:, 1]


def test_lfo1_moves_the_acid_cutoff_of_voice2(tmp_path):
    """With acid1 in, what you hear as voice2's filter is acid1's: lfo1 must move it."""
    def brightness_range(mono: np.ndarray) -> float:
        centroids = [centroid(mono[start:start + 4096]) for start in range(SR // 10, 19 * SR // 10, 2048)]
        return max(centroids) / min(centroids)

    assert brightness_range(lfo1_acid_render(tmp_path, 0.0)) < 1.1
    assert brightness_range(lfo1_acid_render(tmp_path, 0.6)) > 1.5


def test_every_lane_sounds_also_when_added_while_playing(tmp_path):
    """Lanes are mixed in groups, and a group without a track stops: the tracks an edit
    adds on lanes of stopped groups sound from their next step on, on all 16 lanes."""
    one = click_pattern([("a", "voice1", "x" + "." * 15)])
    sixteen = click_pattern([(f"t{i}", "voice1", "." * i + "x" + "." * (15 - i)) for i in range(16)])
    schedule = {10: [ReplacePattern(pattern_of(sixteen), "edit", 1)]}
    audio, events = render_array(tmp_path, one, bars=2, schedule=schedule)
    assert onsets(audio[:, 0]) == [expected_onset(n, 120.0, 0.0) for n in range(32)]
    assert not [e for e in events if e["event"] == "error"]
