"""The MIDI export of expressive steps (chronus_tui/midiexport.py): which steps play (probability
and trig conditions, by trigs.decide from the pattern's seed, fill off), where their hits fall
(micro-timing in 24ths of a step, ratchets evenly through one) in ticks, and an amp lock's
velocity. Every expected tick is worked out here from the rules: a step is 120 ticks, an odd
step is late by swing × 60, a 24th of a step is 5 ticks."""

from __future__ import annotations

import io
import math

import mido
import numpy as np
import pretty_midi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.midi import Heard, exported, heard, one_track
from support.render import SR, click_modules, onsets, read_wav, render_array

from chronus_tui import midiexport, patternfile
from chronus_tui.chain import ChainEntry, ChainQueue, chain_steps, entry_onsets, entry_pattern
from chronus_tui.midiexport import ExportEntry, export_midi
from chronus_tui.model import CONDITION_NAMES, Pattern, Step, Track
from chronus_tui.synth.graph import ENVELOPE_LATENCY
from chronus_tui.synth.offline import render
from chronus_tui.trigs import TrigState, decide

STEP = 120  # ticks of a 16th at 480 a quarter


def grid(n: int, swing: float) -> float:
    """Step n's tick on the swung grid, unrounded."""
    return n * STEP + (n % 2) * swing * STEP / 2


def lengths(starts: list[int], gate: float, end: int) -> list[int]:
    """Each note's length (starts in time order): its gate, ended by the next hit or the file's end."""
    return [min(round(gate * STEP), after - start)
            for start, after in zip(starts, [*starts[1:], end], strict=True)]


def seconds_per_tick(bpm: float) -> float:
    return mido.bpm2tempo(bpm) / 1e6 / midiexport.TICKS_PER_BEAT  # the file's tempo: whole µs a beat


def starts(notes: list[Heard]) -> list[int]:
    return [note.start for note in notes]


# -- micro-timing and ratchets ---------------------------------------------------------------


@pytest.mark.parametrize("bpm,swing", [(60.0, 0.25), (128.0, 0.5), (300.0, 0.3)])
def test_every_micro_value_moves_its_hit_by_24ths_of_a_step_on_the_swung_grid(tmp_path, bpm, swing):
    """A 47-step track holds every micro value, −23 on step 0 … +23 on step 46, over three bars:
    each hit at its step's swung tick + micro × 5; step 0's −23 is moved onto step 0 at the
    pattern's start (nothing plays before it), not on its repetition at step 47. Step 48, the
    first after the three bars, is 22/24 early: before their end, so it plays (as in a render)."""
    steps = [Step(on=True, note=48 + i % 24, micro=i - 23) for i in range(47)]
    pattern = one_track(steps, swing=swing)
    pattern.bpm = bpm
    path = tmp_path / "micro.mid"
    midiexport.save(exported(pattern, bars=3), path)
    notes = heard(mido.MidiFile(path))["lead"]
    end = 3 * 16 * STEP
    expected = sorted(tick for n in range(49) for tick in [max(0.0, grid(n, swing) + (n % 47 - 23) * 5)]
                      if tick < end)
    assert len(expected) == 49
    assert all(tick == round(tick) for tick in expected)  # these swings keep every hit on a tick
    assert starts(notes) == [round(tick) for tick in expected]
    assert notes[0].start == 0 and notes[0].pitch == 48  # step 0's −23 at the start
    assert (47 * STEP + swing * STEP / 2 - 23 * 5) in expected  # … and 23/24 early on its repetition
    assert [n.length for n in notes] == lengths(starts(notes), 0.5, end)
    other = pretty_midi.PrettyMIDI(str(path)).instruments[0].notes  # a second reader, in seconds
    assert sorted(n.start for n in other) == pytest.approx([t * seconds_per_tick(bpm) for t in expected])


@pytest.mark.parametrize("swing", [0.0, 0.3])
def test_ratchets_split_a_step_evenly_and_each_hit_lasts_the_gate_of_its_span(swing):
    """Step r−1 of an 8-step track has r ratchets: hits at its swung tick + j × 120 / r; a
    division of 7 is not a whole tick and is rounded to the nearest (within half a tick). With
    swing, the hits of a late (odd) step at or after the next step's are dropped."""
    steps = [Step(on=True, note=60 + r, ratchet=r) for r in range(1, 9)]
    notes = heard(exported(one_track(steps, swing=swing)))["lead"]
    exact = [tick for k in range(2) for r in range(1, 9) for n in [8 * k + r - 1] for j in range(r)
             for tick in [grid(n, swing) + j * STEP / r] if tick < grid(n + 1, swing)]
    assert len(notes) == len(exact) == 2 * 36 - (2 if swing else 0)
    assert all(abs(note.start - tick) <= 0.5 for note, tick in zip(notes, exact, strict=True))
    assert {note.pitch for note, tick in zip(notes, exact, strict=True) if tick != round(tick)} == {67}
    for note, after in zip(notes, [*notes[1:], None], strict=True):  # ended by the next hit
        gate = 0.5 * STEP / (note.pitch - 60)
        assert abs(note.length - min(gate, (after.start if after else 16 * STEP) - note.start)) <= 0.5
        assert after is None or note.start + note.length <= after.start


def test_ratchet_hits_stop_at_a_later_played_steps_first_hit():
    """Step 0's four ratchets fall at 0, 30, 60, 90; step 1 is 12/24 early, at 60: the ratchets
    at and after it are dropped, and the one before ends there. Step 4's eight from 480 + 115
    stop at step 6's hit, 23/24 early (605), though step 5's, 23/24 late, comes after it."""
    steps = [Step(on=True, note=40, ratchet=4), Step(on=True, note=43, micro=-12), *[Step()] * 2,
             Step(on=True, note=50, ratchet=8, micro=23), Step(on=True, note=52, micro=23),
             Step(on=True, note=54, micro=-23), *[Step()] * 9]
    notes = heard(exported(one_track(steps)))["lead"]
    assert notes == [Heard(0, 15, 40, 76, 0), Heard(30, 15, 40, 76, 0), Heard(60, 60, 43, 76, 0),
                     Heard(595, 8, 50, 76, 0), Heard(605, 60, 54, 76, 0), Heard(715, 60, 52, 76, 0)]


def test_early_and_late_neighbours_swap_and_each_note_ends_by_the_next_hit():
    """Step 0 is 23/24 late (115) and step 1 23/24 early (5): step 1 sounds first, cut short
    by step 0's hit; step 0's ratchet hit after step 1's first hit is dropped."""
    steps = [Step(on=True, note=40, micro=23, ratchet=2), Step(on=True, note=43, micro=-23), *[Step()] * 14]
    notes = heard(exported(one_track(steps, gate=1.0)))["lead"]
    assert notes == [Heard(5, 110, 43, 76, 0), Heard(115, 60, 40, 76, 0)]


@pytest.mark.parametrize("bpm,kept", [(120.0, True), (300.0, False)])
def test_a_hit_too_soon_after_the_tracks_last_is_dropped_as_the_engine_drops_it(bpm, kept):
    """Swing 1/15 puts step 1 8 ticks late, and 23/24 more: 239, a tick before step 2. The
    engine drops a hit within 32 samples (at 48 kHz) of its track's last: 0.64 ticks at 120 bpm,
    1.6 at 300 bpm. The engine closes a gate by its track's next hit even when it drops that hit."""
    steps = [Step(), Step(on=True, note=40, micro=23), Step(on=True, note=43), *[Step()] * 13]
    pattern = one_track(steps, swing=1 / 15)
    pattern.bpm = bpm
    notes = heard(exported(pattern))["lead"]
    assert notes == ([Heard(239, 1, 40, 76, 0), Heard(240, 60, 43, 76, 0)] if kept
                     else [Heard(239, 1, 40, 76, 0)])


def test_a_ratcheted_slide_slides_from_its_last_hit_into_the_next_step():
    """A slid step's ratchet hits before its last last their gate of their span; its last hit is
    held and glides into the next step's (one note on the same pitch, else 30 ticks of legato)."""
    same = [Step(on=True, note=40, slide=True, ratchet=2), Step(on=True, note=40), *[Step()] * 14]
    assert heard(exported(one_track(same)))["lead"] == [Heard(0, 30, 40, 76, 0), Heard(60, 120, 40, 76, 0)]
    other = [Step(on=True, note=40, slide=True, ratchet=2), Step(on=True, note=43), *[Step()] * 14]
    assert heard(exported(one_track(other)))["lead"] == [
        Heard(0, 30, 40, 76, 0), Heard(60, 60 + midiexport.SLIDE_OVERLAP, 40, 76, 0),
        Heard(120, 60, 43, 76, 0)]


def test_an_entrys_early_first_hit_waits_for_it_and_a_late_last_hit_is_not_played():
    """In a chain each entry starts its pattern: its step 0 23/24 early plays on the entry's
    first tick (the pattern was not playing before), and its step 15, swung 30 ticks late and
    23/24 more, falls after the entry's end (the next pattern, or the end of the file) and
    does not play. One pattern exported alone (as a render of two bars) plays step 15, step 0's
    repetition before it, and step 0's early hit of the bar after, which comes before the end."""
    steps = [Step(on=True, note=40, micro=-23), *[Step()] * 14, Step(on=True, note=43, micro=23)]
    pattern = one_track(steps, swing=0.5)
    notes = heard(export_midi([ExportEntry(pattern, 16), ExportEntry(pattern, 16)]))["lead"]
    assert notes == [Heard(0, 60, 40, 76, 0), Heard(16 * STEP, 60, 40, 76, 0)]
    looped = heard(exported(pattern, bars=2))["lead"]
    assert looped == [Heard(0, 60, 40, 76, 0), Heard(16 * STEP - 115, 60, 40, 76, 0),
                      Heard(15 * STEP + 30 + 115, 60, 43, 76, 0), Heard(32 * STEP - 115, 60, 40, 76, 0)]


# -- which steps play ------------------------------------------------------------------------


def played_counts(pattern: Pattern, steps: int) -> list[list[int]]:
    """For each track, the counts at which trigs.decide (the engine's rule) plays its step."""
    state, counts = TrigState(), [[] for _ in pattern.tracks]
    for count in range(steps):
        plays, state = decide(pattern.tracks, count, pattern.seed, False, state)
        for track_counts, plays_now in zip(counts, plays, strict=True):
            if plays_now:
                track_counts.append(count)
    return counts


def chance(seed: int) -> Pattern:
    return Pattern(name="chance", seed=seed, tracks=[
        Track("half", "voice1", [Step(on=True, note=60, prob=50) for _ in range(16)]),
        Track("pre", "voice2", [Step(on=True, note=50, cond="PRE"), *[Step()] * 15]),
    ])


def test_a_50_percent_step_plays_where_decide_says_the_same_for_one_seed_and_not_another():
    """512 steps at 50 %: the notes are at the counts trigs.decide plays (the engine's rolls),
    within binomial bounds; a second export with the seed is the same file, another seed is not.
    A PRE step on another track plays when that track's latest conditional step did: here never,
    since its own track has none."""
    notes = heard(exported(chance(7), bars=32))
    expected = played_counts(chance(7), 512)[0]
    assert [n.start // STEP for n in notes["half"]] == expected
    assert abs(len(expected) - 256) < 4.5 * math.sqrt(512 * 0.25)
    assert notes["pre"] == []
    assert export_bytes(chance(7)) == export_bytes(chance(7))
    other = [n.start // STEP for n in heard(exported(chance(8), bars=32))["half"]]
    assert other == played_counts(chance(8), 512)[0] != expected


def export_bytes(pattern: Pattern) -> bytes:
    buffer = io.BytesIO()
    exported(pattern, bars=32).save(file=buffer)
    return buffer.getvalue()


def test_trig_conditions_play_on_their_repetitions_over_eight():
    """Over 8 repetitions of 16 steps: A:B on repetition r (from 0) when r mod B = A − 1; 1ST on
    the first only, !1ST on every other; PRE after a 50 % step plays when that step did; a
    12-step track counts its own repetitions."""
    conditions = {0: "1:4", 2: "3:8", 4: "2:2", 6: "1ST", 8: "!1ST", 10: "1:1"}
    steps = [Step() for _ in range(16)]
    for index, cond in conditions.items():
        steps[index] = Step(on=True, note=60 + index, cond=cond)
    steps[12] = Step(on=True, note=72, prob=50)
    steps[14] = Step(on=True, note=74, cond="PRE")
    pattern = Pattern(name="conds", seed=3, tracks=[
        Track("conds", "voice1", steps),
        Track("twelve", "voice2", [Step(on=True, note=50, cond="2:3"), *[Step()] * 11]),
    ])
    notes = heard(exported(pattern, bars=8))
    played = {(n.start // (16 * STEP), n.start % (16 * STEP) // STEP) for n in notes["conds"]}
    rule = {"1:4": lambda r: r % 4 == 0, "3:8": lambda r: r == 2, "2:2": lambda r: r % 2 == 1,
            "1ST": lambda r: r == 0, "!1ST": lambda r: r > 0, "1:1": lambda r: True}
    for index, cond in conditions.items():
        assert {r for r, i in played if i == index} == {r for r in range(8) if rule[cond](r)}, cond
    chance_played = {r for r, i in played if i == 12}
    assert 0 < len(chance_played) < 8  # seed 3 plays some and not others
    assert {r for r, i in played if i == 14} == chance_played
    assert [n.start // STEP for n in notes["twelve"]] == [12, 48, 84, 120]  # repetitions 1, 4, 7, 10


def test_each_chain_entry_starts_its_patterns_count_so_1st_plays_again():
    pattern = Pattern(name="first", tracks=[Track("t", "voice1", [Step(on=True, note=60, cond="1ST"),
                                                                  *[Step()] * 7])])
    notes = heard(export_midi([ExportEntry(pattern, 32), ExportEntry(pattern, 32)]))["t"]
    assert starts(notes) == [0, 32 * STEP]


# -- parameter locks ---------------------------------------------------------------------------


def test_an_amp_lock_scales_the_velocity_by_its_share_of_the_voices_amp_for_its_step_only():
    """Voice amp 0.3: a plain hit is 76 (0.6 × 127); locked to 0.15 half that, an accent locked to
    0.15 half of 127; locked to 0.6 it would be 152: clamped to 127; locked to 0 it is silent
    (no note); the step after a lock is back to the track's own level. A voice at amp 0 has no
    share to scale by: its hits keep their velocity, as exported before locks."""
    steps = [Step(on=True, note=60), Step(on=True, note=60, locks={"amp": 0.15}),
             Step(on=True, note=60, accent=True, locks={"amp": 0.15}),
             Step(on=True, note=60, locks={"amp": 0.6}), Step(on=True, note=60, locks={"amp": 0.0}),
             Step(on=True, note=60)]
    notes = heard(exported(one_track([*steps, *[Step()] * 10], amp=0.3)))["lead"]
    assert [(n.start // STEP, n.velocity) for n in notes] == [(0, 76), (1, 38), (2, 64), (3, 127), (5, 76)]
    half = heard(exported(one_track([*steps[1:2], Step()], amp=0.3, level=0.5)))["lead"]
    assert {n.velocity for n in half} == {19}  # 0.6 × 0.5 × 0.5 × 127
    # the engine raises a hit by at most 1 / 0.6 (sequencer.HitPlanner): at level 0.5 a plain
    # hit locked to twice its voice's amp is 0.5 × 127, an accent (1 / 0.6) × 0.5 × 127
    louder = [Step(on=True, note=60, locks={"amp": 0.6}),
              Step(on=True, note=60, accent=True, locks={"amp": 0.6})]
    capped = heard(exported(one_track(louder, amp=0.3, level=0.5)))["lead"]
    assert [n.velocity for n in capped] == [64, 106] * 8
    silent_voice = heard(exported(one_track([Step(on=True, note=60, locks={"amp": 0.2})], amp=0.0)))["lead"]
    assert {n.velocity for n in silent_voice} == {76}  # the engine scales no hit of a voice at amp 0
    into_silence = [Step(on=True, note=60, slide=True), Step(on=True, note=60, locks={"amp": 0.0}), Step()]
    slid = heard(exported(one_track(into_silence)))["lead"]  # a slide into a silent hit ends on it
    assert slid == [Heard(3 * k * STEP, STEP, 60, 76, 0) for k in range(6)]


def test_locks_other_than_amp_are_sound_not_notes_and_change_nothing_in_the_file():
    plain = one_track([Step(on=True, note=60), Step(on=True, note=62)], voice="voice2")
    locked = one_track([Step(on=True, note=60, locks={"filter/freq": 4000.0, "acid1/cutoff": 200.0}),
                        Step(on=True, note=62, locks={"adsr/decay": 1.0, "pan": -1.0})], voice="voice2")
    assert heard(exported(locked)) == heard(exported(plain))
    assert [m for t in exported(locked).tracks for m in t if m.type == "control_change"] == []




# -- any expressive pattern ------------------------------------------------------------------

conditions = st.sampled_from([None, *CONDITION_NAMES, "1:2", "2:3", "3:8"])
steps_strategy = st.builds(Step, on=st.booleans(), accent=st.booleans(), note=st.sampled_from([None, 40, 41]),
                           slide=st.booleans(), prob=st.integers(0, 100), cond=conditions,
                           micro=st.integers(-23, 23), ratchet=st.integers(1, 8),
                           locks=st.sampled_from([{}, {"amp": 0.0}, {"amp": 0.05}, {"amp": 1.0}]))


@settings(max_examples=150, deadline=None)
@given(left=st.lists(steps_strategy, min_size=1, max_size=20),
       right=st.lists(steps_strategy, min_size=1, max_size=7),
       swing=st.floats(0.0, 0.6), bpm=st.sampled_from([20.0, 120.0, 300.0]),
       seed=st.integers(0, 2**31 - 1), split=st.integers(1, 40))
def test_any_expressive_pattern_exports_well_formed_notes_inside_the_file(left, right, swing, bpm, seed,
                                                                          split):
    """Whatever the steps, alone or as two chain entries: every note starts and ends inside
    the file, lasts at least a tick, and ends before the track's next note on its pitch starts
    (heard() pairs each note on with its own note off); a track has no more notes than hits."""
    pattern = Pattern(name="any", bpm=bpm, swing=swing, seed=seed,
                      tracks=[Track("left", "voice1", left), Track("right", "voice4", right, gate=1.0)])
    alone = exported(pattern, bars=2)  # 32 steps, and the early hits of the 33rd
    chained = export_midi([ExportEntry(pattern, split), ExportEntry(pattern, 32)])
    for midi, entries in ((alone, [33]), (chained, [split, 32])):
        end = sum(message.time for message in midi.tracks[0])
        for name, notes in heard(midi).items():
            assert all(n.start >= 0 and n.length >= 1 and n.start + n.length <= end for n in notes), name
            track = pattern.track(name)
            hits = sum(step.ratchet for steps in entries for count in range(steps)
                       for step in [track.steps[count % track.length]] if step.on)
            assert len(notes) <= hits


# -- the export and the render agree hit for hit -------------------------------------------------


def two_sides(seed: int, shift: int = 0) -> Pattern:
    """Probabilities, every kind of condition but FILL, micro-timing (step 0's: shift − 6 24ths)
    and ratchets on two tracks, one panned hard left and one hard right, so each channel of a
    render hears one; at 120 bpm a tick is 25 samples either side of its hit."""
    left = [Step(on=True, note=84, prob=50 if i % 3 else 100, micro=(i * 5 + shift) % 13 - 6,
                 ratchet=(1, 2, 1, 4, 1, 3, 7, 1)[i % 8], cond="1ST" if i == 10 else None)
            for i in range(16)]
    right = [Step(on=i % 2 == 0, note=72, cond=("NEI", "!PRE", "2:3", "!1ST", "1:2", "PRE")[i % 6],
                  prob=70 if i % 4 == 0 else 100, micro=-(i % 5) * 4, ratchet=2 if i % 6 == 4 else 1)
             for i in range(12)]
    return Pattern(name=f"sides {seed}", swing=0.3, seed=seed,
                   tracks=[Track("left", "voice1", left, gate=0.2),
                           Track("right", "voice3", right, gate=0.2)],
                   modules=click_modules(voice1={"pan": -1.0}, voice3={"pan": 1.0}))


def assert_notes_where_it_sounds(audio: np.ndarray, midi: mido.MidiFile) -> None:
    """A note of each side's track starts within half a tick of each onset its channel sounds,
    and nowhere else."""
    samples_per_tick = SR * 60 / 120.0 / midiexport.TICKS_PER_BEAT
    notes = heard(midi)
    for channel, name in enumerate(["left", "right"]):
        sounded = onsets(audio[:, channel])
        assert len(notes[name]) == len(sounded) > 12, name
        assert all(abs(onset - ENVELOPE_LATENCY - note.start * samples_per_tick) <= samples_per_tick / 2
                   for onset, note in zip(sounded, notes[name], strict=True)), name


def test_the_export_has_a_note_where_the_render_sounds_each_hit(tmp_path):
    """The engine (offline) and the export of one pattern over four bars agree hit for hit."""
    pattern = two_sides(11)
    audio, _ = render_array(tmp_path, patternfile.pattern_to_dict(pattern), bars=4)
    assert_notes_where_it_sounds(audio, exported(pattern, bars=4))


def test_a_chain_exports_the_hits_its_render_plays(tmp_path):
    """A chain of three entries (a pattern twice, then another) rendered as it plays live and
    exported: each entry counts its conditions from its own start (1ST plays again), its step 0
    early (6/24) is on its first sample, and its last step's ratchet hit late past the next
    entry's start is not played (step 15: 12/24 late and two ratchets, the second 0.65 of a
    step after the next step's grid)."""
    patterns = {1: two_sides(3), 2: two_sides(9, shift=12)}
    patterns[1].tracks[0].steps[15] = Step(on=True, note=84, micro=12, ratchet=2)
    played = [(entry, entry_pattern(entry, patterns[entry.slot]))
              for entry in (ChainEntry(1, 1), ChainEntry(1, 1), ChainEntry(2, 1))]
    queue = ChainQueue(played)
    result = render(played[0][1], tmp_path / "chain.wav", frames=entry_onsets(played, SR)[-1], sr=SR,
                    buffer=256, float32=True, schedule={0: queue.first()}, react=queue.react,
                    loads=[pattern for _, pattern in played[1:]])
    midi = export_midi([ExportEntry(pattern, steps)
                        for (_, pattern), steps in zip(played, chain_steps(played), strict=True)])
    assert_notes_where_it_sounds(read_wav(result.path), midi)
