"""Files of the original Music Chronus: every field with a place in the model arrives,
and the rest is reported, never lost silently."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.damage import damage

from chronus_tui.model import PatternError, hz_to_midi, steps_text
from chronus_tui.patternfile import dumps, loads, pattern_from_dict, pattern_to_dict


def load(legacy_dir, name: str):
    dropped: list[str] = []
    pattern = loads((legacy_dir / name).read_bytes(), dropped=dropped)
    return pattern, dropped


def original(legacy_dir, name: str) -> dict:
    return json.loads((legacy_dir / name).read_text())


def test_slot_001_sequencer(legacy_dir):
    pattern, _ = load(legacy_dir, "slot_001.json")
    assert pattern.bpm == 125.0 and pattern.swing == 0.0
    assert pattern.saved_at == "2025-09-07T16:42:53Z"  # the original's timestamp 1757263373.3
    assert [(t.name, t.voice, t.length, t.gate) for t in pattern.tracks] == [
        ("kick", "voice1", 16, 0.5), ("hats", "voice3", 16, 0.5), ("bass", "voice2", 16, 0.5)]
    kick, hats, bass = pattern.tracks
    assert steps_text(kick.steps) == "X...X...X...X..."
    assert all(s.accent for s in kick.steps if s.on)  # X is an accented hit
    assert steps_text(hats.steps) == "..x...x...x...x."
    assert not any(s.accent for s in hats.steps)  # x is a plain hit
    assert steps_text(bass.steps) == "x.x.X...x.x.X..."
    assert [i for i, s in enumerate(bass.steps) if s.accent] == [4, 12]
    assert all(s.note is None and not s.slide for t in pattern.tracks for s in t.steps)  # no notes lists


def test_slot_001_voices_take_the_tracks_settings_as_on_every_hit(legacy_dir):
    pattern, dropped = load(legacy_dir, "slot_001.json")
    v1, v2, v3, v4 = (pattern.modules[f"voice{i}"] for i in range(1, 5))
    # the track's base_freq / base_amp / filter_freq were sent to its voice on every hit
    assert (v1["freq"], v1["amp"], v1["filter/freq"]) == (55.0, 0.3, 200.0)
    assert (v2["freq"], v2["amp"], v2["filter/freq"]) == (440.0, 0.3, 1500.0)
    assert (v3["freq"], v3["amp"], v3["filter/freq"]) == (5000.0, 0.3, 8000.0)  # 8000 / 12000 clamped
    assert "sequencer.tracks.hats.base_freq (8000 clamped to 5000)" in dropped
    assert "sequencer.tracks.hats.filter_freq (12000 clamped to 8000)" in dropped
    # a voice no track plays keeps its module settings
    assert (v4["freq"], v4["amp"], v4["filter/freq"], v4["filter/q"]) == (440.0, 0.3, 1000.0, 2.0)
    # the module's own fields
    assert v1["filter/q"] == 2.0 and v1["send/reverb"] == 0.0 and v1["send/delay"] == 0.0
    assert (v1["adsr/attack"], v1["adsr/decay"], v1["adsr/sustain"], v1["adsr/release"]) == (
        0.01, 0.1, 0.7, 0.20000000298023224)
    assert v3["adsr/decay"] == 0.05000000074505806 and v2["adsr/release"] == 0.5
    acid = pattern.modules["acid1"]
    assert acid == {"cutoff": 800.0, "res": 0.6000000238418579, "env_amount": 3000.0, "decay": 0.25,
                    "drive": 0.2, "mix": 1.0, "vol_comp": 0.5, "accent": 0.5,
                    "cutoff_offset": 500.0, "res_accent_boost": 0.3, "accent_decay": 0.08}  # not in the file
    assert pattern.modules["reverb1"] == {"mix": 0.20000000298023224, "room": 0.5, "damp": 0.5}
    assert pattern.modules["delay1"] == {"time": 0.25, "feedback": 0.4, "mix": 0.3, "lowcut": 100.0,
                                         "highcut": 5000.0}


def test_slot_001_reports_what_it_drops(legacy_dir):
    _, dropped = load(legacy_dir, "slot_001.json")
    text = "\n".join(dropped)
    for field in ("modules.acid1.accent_disabled", "sequencer.running", "sequencer.global_step",
                  "sequencer.tracks.kick.accent_boost", "sequencer.tracks.bass.note_index"):
        assert field in text
    # ids that only name the module are not data, so they are not reported
    assert "voice_id" not in text and "module_id" not in text


def test_slot_002_sequencer_and_notes(legacy_dir):
    pattern, dropped = load(legacy_dir, "slot_002.json")
    assert pattern.bpm == 174.0 and pattern.swing == 0.05000000074505806
    assert [(t.name, t.voice) for t in pattern.tracks] == [
        ("kick", "voice1"), ("snare", "voice3"), ("hats", "voice4"), ("acid", "voice2")]
    assert [steps_text(t.steps) for t in pattern.tracks] == [
        "X.....x.x...X.X.", "....X...x.x.XxXx", "xxxxxxxxxxxxxxxx", "x.x.X...X.X.X.X."]
    acid = pattern.track("acid")
    hz = original(legacy_dir, "slot_002.json")["sequencer"]["tracks"]["acid"]["notes"]
    hits = [i for i, s in enumerate(acid.steps) if s.on]
    assert hits == [0, 2, 4, 8, 10, 12, 14]
    # Hz onto the hits in order, cycling as the original did: G1 A1 B1 D2 E2 F2, then G1 again
    assert [acid.steps[i].note for i in hits] == [31, 33, 35, 38, 40, 41, 31]
    assert [acid.steps[i].note for i in hits] == [hz_to_midi(hz[k % len(hz)]) for k in range(len(hits))]
    assert all(s.note is None for s in acid.steps if not s.on)
    assert [i for i in hits if acid.steps[i].accent] == [4, 8, 10, 12, 14]
    assert any("sequencer.tracks.acid.notes (6 notes over 7 hits" in d for d in dropped)


def test_slot_002_voice_and_effect_settings(legacy_dir):
    pattern, _ = load(legacy_dir, "slot_002.json")
    m = pattern.modules
    assert [m[f"voice{i}"]["osc/type"] for i in range(1, 9)] == [0, 1, 3, 3, 2, 1, 0, 5]
    assert isinstance(m["voice2"]["osc/type"], int)
    v2 = m["voice2"]
    # notes set the acid's pitch, so its base_freq (41.2) never sounded: the module freq stays
    assert v2["freq"] == 55.0 and v2["filter/freq"] == 800.0 and v2["amp"] == 0.3
    assert v2["slide_time"] == 0.05000000074505806 and v2["filter/q"] == 4.0
    assert v2["adsr/decay"] == 0.20000000298023224
    v1 = m["voice1"]
    assert (v1["freq"], v1["amp"], v1["filter/freq"]) == (440.0, 0.3, 1000.0)  # from the kick track
    assert v1["adsr/attack"] == 0.0010000000474974513 and v1["adsr/sustain"] == 0.05000000074505806
    assert m["voice4"]["adsr/decay"] == 0.004999999888241291 and m["voice4"]["adsr/sustain"] == 0.0
    # voices no track plays keep their module settings
    assert (m["voice5"]["freq"], m["voice5"]["amp"], m["voice5"]["slide_time"]) == (
        698.46, 0.18, 0.07999999821186066)
    assert (m["voice7"]["adsr/attack"], m["voice7"]["adsr/release"]) == (0.5, 1.0)
    assert (m["voice8"]["filter/freq"], m["voice8"]["filter/q"]) == (650.0, 8.0)
    assert m["acid1"] == {"cutoff": 800.0, "res": 0.699999988079071, "env_amount": 2500.0, "decay": 0.25,
                          "drive": 0.20000000298023224, "mix": 1.0, "vol_comp": 0.5, "accent": 0.5,
                          "cutoff_offset": 500.0, "res_accent_boost": 0.3, "accent_decay": 0.08}
    assert m["dist1"] == {"drive": 0.10000000149011612, "mix": 0.15000000596046448,
                          "tone": 0.4000000059604645}
    assert m["reverb1"] == {"mix": 0.5, "room": 0.800000011920929, "damp": 0.4000000059604645}
    assert m["delay1"] == {"time": 0.17599999904632568, "feedback": 0.699999988079071,
                           "mix": 0.4000000059604645, "lowcut": 100.0, "highcut": 3500.0}
    assert m["lfo1"] == {"rate": 1.0, "depth": 0.699999988079071}
    assert m["lfo2"] == {"rate": 8.0, "depth": 0.4000000059604645}
    assert m["master"] == {"volume": 0.8}


@pytest.mark.parametrize("name", ["slot_001.json", "slot_002.json"])
def test_import_round_trips_byte_exact(legacy_dir, name):
    pattern, _ = load(legacy_dir, name)
    text = dumps(pattern_to_dict(pattern))
    again = loads(text)
    assert again == pattern
    assert dumps(pattern_to_dict(again)) == text


def legacy_dict(legacy_dir) -> dict:
    return copy.deepcopy(original(legacy_dir, "slot_002.json"))


def test_two_tracks_on_one_voice_report_the_second(legacy_dir):
    data = legacy_dict(legacy_dir)
    data["sequencer"]["tracks"]["hats"]["voice_id"] = "voice1"
    data["sequencer"]["tracks"]["hats"]["filter_freq"] = 4000.0
    dropped: list[str] = []
    pattern = pattern_from_dict(data, dropped=dropped)
    assert pattern.modules["voice1"]["filter/freq"] == 1000.0  # the kick track's, first on voice1
    assert any(d.startswith("sequencer.tracks.hats.filter_freq (voice1 already takes its settings "
                            "from track 'kick')") for d in dropped)


def test_unknown_modules_and_fields_are_reported(legacy_dir):
    data = legacy_dict(legacy_dir)
    data["modules"]["chorus1"] = {"depth": 0.5}
    data["modules"]["voice6"]["unison"] = 3
    data["modules"]["voice6"]["adsr"]["hold"] = 0.1
    data["modules"]["voice6"]["waveform"] = 9
    data["author"] = "someone"
    dropped: list[str] = []
    pattern = pattern_from_dict(data, dropped=dropped)
    assert pattern.modules["voice6"]["osc/type"] == 5
    for fragment in ("modules.chorus1 (no such module here)", "modules.voice6.unison (unknown field)",
                     "modules.voice6.adsr.hold (unknown field)", "modules.voice6.waveform (9 clamped to 5)",
                     "author (unknown field)"):
        assert fragment in dropped


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(schema_version="2.0"), "schema_version: '2.0' is not a known original format"),
    (lambda d: d["sequencer"]["tracks"]["acid"].update(notes=[55.0, "A1"]),
     "sequencer.tracks.acid.notes[1]: 'A1' is not a frequency"),
    (lambda d: d["sequencer"]["tracks"]["acid"].update(notes=[0.0]),
     "sequencer.tracks.acid.notes[0]: 0.0 is not a frequency"),
    (lambda d: d["sequencer"]["tracks"]["acid"].update(notes=[10**400]),
     "sequencer.tracks.acid.notes[0]: 1000"),
    (lambda d: d["sequencer"]["tracks"]["acid"].update(notes="55,61"),
     "sequencer.tracks.acid.notes: expected a list of frequencies"),
    (lambda d: d["sequencer"]["tracks"]["acid"].update(pattern=""),
     "sequencer.tracks.acid.pattern: length 0 is out of range 1–64"),
    (lambda d: d["sequencer"]["tracks"]["acid"].update(voice_id=["voice2"]),
     "sequencer.tracks[3].voice: ['voice2'] is not a voice"),
    (lambda d: d["sequencer"]["tracks"]["acid"].update(voice_id="voice9"),
     "sequencer.tracks[3].voice: 'voice9' is not a voice"),
    (lambda d: d["sequencer"].update(bpm="fast"), "sequencer.bpm: 'fast' is not a number"),
    (lambda d: d["sequencer"].update(bpm=10**400), "sequencer.bpm: 1000"),
    (lambda d: d["sequencer"].update(tracks=[]), "sequencer.tracks: expected an object of tracks"),
    (lambda d: d["sequencer"]["tracks"].update(kick="x..."), "sequencer.tracks.kick: expected an object"),
    (lambda d: d["modules"]["voice1"].update(amp="loud"), "modules.voice1.amp: 'loud' is not a number"),
    (lambda d: d["modules"]["voice1"]["adsr"].update(decay=None), "modules.voice1.adsr.decay: None is not"),
    (lambda d: d.update(sequencer=[]), "sequencer: expected objects for sequencer and modules"),
])
def test_bad_original_files_name_the_field(legacy_dir, change, message):
    data = legacy_dict(legacy_dir)
    change(data)
    with pytest.raises(PatternError) as info:
        pattern_from_dict(data, dropped=[])
    assert str(info.value).startswith(message), str(info.value)


def test_out_of_range_values_are_clamped_and_reported(legacy_dir):
    data = legacy_dict(legacy_dir)
    data["sequencer"]["bpm"] = 400.0
    data["sequencer"]["swing"] = 0.9
    data["sequencer"]["tracks"]["kick"]["gate_frac"] = 2.0
    dropped: list[str] = []
    pattern = pattern_from_dict(data, dropped=dropped)
    assert (pattern.bpm, pattern.swing, pattern.tracks[0].gate) == (300.0, 0.6, 1.0)
    assert {"sequencer.bpm (400 clamped to 300)", "sequencer.swing (0.9 clamped to 0.6)",
            "sequencer.tracks.kick.gate_frac (2 clamped to 1)"} <= set(dropped)


def test_minimal_original_file(legacy_dir):
    pattern = pattern_from_dict({"schema_version": "1.0", "sequencer": {"tracks": {
        "t": {"voice_id": "voice3", "pattern": "x.X."}}}}, dropped=[])
    assert pattern.bpm == 120.0 and pattern.tracks[0].name == "t" and pattern.saved_at is None
    assert steps_text(pattern.tracks[0].steps) == "x.X."


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # legacy_dir is a constant path
@given(st.data())
def test_any_damage_to_an_original_file_gives_a_pattern_error_or_a_pattern(legacy_dir, data):
    document = legacy_dict(legacy_dir)
    damage(document, data)
    try:
        pattern = pattern_from_dict(document, dropped=[])
    except PatternError as exc:
        assert str(exc)
        return
    assert loads(dumps(pattern_to_dict(pattern))) == pattern


def test_the_repository_copy_matches_the_shared_fixtures(legacy_dir):
    shared = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "legacy"
    if not shared.is_dir():
        pytest.skip(f"no shared fixtures beside this clone at {shared}")
    for original in sorted(shared.glob("*.json")):
        assert (legacy_dir / original.name).read_bytes() == original.read_bytes()
