"""`chronus --no-ui` as a real subprocess (engine with `--audio null`): it answers OSC, logs one
line per action on stderr, and SIGTERM or SIGINT stop it with exit 0 and the autosave written."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from osc_support import OscClient, free_udp_port

pytestmark = pytest.mark.skipif(importlib.util.find_spec("chronus_tui.engine.client") is None,
                                reason="the engine client (chronus_tui.engine.client) is not there yet")
READY = "listening for OSC on"


class Headless:
    def __init__(self, patterns_dir: Path, state_dir: Path, port: int) -> None:
        self.port = port
        env = {**os.environ, "PYO_GUI_WX": "0", "XDG_STATE_HOME": str(state_dir)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chronus_tui", "--no-ui", "--audio", "null", "--osc-port", str(port),
             "--patterns-dir", str(patterns_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"never logged {text!r}; stderr:\n" + "\n".join(self.lines))
            time.sleep(0.02)

    def stop(self, sig: int) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(20)
        self._reader.join(5)
        return code


@pytest.fixture
def headless(tmp_path: Path) -> Iterator[Headless]:
    process = Headless(tmp_path / "patterns", tmp_path / "state", free_udp_port())
    try:
        process.wait_for(READY)
        yield process
    finally:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


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
