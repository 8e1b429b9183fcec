"""A chain rendered offline, and exported as MIDI: every entry for its own plays, the next one's
step 0 on the line after, to the sample (chain.py says where), as the live ChainPlayer queues it."""

from __future__ import annotations

import dataclasses

import mido
import pytest
from support.render import SR, click_pattern, expected_onset, onsets, pattern_of, read_wav

from chronus_tui.chain import (
    Chain,
    ChainEntry,
    ChainQueue,
    chain_steps,
    entry_onsets,
    entry_pattern,
    parse_chain,
)
from chronus_tui.cli import main
from chronus_tui.engine.protocol import ReplacePattern, Switched
from chronus_tui.midiexport import TICKS_PER_STEP
from chronus_tui.store import SlotStore
from chronus_tui.synth.offline import RenderError, render

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# voice1 is heard on the left only, voice3 on the right only; every pattern has the same
# sound settings, so nothing glides at a switch (a pan change would, over 20 ms)
SIDES = {"voice1": {"pan": -1.0}, "voice3": {"pan": 1.0}}
LEFT = click_pattern([("left", "voice1", "x...x...x...x...")], name="left", voices=SIDES)
RIGHT12 = click_pattern([("right", "voice3", "x..x..x..x..")], name="right 12", voices=SIDES)  # 12-step plays
BOTH = click_pattern([("l", "voice1", "x.x.x.x.x.x.x.x."), ("r", "voice3", "x.......x.......")],
                     swing=0.2, name="both", voices=SIDES)


def three(bpm: float | None = 150.0) -> list[tuple[ChainEntry, object]]:
    """left ×2 (32 steps at 120), right ×3 (3 plays of 12: 36 steps), both ×2 at `bpm` (a song's
    tempo change) with swing 0.2."""
    entries = [ChainEntry(1, 2), ChainEntry(2, 3), ChainEntry(3, 2, bpm=bpm)]
    return [(entry, entry_pattern(entry, pattern_of(data)))
            for entry, data in zip(entries, (LEFT, RIGHT12, BOTH), strict=True)]


def played_render(tmp_path, played, first_block=0, **options):
    """The chain rendered; its first queue goes to the engine with the transport's start (in
    the same block, as a chain started while stopped sends them live), or `first_block` later."""
    queue = ChainQueue(played)
    result = render(played[0][1], tmp_path / "chain.wav", frames=entry_onsets(played, SR)[-1], sr=SR,
                    buffer=256, float32=True, schedule={first_block: queue.first()}, react=queue.react,
                    loads=[pattern for _, pattern in played[1:]], **options)
    audio = read_wav(result.path)
    assert len(audio) == result.frames
    return result, audio


def test_the_chain_s_lines_are_where_the_engine_clock_puts_them():
    played = three()
    assert chain_steps(played) == [32, 36, 32]
    second = expected_onset(32, 120, 0)  # 12-step plays: the third entry starts on step 68, not a bar line
    third = second + expected_onset(36, 120, 0)
    assert entry_onsets(played, SR) == [0, second, third, third + expected_onset(32, 150, 0.2)]


def test_the_chain_queue_loads_each_entry_with_the_length_of_the_one_before_as_its_quantum():
    played = three()
    queue = ChainQueue(played)
    assert queue.first() == [ReplacePattern(played[1][1], "bar", 1, 32)]
    assert queue.react(Switched(1, 5)) == [ReplacePattern(played[2][1], "bar", 2, 36)]
    ending = dataclasses.replace(played[2][1], tracks=[])
    assert queue.react(Switched(2, 9)) == [ReplacePattern(ending, "bar", 3, 32)]  # the last: the silent end
    assert queue.react(Switched(3, 9)) == [] and queue.react(Switched(0, 0)) == []


def test_no_early_hit_of_the_step_after_a_chain_sounds_in_its_render(tmp_path):
    """A chain's render ends as it does live: the step after its last entry does not play,
    not even a hit micro-timed to fall before the chain's end."""
    played = three()
    last = played[2][1]
    steps = last.tracks[0].steps
    early = dataclasses.replace(last.tracks[0], steps=[dataclasses.replace(steps[0], micro=-12), *steps[1:]])
    played[2] = (played[2][0], dataclasses.replace(last, tracks=[early, *last.tracks[1:]]))
    _, audio = played_render(tmp_path, played, tail=0.5)
    third, end = entry_onsets(played, SR)[2:]
    step = SR * 60 // 150 // 4
    found = onsets(audio[:, 0])
    assert third + expected_onset(16, 150, 0.2) - step // 2 in found  # the entry's own early hit plays
    assert not [s for s in found if s > end - step]  # the step after the chain's: not


def test_a_chain_of_three_renders_every_transition_on_its_exact_sample(tmp_path):
    """left ×2, right (12 steps) ×3, then both at 150 bpm with swing: each entry's hits on its
    own grid from its own line, and the switches reported on those samples, 0 samples off."""
    played = three()
    result, audio = played_render(tmp_path, played, tail=0)
    second, third, end = entry_onsets(played, SR)[1:]
    assert result.frames == end  # tail 0: the file ends on the chain's end
    left_hits = [expected_onset(n, 120, 0) for n in range(0, 32, 4)]
    right_hits = [second + expected_onset(n, 120, 0) for n in range(0, 36, 3)]
    both_left = [third + expected_onset(n, 150, 0.2) for n in range(0, 32, 2)]
    both_right = [third + expected_onset(n, 150, 0.2) for n in range(0, 32, 8)]
    assert onsets(audio[:, 0]) == left_hits + both_left
    assert onsets(audio[:, 1]) == right_hits + both_right
    switches = [(event.token, event.sample) for event in result.events if isinstance(event, Switched)]
    assert switches == [(1, second), (2, third)]


@pytest.mark.parametrize("first_block", [0, 1])
def test_the_first_entry_plays_whole_if_the_next_is_queued_with_the_start_or_after(tmp_path, first_block):
    """A "bar" load that reaches the engine in the block the transport starts in waits for the
    line after the playing pattern's first plays, never the step the pattern starts on."""
    played = three()
    result, _ = played_render(tmp_path, played, first_block, tail=0)
    second, third = entry_onsets(played, SR)[1:3]
    switches = [(event.token, event.sample) for event in result.events if isinstance(event, Switched)]
    assert switches == [(1, second), (2, third)]


def test_a_chain_ends_at_its_end_and_only_rings_out_after_it(tmp_path):
    played = three(bpm=None)
    end = entry_onsets(played, SR)[-1]
    result, audio = played_render(tmp_path, played, tail=0.5)
    assert result.frames == end + SR // 2
    last = onsets(audio[:, 0] + audio[:, 1])[-1]
    assert last < end  # no hit after the chain's end: the sequencer stopped on its line
    assert not abs(audio[end + SR // 4:]).max() > 1e-6  # the last click has rung out


def test_a_render_takes_bars_or_frames_never_both(tmp_path):
    pattern = pattern_of(LEFT)
    with pytest.raises(RenderError, match="one of them"):
        render(pattern, tmp_path / "x.wav", bars=1, frames=100)
    with pytest.raises(RenderError, match="one of them"):
        render(pattern, tmp_path / "x.wav")


@pytest.fixture
def chain_slots(tmp_path):
    store = SlotStore(tmp_path)
    for slot, data in ((1, LEFT), (2, RIGHT12), (3, BOTH)):
        store.save(slot, data)
    return tmp_path


def test_chronus_render_renders_a_chain_whole(chain_slots, capsys):
    out = chain_slots / "chain.wav"
    assert main(["render", "A01x2 A02x3 A03×2", "-o", str(out), "--tail", "0",
                 "--patterns-dir", str(chain_slots)]) == 0
    played = [(entry, pattern) for entry, (_, pattern) in zip(parse_chain("A01x2 A02x3 A03x2").entries,
                                                                   three(bpm=None), strict=True)]
    onsets_at = entry_onsets(played, SR)
    audio = read_wav(out)
    assert len(audio) == onsets_at[-1]
    right = onsets(audio[:, 1])
    assert [hit for hit in right if hit < onsets_at[2]] == [onsets_at[1] + n * 6000 for n in range(0, 36, 3)]
    said = capsys.readouterr().out
    assert "the chain A01×2 A02×3 A03×2, 100 steps" in said


@pytest.mark.parametrize("argv, says", [
    (["A01x2 A02", "--bars", "2"], "--bars is for one pattern: a chain or a song renders whole"),
    (["A01 A09"], "the chain A01×1 A09×1: A09 is empty"),
    (["A01x99"], "nor a song or a chain"),
    (["verse"], "nor a song or a chain"),
    (["9"], "A09 is empty"),
])
def test_a_bad_chain_render_says_why_and_writes_nothing(chain_slots, capsys, argv, says):
    out = chain_slots / "bad.wav"
    assert main(["render", *argv, "-o", str(out), "--patterns-dir", str(chain_slots)]) == 1
    assert says in capsys.readouterr().err
    assert not out.exists()


def note_ticks(midi: mido.MidiFile) -> dict[str, list[int]]:
    """Each track's note-on ticks, by track name."""
    ticks: dict[str, list[int]] = {}
    for track in midi.tracks[1:]:
        now = 0
        for message in track:
            now += message.time
            if message.type == "note_on":
                ticks.setdefault(track.name, []).append(now)
    return ticks


def tempo_changes(midi: mido.MidiFile) -> list[tuple[int, float]]:
    """The tempo track's (tick, bpm) changes."""
    now, tempos = 0, []
    for message in midi.tracks[0]:
        now += message.time
        if message.type == "set_tempo":
            tempos.append((now, round(mido.tempo2bpm(message.tempo), 3)))
    return tempos


def test_export_midi_of_a_chain_puts_each_entry_s_notes_where_it_plays(chain_slots, capsys):
    out = chain_slots / "chain.mid"
    assert main(["export-midi", "A01x2 A02x3 A03x2", "-o", str(out), "--patterns-dir", str(chain_slots)]) == 0
    midi = mido.MidiFile(out)
    step = TICKS_PER_STEP
    # both: swing 0.2 moves its odd steps 0.1 of a step (12 ticks) late; it starts on step 68
    assert note_ticks(midi) == {
        "left": [n * step for n in range(0, 32, 4)],
        "right": [(32 + n) * step for n in range(0, 36, 3)],
        "l": [(68 + n) * step + (12 if n % 2 else 0) for n in range(0, 32, 2)],
        "r": [(68 + n) * step for n in range(0, 32, 8)],
    }
    assert sum(message.time for message in midi.tracks[0]) == 100 * step  # the tracks end on the chain's end
    assert "the chain A01×2 A02×3 A03×2, 100 steps" in capsys.readouterr().out


def test_export_midi_of_a_song_like_chain_has_each_entry_s_tempo_at_its_tick(chain_slots):
    from chronus_tui import midiexport

    played = three()
    midi = midiexport.export_midi([midiexport.ExportEntry(pattern, steps)
                                   for (_, pattern), steps in zip(played, chain_steps(played), strict=True)])
    assert tempo_changes(midi) == [(0, 120.0), (68 * TICKS_PER_STEP, 150.0)]


def test_after_an_odd_entry_the_next_starts_on_the_swung_grid_s_odd_step():
    """Three steps of a swung pattern leave the next entry on the engine's step 3, late by the
    swing: its own steps 0, 2, … fall on odd (late) steps of the grid, as the clock plays them."""
    from chronus_tui import midiexport

    odd = entry_pattern(ChainEntry(1), pattern_of(click_pattern([("a", "voice1", "x..")], swing=0.5)))
    after = entry_pattern(ChainEntry(2), pattern_of(click_pattern([("b", "voice1", "xxxx")], swing=0.5)))
    played = [(ChainEntry(1), odd), (ChainEntry(2), after)]
    midi = midiexport.export_midi([midiexport.ExportEntry(odd, 3), midiexport.ExportEntry(after, 4)])
    late = TICKS_PER_STEP // 4  # swing 0.5: a quarter of a step
    assert note_ticks(midi)["b"] == [3 * 120 + late, 4 * 120, 5 * 120 + late, 6 * 120]
    # and the clock: the second entry's step 0 sounds where global step 3 does
    assert entry_onsets(played, SR)[1] == expected_onset(3, 120, 0.5)


# -- a song: a saved chain whose entries may set the tempo and mute tracks ---------------------

SONG = Chain((ChainEntry(1, 2), ChainEntry(2, 3), ChainEntry(3, 2, bpm=150.0, mute=("r",))), loop=False)


def render_song(folder):
    SlotStore(folder).save_song("verse", SONG)
    out = folder / "song.wav"
    assert main(["render", "verse", "-o", str(out), "--tail", "0", "--patterns-dir", str(folder)]) == 0
    return read_wav(out)


def test_chronus_render_renders_a_song_with_its_tempo_change_on_the_entry_s_line(chain_slots, capsys):
    audio = render_song(chain_slots)
    second, third, end = entry_onsets(three(), SR)[1:]  # the third entry at 150 bpm
    assert len(audio) == end
    assert onsets(audio[:, 0]) == [expected_onset(n, 120, 0) for n in range(0, 32, 4)] + \
        [third + expected_onset(n, 150, 0.2) for n in range(0, 32, 2)]
    assert onsets(audio[:, 1])[:12] == [second + n * 6000 for n in range(0, 36, 3)]
    assert "the song 'verse' (A01×2 A02×3 A03×2 once), 100 steps" in capsys.readouterr().out


def test_a_song_entry_s_muted_track_is_not_heard(chain_slots):
    audio = render_song(chain_slots)
    second = entry_onsets(three(), SR)[1]
    assert onsets(audio[:, 1]) == [second + n * 6000 for n in range(0, 36, 3)]  # A03's r muted


def test_export_midi_of_a_song_has_its_tempo_change_at_the_entry_and_its_mutes(chain_slots):
    SlotStore(chain_slots).save_song("verse", SONG)
    out = chain_slots / "song.mid"
    assert main(["export-midi", "verse", "-o", str(out), "--patterns-dir", str(chain_slots)]) == 0
    midi = mido.MidiFile(out)
    assert "r" not in note_ticks(midi) and len(note_ticks(midi)["l"]) == 16
    assert tempo_changes(midi) == [(0, 120.0), (68 * TICKS_PER_STEP, 150.0)]


def test_a_song_with_an_empty_slot_says_which_and_writes_nothing(chain_slots, capsys):
    SlotStore(chain_slots).save_song("bridge", Chain((ChainEntry(1), ChainEntry(12))))
    out = chain_slots / "bridge.mid"
    assert main(["export-midi", "bridge", "-o", str(out), "--patterns-dir", str(chain_slots)]) == 1
    assert "the song 'bridge' (A01×1 A12×1): A12 is empty" in capsys.readouterr().err
    assert not out.exists()
