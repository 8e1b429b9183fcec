"""Every OSC route over real UDP on loopback: its reply, its effect, and its errors."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message_builder import build_msg
from support.osc import OscClient, osc_fixture  # noqa: F401

from chronus_tui.engine.protocol import Position, Status
from chronus_tui.model import PARAM_INDEX
from chronus_tui.osc.routes import ROUTES
from chronus_tui.osc.schema import markdown_table, schema_json
from chronus_tui.osc.server import OscServer
from chronus_tui.session import Session

Osc = tuple[OscServer, OscClient]

# One valid call per route, made after setup() (a track "bass" on voice2, slot 1 saved).
VALID: dict[str, tuple[str, tuple[Any, ...]]] = {
    "/mod/<module>/<param>": ("/mod/acid1/cutoff", (1200,)),
    "/gate/<voice>": ("/gate/voice3", (1,)),
    "/gate/acid1": ("/gate/acid1", (1,)),
    "/mod/<old name>": ("/mod/filter1/q", (3,)),
    "/gate/<old name>": ("/gate/1", (1,)),
    "/seq/add": ("/seq/add", ("hat", "voice4", "x.x.x.x.", "base_freq=3000")),
    "/seq/remove": ("/seq/remove", ("bass",)),
    "/seq/clear": ("/seq/clear", ()),
    "/seq/start": ("/seq/start", ()),
    "/seq/stop": ("/seq/stop", ()),
    "/seq/bpm": ("/seq/bpm", (128,)),
    "/seq/swing": ("/seq/swing", ("0.25",)),
    "/seq/update/pattern": ("/seq/update/pattern", ("bass", "X...X...")),
    "/seq/update/notes": ("/seq/update/notes", ("bass", "A1,C2")),
    "/seq/step": ("/seq/step", ("bass", 3, 1, 40, 1, 1)),
    "/seq/step/get": ("/seq/step/get", ("bass", 3)),
    "/seq/fill": ("/seq/fill", ("on",)),
    "/seq/seed": ("/seq/seed", (42,)),
    "/seq/length": ("/seq/length", ("bass", 32)),
    "/seq/mute": ("/seq/mute", ("bass", 1)),
    "/seq/solo": ("/seq/solo", ("bass", "true")),
    "/seq/level": ("/seq/level", ("bass", 0.5)),
    "/seq/gate": ("/seq/gate", ("bass", 0.75)),
    "/seq/status": ("/seq/status", ()),
    "/engine/status": ("/engine/status", ()),
    "/engine/schema": ("/engine/schema", ("json",)),
    "/engine/record/start": ("/engine/record/start", ("take",)),
    "/engine/record/stop": ("/engine/record/stop", ()),
    "/engine/record/status": ("/engine/record/status", ()),
    "/engine/stop": ("/engine/stop", ()),
    "/engine/start": ("/engine/start", ()),
    "/engine/list": ("/engine/list", ()),
    "/pattern/save": ("/pattern/save", (7, "seven")),
    "/pattern/load": ("/pattern/load", (1,)),
    "/pattern/export_midi": ("/pattern/export_midi", (1, "take")),
    "/pattern/quantize": ("/pattern/quantize", ("bar4",)),
    "/pattern/follow": ("/pattern/follow", (2, "slot", "A01")),
    "/chain/set": ("/chain/set", ("A01x2", 1, "once")),
    "/chain/start": ("/chain/start", ("bar2", 1)),
    "/chain/stop": ("/chain/stop", ()),
    "/chain/status": ("/chain/status", ()),
    "/song/save": ("/song/save", ("verse",)),
    "/song/load": ("/song/load", ("verse",)),
    "/song/play": ("/song/play", (1,)),
    "/song/status": ("/song/status", ()),
    "/song/list": ("/song/list", ()),
    "/pattern/list": ("/pattern/list", ()),
    "/undo": ("/undo", ()),
    "/redo": ("/redo", (1,)),
    "/history": ("/history", (5,)),
    "/notify/subscribe": ("/notify/subscribe", ()),
    "/notify/unsubscribe": ("/notify/unsubscribe", ()),
}

# Bad calls per route: each must get /error <address> <message> and change nothing.
INVALID: dict[str, list[tuple[str, tuple[Any, ...]]]] = {
    "/mod/<module>/<param>": [("/mod/voice1/freq", ()), ("/mod/voice1/freq", ("loud",)),
                              ("/mod/voice1/freq", (float("nan"),)), ("/mod/voice1/freq", (1, 2)),
                              ("/mod/voice1/freq", (True,)), ("/mod/voice9/freq", (1,)),
                              ("/mod/voice1/frq", (1,)), ("/mod/acid1/cutoff_offst", (1,))],
    "/gate/<voice>": [("/gate/voice1", (2,)), ("/gate/voice1", ("maybe",)), ("/gate/voice9", (1,)),
                      ("/gate/voice1", ())],
    "/gate/acid1": [("/gate/acid1", (2,)), ("/gate/acid1", ("maybe",)), ("/gate/acid1", ())],
    "/mod/<old name>": [("/mod/sine1/freq", ()), ("/mod/adsr1/sustain", ("high",)),
                        ("/mod/adsr1/hold", (1,)), ("/mod/sine2/freq", (1,))],
    "/gate/<old name>": [("/gate/adsr1", (2,)), ("/gate/2", (1,))],
    "/seq/add": [("/seq/add", ("kick", "voice1")), ("/seq/add", ("kick", "voice9", "x...")),
                 ("/seq/add", ("kick", "voice1", "")), ("/seq/add", ("kick", "voice1", "x" * 65)),
                 ("/seq/add", ("kick", "voice1", "x...", "low")),
                 ("/seq/add", ("kick", "voice1", "x...", "colour=red")),
                 ("/seq/add", ("kick", "voice1", "x...", 60, 800, "C2", 4)),
                 ("/seq/add", ("kick", "voice1", "x...", "notes=Q9")),
                 ("/seq/add", (3.5, "voice1", "x..."))],
    "/seq/remove": [("/seq/remove", ())],
    "/seq/clear": [("/seq/clear", (1,))],
    "/seq/start": [("/seq/start", ("now",))],
    "/seq/stop": [("/seq/stop", (0,))],
    "/seq/bpm": [("/seq/bpm", ()), ("/seq/bpm", ("fast",)), ("/seq/bpm", (float("inf"),))],
    "/seq/swing": [("/seq/swing", (None,)), ("/seq/swing", (b"\x01",))],
    "/seq/update/pattern": [("/seq/update/pattern", ("bass", 5)),
                            ("/seq/update/pattern", ("bass",))],
    "/seq/update/notes": [("/seq/update/notes", ("bass", "C2,H9")),
                          ("/seq/update/notes", ("bass", -5))],
    "/seq/step": [("/seq/step", ("bass", 16, 1)), ("/seq/step", ("bass", -1, 1)),
                  ("/seq/step", ("bass", 1.5, 1)), ("/seq/step", ("bass", 0, 1, "Z3")),
                  ("/seq/step", ("bass", 0, 3)), ("/seq/step", ("nosuch", 0, 1)),
                  ("/seq/step", ("bass", 0)), ("/seq/step", ("bass", 0, 1, "prob=101")),
                  ("/seq/step", ("bass", 0, "prob=50", 1)), ("/seq/step", ("bass", 0, "pan=1")),
                  ("/seq/step", ("bass", 0, "lock=freq:100")), ("/seq/step", ("bass", 0, "lock=amp"))],
    "/seq/step/get": [("/seq/step/get", ("bass", 16)), ("/seq/step/get", ("nosuch", 0)),
                      ("/seq/step/get", ("bass",)), ("/seq/step/get", ("bass", 0, 1))],
    "/seq/fill": [("/seq/fill", (2,)), ("/seq/fill", ()), ("/seq/fill", ("maybe",))],
    "/seq/seed": [("/seq/seed", (-1,)), ("/seq/seed", (2**31,)), ("/seq/seed", (1.5,)), ("/seq/seed", ("x",)),
                  ("/seq/seed", ())],
    "/seq/length": [("/seq/length", ("bass", 3.5)), ("/seq/length", ("nosuch", 8))],
    "/seq/mute": [("/seq/mute", ("bass", 2)), ("/seq/mute", ("nosuch", 1))],
    "/seq/solo": [("/seq/solo", ("bass", "perhaps"))],
    "/seq/level": [("/seq/level", ("bass", "high")), ("/seq/level", ("nosuch", 0.5))],
    "/seq/gate": [("/seq/gate", ("bass",)), ("/seq/gate", ("nosuch", 0.5))],
    "/seq/status": [("/seq/status", ("all",))],
    "/engine/status": [("/engine/status", (1,))],
    "/engine/schema": [("/engine/schema", ("xml",))],
    "/engine/record/start": [("/engine/record/start", ("../take",)), ("/engine/record/start", ("a/b.wav",)),
                             ("/engine/record/start", (".hidden",)), ("/engine/record/start", (b"\x01",)),
                             ("/engine/record/start", ("x" * 65,)), ("/engine/record/start", ("a", "b"))],
    "/engine/record/stop": [("/engine/record/stop", ("now",))],
    "/engine/record/status": [("/engine/record/status", (1,))],
    "/engine/stop": [("/engine/stop", (1,))],
    "/engine/start": [("/engine/start", ("now",))],
    "/engine/list": [],  # any arguments are ignored, as the original did
    "/pattern/save": [("/pattern/save", (129,)), ("/pattern/save", (-1,)), ("/pattern/save", ("two",)),
                      ("/pattern/save", (3, "x" * 40)), ("/pattern/save", ())],
    "/pattern/load": [("/pattern/load", (9,)), ("/pattern/load", (1, "later")), ("/pattern/load", (500,))],
    "/pattern/export_midi": [("/pattern/export_midi", (1, "../take")), ("/pattern/export_midi", (1, "a/b")),
                             ("/pattern/export_midi", (9, "take")), ("/pattern/export_midi", (1,)),
                             ("/pattern/export_midi", (129, "take"))],
    "/pattern/list": [("/pattern/list", ("x",))],
    "/pattern/quantize": [("/pattern/quantize", ()), ("/pattern/quantize", ("bar3",)),
                          ("/pattern/quantize", ("step",)), ("/pattern/quantize", (4,))],
    "/pattern/follow": [("/pattern/follow", ()), ("/pattern/follow", ("on",)),
                        ("/pattern/follow", (0, "next")), ("/pattern/follow", (65, "next")),
                        ("/pattern/follow", (1, "sideways")),
                        ("/pattern/follow", (1, "slot")), ("/pattern/follow", (1, "slot", "I01")),
                        ("/pattern/follow", (1, "slot", 0)), ("/pattern/follow", (1, "next", 3)),
                        ("/pattern/follow", (1.5, "next")), ("/pattern/follow", (b"\x01", "next")),
                        ("/pattern/follow", (1, "random", *range(1, 18)))],
    "/chain/set": [("/chain/set", ()), ("/chain/set", ("A01x0",)), ("/chain/set", ("I01",)),
                   ("/chain/set", ("A01", 2.5)), ("/chain/set", ("A01 " * 65,)), ("/chain/set", (b"\x01",))],
    "/chain/start": [("/chain/start", ()), ("/chain/start", ("bar3",)), ("/chain/start", ("bar", 0)),
                     ("/chain/start", ("bar", 65))],
    "/chain/stop": [("/chain/stop", (1,))],
    "/chain/status": [("/chain/status", ("x",))],
    "/song/save": [("/song/save", ()), ("/song/save", ("verse",)), ("/song/save", ("a b",)),
                   ("/song/save", (5,)), ("/song/save", ("x" * 40,))],
    "/song/load": [("/song/load", ()), ("/song/load", ("gone",)), ("/song/load", ("../x",)),
                   ("/song/load", (1,))],
    "/song/play": [("/song/play", ()), ("/song/play", (0,)), ("/song/play", (65,)), ("/song/play", ("x",))],
    "/song/status": [("/song/status", ("x",))],
    "/song/list": [("/song/list", ("x",)), ("/song/list", (-1,)), ("/song/list", (0, 1))],
    "/undo": [("/undo", (0,)), ("/undo", (1.5,)), ("/undo", (b"\x01",)), ("/undo", ("everything",)),
              ("/undo", (2001,)), ("/undo", (1, "all", 2)), ("/undo", (1, 2)), ("/undo", ("all", "all")),
              ("/undo", (True,))],
    "/redo": [("/redo", ()), ("/redo", ("all",)), ("/redo", (0,))],
    "/history": [("/history", ("x",)), ("/history", (1.5,)), ("/history", (1, 2))],
    "/notify/subscribe": [("/notify/subscribe", (70000,)), ("/notify/subscribe", ("port",))],
    "/notify/unsubscribe": [("/notify/unsubscribe", (40000,))],
}


@pytest.fixture
def ready(osc: Osc, session: Session) -> Osc:
    _, client = osc
    reply = client.ok("/seq/add", "bass", "voice2", "x.x.X...x.x.X...", 41.2, 900, "41.2,49,55")
    assert reply[:1] == ["bass"]
    session.save_slot(1, "one")
    return osc


def test_the_cases_cover_every_route() -> None:
    addresses = {route.address for route in ROUTES}
    assert set(VALID) == addresses
    assert set(INVALID) == addresses


@pytest.mark.parametrize("route", list(VALID))
def test_every_route_answers(ready: Osc, session: Session, route: str) -> None:
    _, client = ready
    address, args = VALID[route]
    if address == "/notify/unsubscribe":
        client.ok("/notify/subscribe")
    if address == "/redo":
        client.ok("/undo")
    if address == "/chain/start" or address.startswith("/song/"):
        client.ok("/chain/set", "A01")
    if address in ("/song/load", "/song/play"):
        client.ok("/song/save", "verse")
    query = next(r.query for r in ROUTES if r.address == route)
    reply = client.ask(address, *args)
    if query:
        assert reply[0] == address
        json.loads(reply[1][0])
    else:
        assert reply[0] == "/ok" and reply[1][0] == address, reply


@pytest.mark.parametrize("address,args", [case for cases in INVALID.values() for case in cases])
def test_bad_calls_get_an_error_and_change_nothing(ready: Osc, session: Session, address: str,
                                                   args: tuple[Any, ...]) -> None:
    _, client = ready
    before = session.snapshot()
    message = client.error(address, *args)
    assert message
    assert session.snapshot() == before
    assert client.query("/seq/status")["tracks"][0]["name"] == "bass"  # still answering


def test_unknown_addresses_and_unreadable_datagrams_get_errors(osc: Osc, session: Session) -> None:
    _, client = osc
    before = session.snapshot()
    assert client.error("/no/such/route", 1) == "unknown address (send /engine/schema for the list)"
    client.send_raw(b"\x00\x01garbage")
    address, (where, message) = client.recv()
    assert address == "/error" and where == "" and "not a readable OSC message" in message
    # a message with a type tag we do not read (c = char) is refused whole, not half-read
    client.send_raw(b"/seq/bpm\x00\x00\x00\x00,fc\x00" + b"\x43\x00\x00\x00" + b"\x00\x00\x00\x41")
    assert client.recv() == ("/error", ["/seq/bpm", "not a readable OSC message: unsupported OSC type tag "
                                                    "'c' in ,fc"])
    assert session.snapshot() == before


def test_parameters_take_ints_strings_and_clamp(osc: Osc, session: Session) -> None:
    _, client = osc
    assert client.ok("/mod/voice1/freq", 220) == [220.0]
    assert client.ok("/mod/voice1/filter/q", "4.5") == [4.5]
    assert client.ok("/mod/voice1/freq", 9000.0) == [5000.0, "clamped"]
    assert client.ok("/mod/delay1/feedback", -1) == [0.0, "clamped"]
    assert client.ok("/mod/voice2/osc/type", 2.0) == [2]
    assert client.ok("/mod/voice2/osc/type", 7) == [5, "clamped"]
    modules = session.snapshot()["modules"]
    assert modules["voice1"]["freq"] == 5000.0 and modules["voice1"]["filter/q"] == 4.5
    assert modules["delay1"]["feedback"] == 0.0 and modules["voice2"]["osc/type"] == 5


def test_every_parameter_has_an_address(osc: Osc, session: Session) -> None:
    _, client = osc
    for module, params in PARAM_INDEX.items():
        for name, spec in params.items():
            value = spec.high if spec.integer else (spec.low + spec.high) / 2
            client.send(f"/mod/{module}/{name}", value)
    replies = [client.recv() for _ in range(sum(map(len, PARAM_INDEX.values())))]
    assert all(address == "/ok" for address, _ in replies), [r for r in replies if r[0] != "/ok"]
    modules = session.snapshot()["modules"]
    for module, params in PARAM_INDEX.items():
        for name, spec in params.items():
            expected = spec.high if spec.integer else (spec.low + spec.high) / 2
            assert modules[module][name] == pytest.approx(expected, rel=1e-6)  # OSC floats are 32-bit


def test_gate_reaches_the_engine(osc: Osc, session: Session, engine: Any) -> None:
    _, client = osc
    assert client.ok("/gate/voice3", 1) == [1]
    assert client.ok("/gate/voice3", "false") == [0]
    assert [c["on"] for c in engine.ops("gate")] == [True, False]


def test_seq_add_original_arguments(osc: Osc, session: Session) -> None:
    _, client = osc
    # positional base_freq and filter_freq, as the original's scripts sent them
    client.ok("/seq/add", "kick", "voice1", "X...x...X...x...", 60, 200)
    # key=value options; notes in Hz, MIDI and names; accent_boost accepted but has no place here
    reply = client.ok("/seq/add", "acid", "voice2", "x.x.X...", "notes=41.2,49,A2", "filter_freq=1500",
                      "gate_frac=0.8", "reverb_send=0.3", "accent_boost=1200", "level=0.7")
    assert reply == ["acid", "voice2", "x.x.X...", "accent_boost ignored: no place in this model"]
    snap = session.snapshot()
    kick, acid = snap["sequencer"]["tracks"]
    assert kick["steps"][0] == {"on": True, "accent": True, "note": None, "slide": False}
    assert [s["note"] for s in acid["steps"] if s["on"]] == [28, 49, 45]
    assert acid["gate"] == 0.8 and acid["level"] == 0.7
    assert snap["modules"]["voice1"]["freq"] == 60.0 and snap["modules"]["voice1"]["filter/freq"] == 200.0
    assert snap["modules"]["voice2"]["filter/freq"] == 1500.0
    assert snap["modules"]["voice2"]["send/reverb"] == 0.3
    # a track id sent as an int, as str(args[0]) made it in the original
    client.ok("/seq/add", 7, "voice3", "x")
    assert session.pattern.track("7").voice == "voice3"


def test_seq_add_replaces_a_track_of_the_same_name(osc: Osc, session: Session) -> None:
    _, client = osc
    client.ok("/seq/add", "kick", "voice1", "x...")
    client.ok("/seq/mute", "kick", 1)
    client.ok("/seq/add", "kick", "voice1", "X.X.X.X.")
    assert [t.name for t in session.pattern.tracks] == ["kick"]
    assert session.pattern.track("kick").mute and session.pattern.track("kick").length == 8


def test_removing_or_updating_an_absent_track_is_ok_and_changes_nothing(ready: Osc, session: Session,
                                                                         history_changes: list) -> None:
    """The original ignored these in silence and its scripts send them: `/ok … absent`."""
    _, client = ready
    before = session.snapshot()
    assert client.ok("/seq/remove", "nosuch") == ["nosuch", "absent"]
    assert client.ok("/seq/update/pattern", "nosuch", "x...") == ["nosuch", "absent"]
    assert client.ok("/seq/update/notes", "nosuch", "C2") == ["nosuch", "absent"]
    assert session.snapshot() == before
    assert history_changes == []  # nothing to undo
    assert client.error("/seq/step", "nosuch", 0, 1).endswith("no track named 'nosuch'")


def test_a_chain_is_set_started_and_stopped_over_osc(ready: Osc, session: Session, engine: Any) -> None:
    _, client = ready
    session.save_slot(2, "two")
    assert client.ok("/chain/set", "A01x2 a2", "once") == ["A01×2 A02×1 once", 2]
    client.ok("/seq/start")
    assert client.ok("/chain/start", "bar4") == ["queued", "A01", "bar4"]
    assert (engine.last("pattern")["mode"], engine.last("pattern")["every"]) == ("bar", 64)
    status = client.query("/chain/status")
    assert (status["running"], status["entry"], status["next"], status["loop"]) == (True, None, "A01", False)
    assert client.ok("/chain/stop") == ["stopped"]
    assert session.pending is None and client.ok("/chain/stop") == ["idle"]
    client.ok("/pattern/quantize", "end")
    assert client.ok("/pattern/load", 2) == [2, "queued", "end"]


def test_track_edits(ready: Osc, session: Session) -> None:
    _, client = ready
    # the original's notes were a list cycled over the hits, whatever the pattern became
    assert client.ok("/seq/update/pattern", "bass", "X.xxx.") == ["bass", "X.xxx."]
    assert [s.note for s in session.pattern.track("bass").steps] == [28, None, 49, 55, 28, None]
    client.ok("/seq/update/pattern", "bass", "X.x.")
    assert client.ok("/seq/update/notes", "bass", "C2 E2") == ["bass", "C2,E2"]
    assert [s.note for s in session.pattern.track("bass").steps] == [36, None, 40, None]
    assert client.ok("/seq/update/notes", "bass", "") == ["bass", ""]
    assert [s.note for s in session.pattern.track("bass").steps] == [None] * 4
    assert client.ok("/seq/step", "bass", 1, 1, "F#2", 1, 1) == ["bass", 1, 1, 42, 1, 1]
    assert client.ok("/seq/step", "bass", 1, "1") == ["bass", 1, 1, 42, 1, 1]  # left out: unchanged
    assert client.ok("/seq/step", "bass", 1, 1, -1) == ["bass", 1, 1, -1, 1, 1]  # -1 clears the note
    assert client.ok("/seq/length", "bass", 99) == ["bass", 64, "clamped"]
    assert client.ok("/seq/length", "bass", 6.0) == ["bass", 6]
    assert client.ok("/seq/level", "bass", 1.5) == ["bass", 1.0, "clamped"]
    assert client.ok("/seq/gate", "bass", "0.25") == ["bass", 0.25]
    assert client.ok("/seq/mute", "bass", 1.0) == ["bass", 1]
    assert client.ok("/seq/solo", "bass", "on") == ["bass", 1]
    track = session.snapshot()["sequencer"]["tracks"][0]
    assert track["length"] == 6 and track["level"] == 1.0 and track["gate"] == 0.25
    assert track["mute"] and track["solo"]
    assert track["steps"][1] == {"on": True, "accent": True, "note": None, "slide": True}
    assert client.ok("/seq/remove", "bass") == ["bass"]
    client.ok("/seq/add", "a", "voice1", "x")
    client.ok("/seq/clear")
    assert session.pattern.tracks == []


def test_tempo_swing_and_transport(osc: Osc, session: Session, engine: Any) -> None:
    _, client = osc
    assert client.ok("/seq/bpm", "140") == [140.0]
    assert client.ok("/seq/bpm", 1000) == [300.0, "clamped"]
    assert client.ok("/seq/swing", 1) == [pytest.approx(0.6), "clamped"]
    client.ok("/seq/start")
    assert session.transport.playing
    client.ok("/seq/stop")
    assert not session.transport.playing
    assert [c["playing"] for c in engine.ops("transport")] == [True, False]


def test_seq_status_reports_tracks_and_notes(ready: Osc, session: Session) -> None:
    _, client = ready
    client.ok("/seq/bpm", 133)
    status = client.query("/seq/status")
    assert status["bpm"] == 133.0 and status["playing"] is False
    (bass,) = status["tracks"]
    assert bass["pattern"] == "x.x.X...x.x.X..." and bass["voice"] == "voice2" and bass["length"] == 16
    assert bass["notes"][:5] == [28, None, 49, None, 55]


def test_engine_status(osc: Osc, session: Session) -> None:
    _, client = osc
    session.on_engine_event(Status(backend="null", sr=48000, buffer=256, cpu=3.5))
    session.on_engine_event(Position(bar=2, step=6))
    status = client.query("/engine/status")
    assert status["backend"] == "null" and status["sr"] == 48000 and status["buffer"] == 256
    assert status["cpu"] == 3.5 and status["position"] == "3:07"
    assert status["playing"] is False and status["playing_slot"] is None and status["queued_slot"] is None


def test_schema_lists_every_route_with_types_and_ranges(osc: Osc) -> None:
    _, client = osc
    schema = client.query("/engine/schema")
    assert schema == json.loads(schema_json())
    routes = {r["address"]: r for r in schema["routes"]}
    assert set(routes) == {route.address for route in ROUTES}
    bpm = routes["/seq/bpm"]["args"][0]
    assert (bpm["type"], bpm["min"], bpm["max"], bpm["out_of_range"]) == ("float", 20.0, 300.0, "clamped")
    assert routes["/pattern/load"]["args"][0]["max"] == 128
    assert schema["params"]["acid1"]["res"]["max"] == 0.98
    assert {n["address"] for n in schema["notifications"]} >= {"/notify/tempo", "/notify/pattern"}


def test_schema_cites_nothing_outside_the_repository() -> None:
    """A client reading the schema can follow every reference: no section of a document we do not ship."""
    text = json.dumps(json.loads(schema_json()), ensure_ascii=False)  # § as itself, not \u00a7
    root = Path(__file__).resolve().parents[1]
    assert "§" not in text
    assert all((root / name).is_file() for name in re.findall(r"[\w./-]+\.md\b", text))


def test_save_list_and_load(osc: Osc, session: Session, patterns_dir: Path) -> None:
    _, client = osc
    client.ok("/seq/add", "kick", "voice1", "x...")
    assert client.ok("/pattern/save", 12, "twelve") == [12, "A12", "twelve"]
    assert json.loads((patterns_dir / "slots" / "slot_012.json").read_text())["name"] == "twelve"
    assert client.ok("/pattern/save", "13.0") == [13, "A13", "untitled"]
    listing = client.query("/pattern/list")
    assert [(e["slot"], e["label"], e["name"], e["tracks"]) for e in listing] == [
        (12, "A12", "twelve", 1), (13, "A13", "untitled", 1)]
    client.ok("/seq/clear")
    assert client.ok("/pattern/load", 12) == [12, "loaded", "twelve"]
    assert [t.name for t in session.pattern.tracks] == ["kick"]
    assert session.transport.playing_slot == 12


def test_messages_are_handled_in_arrival_order_across_file_routes(osc: Osc, session: Session) -> None:
    """A save runs off the loop, yet the set after it must not overtake it."""
    _, client = osc
    client.send("/seq/bpm", 100)
    client.send("/pattern/save", 20)
    client.send("/seq/bpm", 150)
    client.send("/pattern/save", 21)
    replies = [client.recv() for _ in range(4)]
    assert [r[1][0] for r in replies] == ["/seq/bpm", "/pattern/save", "/seq/bpm", "/pattern/save"]
    assert session.store.load(20).bpm == 100.0 and session.store.load(21).bpm == 150.0


def test_bundles_are_handled_at_once_in_order(osc: Osc, session: Session) -> None:
    """A bundle time-tagged an hour ahead is not held back (strict timing off)."""
    _, client = osc
    bundle = OscBundleBuilder(time.time() + 3600)
    for address, args in (("/seq/bpm", [90]), ("/seq/swing", [0.1]), ("/seq/bpm", [95])):
        bundle.add_content(build_msg(address, args))
    client.send_raw(bundle.build().dgram)
    replies = [client.recv(1.0) for _ in range(3)]
    assert [r[1][0] for r in replies] == ["/seq/bpm", "/seq/swing", "/seq/bpm"]
    assert [r[1][1] for r in replies] == pytest.approx([90.0, 0.1, 95.0])
    assert session.pattern.bpm == 95.0


def test_errors_reach_session_listeners_as_osc_errors(osc: Osc, session: Session, changes: list) -> None:
    _, client = osc
    client.error("/seq/bpm", "fast")
    errors = [c for c in changes if c.kind == "error"]
    assert errors and errors[-1].source == "osc" and errors[-1].data["address"] == "/seq/bpm"
    assert "fast" in errors[-1].data["message"]


def test_readme_has_the_generated_route_table() -> None:
    readme = Path(__file__).resolve().parents[1] / "README.md"
    assert markdown_table() in readme.read_text(encoding="utf-8"), \
        "README.md's OSC table is out of date: paste chronus_tui.osc.schema.markdown_table()"
