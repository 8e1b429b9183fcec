"""Expressive steps over OSC on loopback: /seq/step's key=value options, /seq/step/get,
/seq/fill, /seq/seed, /seq/status and what subscribers hear; liblo's oscsend as a client
we did not write; and hostile options, fuzzed, never changing anything they are refused for."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pythonosc.osc_message_builder import build_msg
from support.osc import OscClient, osc_fixture, oscsend, wait_until  # noqa: F401

from chronus_tui.engine.protocol import SetFill
from chronus_tui.model import (
    MAX_LOCKS,
    MAX_NAME,
    Pattern,
    Step,
    Track,
    lock_spec,
    lockable_params,
    parse_steps,
)
from chronus_tui.osc.notify import NOTIFICATIONS
from chronus_tui.osc.routes import MAX_OPTION_TEXT, MAX_STEP_OPTIONS
from chronus_tui.osc.server import MAX_DATAGRAM, OscServer
from chronus_tui.session import Session

Osc = tuple[OscServer, OscClient]


@pytest.fixture
def live(session: Session) -> Session:
    tracks = [Track("kick", "voice1", parse_steps("X...x...")),
              Track("bass", "voice2", parse_steps("x.x.x.x."))]
    session.apply_snapshot(Pattern(name="osc", tracks=tracks), "now")
    return session


def fields(step: Step) -> dict[str, Any]:
    return {"prob": step.prob, "cond": step.cond, "micro": step.micro, "ratchet": step.ratchet,
            "locks": step.locks}


def test_seq_step_options_set_the_fields_in_one_undo(osc: Osc, live: Session) -> None:
    _, client = osc
    reply = client.ok("/seq/step", "bass", 4, 1, "prob=50", "cond=1:4", "micro=-3",
                      "lock=filter/freq:800", "ratchet=3", "lock=acid1/res:0.25")
    assert reply == ["bass", 4, 1, -1, 0, 0, "prob=50", "micro=-3", "ratchet=3", "cond=1:4",
                     "lock=filter/freq:800", "lock=acid1/res:0.25"]
    locks = {"filter/freq": 800.0, "acid1/res": 0.25}
    expected = {"prob": 50, "cond": "1:4", "micro": -3, "ratchet": 3, "locks": locks}
    assert fields(live.pattern.track("bass").steps[4]) == expected
    assert client.ok("/undo", "all")[0] == 1  # the whole message was one edit
    assert live.pattern.track("bass").steps[4] == Step(on=True)


def test_seq_add_over_a_track_says_how_many_locks_its_new_voice_drops(osc: Osc, live: Session) -> None:
    _, client = osc
    client.ok("/seq/step", "bass", 0, "lock=acid1/res:0.25", "lock=filter/freq:800")
    reply = client.ok("/seq/add", "bass", "voice3", "x.x.x.x.")
    assert "1 locks dropped: voice3 cannot take them" in reply
    assert live.pattern.track("bass").steps[0].locks == {"filter/freq": 800.0}
    assert not [r for r in client.ok("/seq/add", "bass", "voice3", "x.x.x.x.") if "dropped" in str(r)]


def test_options_alone_keep_on_note_accent_and_slide(osc: Osc, live: Session) -> None:
    _, client = osc
    client.ok("/seq/step", "bass", 2, 1, "C2", 1, 1)
    assert client.ok("/seq/step", "bass", 2, "prob=25")[:6] == ["bass", 2, 1, 36, 1, 1]
    client.ok("/seq/step", "bass", 2, "lock=amp:0.5", "cond=!fill")  # cond in any case
    client.ok("/seq/step", "bass", 2, "unlock=amp", "cond=none", "prob=100")
    client.ok("/seq/step", "bass", 2, 0)  # the old form: off, and the fields stay
    step = live.pattern.track("bass").steps[2]
    assert (step.on, step.note, step.accent, step.slide) == (False, 36, True, True)
    assert fields(step) == {"prob": 100, "cond": None, "micro": 0, "ratchet": 1, "locks": {}}
    client.ok("/seq/step", "bass", 2, "lock=amp:0.5", "lock=filter/q:3")
    client.ok("/seq/step", "bass", 2, "lock=amp:")  # PARAM: alone removes it
    assert live.pattern.track("bass").steps[2].locks == {"filter/q": 3.0}


@pytest.mark.parametrize(("args", "says"), [
    (("prob=101",), "prob: 101 is out of range 0–100"),
    (("prob=fifty",), "prob: 'fifty' is not a number"),
    (("prob=50.5",), "prob: '50.5' is not a whole number"),
    (("micro=nan",), "micro: 'nan' is not a finite number"),
    (("ratchet=9",), "ratchet: 9 is out of range 1–8"),
    (("cond=9:2",), "cond: '9:2' is not a condition"),
    (("lock=freq:100",), "locks.freq: 'freq' is not a lockable parameter of voice1"),
    (("lock=acid1/res:0.5",), "'acid1/res' is not a lockable parameter of voice1"),
    (("unlock=acid1/res",), "'acid1/res' is not a lockable parameter of voice1"),
    (("lock=filter/freq:1e9",), "locks.filter/freq: 1000000000.0 is out of range 50–8000"),
    (("lock=filter/freq:inf",), "lock: 'inf' is not a finite number"),
    (("lock=amp",), "lock: 'amp' is not PARAM:VALUE"),
    (("lock=amp:0.5", "lock=amp:0.6"), "lock: 'amp' is given twice"),
    (("prob=50", "prob=60"), "prob: is given twice"),
    (("pan=1",), "unknown option 'pan' (known: prob, micro, ratchet, cond, lock, unlock)"),
    (("prob=50", 1), "1: after a key=value option every argument is one"),
    ((1, "prob=50", "ratchet=0"), "ratchet: 0 is out of range 1–8"),  # on as well: nothing changes
    (("cond=" + "1" * (MAX_OPTION_TEXT + 10),), f"characters; an option is at most {MAX_OPTION_TEXT}"),
    (("prob=50",) * (MAX_STEP_OPTIONS + 1), f"{MAX_STEP_OPTIONS + 1} options; at most {MAX_STEP_OPTIONS}"),
    ((), "missing argument 'on' (or a key=value option)"),
    ((1, 60, 1, 1, 1, "prob=5"), "7 arguments before the key=value options, at most 6"),
])
def test_bad_options_get_an_error_naming_them_and_change_nothing(osc: Osc, live: Session,
                                                                args: tuple[Any, ...], says: str) -> None:
    _, client = osc
    before, entries = live.snapshot(), len(live.history)
    message = client.error("/seq/step", "kick", 1, *args)
    assert says in message, message
    assert live.snapshot() == before and len(live.history) == entries


def test_seq_step_get_replies_the_step_in_full(osc: Osc, live: Session) -> None:
    _, client = osc
    assert client.ok("/seq/step/get", "kick", 1) == ["kick", 1, 0, -1, 0, 0, 0.0, 100, "none", 0, 1]
    client.ok("/seq/step", "bass", 0, 1, 262.15, 1, 0, "prob=75", "cond=!PRE", "micro=23", "ratchet=8",
              "lock=adsr/decay:0.125", "lock=acid1/cutoff:300")
    got = client.ok("/seq/step/get", "bass", 0)
    assert got[:6] == ["bass", 0, 1, 60, 1, 0]
    assert got[6] == pytest.approx(3.47, abs=0.01)  # 262.15 Hz is C4 +3.47 cents
    assert got[7:] == [75, "!PRE", 23, 8, "adsr/decay:0.125", "acid1/cutoff:300"]
    assert "is outside track 'kick' (0–7)" in client.error("/seq/step/get", "kick", 8)
    assert "no track named 'snare'" in client.error("/seq/step/get", "snare", 0)


def test_fill_and_seed(osc: Osc, live: Session) -> None:
    _, client = osc
    engine = live.engine
    for value, on in ((1, True), ("off", False), (1.0, True), ("on", True), (0, False)):
        assert client.ok("/seq/fill", value) == [int(on)]
        assert live.fill is on and engine.sent[-1] == SetFill(on)
    assert client.ok("/seq/seed", 12345) == [12345]
    assert client.ok("/seq/seed", "77") == [77]
    status = client.query("/seq/status")
    assert (status["seed"], status["fill"]) == (77, False)
    assert "seed: 2147483648 is out of range 0–2147483647" in client.error("/seq/seed", 2**31)
    assert client.ok("/undo", "all")[0] == 1 and live.pattern.seed == 12345
    assert live.fill is False  # fill is not an edit: nothing of it to undo


def test_seq_status_lists_the_expressive_steps(osc: Osc, live: Session) -> None:
    _, client = osc
    client.ok("/seq/step", "kick", 4, "ratchet=2")
    client.ok("/seq/step", "kick", 6, "lock=amp:0.1")
    kick = client.query("/seq/status")["tracks"][0]
    assert kick["expressive"] == [4, 6] and kick["pattern"] == "X...x..."


def test_subscribers_hear_the_fields_the_seed_and_fill(osc: Osc, live: Session) -> None:
    server, client = osc
    listener = OscClient(server.port)
    try:
        listener.ok("/notify/subscribe")
        client.ok("/seq/step", "kick", 4, "prob=50", "lock=amp:0.25")
        client.ok("/seq/seed", 9)
        client.ok("/seq/fill", 1)
        heard = listener.recv_all(0.3)
    finally:
        listener.close()
    track = [args for address, args in heard if address == "/notify/track"][-1]
    assert track[:8] == ["kick", "voice1", "X...x...", 8, 0, 0, 1.0, 0.5]
    assert json.loads(track[8]) == {"4": {"prob": 50, "locks": {"amp": 0.25}}}
    assert ("/notify/seed", [9]) in heard and ("/notify/fill", [1]) in heard


def test_the_largest_track_notification_fits_one_datagram(live: Session) -> None:
    """64 steps, each with every field and 16 locks of the longest names and values."""
    keys = sorted(lockable_params("voice2"), key=len, reverse=True)[:MAX_LOCKS]
    locks = {key: lock_spec("voice2", key).low + 1.2345678901234567e-05 for key in keys}
    steps = [Step(on=True, prob=99, cond="!FILL", micro=-23, ratchet=8, locks=dict(locks)) for _ in range(64)]
    name = "x" * MAX_NAME
    live.apply_snapshot(Pattern(tracks=[Track(name, "voice2", steps)]), "now")
    build = next(n.build for n in NOTIFICATIONS if n.address == "/notify/track")
    args = build(live, {"track": name})
    assert json.loads(args[8])["63"]["locks"] == locks
    assert len(build_msg("/notify/track", args).dgram) <= MAX_DATAGRAM


# -- a client we did not write -----------------------------------------------------------

@pytest.mark.skipif(not shutil.which("oscsend"), reason="oscsend not installed (Debian package liblo-tools)")
def test_oscsend_sets_options_fill_and_seed(osc: Osc, live: Session) -> None:
    server, _ = osc
    oscsend(server, "/seq/step", "sisss", "bass", 6, "prob=30", "lock=acid1/cutoff:450.5", "cond=2:3")
    oscsend(server, "/seq/step", "sis", "bass", 6, "ratchet=9")  # refused: nothing changes
    oscsend(server, "/seq/fill", "T")
    oscsend(server, "/seq/seed", "i", 31337)
    wait_until(lambda: live.pattern.seed == 31337)
    assert fields(live.pattern.track("bass").steps[6]) == {
        "prob": 30, "cond": "2:3", "micro": 0, "ratchet": 1, "locks": {"acid1/cutoff": 450.5}}
    assert live.fill is True


# -- hostile options ----------------------------------------------------------------------

KEYS = ["prob", "cond", "micro", "ratchet", "lock", "unlock", "pan", "", " prob", "PROB", "lock=lock"]
TEXTS = ["50", "-3", "1:4", "none", "FILL", "!nei", "1st", "8:8", "0:0", "amp:0.5", "filter/freq:800",
         "acid1/res:0.3", "amp:", "amp", ":", "freq:100", "nan", "inf", "-0", "1e309", "2:1", "x" * 70,
         "\x00", "\u202e", "amp:1e-45"]
option = st.tuples(st.sampled_from(KEYS), st.sampled_from(TEXTS) | st.text(max_size=10)).map("=".join)
FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(head=st.lists(st.sampled_from([0, 1, "1", 60, "C3", -1, True, 2.5]), max_size=3),
       options=st.lists(option | st.integers(-2, 200) | st.floats(width=32), max_size=8),
       index=st.sampled_from([0, 3, 7, 8, -1]))
def test_any_options_are_applied_whole_or_refused_with_nothing_changed(
        osc: Osc, live: Session, head: list[Any], options: list[Any], index: int) -> None:
    _, client = osc
    before, entries = live.snapshot(), len(live.history)
    client.send("/seq/step", "bass", index, *head, *options)
    reply = client.recv(10.0)  # a machine busy with other tests may take a while
    if reply[0] == "/error":
        assert not reply[1][1].startswith("internal error"), reply
        assert live.snapshot() == before and len(live.history) == entries, reply
    else:
        assert reply[0] == "/ok" and len(live.history) == entries + (live.snapshot() != before)
        # what it replied is the step as it is now
        assert client.ok("/seq/step/get", "bass", index)[:6] == reply[1][1:7]
    assert client.query("/seq/status")["name"] == "osc"  # still answering
