"""`chronus --no-ui` as a real subprocess (engine with `--audio null`): it answers OSC, logs one
line per action on stderr, and SIGTERM or SIGINT stop it with exit 0 and the autosave written."""

from __future__ import annotations

import json
import signal
import socket
from pathlib import Path

import pytest
from support.headless import Headless, headless_fixture  # noqa: F401
from support.osc import OscClient


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_headless_answers_logs_and_stops_cleanly(headless: Headless, tmp_path: Path, sig: int) -> None:
    client = OscClient(headless.port)
    try:
        status = client.query("/engine/status")
        assert status["backend"] == "null" and status["sr"] == 48000
        assert client.ok("/seq/bpm", 133) == [133.0]
        assert client.ok("/mod/voice1/amp", 0.5) == [0.5]
        assert client.error("/seq/bpm", "fast")
        assert client.ok("/pattern/save", 2, "live")[0] == 2
    finally:
        client.close()
    assert headless.stop(sig) == 0
    actions = [line for line in headless.lines if f"127.0.0.1:{client.port} " in line]
    assert len(actions) == 5, actions
    expected_lines = ("/engine/status", "/seq/bpm 133 -> 133.0", "/mod/voice1/amp 0.5 -> 0.5",
                      "/seq/bpm refused: bpm: 'fast' is not a number", "/pattern/save 2 live -> 2 A02 live")
    for line, expected in zip(actions, expected_lines, strict=True):
        assert expected in line
    autosave = json.loads((tmp_path / "patterns" / "slots" / "slot_000.json").read_text())
    assert autosave["sequencer"]["bpm"] == 133.0 and autosave["modules"]["voice1"]["amp"] == 0.5
    assert "autosaved" in headless.lines[-1]


def test_headless_port_in_use_exits_1(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        process = Headless(tmp_path / "patterns", tmp_path / "state", taken.getsockname()[1])
        code = process.proc.wait(30)
        process._reader.join(5)
    assert code == 1
    assert any("cannot listen for OSC" in line for line in process.lines), process.lines
