"""Every hit lands on the sample the timing model predicts: offline renders analysed with NumPy.

The prediction: step n of a pattern started at sample 0 sounds on the first sample at
or after n × step + (n odd) × swing × step / 2, step = 60 / bpm / 4 s. Tolerance: 0
samples. The test voice is a sine click with a 1 ms attack and no effects, so the
first sample above 1e-6 after silence is the onset.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from support.graph import offline_server, run_graph, run_random_commands
from support.render import (
    SR,
    click_pattern,
    expected_onset,
    onsets,
    pattern_of,
    read_wav,
    render_array,
    track_of,
)

from chronus_tui.engine.protocol import (
    CancelQueued,
    Command,
    EngineMessage,
    Gate,
    ReplacePattern,
    ReplaceTrack,
    SetFill,
    SetParam,
    SetTempo,
    SetTransport,
)
from chronus_tui.model import VOICES
from chronus_tui.synth import sequencer
from chronus_tui.synth.offline import RenderError, render
from chronus_tui.timing import ClockMath, max_buffer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def hits(steps: str, length_bars: int, *, offset: int = 0) -> list[int]:
    """Global step numbers (from `offset`) where a track with pattern `steps` hits."""
    total = 16 * length_bars
    return [offset + n for n in range(total) if steps[n % len(steps)] in "Xx"]


@pytest.mark.parametrize("buffer", [64, 256, 1024])
@pytest.mark.parametrize("bpm,swing", [(90, 0.0), (125, 0.0), (174, 0.0), (90, 0.6), (125, 0.3), (174, 0.5)])
def test_every_step_on_its_sample(tmp_path, bpm, swing, buffer):
    pattern = click_pattern([("t", "voice1", "x" * 16)], bpm=bpm, swing=swing)
    audio, events = render_array(tmp_path, pattern, bars=2, buffer=buffer)
    found = onsets(audio[:, 0])
    expected = [expected_onset(n, bpm, swing) for n in range(32)]
    assert found == expected
    positions = [e for e in events if e["event"] == "position"]
    assert [(e["bar"], e["step"]) for e in positions] == [divmod(n, 16) for n in range(32)]
    assert [e["sample"] for e in positions] == expected


@pytest.mark.parametrize("buffer", [64, 1024])
def test_polymetric_tracks_play_step_n_mod_length(tmp_path, buffer):
    bpm, swing = 125, 0.4
    tracks = [("a", "voice1", "x" + "." * 15), ("b", "voice3", "x..x" + "." * 8), ("c", "voice4", "x....")]
    pattern = click_pattern(tracks, bpm=bpm, swing=swing,
                            voices={"voice1": {"pan": -1.0}, "voice3": {"pan": 1.0}, "voice4": {"pan": 0.0}})
    audio, _ = render_array(tmp_path, pattern, bars=3, buffer=buffer)
    steps = sorted(set(hits("x" + "." * 15, 3) + hits("x..x" + "." * 8, 3) + hits("x....", 3)))
    assert onsets(audio[:, 0] + audio[:, 1]) == [expected_onset(n, bpm, swing) for n in steps]
    # the hard-left track alone, on its own channel: only the 16-step track and the centred one
    left_steps = sorted(set(hits("x" + "." * 15, 3) + hits("x....", 3)))
    assert onsets(audio[:, 0]) == [expected_onset(n, bpm, swing) for n in left_steps]


SIDES = {"voice1": {"pan": -1.0}, "voice3": {"pan": 1.0}, "voice4": {"pan": 1.0}}


def two_patterns(bpm_a: float = 120, bpm_b: float = 120, swing: float = 0.0):
    """A on voice1 (left channel), B on voice3 (right channel); the same sound settings,
    so nothing glides at the switch (a pan change would, over 20 ms)."""
    a = click_pattern([("a", "voice1", "x.x.x.x.x.x.x.x.")], bpm=bpm_a, swing=swing, name="A", voices=SIDES)
    b = click_pattern([("b", "voice3", "xx..x.......x..."), ("b2", "voice3", "..x")], bpm=bpm_b, swing=swing,
                      name="B", voices=SIDES)
    return a, b


@pytest.mark.parametrize("buffer", [64, 256, 1024])
def test_bar_aligned_switch_starts_exactly_on_the_bar_line(tmp_path, buffer):
    bpm_a, bpm_b = 120, 150  # the new pattern brings its own tempo from its first step
    a, b = two_patterns(bpm_a, bpm_b)
    queue_at = (int(20.3 * 6000) // buffer)  # mid-bar 1 (step 20.3 of A)
    schedule = {queue_at: [ReplacePattern(pattern_of(b), "bar", 7)]}
    audio, events = render_array(tmp_path, a, bars=4, buffer=buffer, schedule=schedule)
    bar_line = expected_onset(32, bpm_a, 0)
    left, right = onsets(audio[:, 0]), onsets(audio[:, 1])
    assert left == [expected_onset(n, bpm_a, 0) for n in range(0, 32, 2)]  # A up to the bar, none after
    b_steps = sorted(set(hits("xx..x.......x...", 2) + hits("..x", 2)))
    predicted_b = [bar_line + expected_onset(n, bpm_b, 0) for n in b_steps]
    assert right[:len(predicted_b)] == predicted_b[:len(right)]
    assert right[0] == bar_line  # no lost first step
    assert len(right) >= 12
    assert [e for e in events if e["event"] == "switched"] == [{"event": "switched", "token": 7,
                                                               "sample": bar_line}]


def test_at_22050_hz_bar_switches_are_exact_in_the_longest_blocks_allowed(tmp_path):
    """300 bpm with swing 0.6: an odd step and the next start 771 samples apart at 22050 Hz,
    so blocks there are at most 512 samples. In 1024-sample blocks both can start in the
    block that arms a switch, and the new pattern starts a step early (here on bars 4 and 8)."""
    sr, bpm, swing = 22050, 300, 0.6
    buffer = max_buffer(sr)
    assert buffer == 512
    with pytest.raises(RenderError, match="1024-frame buffers are too long at 22050 Hz"):
        render(pattern_of(click_pattern([("a", "voice1", "x")])), tmp_path / "no.wav", bars=1, sr=sr,
               buffer=1024)
    # odd and even steps on lanes of their own: each lane is silent a block before its next hit
    sides = {"voice1": {"pan": -1.0}, "voice5": {"pan": -1.0}, "voice3": {"pan": 1.0}, "voice4": {"pan": 1.0}}
    a = click_pattern([("even", "voice1", "x." * 8), ("odd", "voice5", ".x" * 8)], bpm=bpm, swing=swing,
                      voices=sides, name="A")
    b = click_pattern([("rest1", "voice1", "."), ("rest2", "voice5", "."), ("even", "voice3", "x." * 8),
                       ("odd", "voice4", ".x" * 8)], bpm=bpm, swing=swing, voices=sides, name="B")
    for bar in range(1, 9):  # each bar line falls elsewhere in its block
        bar_line = expected_onset(16 * bar, bpm, swing, sr)
        schedule = {(bar_line - 8000) // buffer: [ReplacePattern(pattern_of(b), "bar", 1)]}
        audio, events = render_array(tmp_path, a, bars=bar + 1, sr=sr, buffer=buffer, schedule=schedule)
        grid = [expected_onset(n, bpm, swing, sr) for n in range(16 * bar + 16)]
        assert onsets(audio[:, 0]) == grid[:16 * bar]  # A up to the bar line
        assert onsets(audio[:, 1]) == grid[16 * bar:]  # B from it
        assert [e["sample"] for e in events if e["event"] == "switched"] == [bar_line]


def test_newer_queued_load_replaces_older_and_cancel_drops_it(tmp_path):
    a, b = two_patterns()
    c = click_pattern([("c", "voice4", "x...............")], name="C", voices=SIDES)
    schedule = {
        40: [ReplacePattern(pattern_of(b), "bar", 1)],
        60: [ReplacePattern(pattern_of(c), "bar", 2)],
    }
    audio, events = render_array(tmp_path, a, bars=3, schedule=schedule)
    bar_line = expected_onset(16, 120, 0)
    assert onsets(audio[:, 1]) == [bar_line, bar_line + expected_onset(16, 120, 0)]  # C only
    assert [e["token"] for e in events if e["event"] == "switched"] == [2]

    cancelled = {40: [ReplacePattern(pattern_of(b), "bar", 3)], 60: [CancelQueued()]}
    audio, events = render_array(tmp_path, a, bars=2, schedule=cancelled, name="cancel.wav")
    assert onsets(audio[:, 1]) == []
    assert onsets(audio[:, 0]) == [expected_onset(n, 120, 0) for n in range(0, 32, 2)]
    assert not [e for e in events if e["event"] == "switched"]


@pytest.mark.parametrize("every,queue_step,lands", [
    (64, 20.3, 64),  # 4 bars: queued in bar 2, lands on bar 5's line (step 64), not bar 3's
    (128, 70.5, 128),  # 8 bars, queued after bar 4
    (32, 40.2, 64),  # 2 bars: counted from the pattern's start, so bar 5, not bar 4
])
def test_a_launch_quantum_of_n_bars_lands_on_the_next_multiple_of_n_bars(tmp_path, every, queue_step, lands):
    a, b = two_patterns()
    buffer = 256
    schedule = {int(queue_step * 6000) // buffer: [ReplacePattern(pattern_of(b), "bar", 3, every)]}
    audio, events = render_array(tmp_path, a, bars=lands // 16 + 1, buffer=buffer, schedule=schedule)
    line = expected_onset(lands, 120, 0)
    assert onsets(audio[:, 0]) == [expected_onset(n, 120, 0) for n in range(0, lands, 2)]
    assert onsets(audio[:, 1])[0] == line
    assert [(e["token"], e["sample"]) for e in events if e["event"] == "switched"] == [(3, line)]


def test_a_launch_quantum_of_0_waits_for_the_end_of_the_longest_track(tmp_path):
    """A pattern whose longest track has 12 steps ends every 12 steps: not on a 16-step bar."""
    a = click_pattern([("a", "voice1", "x.x.x.x.x.x."), ("short", "voice1", "x...")], name="A", voices=SIDES)
    _, b = two_patterns()
    schedule = {int(13.5 * 6000) // 256: [ReplacePattern(pattern_of(b), "bar", 4, 0)]}
    audio, events = render_array(tmp_path, a, bars=3, schedule=schedule)
    end = expected_onset(24, 120, 0)  # queued in the second play of 12 steps
    assert onsets(audio[:, 0]) == [expected_onset(n, 120, 0) for n in range(0, 24, 2)]
    assert onsets(audio[:, 1])[0] == end
    assert [e["sample"] for e in events if e["event"] == "switched"] == [end]


def test_a_pattern_switching_in_with_a_muted_or_unsoloed_track_is_silent_from_the_line(tmp_path):
    """The right channel's tracks of B are one muted and one silenced by a solo on the left: not
    one hit of them is heard, not even on the line (a level gliding to 0 would let it through)."""
    a = click_pattern([("a", "voice3", "x.x.x.x.x.x.x.x.")], name="A", voices=SIDES)  # right
    b = click_pattern([("muted", "voice3", "x..."), ("unsoloed", "voice4", "xx.."),
                       ("solo", "voice1", "x...")], name="B", voices=SIDES)
    tracks = b["sequencer"]["tracks"]
    tracks[0]["mute"], tracks[2]["solo"] = True, True
    audio, _ = render_array(tmp_path, a, bars=2, schedule={40: [ReplacePattern(pattern_of(b), "bar", 1)]})
    line = expected_onset(16, 120, 0)
    assert onsets(audio[:, 1]) == [expected_onset(n, 120, 0) for n in range(0, 16, 2)]  # A's, up to the line
    assert onsets(audio[:, 0]) == [line + expected_onset(n, 120, 0) for n in range(0, 16, 4)]


def test_a_negative_launch_quantum_is_refused_and_nothing_is_queued(tmp_path):
    a, b = two_patterns()
    audio, events = render_array(tmp_path, a, bars=2,
                                 schedule={10: [ReplacePattern(pattern_of(b), "bar", 5, -16)]})
    assert onsets(audio[:, 1]) == []
    assert not [e for e in events if e["event"] == "switched"]
    assert any("negative" in e.get("message", "") for e in events)


@pytest.mark.parametrize("swing", [0.0, 0.5])
def test_step_switch_takes_the_next_step_keeping_the_bar_position(tmp_path, swing):
    bpm, buffer = 120, 256
    a, b = two_patterns(swing=swing)
    queue_at = 37  # block 37 starts at sample 9472: inside step 1
    start = queue_at * buffer
    clock = ClockMath(SR)
    clock.start_at(0, bpm)
    clock.swing = swing
    target = clock.step_at(start - 1) + 1
    schedule = {queue_at: [ReplacePattern(pattern_of(b), "step", 5)]}
    audio, events = render_array(tmp_path, a, bars=2, buffer=buffer, schedule=schedule)
    left, right = onsets(audio[:, 0]), onsets(audio[:, 1])
    assert left == [expected_onset(n, bpm, swing) for n in range(0, target, 2)]
    # B continues from the bar position: track b plays its step `target`, b2 (length 3) its step target mod 3
    b_steps = sorted(n for n in range(target, 32) if "xx..x.......x..."[n % 16] == "x" or (n - 0) % 3 == 2)
    assert right == [expected_onset(n, bpm, swing) for n in b_steps]
    assert [e for e in events if e["event"] == "switched"] == [
        {"event": "switched", "token": 5, "sample": expected_onset(target, bpm, swing)}]


def test_edit_in_place_keeps_position(tmp_path):
    a = click_pattern([("a", "voice1", "x...x...x...x...")])
    edited = click_pattern([("a", "voice1", "x.x.x.x.x.x.x.x.")])
    schedule = {50: [ReplacePattern(pattern_of(edited), "edit", 0)]}
    audio, _ = render_array(tmp_path, a, bars=2, schedule=schedule)
    first_after = next(n for n in range(32) if expected_onset(n, 120, 0) >= 50 * 256)
    steps = [n for n in range(32) if (n % 4 == 0 if n < first_after else n % 2 == 0)]
    assert onsets(audio[:, 0]) == [expected_onset(n, 120, 0) for n in steps]


def test_tempo_change_keeps_the_step_grid_continuous(tmp_path):
    pattern = click_pattern([("t", "voice1", "x" * 16)], bpm=120)
    schedule = {100: [SetTempo(140.0, 0.0)]}
    audio, _ = render_array(tmp_path, pattern, bars=2, schedule=schedule)
    found = onsets(audio[:, 0])
    change = 100 * 256
    before = [s for s in found if s < change]
    assert before == [expected_onset(n, 120, 0) for n in range(len(before))]
    clock = ClockMath(SR)
    clock.start_at(0, 120)
    clock.rebase(change, 140)
    after = [s for s in found if s >= change]
    assert after == [clock.onset(n) for n in range(len(before), len(before) + len(after))]
    assert after[1] - after[0] in (int(SR * 60 / 140 / 4), int(SR * 60 / 140 / 4) + 1)


def test_clock_math_onsets_follow_design_formula():
    """The Python mirror agrees with the exact formula over long spans (double precision)."""
    for bpm, swing in [(174, 0.0), (174, 0.6), (97.3, 0.25)]:
        clock = ClockMath(SR)
        clock.start_at(0, bpm)
        clock.swing = swing
        for n in (0, 1, 2, 3, 15, 16, 12345, 12346, 7 * 10**5, 7 * 10**5 + 1):  # 7e5 steps ≈ 1 hour
            assert clock.onset(n) == expected_onset(n, bpm, swing)


@pytest.mark.parametrize("buffer", [64, 1024])
def test_steps_stay_on_their_samples_as_the_trigger_counter_wraps(tmp_path, monkeypatch, buffer):
    """A lane's hit trigger compares a sample counter that wraps (after ~3 min at 48 kHz)
    with the hits scheduled: here it wraps every 69120 samples (more than the hits written
    ahead; in mid-block for 1024-sample blocks), through swing and a bar switch (B's steps
    count from its bar line)."""
    monkeypatch.setattr(sequencer, "clock_period", lambda sr: 69120)
    bpm, swing = 174, 0.5
    a = click_pattern([("a", "voice1", "x" * 16)], bpm=bpm, swing=swing, name="A", voices=SIDES)
    b = click_pattern([("b", "voice3", "x.x.")], bpm=bpm, swing=swing, name="B", voices=SIDES)
    schedule = {3: [ReplacePattern(pattern_of(b), "bar", 1)]}
    audio, events = render_array(tmp_path, a, bars=3, buffer=buffer, schedule=schedule)
    bar_line = expected_onset(16, bpm, swing)
    assert onsets(audio[:, 0]) == [expected_onset(n, bpm, swing) for n in range(16)]
    assert onsets(audio[:, 1]) == [expected_onset(n, bpm, swing, origin=bar_line) for n in range(0, 32, 2)]
    assert {"event": "switched", "token": 1, "sample": bar_line} in events


def test_steps_stay_on_their_samples_past_the_counters_real_period(tmp_path):
    """The graph's float32 sample counter runs up to its period and wraps, several times."""
    bpm, swing = 174, 0.3
    bars = 30
    audio, _ = render_array(tmp_path, click_pattern([("a", "voice1", "x.x.")], bpm=bpm, swing=swing),
                            bars=bars, buffer=1024)
    assert len(audio) > 3 * sequencer.clock_period(SR)
    # (1e-8: a hit can start near the sine's zero crossing, its first sample under the usual 1e-6)
    expected = [expected_onset(n, bpm, swing) for n in range(0, 16 * bars, 2)]
    assert onsets(audio[:, 0], threshold=1e-8) == expected


def test_the_graph_plays_the_hits_written_without_python(tmp_path):
    """No Python in the per-hit path: once the transport starts, the graph alone plays
    the hits written ahead (past the first block and a step), each on its sample, with
    no callback at all."""
    from chronus_tui.synth.graph import ENVELOPE_LATENCY, EngineGraph

    bpm, swing = 174, 0.3
    path = tmp_path / "alone.wav"
    with offline_server() as server:
        graph = EngineGraph(server, lanes=1)
        pattern = click_pattern([("a", "voice1", "x" * 16)], bpm=bpm, swing=swing)
        graph.handle(ReplacePattern(pattern_of(pattern), "now", 0))
        graph.handle(SetTransport(True))
        graph.poll_events()  # what the first block's callback does: the hits ahead are written
        written = len(graph.lanes[0].hits.pending)
        server.recordOptions(dur=expected_onset(16, bpm, swing) / SR, filename=str(path), fileformat=0,
                             sampletype=3)
        server.start()  # no callback: nothing runs in Python from here on
    found = onsets(read_wav(path)[:, 0])
    assert written >= 2
    # (step 0, on sample 0, is heard a sample late: pyo fades its output in from 0 at start)
    assert found[1:] == [expected_onset(n, bpm, swing) + ENVELOPE_LATENCY for n in range(1, written)]


def test_a_graph_refuses_a_server_already_started(tmp_path):
    """Its sample counter counts from the server's first block."""
    from chronus_tui.synth.graph import EngineGraph

    refused: list[str] = []
    with offline_server() as server:

        def callback() -> None:
            if not refused:
                try:
                    EngineGraph(server, lanes=1)
                except ValueError as exc:
                    refused.append(str(exc))

        server.setCallback(callback)
        server.recordOptions(dur=2 * 256 / SR, filename=str(tmp_path / "graph.wav"), fileformat=0)
        server.start()
    assert refused == ["build the graph before the server starts: its counter starts with it"]


def test_stop_start_restart_and_a_load_while_stopped(tmp_path):
    a = click_pattern([("a", "voice1", "x...")], bpm=300)
    b = click_pattern([("b", "voice1", "x.")], bpm=300)
    buffer = 1024
    schedule = {
        5: [SetTransport(False)],
        10: [ReplacePattern(pattern_of(b), "bar", 3)],  # stopped: at once
        12: [SetTransport(True)],
        13: [SetTransport(True)],  # a restart during step 0 replays step 0
    }
    audio, events = render_array(tmp_path, a, bars=2, buffer=buffer, schedule=schedule)
    step = 2400  # 300 bpm
    restart = 13 * buffer
    expected = [0, 12 * buffer] + [restart + 2 * step * k for k in range(8)]
    assert onsets(audio[:, 0])[:10] == expected
    assert {"event": "switched", "token": 3, "sample": 10 * buffer} in events


def test_bad_commands_become_error_events_and_change_nothing(tmp_path):
    a = click_pattern([("a", "voice1", "x...")])
    # a pattern is checked where it comes in (pattern_of here, a file or OSC in use), not by the graph
    bad = [ReplacePattern(pattern_of(a), "later", 5),
           SetParam("voice9", "amp", 1),
           SetParam("voice1", "amp", "loud"),
           SetTempo("fast", 0.0), Gate("voice0", True),
           {"op": "bogus"}, "not a command"]
    audio, events = render_array(tmp_path, a, bars=1, schedule={20: bad})
    assert len([e for e in events if e["event"] == "error"]) == len(bad)
    assert onsets(audio[:, 0]) == [expected_onset(n, 120, 0) for n in range(0, 16, 4)]


def test_a_graph_with_fewer_lanes_refuses_a_pattern_with_more_tracks(tmp_path):
    """A render builds only the lanes its patterns need; a bigger pattern is an error, not a crash."""
    small = click_pattern([("a", "voice1", "x"), ("b", "voice3", "x")])
    big = click_pattern([("a", "voice1", "x"), ("b", "voice3", "x"), ("c", "voice4", "x")])
    seen: dict = {}

    def per_block(graph, block):
        if block == 0:
            graph.handle(ReplacePattern(pattern_of(small), "now", 1))
            graph.handle(ReplacePattern(pattern_of(big), "now", 2))
            seen["errors"] = [e.message for e in graph.poll_events() if isinstance(e, EngineMessage)]
            seen["tracks"] = [t.name for t in graph.tracks]

    run_graph(tmp_path, 2, 1, per_block)
    assert len(seen["errors"]) == 1 and "3 tracks, and this graph was built with 2 lanes" in seen["errors"][0]
    assert seen["tracks"] == ["a", "b"]


def test_a_lane_whose_track_has_gone_rings_out_and_then_stops(tmp_path):
    """B drops A's track "b" (a long release): its lane plays no more hits, keeps its voice
    while the note rings out, and stops once the note is silent (then costs nothing)."""
    long_release = {"voice3": {"adsr/release": 0.1}}
    a = click_pattern([("a", "voice1", "x..."), ("b", "voice3", "x" * 16)], voices=long_release)
    b = click_pattern([("a", "voice1", "x...")], voices=long_release)
    voices: list[list] = []

    def per_block(graph, block):
        if block == 0:
            graph.handle(SetTransport(True))
            graph.handle(ReplacePattern(pattern_of(a), "now", 1))
        if block == 30:  # mid-step 1: the note of step 1 sounds until 0.1 s after its gate
            graph.handle(ReplacePattern(pattern_of(b), "now", 2))
        graph.poll_events()
        voices.append([(lane.voice, lane.env.isPlaying()) for lane in graph.lanes])

    run_graph(tmp_path, 3, 80, per_block)
    assert voices[29] == [("voice1", True), ("voice3", True), (None, False)]
    assert voices[31] == [("voice1", True), ("voice3", True), (None, False)]  # ringing out
    assert voices[-1] == [("voice1", True), (None, False), (None, False)]  # stopped
    # step 1's gate closes on sample 6000 + 0.2 × 6000, its release is over 0.1 s later:
    # the lane stops at the first block boundary after that
    silent_from = 6000 + 1200 + int(0.1 * SR) + 1
    assert next(k for k, lanes in enumerate(voices) if lanes[1] == (None, False)) == silent_from // 256 + 1


def test_lanes_and_counters_stay_accounted_for_through_random_commands(tmp_path):
    """Loads in every mode, track edits, tempo changes, fill and stops at random, for 3000
    blocks: each lane's hit counter in the graph reads the ring entry Python holds for its
    latest hit; the hits written are in order, to come, apart, and none while stopped;
    nothing raises."""
    rng = random.Random(7)

    def random_tracks() -> dict:
        tracks = {}
        for _ in range(rng.randrange(1, 9)):
            steps = "".join(rng.choice("x..") for _ in range(rng.choice((1, 3, 16, 16, 32))))
            name = f"t{rng.randrange(12)}"
            tracks[name] = (name, rng.choice(VOICES), steps)
        return click_pattern(list(tracks.values()), bpm=300)

    def command(graph) -> Command | None:
        roll = rng.random()
        if roll < 0.08:
            mode = rng.choice(("now", "bar", "step", "edit"))
            return ReplacePattern(pattern_of(random_tracks()), mode, 1)
        if roll < 0.16 and graph.tracks:
            index = rng.randrange(len(graph.tracks))
            track = {**random_tracks()["sequencer"]["tracks"][0], "name": graph.tracks[index].name}
            return ReplaceTrack(index, track_of(track))
        if roll < 0.18:
            return SetTransport(not graph.clock.playing)
        if roll < 0.20:
            return SetTempo(rng.uniform(60, 300), rng.uniform(0, 0.6))
        if roll < 0.22:
            return SetFill(rng.random() < 0.5)
        return None

    problems, switches = run_random_commands(tmp_path, 16, 3000, command)
    assert problems == []
    assert switches > 20


def test_track_edit_changes_that_track_alone_from_its_next_step(tmp_path):
    a = click_pattern([("a", "voice1", "x...x...x...x..."), ("b", "voice3", "x..")], voices=SIDES)
    edited_a = click_pattern([("a", "voice1", "x.x.x.x.x.x.x.x.")], voices=SIDES)["sequencer"]["tracks"][0]
    longer_b = click_pattern([("b", "voice3", "x....")], voices=SIDES)["sequencer"]["tracks"][0]
    schedule = {50: [ReplaceTrack(0, track_of(edited_a))],
                150: [ReplaceTrack(1, track_of(longer_b))]}
    audio, events = render_array(tmp_path, a, bars=2, schedule=schedule)
    edit_a, edit_b = (next(n for n in range(32) if expected_onset(n, 120, 0) >= block * 256)
                      for block in (50, 150))
    left = [n for n in range(32) if n % (4 if n < edit_a else 2) == 0]
    assert onsets(audio[:, 0]) == [expected_onset(n, 120, 0) for n in left]
    # b kept its phase through a's edit; its new length counts from the bar position
    right = [n for n in range(32) if n % (3 if n < edit_b else 5) == 0]
    assert onsets(audio[:, 1]) == [expected_onset(n, 120, 0) for n in right]
    assert not [e for e in events if e["event"] == "error"]


def test_bad_track_edits_become_errors_and_change_nothing(tmp_path):
    a = click_pattern([("a", "voice1", "x...")])
    track = a["sequencer"]["tracks"][0]
    # the track itself is checked where it comes in (track_of here), not by the graph
    bad = [ReplaceTrack(1, track_of(track)), ReplaceTrack(True, track_of(track))]
    audio, events = render_array(tmp_path, a, bars=1, schedule={20: bad})
    assert len([e for e in events if e["event"] == "error"]) == len(bad)
    assert onsets(audio[:, 0]) == [expected_onset(n, 120, 0) for n in range(0, 16, 4)]


def test_a_voice_parameter_reaches_the_lanes_of_that_voice_only(tmp_path):
    """freq reaches a voice's lanes through the step tables, filter/freq through their filters."""
    pattern = click_pattern([("a", "voice1", "x..."), ("b", "voice3", "x...")],
                            voices={**SIDES, "voice3": {"pan": 1.0, "osc/type": 1, "freq": 200.0}})
    schedule = {100: [SetParam("voice1", "freq", 2000.0),
                      SetParam("voice3", "filter/freq", 300.0)]}
    audio, _ = render_array(tmp_path, pattern, bars=2, schedule=schedule)
    hits = [expected_onset(n, 120, 0) for n in range(0, 32, 4)]

    def spectrum(window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.fft.rfftfreq(len(window), 1 / SR), np.abs(np.fft.rfft(window * np.hanning(len(window))))

    def peak_hz(window: np.ndarray) -> float:
        freqs, magnitude = spectrum(window)
        return float(freqs[np.argmax(magnitude)])

    def above_1k(window: np.ndarray) -> float:
        freqs, magnitude = spectrum(window)
        return float(magnitude[freqs > 1000].sum() / magnitude.sum())

    for hit in hits:
        after = hit > 100 * 256
        left, right = audio[hit + 100:hit + 1124, 0], audio[hit + 100:hit + 1124, 1]
        assert abs(peak_hz(left) - (2000 if after else 1000)) < 50
        assert (above_1k(right) < 0.1) == after  # the saw's overtones filtered away


def test_a_slide_added_by_a_track_edit_glides_into_the_next_note(tmp_path):
    """A track that starts gliding runs its glide from the edit on: no retrigger, rising pitch."""
    pattern = click_pattern([("bass", "voice1", "xx" + "." * 14)], bpm=60,
                            voices={"voice1": {"slide_time": 0.1}})
    track = pattern["sequencer"]["tracks"][0]
    track["gate"] = 0.9
    track["steps"][0]["note"], track["steps"][1]["note"] = 45, 57  # 110 Hz, then 220 Hz
    sliding = {**track, "steps": [{**track["steps"][0], "slide": True}, *track["steps"][1:]]}
    step = SR // 4
    bar = 16 * step
    for edit, second_bar in ((None, [bar, bar + step]), (sliding, [bar])):
        schedule = {5 * step // 256: [ReplaceTrack(0, track_of(edit))]} if edit else {}
        audio, events = render_array(tmp_path, pattern, bars=2, schedule=schedule)
        assert onsets(audio[:, 0]) == [0, step, *second_bar]
        window = audio[bar + step + SR // 40:bar + step + SR // 20, 0]  # 25–50 ms into the second note
        rising = np.flatnonzero((window[:-1] < 0) & (window[1:] >= 0))
        hz = SR / np.diff(rising).mean()  # (the periods, not their count: that hangs on the phase)
        assert (130 < hz < 205) if edit else abs(hz - 220) < 45
        assert not [e for e in events if e["event"] == "error"]
