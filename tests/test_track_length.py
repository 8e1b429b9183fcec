"""Non-destructive track length: a track keeps its steps (up to 64) and its length says how
many play; shortening hides steps, lengthening shows them again, and files keep them."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.osc import osc_fixture  # noqa: F401
from support.patterns import LEGACY_DIR

from chronus_tui.model import Pattern, PatternError, Step, Track, parse_steps
from chronus_tui.patternfile import dumps, loads, pattern_from_dict, pattern_to_dict
from chronus_tui.session import Session
from chronus_tui.store import SlotStore

SIXTEEN = "X.x.x..xX..x.x.X"


def numbered(length: int = 16) -> list[Step]:
    """Steps that all differ (a note each), so a lost, moved or invented step shows."""
    return [Step(on=i % 2 == 0, accent=i % 3 == 0, note=30 + i, slide=i % 5 == 0) for i in range(length)]


def track(length: int = 16) -> Track:
    return Track("bass", "voice2", numbered(length))


# -- the model ----------------------------------------------------------------------------

def test_shortening_hides_steps_and_lengthening_shows_them_again():
    bass = track()
    bass.resize(13)
    assert bass.length == 13 and bass.steps == numbered()[:13] and bass.hidden == numbered()[13:]
    bass.resize(16)
    assert bass.steps == numbered() and bass.hidden == []


def test_lengthening_past_the_stored_steps_adds_rests():
    bass = track()
    bass.resize(13)
    bass.resize(20)
    assert bass.steps == numbered() + [Step()] * 4 and bass.hidden == []
    bass.resize(64)
    assert bass.length == 64 and bass.steps[16:] == [Step()] * 48


def test_sixteen_to_sixty_four_and_back_keeps_the_track_as_it_was():
    bass = track()
    bass.resize(64)
    bass.resize(16)
    assert bass == track()  # the 48 rests added were not kept hidden: they carry nothing


def test_only_trailing_default_rests_are_dropped_from_the_hidden_steps():
    steps = [Step(on=True), Step(), Step(note=40), Step(), Step()]  # a rest with a note is kept
    bass = Track("bass", "voice2", [*steps])
    bass.resize(1)
    assert bass.hidden == [Step(), Step(note=40)]
    bass.resize(5)
    assert bass.steps == steps


def test_sixty_four_steps_stored_at_most():
    bass = track(64)
    bass.resize(1)
    assert len(bass.hidden) == 63
    bass.resize(64)
    assert bass.steps == numbered(64) and bass.hidden == []


@settings(deadline=None)  # a loaded machine must not fail it
@given(st.lists(st.integers(1, 64), min_size=1, max_size=12))
def test_any_resizes_keep_the_invariant_and_return_to_the_start(lengths):
    bass = track(64)
    for length in lengths:
        bass.resize(length)
        assert len(bass.steps) == length and len(bass.steps) + len(bass.hidden) <= 64
        assert not bass.hidden or bass.hidden[-1] != Step()
    bass.resize(64)
    assert bass.steps == numbered(64)  # no step was lost on the way


@pytest.mark.parametrize("length", [0, 65, -1, True, 1.5, "16", None])
def test_resize_refuses_a_length_that_is_not_1_to_64_and_changes_nothing(length):
    bass = track()
    bass.resize(13)
    with pytest.raises(PatternError, match=r"^length: .* is not a whole number 1–64$"):
        bass.resize(length)
    assert bass.steps == numbered()[:13] and bass.hidden == numbered()[13:]


def test_copies_share_no_hidden_step():
    bass = track()
    bass.resize(10)
    pattern = Pattern(tracks=[bass])
    for duplicate in (bass.copy(), pattern.copy().tracks[0]):
        assert duplicate == bass
        duplicate.hidden[0].on = not duplicate.hidden[0].on
        duplicate.resize(16)
        assert bass.hidden == numbered()[10:] and bass.length == 10


# -- the file -----------------------------------------------------------------------------

def shortened_pattern() -> Pattern:
    bass = track(64)
    bass.resize(13)
    return Pattern(name="short", tracks=[bass, Track("kick", "voice1", parse_steps(SIXTEEN))])


def test_a_file_keeps_the_hidden_steps_after_the_playing_ones():
    data = pattern_to_dict(shortened_pattern())
    bass = data["sequencer"]["tracks"][0]
    assert data["schema"] == 2 and bass["length"] == 13 and len(bass["steps"]) == 64
    assert bass["steps"][13] == {"on": False, "accent": False, "note": 43, "slide": False}
    assert data["sequencer"]["tracks"][1]["length"] == len(data["sequencer"]["tracks"][1]["steps"]) == 16


def test_hidden_steps_round_trip_byte_for_byte():
    text = dumps(pattern_to_dict(shortened_pattern()))
    loaded = loads(text)
    assert loaded == shortened_pattern()
    assert loaded.tracks[0].length == 13 and loaded.tracks[0].hidden == numbered(64)[13:]
    assert dumps(pattern_to_dict(loaded)) == text
    assert dumps(pattern_to_dict(shortened_pattern())) == text  # the same pattern, the same bytes


def test_a_slot_keeps_the_hidden_steps(store: SlotStore):
    store.save(3, pattern_to_dict(shortened_pattern()))
    assert store.load(3).tracks == shortened_pattern().tracks


def test_schema_2_length_is_optional_and_trailing_rests_are_not_kept_hidden():
    data = pattern_to_dict(Pattern(tracks=[Track("kick", "voice1", parse_steps(SIXTEEN))]))
    kick = data["sequencer"]["tracks"][0]
    del kick["length"]
    assert pattern_from_dict(data).tracks[0].steps == parse_steps(SIXTEEN)
    kick["length"] = 4
    kick["steps"] += [{"on": False}] * 8
    loaded = pattern_from_dict(data).tracks[0]
    assert loaded.steps == parse_steps(SIXTEEN[:4]) and loaded.hidden == parse_steps(SIXTEEN)[4:]


def schema_1(pattern: Pattern) -> dict:
    data = pattern_to_dict(pattern)
    data["schema"] = 1
    return data


def test_schema_1_files_read_as_before():
    data = schema_1(Pattern(tracks=[Track("kick", "voice1", parse_steps(SIXTEEN))]))
    kick = pattern_from_dict(data).tracks[0]
    assert kick.steps == parse_steps(SIXTEEN) and kick.hidden == []
    del data["sequencer"]["tracks"][0]["length"]
    assert pattern_from_dict(data).tracks[0].length == 16


def test_schema_1_still_refuses_a_length_that_differs_from_its_steps():
    data = schema_1(Pattern(tracks=[Track("kick", "voice1", parse_steps(SIXTEEN))]))
    for length in (13, 20):
        data["sequencer"]["tracks"][0]["length"] = length
        with pytest.raises(PatternError, match=rf"^sequencer.tracks\[0\].length: {length} does not match 16"):
            pattern_from_dict(data)


def test_files_of_the_original_read_as_before():
    for path in sorted(LEGACY_DIR.glob("*.json")):
        pattern = loads(path.read_bytes(), dropped=[])
        assert pattern.tracks and all(t.hidden == [] for t in pattern.tracks), path.name
        written = pattern_to_dict(pattern)
        assert all(t["length"] == len(t["steps"]) for t in written["sequencer"]["tracks"]), path.name


def test_validation_leaves_its_input_as_it_was():
    data = pattern_to_dict(shortened_pattern())
    before = copy.deepcopy(data)
    pattern_from_dict(data)
    assert data == before


# -- the session, the engine and the routes --------------------------------------------------

def with_bass(session: Session) -> None:
    session.add_track("bass", "voice2", SIXTEEN)
    for i in range(16):
        session.set_step("bass", i, note=30 + i)


def test_session_16_to_13_to_16_keeps_the_steps(session: Session):
    with_bass(session)
    before = session.pattern.track("bass").steps[:]
    session.set_length("bass", 13)
    assert session.pattern.track("bass").steps == before[:13]
    session.set_length("bass", 16)
    assert session.pattern.track("bass").steps == before


def test_session_16_to_64_to_16_keeps_the_track(session: Session):
    with_bass(session)
    before = session.pattern.track("bass").copy()
    session.set_length("bass", 64)
    assert session.pattern.track("bass").steps[16:] == [Step()] * 48
    session.set_length("bass", 16)
    assert session.pattern.track("bass") == before


def test_a_saved_short_track_loads_back_with_its_hidden_steps(session: Session, store: SlotStore):
    with_bass(session)
    before = session.pattern.track("bass").steps[:]
    session.set_length("bass", 5)
    session.save_slot(3)
    session.set_length("bass", 16)
    session.update_pattern("bass", "x")  # the live track forgets; the file must not
    session.load_slot(3, "now")
    assert session.pattern.track("bass").steps == before[:5]
    session.set_length("bass", 16)
    assert session.pattern.track("bass").steps == before
    assert store.load(3).track("bass").hidden == before[5:]


def test_a_pattern_string_is_the_whole_track(session: Session):
    """/seq/update/pattern and /seq/add: the string sets the steps and the length; the steps
    hidden before do not come back when the track grows."""
    session.apply_snapshot(pattern_to_dict(shortened_pattern()), "now")
    session.update_pattern("bass", "x.x.")
    assert session.pattern.track("bass").hidden == []
    session.set_length("bass", 8)
    assert session.pattern.track("bass").steps[4:] == [Step()] * 4
    session.apply_snapshot(pattern_to_dict(shortened_pattern()), "now")
    session.add_track("bass", "voice2", "x.x.")
    assert session.pattern.track("bass").hidden == []


def test_the_engine_is_sent_and_plays_only_the_playing_steps(session: Session, engine):
    session.apply_snapshot(pattern_to_dict(shortened_pattern()), "now")
    sent = engine.sent[-1].pattern.tracks[0]
    assert sent.length == 13 and sent.hidden == numbered(64)[13:]  # kept for the next resize


def test_seq_status_reports_only_the_playing_steps(osc, session: Session):
    _, client = osc
    session.apply_snapshot(pattern_to_dict(shortened_pattern()), "now")
    bass, kick = client.query("/seq/status")["tracks"]
    assert bass["length"] == 13 and bass["notes"] == list(range(30, 43))
    assert bass["pattern"] == "".join("X" if i % 6 == 0 else "x" if i % 2 == 0 else "." for i in range(13))
    assert kick["pattern"] == SIXTEEN
    assert session.pattern.track("bass").hidden == numbered(64)[13:]  # held, not reported
