"""End to end: the real `chronus` command in tmux, driven by OSC and by keystrokes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pythonosc.udp_client import SimpleUDPClient
from ui_tmux import TmuxChronus, engine_unavailable_reason, free_udp_port


@pytest.fixture(scope="module")
def engine_ready() -> None:
    reason = engine_unavailable_reason("null")
    if reason:
        pytest.skip(reason)


def test_chronus_in_tmux_osc_keys_and_clean_exit(engine_ready: None, tmp_path: Path) -> None:
    patterns = tmp_path / "patterns"
    port = free_udp_port()
    app = TmuxChronus(tmp_path, ["--audio", "null", "--patterns-dir", str(patterns),
                                 "--osc-port", str(port)])
    try:
        app.wait_for(f"OSC 127.0.0.1:{port}", "NO SOUND: null audio")
        osc = SimpleUDPClient("127.0.0.1", port)
        osc.send_message("/seq/bpm", 133.0)
        osc.send_message("/seq/add", ["zapline", "voice5", "x.x.X.x.x.x.X.x."])
        screen = app.wait_for("133.0 BPM", "zapline")
        row = next(line for line in screen.splitlines() if "zapline" in line)
        assert row.split("zapline")[1].split()[1:6] == ["x", "·", "x", "·", "X"], row
        app.keys("S")
        app.wait_for("Saved A01")
        saved = json.loads((patterns / "slots" / "slot_001.json").read_text())
        assert saved["sequencer"]["bpm"] == 133.0
        assert "zapline" in [t["name"] for t in saved["sequencer"]["tracks"]]
        app.keys("q")
        assert app.exit_status() == "EXIT=0"
        # Quitting autosaved the live session (slot 0) and printed nothing over the terminal.
        assert json.loads((patterns / "slots" / "slot_000.json").read_text())["sequencer"]["bpm"] == 133.0
        assert "Traceback" not in app.screen()
    finally:
        app.close()
