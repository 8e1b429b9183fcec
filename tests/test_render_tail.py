"""`chronus render --tail`: the sequencer stopped after the last bar while the sound rings
out; and real stereo: pan, a stereo reverb and delay, factory patterns that use pan."""

from __future__ import annotations

import numpy as np
import pytest
from support.render import click_pattern, onsets, pattern_of, read_wav

from chronus_tui.cli import main
from chronus_tui.store import SlotStore
from chronus_tui.synth.offline import MAX_TAIL, QUIET_LEVEL, QUIET_SECONDS, RenderError, render, render_length

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
SR = 48000


def rendered(tmp_path, pattern: dict, *, bars: int = 1, tail: float | None = 0.0,
             name: str = "out.wav") -> np.ndarray:
    result = render(pattern_of(pattern), tmp_path / name, bars=bars, sr=SR, buffer=256, float32=True,
                    tail=tail)
    audio = read_wav(result.path)
    assert audio.shape == (result.frames, 2)
    return audio


def wet(effect: str, **voice: float) -> dict:
    """A hit on every beat of a centred voice sent only to `effect` ("reverb1"/"delay1")."""
    send = "send/reverb" if effect == "reverb1" else "send/delay"
    pattern = click_pattern([("hit", "voice1", "x...x...x...x...")],
                            voices={"voice1": {send: 1.0, "osc/type": 3, **voice}})
    pattern["modules"][effect]["mix"] = 1.0
    return pattern


def correlation(audio: np.ndarray) -> float:
    return float(np.corrcoef(audio[:, 0], audio[:, 1])[0, 1])


def db(x: np.ndarray) -> float:
    return 20 * np.log10(max(float(np.sqrt(np.mean(x ** 2))), 1e-12))


def test_tail_0_on_the_command_line_is_exactly_the_bars(tmp_path):
    pattern = wet("reverb1")
    SlotStore(tmp_path).save(2, pattern)
    out = tmp_path / "loop.wav"
    assert main(["render", "2", "-o", str(out), "--bars", "2", "--tail", "0",
                 "--patterns-dir", str(tmp_path)]) == 0
    assert len(read_wav(out)) == render_length(pattern_of(pattern), 2, SR)  # the reverb is cut at the loop


def test_a_fixed_tail_plays_no_new_note_and_keeps_the_bars_as_they_were(tmp_path):
    pattern = click_pattern([("hit", "voice1", "x.......x.......")])
    loop = rendered(tmp_path, pattern, bars=2, name="loop.wav")
    tailed = rendered(tmp_path, pattern, bars=2, tail=0.5, name="tailed.wav")
    frames = len(loop)
    assert len(tailed) == frames + SR // 2
    np.testing.assert_array_equal(tailed[:frames], loop)
    # the loop's own hits, and none at bar 3's first step or after
    assert len(onsets(tailed[:, 0])) == len(onsets(loop[:, 0])) == 4
    assert np.abs(tailed[frames:]).max() < 1e-6


def test_the_default_tail_lasts_until_the_reverb_dies_out(tmp_path):
    dry = click_pattern([("hit", "voice1", "x...............")])
    assert len(rendered(tmp_path, dry, tail=None, name="dry.wav")) == render_length(pattern_of(dry), 1, SR)
    pattern = wet("reverb1")
    frames = render_length(pattern_of(pattern), 1, SR)
    audio = rendered(tmp_path, pattern, tail=None, name="wet.wav")
    assert frames + 0.2 * SR < len(audio) < frames + MAX_TAIL * SR  # it rang out, and stopped
    assert np.abs(audio[frames:frames + SR // 10]).max() > 1e-3  # the reverb was still loud at the loop's end
    assert np.abs(audio[-256:]).max() < QUIET_LEVEL  # the file ends where it fell quiet …
    # … and stayed quiet: a longer render has nothing above the level after it
    more = (len(audio) - frames) / SR + 2 * QUIET_SECONDS
    longer = rendered(tmp_path, pattern, tail=more, name="longer.wav")
    np.testing.assert_array_equal(longer[:len(audio)], audio)
    assert np.abs(longer[len(audio):]).max() < QUIET_LEVEL


def test_a_slide_held_over_the_last_bar_line_is_released_there(tmp_path):
    """A slide holds its note until the next hit: the sequencer stopped, the bar line
    releases it instead, as a rest would, and the tail ends once the release has."""
    pattern = click_pattern([("bass", "voice2", "x..............x")],
                            voices={"voice2": {"adsr/sustain": 1.0, "adsr/release": 0.05}})
    pattern["sequencer"]["tracks"][0]["steps"][15]["slide"] = True
    frames = render_length(pattern_of(pattern), 1, SR)
    audio = rendered(tmp_path, pattern, tail=None)
    assert np.abs(audio[frames - 256:frames]).max() > 0.1  # held up to the bar line
    assert frames < len(audio) < frames + SR // 2


def test_the_default_tail_stops_at_10_seconds(tmp_path):
    # a drone held to the end of the bar, echoing with the most feedback, and a reverb
    # that never quite dies out within the limit: at most MAX_TAIL seconds are added
    pattern = wet("delay1", **{"adsr/sustain": 1.0, "adsr/release": 3.0})
    pattern["sequencer"]["tracks"][0]["gate"] = 1.0
    pattern["modules"]["delay1"].update(feedback=0.7, time=0.6)
    frames = render_length(pattern_of(pattern), 1, SR)
    audio = rendered(tmp_path, pattern, tail=None)
    assert len(audio) <= frames + round(MAX_TAIL * SR)
    assert len(audio) > frames + 2 * SR


@pytest.mark.parametrize("value", ["-1", "10.5", "abc", "nan", ""])
def test_a_bad_tail_is_a_usage_error(tmp_path, capsys, value):
    out = tmp_path / "bad.wav"
    with pytest.raises(SystemExit) as exc:
        main(["render", "demo", "-o", str(out), "--tail", value])
    assert exc.value.code == 2
    assert "--tail" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("tail", [-0.5, 11.0, float("nan")])
def test_render_refuses_a_bad_tail(tmp_path, tail):
    with pytest.raises(RenderError, match="--tail"):
        render(pattern_of(wet("reverb1")), tmp_path / "bad.wav", bars=1, tail=tail)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("pan, loud, quiet", [(-1.0, 0, 1), (1.0, 1, 0)])
def test_a_hard_panned_voice_is_on_one_side_only(tmp_path, pan, loud, quiet):
    pattern = click_pattern([("hit", "voice1", "x...x...x...x...")], voices={"voice1": {"pan": pan}})
    audio = rendered(tmp_path, pattern)
    assert db(audio[:, loud]) > -40
    assert db(audio[:, quiet]) <= db(audio[:, loud]) - 40


@pytest.mark.parametrize("effect", ["reverb1", "delay1"])
def test_the_reverb_and_the_delay_are_stereo(tmp_path, effect):
    """A centred voice is the same on both sides dry; its reverb or delay's tail is not."""
    pattern = wet(effect)
    dry = {**pattern, "modules": {**pattern["modules"], effect: {**pattern["modules"][effect], "mix": 0.0}}}
    assert correlation(rendered(tmp_path, dry, name="dry.wav")) > 0.999
    frames = render_length(pattern_of(pattern), 1, SR)
    audio = rendered(tmp_path, pattern, tail=0.25, name="wet.wav")
    ringing = audio[frames:]
    assert db(ringing[:, 0]) > -75 and db(ringing[:, 1]) > -75
    assert abs(db(ringing[:, 0]) - db(ringing[:, 1])) < 3  # as loud on each side
    assert correlation(ringing) < 0.9


@pytest.mark.parametrize("name", ["techno", "house"])
def test_factory_patterns_use_pan(tmp_path, name):
    pattern = SlotStore(tmp_path).load_library(name)
    assert any(pattern.modules[track.voice]["pan"] != 0 for track in pattern.tracks)
    result = render(pattern, tmp_path / "factory.wav", bars=1, sr=SR, float32=True, tail=0)
    audio = read_wav(result.path)
    assert np.abs(audio[:, 0] - audio[:, 1]).max() > 0.01
