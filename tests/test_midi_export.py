"""SMF export (chronus_tui/midiexport.py, `chronus export-midi`, `/pattern/export_midi`): every
file is read back with mido and its notes checked against the pattern, worked out here from
the rules (a 16th is 120 ticks, odd steps late by swing × 60 ticks, …), not from the exporter."""

from __future__ import annotations

import os
import shutil

import mido
import platformdirs
import pretty_midi
import pytest
from support.fakes import FakeEngine
from support.headless import run_console
from support.midi import Heard, exported, heard, one_track, read
from support.osc import OscClient, osc_fixture  # noqa: F401

from chronus_tui import midiexport, patternfile
from chronus_tui.cli import main
from chronus_tui.midiexport import ExportEntry, ExportError, export_midi
from chronus_tui.model import PLAIN_VELOCITY, Pattern, Step, Track, hz_to_midi, parse_steps
from chronus_tui.osc.server import serve_in_thread
from chronus_tui.session import Session
from chronus_tui.store import SlotStore, factory_patterns, load_file


def test_steps_land_on_the_swung_grid_and_last_their_gate():
    """Swing 0.4 moves odd steps 0.2 of a step late (24 ticks); the gate 0.9 (108 ticks) ends
    by the next hit, as the engine closes a gate before it: an odd step's after 96 ticks."""
    steps = [Step(on=True, note=40 + i) for i in range(16)]
    notes = heard(exported(one_track(steps, swing=0.4, gate=0.9), bars=2))["lead"]
    assert [n.start for n in notes] == [n * 120 + (24 if n % 2 else 0) for n in range(32)]
    assert [n.length for n in notes] == [96 if n % 2 else 108 for n in range(32)]
    assert [n.pitch for n in notes] == [40 + n % 16 for n in range(32)]
    assert {n.channel for n in notes} == {0}
    plain = heard(exported(one_track(steps, gate=0.25)))["lead"]
    assert {n.length for n in plain} == {30}
    assert [n.start for n in plain] == [n * 120 for n in range(16)]


def test_a_step_without_a_note_plays_the_voices_freq():
    notes = heard(exported(one_track(parse_steps("x..............."), voice="voice3", freq=110.0)))["lead"]
    assert notes == [Heard(0, 60, 45, 76, 2)]  # 110 Hz is A2, MIDI 45; voice3 is channel 3


def test_each_track_of_a_polymeter_plays_its_own_length_through_the_bars():
    pattern = Pattern(name="poly", tracks=[
        Track("three", "voice1", parse_steps("x..")),
        Track("five", "voice2", parse_steps("x...x")),
        Track("twenty", "voice3", parse_steps("x" + "." * 18 + "x")),
    ])
    assert midiexport.default_bars(pattern) == 2  # 20 steps round up to two bars
    tracks = heard(exported(pattern, bars=2))
    assert [n.start // 120 for n in tracks["three"]] == list(range(0, 32, 3))
    assert [n.start // 120 for n in tracks["five"]] == [n for n in range(32) if n % 5 in (0, 4)]
    assert [n.start // 120 for n in tracks["twenty"]] == [0, 19, 20]
    names = [next(m.name for m in t if m.type == "track_name") for t in exported(pattern).tracks]
    assert names == ["poly", "three", "five", "twenty"]  # the tempo track, then the tracks in order


def test_velocity_matches_the_engines_accent_levels_and_the_track_level():
    assert round(127 * PLAIN_VELOCITY) == 76  # the engine's accent ratio, in velocities
    notes = heard(exported(one_track(parse_steps("xX"))))["lead"]
    assert [n.velocity for n in notes] == [76, 127] * 8
    half = heard(exported(one_track(parse_steps("xX"), level=0.5)))["lead"]
    assert [n.velocity for n in half] == [38, 64] * 8
    faint = heard(exported(one_track(parse_steps("x"), level=0.001)))["lead"]
    assert {n.velocity for n in faint} == {1}  # still heard: velocity 0 would be a note-off


def test_a_slide_overlaps_the_next_note_and_runs_into_the_same_pitch():
    steps = [Step(on=True, note=36, slide=True), Step(), Step(on=True, note=48), Step(),
             Step(on=True, note=40, slide=True), Step(on=True, note=40), *[Step()] * 10]
    notes = heard(exported(one_track(steps)))["lead"]
    # 36 slides to 48: held through the rest and 30 ticks into the next note (legato)
    assert notes[0] == Heard(0, 2 * 120 + midiexport.SLIDE_OVERLAP, 36, 76, 0)
    assert notes[1] == Heard(240, 60, 48, 76, 0)
    # 40 slides into 40: the engine glides without a new attack, so one note to the gate's end
    assert notes[2] == Heard(480, 120 + 60, 40, 76, 0)
    assert len(notes) == 3


def test_a_slide_with_no_hit_after_it_holds_to_the_end():
    notes = heard(exported(one_track([Step(on=True, note=50, slide=True), Step()]), bars=2))["lead"]
    assert notes == [Heard(0, 2 * 1920, 50, 76, 0)]  # it slides into itself: one held note


def test_muted_and_unsoloed_tracks_export_no_notes_but_keep_their_track():
    pattern = Pattern(name="m", tracks=[Track("a", "voice1", parse_steps("x"), mute=True),
                                        Track("b", "voice2", parse_steps("x")),
                                        Track("c", "voice3", parse_steps("x"), level=0.0)])
    tracks = heard(exported(pattern))
    assert (len(tracks["a"]), len(tracks["b"]), tracks["c"]) == (0, 16, [])
    pattern.tracks[1].solo = True
    pattern.tracks[0].mute = False
    tracks = heard(exported(pattern))
    assert (tracks["a"], len(tracks["b"])) == ([], 16)


@pytest.mark.parametrize("name,filter_freq,note", [
    ("kick", 1000.0, 36), ("BD", 1000.0, 36), ("snare", 1000.0, 38), ("sd 2", 1000.0, 38),
    ("clap", 1000.0, 39), ("hat", 1000.0, 42), ("hihat", 1000.0, 42), ("hh", 1000.0, 42),
    ("open hat", 1000.0, 46), ("perc", 200.0, 36), ("perc", 1000.0, 38), ("perc", 5000.0, 42),
])
def test_noise_voices_are_drums_on_channel_10_with_gm_notes(name, filter_freq, note):
    pattern = one_track(parse_steps("x"), voice="voice4", name=name, **{"osc/type": 3.0,
                                                                        "filter/freq": filter_freq})
    assert {(n.pitch, n.channel) for n in heard(exported(pattern))[name]} == {(note, 9)}


def test_a_drum_step_with_a_note_keeps_it_and_a_sine_kick_stays_on_its_voice():
    drum = one_track([Step(on=True, note=49)], voice="voice5", name="crash", **{"osc/type": 5.0})
    assert heard(exported(drum))["crash"][0].pitch == 49 and heard(exported(drum))["crash"][0].channel == 9
    sine_kick = one_track(parse_steps("x"), name="kick", freq=55.0)  # voice1 sine: not noise
    assert {(n.pitch, n.channel) for n in heard(exported(sine_kick))["kick"]} == {(hz_to_midi(55.0), 0)}


def test_cents_bend_the_note_and_are_reset_after_it():
    steps = [Step(on=True, note=60, cents=25.0), Step(on=True, note=62, cents=-50.0), Step(on=True, note=64),
             *[Step()] * 13]
    track = exported(one_track(steps)).tracks[1]
    now, events = 0, []
    for message in track:
        now += message.time
        if message.type in ("pitchwheel", "note_on", "note_off"):
            events.append((now, message.type, getattr(message, "pitch", getattr(message, "note", None))))
    assert events == [
        (0, "pitchwheel", 1024), (0, "note_on", 60), (60, "note_off", 60), (60, "pitchwheel", 0),
        (120, "pitchwheel", -2048), (120, "note_on", 62), (180, "note_off", 62), (180, "pitchwheel", 0),
        (240, "note_on", 64), (300, "note_off", 64),
    ]


def test_entries_play_back_to_back_with_a_tempo_change_at_each_new_tempo():
    first = Pattern(name="one", bpm=120.0, tracks=[Track("kick", "voice1", parse_steps("x..."))])
    second = Pattern(name="two", bpm=90.0, tracks=[Track("bass", "voice2", parse_steps("x" + "." * 20)),
                                                   Track("kick", "voice1", parse_steps("..x."))])
    midi = export_midi([ExportEntry(first, 32), ExportEntry(second, 48), ExportEntry(second, 16, bpm=90.0),
                        ExportEntry(first, 16, bpm=140.0)])
    assert midi.type == 1 and midi.ticks_per_beat == 480
    now, meta = 0, []
    for message in midi.tracks[0]:
        now += message.time
        if message.type in ("set_tempo", "time_signature"):
            meta.append((now, message.type, getattr(message, "tempo", None) or
                         (message.numerator, message.denominator)))
    assert meta == [(0, "time_signature", (4, 4)), (0, "set_tempo", 500000),
                    (2 * 1920, "set_tempo", mido.bpm2tempo(90)), (6 * 1920, "set_tempo", mido.bpm2tempo(140))]
    tracks = heard(midi)
    assert list(tracks) == ["kick", "bass"]
    kick = [n.start // 120 for n in tracks["kick"]]
    assert kick == [*range(0, 32, 4), *range(32 + 2, 96, 4), *range(96, 112, 4)]
    # the second entry's step 0 on its bar line (bar 2): a 21-step bass from there, and again
    # from step 0 when the third entry starts (bar 5)
    assert [n.start // 120 for n in tracks["bass"]] == [32, 53, 74, 80]
    assert sum(m.time for m in midi.tracks[0]) == 7 * 1920  # every track ends at the last bar line
    assert {sum(m.time for m in t) for t in midi.tracks} == {7 * 1920}


@pytest.mark.parametrize("bars", [0, 1025, 2.5, True])
def test_a_bar_count_out_of_range_is_refused(bars):
    with pytest.raises(ExportError, match="1–1024"):
        exported(Pattern(tracks=[Track("a", "voice1", parse_steps("x"))]), bars=bars)


def test_a_second_reader_loads_the_file_with_the_same_notes_and_times(tmp_path):
    """pretty_midi, an independent reader, finds every note at the time the tempo gives."""
    pattern = load_file(next(p for p in factory_patterns() if p.stem == "acid"))
    pattern.swing = 0.3
    path = tmp_path / "acid.mid"
    midiexport.save(exported(pattern, bars=4), path)
    ours = [n for notes in heard(read(path)).values() for n in notes]
    other = [n for instrument in pretty_midi.PrettyMIDI(str(path)).instruments for n in instrument.notes]
    assert len(other) == len(ours) > 0
    seconds_per_tick = mido.bpm2tempo(pattern.bpm) / 1e6 / 480  # the file's tempo: whole µs a beat
    assert sorted(n.start for n in other) == pytest.approx(sorted(n.start * seconds_per_tick for n in ours))
    assert sorted(n.end - n.start for n in other) == \
        pytest.approx(sorted(n.length * seconds_per_tick for n in ours))


def test_saving_replaces_the_file_atomically_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "out.mid"
    path.write_bytes(b"old")
    midiexport.save(exported(one_track(parse_steps("x"))), path)
    assert len(heard(read(path))["lead"]) == 16
    assert os.listdir(tmp_path) == ["out.mid"]
    with pytest.raises(ExportError, match="cannot write"):
        midiexport.save(exported(one_track(parse_steps("x"))), tmp_path / "missing" / "out.mid")


# -- the command line -----------------------------------------------------------------------


def test_export_a_slot_through_the_console_script(tmp_path):
    steps = [Step(on=True, accent=i % 4 == 0, note=48 + i) for i in range(8)]
    pattern = Pattern(name="slot three", tracks=[Track("arp", "voice2", steps)])
    SlotStore(tmp_path).save(3, patternfile.pattern_to_dict(pattern))
    out = tmp_path / "slot.mid"
    result = run_console("export-midi", "3", "-o", str(out), "--bars", "2", "--patterns-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{out}: 2 bars of 'slot three' at 120 bpm, 1 tracks, 32 notes"
    notes = heard(read(out))["arp"]  # 8 steps, four times in two bars; voice2 on channel 2
    assert [(n.start, n.length, n.pitch, n.velocity, n.channel) for n in notes] == \
        [(k * 960 + i * 120, 60, 48 + i, 127 if i % 4 == 0 else 76, 1) for k in range(4) for i in range(8)]


def test_export_a_library_name_and_an_original_file_with_the_default_bars(tmp_path, legacy_dir, capsys):
    out = tmp_path / "techno.mid"
    assert main(["export-midi", "techno", "-o", str(out), "--patterns-dir", str(tmp_path)]) == 0
    techno = SlotStore(tmp_path).load_library("techno")
    midi = read(out)
    assert sum(m.time for m in midi.tracks[0]) == midiexport.default_bars(techno) * 1920
    assert list(heard(midi)) == [t.name for t in techno.tracks]
    source = tmp_path / "legacy.json"
    shutil.copy(legacy_dir / "slot_001.json", source)
    assert main(["export-midi", str(source), "-o", str(tmp_path / "legacy.mid"),
                 "--patterns-dir", str(tmp_path)]) == 0
    assert "not carried over" in capsys.readouterr().err
    assert heard(read(tmp_path / "legacy.mid"))


@pytest.mark.parametrize("args,message", [
    (["nope", "-o", "{tmp}/x.mid"], "is not a slot number"),
    (["7", "-o", "{tmp}/x.mid"], "A07 is empty"),
    (["demo", "-o", "{tmp}/no/such/x.mid"], "is not a directory"),
    (["demo", "-o", "{tmp}"], "is a directory"),
    (["demo", "-o", "{tmp}/x.mid", "--bars", "0"], "1–1024"),
    (["demo", "-o", "{tmp}/x.mid", "--bars", "1025"], "1–1024"),
])
def test_bad_exports_fail_with_the_reason_and_write_nothing(tmp_path, capsys, args, message):
    argv = ["export-midi", *(a.replace("{tmp}", str(tmp_path)) for a in args),
            "--patterns-dir", str(tmp_path)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("chronus export-midi: ") and message in err
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith((".mid", ".tmp"))]


# -- OSC -----------------------------------------------------------------------------------


def save_one_hit(session, slot: int) -> None:
    pattern = Pattern(tracks=[Track("a", "voice1", parse_steps("x"))])
    session.store.save(slot, patternfile.pattern_to_dict(pattern))


def test_osc_exports_a_slot_into_the_exports_folder(osc, session, patterns_dir):
    _, client = osc
    pattern = Pattern(name="net", tracks=[Track("bass", "voice2", parse_steps("x...x..."))])
    session.store.save(4, patternfile.pattern_to_dict(pattern))
    assert client.ok("/pattern/export_midi", 4, "my set") == [4, "my set.mid", 4]
    assert client.ok("/pattern/export_midi", 4, "again.mid") == [4, "again.mid", 4]
    folder = patterns_dir / "exports"
    assert sorted(os.listdir(folder)) == ["again.mid", "my set.mid"]
    assert [n.start for n in heard(read(folder / "my set.mid"))["bass"]] == [0, 480, 960, 1440]


@pytest.mark.parametrize("name", ["../up", "a/b", "a\\b", "..", ".hidden", "", "x" * 65, "tab\there",
                                  "nul\x00", "c:d"])
def test_osc_refuses_names_that_are_not_plain_file_names(osc, session, patterns_dir, name):
    _, client = osc
    save_one_hit(session, 1)
    assert client.error("/pattern/export_midi", 1, name)
    assert not (patterns_dir / "exports").exists()
    assert not list(patterns_dir.parent.rglob("*.mid"))


def test_osc_refuses_a_linked_exports_folder_and_an_empty_slot(osc, session, patterns_dir, tmp_path):
    _, client = osc
    save_one_hit(session, 1)
    outside = tmp_path / "outside"
    outside.mkdir()
    (patterns_dir / "exports").symlink_to(outside)
    assert "link" in client.error("/pattern/export_midi", 1, "set")
    assert os.listdir(outside) == []
    assert "A09 is empty" in client.error("/pattern/export_midi", 9, "set")
    assert client.error("/pattern/export_midi", 1000, "set")


def test_with_the_default_patterns_folder_exports_go_to_the_user_data_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(platformdirs, "user_data_path", lambda app: tmp_path / app)
    session = Session(SlotStore(tmp_path / "chronus" / "patterns"), FakeEngine())
    save_one_hit(session, 2)
    with serve_in_thread(session) as server:
        client = OscClient(server.port)
        try:
            assert client.ok("/pattern/export_midi", 2, "beside") == [2, "beside.mid", 16]
        finally:
            client.close()
    assert (tmp_path / "chronus" / "exports" / "beside.mid").is_file()
