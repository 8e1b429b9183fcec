"""Issue 18 at run time: the engine's graph under random expressive patterns and commands,
and the OSC routes of expressive steps as a script (or a hostile sender) uses them."""

from __future__ import annotations

import random

import pytest
from support.expressive import set_step
from support.graph import run_random_commands
from support.osc import OscClient, osc_fixture  # noqa: F401
from support.render import click_pattern, pattern_of

from chronus_tui.engine.protocol import (
    CancelQueued,
    Command,
    ReplacePattern,
    ReplaceTrack,
    SetFill,
    SetParam,
    SetTempo,
    SetTransport,
)
from chronus_tui.model import (
    CONDITION_NAMES,
    MAX_CYCLE,
    MAX_LOCKS,
    MICRO_SPEC,
    RATCHET_SPEC,
    SEED_SPEC,
    VOICES,
    Pattern,
    Track,
    lock_spec,
    lockable_params,
    parse_steps,
)
from chronus_tui.osc.server import OscServer
from chronus_tui.session import Session

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CONDITIONS = (None, *CONDITION_NAMES, *(f"{a}:{b}" for b in range(1, MAX_CYCLE + 1) for a in range(1, b + 1)))


def random_expressive_pattern(rng: random.Random) -> Pattern:
    """One to eight tracks (voice2 often, for the acid locks) of random lengths, most steps
    on, each with a random probability, condition, micro-timing, ratchets and locks (amp
    and acid1/* among them), some tracks muted or soloed, a random seed and tempo."""
    tracks = {}
    for _ in range(rng.randrange(1, 9)):
        steps = "".join(rng.choice("xxX.~") for _ in range(rng.choice((1, 3, 7, 16, 16, 32, 64))))
        name = f"t{rng.randrange(12)}"
        tracks[name] = (name, rng.choice((*VOICES, "voice2", "voice2")), steps.replace("~", "x"))
    pattern = pattern_of(click_pattern(list(tracks.values()), bpm=rng.uniform(60, 300),
                                       swing=rng.uniform(0, 0.6)))
    pattern.seed = rng.randrange(SEED_SPEC.high + 1)
    for track in pattern.tracks:
        track.mute, track.solo = rng.random() < 0.1, rng.random() < 0.05
        for index, step in enumerate(track.steps):
            if not step.on or rng.random() < 0.2:
                continue
            lockable = lockable_params(track.voice)
            keys = rng.sample(lockable, rng.randrange(0, min(MAX_LOCKS, len(lockable)) + 1))
            if rng.random() < 0.3 and "amp" not in keys:
                keys[:1] = ["amp"]
            locks = {}
            for key in keys:
                spec = lock_spec(track.voice, key)
                value = spec.low + (spec.high - spec.low) * rng.random()
                locks[key] = round(value) if spec.integer else value
            set_step(pattern, track.name, index, prob=rng.choice((0, 1, 50, 99, 100, 100, 100)),
                     cond=rng.choice(CONDITIONS) if rng.random() < 0.4 else None,
                     micro=rng.randint(MICRO_SPEC.low, MICRO_SPEC.high),
                     ratchet=rng.randint(RATCHET_SPEC.low, RATCHET_SPEC.high), locks=locks,
                     slide=rng.random() < 0.2)
    return pattern


def test_random_expressive_patterns_and_commands_keep_every_lane_accounted_for(tmp_path):
    """Random expressive patterns (every condition, micro −23..23, ratchets 1–8, up to 16
    locks with amp and acid1/*, mutes, solos, seeds) loaded in every mode, tracks replaced,
    fill toggled, tempo, voice amp, transport at random for 4000 blocks: no error, nothing
    raises, each lane's counter reads Python's entry, its hits to come are in order, at
    least MIN_HIT_GAP apart and none while stopped."""
    rng = random.Random(18)
    seen: set[tuple[int, int]] = set()  # (sample, ratchet) of every hit written

    def command(graph) -> Command | None:
        seen.update((hit.sample, hit.ratchet) for lane in graph.lanes for hit in lane.hits.pending)
        roll = rng.random()
        if roll < 0.03:
            mode = rng.choice(("now", "bar", "step", "edit"))
            return ReplacePattern(random_expressive_pattern(rng), mode, rng.randrange(1, 1000))
        if roll < 0.10 and graph.tracks:
            index = rng.randrange(len(graph.tracks))
            track = random_expressive_pattern(rng).tracks[0]
            track.name = graph.tracks[index].name
            return ReplaceTrack(index, track)
        if roll < (0.104 if graph.clock.playing else 0.12):
            return SetTransport(not graph.clock.playing)
        if roll < 0.14:
            return SetTempo(rng.uniform(20, 300), rng.uniform(0, 0.6))
        if roll < 0.20:
            return SetFill(rng.random() < 0.5)
        if roll < 0.21:
            return SetParam(rng.choice(VOICES), "amp", rng.choice((0.0, 0.01, 0.5, 1.0)))
        return None

    problems, switches = run_random_commands(tmp_path, 16, 4000, command)
    assert problems == []
    assert switches > 20
    assert len(seen) > 400 and len({ratchet for _, ratchet in seen}) == RATCHET_SPEC.high  # it did play


def test_a_cancelled_load_leaves_an_early_hit_of_the_bar_line_played_in_order(tmp_path):
    """A step on the bar line 23/24 early (120 bpm: 5750 samples before the line), a load
    queued for that line, cancelled after the early hit's sample: the lane's hits stay to
    come, in order, and the graph's counter reads the entry Python holds from then on."""
    pattern = pattern_of(click_pattern([("a", "voice1", "x" * 16)]))
    set_step(pattern, "a", 0, micro=MICRO_SPEC.low)
    other = pattern_of(click_pattern([("b", "voice3", "x...")]))
    line = 16 * 6000  # step 16's onset
    early = line - 6000 * 23 // 24
    blocks = {0: ReplacePattern(pattern, "now", 1), 1: SetTransport(True),
              200: ReplacePattern(other, "bar", 2), early // 256 + 2: CancelQueued()}
    block = [0]

    def command(graph) -> Command | None:
        block[0] += 1
        return blocks.get(block[0] - 1)

    problems, _ = run_random_commands(tmp_path, 2, line // 256 + 100, command)
    assert problems == []


@pytest.mark.parametrize("text", ["5_0", "٥٠", "0_5", "１"])
def test_numbers_as_text_are_ascii_decimals(osc: tuple[OscServer, OscClient], session: Session,
                                            text: str) -> None:
    """A number sent as text is what a script writes: `5_0` (which Python's float() reads as 50)
    or another script's digits (`٥٠`) are refused by name in an option, a lock and a tempo,
    and change nothing; the same values written plainly are taken."""
    _, client = osc
    session.apply_snapshot(Pattern(name="osc", tracks=[Track("bass", "voice2", parse_steps("x.x."))]), "now")
    before, entries = session.snapshot(), len(session.history)
    for address, *args in (("/seq/step", "bass", 0, f"prob={text}"),
                           ("/seq/step", "bass", 0, f"micro=-{text}"),
                           ("/seq/step", "bass", 0, f"lock=acid1/res:{text}"), ("/seq/seed", text),
                           ("/seq/bpm", f"1{text}"), ("/seq/level", "bass", text)):
        message = client.error(address, *args)
        assert "is not a number" in message and text in message, message
    assert session.snapshot() == before and len(session.history) == entries
    assert client.ok("/seq/step", "bass", 0, "prob=50", "micro=-5", "lock=acid1/res:0.5")[-3:] == [
        "prob=50", "micro=-5", "lock=acid1/res:0.5"]


@pytest.mark.parametrize("text", ["ﬁll", "!ﬁll", "1ſt", "ɴone"])
def test_a_condition_is_ascii_in_any_case(osc: tuple[OscServer, OscClient], session: Session,
                                          text: str) -> None:
    """`cond=` takes FILL, fill or Fill, but not letters that only str.upper() turns into them
    (the ligature ﬁ, the long ſ): those are refused as sent and change nothing."""
    _, client = osc
    session.apply_snapshot(Pattern(name="osc", tracks=[Track("bass", "voice2", parse_steps("x.x."))]), "now")
    before, entries = session.snapshot(), len(session.history)
    assert f"cond: {text!r} is not a condition" in client.error("/seq/step", "bass", 0, f"cond={text}")
    assert session.snapshot() == before and len(session.history) == entries
    assert client.ok("/seq/step", "bass", 0, "cond=!Fill")[-1] == "cond=!FILL"
    client.ok("/seq/step", "bass", 0, "cond=None")
    assert client.ok("/seq/step/get", "bass", 0)[8] == "none"
