"""A script in the original Music Chronus dialect, replayed over UDP, ends in the expected state;
`/pattern/save` of it then `/pattern/load` gives back the same session."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pythonosc.udp_client import SimpleUDPClient
from support.osc import OscClient, osc_fixture  # noqa: F401

from chronus_tui.model import PARAM_INDEX
from chronus_tui.osc.server import OscServer
from chronus_tui.session import Session

Osc = tuple[OscServer, OscClient]


def acid_set() -> list[tuple[str, Any]]:
    """What the original's users wrote (cf. its chronus_song_*.py): voices, acid, effects,
    tracks added and updated, tempo and swing; ints where floats are meant, notes as strings."""
    script: list[tuple[str, Any]] = [("/seq/stop", []), ("/seq/clear", [])]
    for voice in range(1, 5):
        script += [(f"/mod/voice{voice}/amp", 0.25), (f"/mod/voice{voice}/adsr/attack", 0.01),
                   (f"/mod/voice{voice}/adsr/decay", 0.1), (f"/mod/voice{voice}/adsr/sustain", 0.6),
                   (f"/mod/voice{voice}/adsr/release", 0.3), (f"/gate/voice{voice}", 0)]
    script += [("/mod/reverb1/mix", 0.1), ("/mod/reverb1/room", 0.2), ("/mod/reverb1/damp", 0.5),
               ("/mod/delay1/mix", 0), ("/mod/delay1/time", 0.375), ("/mod/delay1/feedback", 0.2),
               ("/mod/dist1/drive", 0), ("/mod/dist1/mix", 0), ("/mod/dist1/tone", 0.5),
               ("/mod/acid1/cutoff", 150), ("/mod/acid1/res", 0.2), ("/mod/acid1/env_amount", 500),
               ("/mod/acid1/decay", 0.15), ("/mod/acid1/drive", 0.1), ("/mod/acid1/mix", 1.0),
               ("/mod/lfo1/rate", 0.125), ("/mod/lfo1/depth", 0), ("/mod/lfo2/rate", 2.0),
               ("/mod/lfo2/depth", 0)]
    script += [("/seq/add", ["acid", "voice2", "x...x...x.x.....", 110, 200]),
               ("/seq/add", ["kick", "voice1", "....X.......X...", "base_freq=55", "filter_freq=80"]),
               ("/seq/bpm", 120), ("/seq/start", [])]
    for bar in range(16):
        script += [("/mod/acid1/cutoff", 200 + 300 * math.sin(bar * 0.4)),
                   ("/mod/acid1/res", min(0.8, 0.2 + bar * 0.03))]
        if bar % 4 == 0 and bar:
            script.append(("/seq/update/pattern", ["acid", ["x.x.....x...x...", "x...x.x.x.......",
                                                            "x.....x.x...x..."][bar // 4 - 1]]))
    script += [("/seq/update/pattern", ["kick", "X...X...X...X..."]),
               ("/seq/add", ["hats", "voice3", "..x...x...x...x.", 6000, 8000]),
               ("/mod/voice3/adsr/attack", 0.001), ("/mod/voice3/adsr/decay", 0.02),
               ("/mod/voice3/adsr/release", 0.05), ("/mod/voice3/amp", 0.15),
               ("/mod/voice3/send/reverb", 0.3), ("/mod/voice3/send/delay", 0.1),
               ("/mod/lfo1/rate", 0.25), ("/mod/lfo1/depth", 0.4), ("/seq/swing", 0.1)]
    for bar in range(16):
        script.append(("/mod/acid1/env_amount", 1000 + bar * 100))
        if bar % 2 == 0:
            script.append(("/seq/update/notes", ["acid", "A2 A2 C3 A2 E3 A2 G2 A2" if bar % 4
                                                 else "41.2,49,55"]))
    script += [("/mod/acid1/res", 0.92), ("/mod/acid1/env_amount", 3000), ("/mod/acid1/decay", 0.1),
               ("/mod/acid1/drive", 0.4),
               ("/seq/add", ["lead", "voice4", "....X.......X...", "base_freq=440", "filter_freq=2000",
                             "notes=C4,E4,G4,C5"]),
               ("/mod/voice4/adsr/attack", 0.005), ("/mod/voice4/adsr/sustain", 0.3),
               ("/mod/voice4/send/reverb", 0.4), ("/mod/voice4/send/delay", 0.5),
               ("/mod/reverb1/mix", 0.3), ("/mod/reverb1/room", 0.5), ("/mod/delay1/mix", 0.3),
               ("/mod/delay1/feedback", 0.5), ("/mod/dist1/drive", 0.3), ("/mod/dist1/mix", 0.3),
               ("/mod/dist1/tone", 0.7), ("/seq/bpm", "128"),
               ("/seq/remove", ["hats"]), ("/mod/delay1/feedback", 0.9),  # clamped to 0.7
               ("/mod/master/volume", 0.7), ("/mod/voice2/osc/type", 1), ("/mod/voice2/slide_time", 0.08),
               ("/seq/update/pattern", ["acid", "X.X.X.X.X.X.X.X."]), ("/seq/swing", 0.15)]
    return script


def expected_params(script: list[tuple[str, Any]]) -> dict[tuple[str, str], float]:
    """The oracle: for each parameter the last value sent, clamped to its range in model.MODULE_PARAMS."""
    last: dict[tuple[str, str], float] = {}
    for address, value in script:
        if address.startswith("/mod/"):
            module, param = address[5:].split("/", 1)
            spec = PARAM_INDEX[module][param]
            last[(module, param)] = min(max(float(value), spec.low), spec.high)
    return last


def replay(server: OscServer, client: OscClient, script: list[tuple[str, Any]]) -> None:
    """Send as the original's users did (SimpleUDPClient, no waiting), then fence with a query."""
    sender = SimpleUDPClient("127.0.0.1", server.port)
    for address, args in script:
        sender.send_message(address, args)
    client.query("/seq/status")  # answered after everything sent before it


def test_replayed_original_script_ends_in_the_expected_state(osc: Osc, session: Session) -> None:
    server, client = osc
    script = acid_set()
    assert sum(address.startswith("/mod/") for address, _ in script) >= 100
    replay(server, client, script)
    assert server.errors == 0
    snap = session.snapshot()
    for (module, param), value in expected_params(script).items():
        assert snap["modules"][module][param] == pytest.approx(value, rel=1e-6), f"{module}/{param}"
    seq = snap["sequencer"]
    assert seq["bpm"] == 128.0 and seq["swing"] == pytest.approx(0.15)
    tracks = {t["name"]: t for t in seq["tracks"]}
    assert list(tracks) == ["acid", "kick", "lead"]
    patterns = {t["name"]: t["pattern"] for t in client.query("/seq/status")["tracks"]}
    assert patterns == {"acid": "X.X.X.X.X.X.X.X.", "kick": "X...X...X...X...", "lead": "....X.......X..."}
    # the last notes sent to acid were A2 A2 C3 A2 E3 A2 G2 A2 (bar 14), onto its 4 hits then; the
    # pattern update to 8 hits cycles those notes over the new hits, as the original's list did
    assert [s["note"] for s in tracks["acid"]["steps"] if s["on"]] == [45, 45, 48, 45] * 2
    assert [s["note"] for s in tracks["lead"]["steps"] if s["on"]] == [60, 64]
    # /seq/add base_freq and filter_freq set the voice, as the original did on every hit
    assert snap["modules"]["voice1"]["freq"] == 55.0 and snap["modules"]["voice1"]["filter/freq"] == 80.0
    assert snap["modules"]["voice2"]["freq"] == 110.0 and snap["modules"]["voice2"]["filter/freq"] == 200.0
    assert snap["modules"]["voice3"]["freq"] == 5000.0  # 6000 clamped to the voice range
    assert snap["modules"]["voice4"]["filter/freq"] == 2000.0
    assert session.transport.playing


def test_saved_script_state_loads_back_identically(osc: Osc, session: Session) -> None:
    server, client = osc
    replay(server, client, acid_set())
    client.ok("/seq/stop")
    before = session.snapshot()
    assert client.ok("/pattern/save", 5) == [5, "A05", before["name"]]
    replay(server, client, [("/seq/clear", []), ("/seq/bpm", 90), ("/mod/acid1/cutoff", 4000),
                            ("/seq/swing", 0)])
    assert session.snapshot() != before
    assert client.ok("/pattern/load", 5)[:2] == [5, "loaded"]
    after = session.snapshot()
    saved_at = after.pop("saved_at")
    before.pop("saved_at")
    assert saved_at and after == before
