"""Run the real `chronus` command in a private tmux server and read its screen.

Used by the end-to-end UI test and the UI xrun benchmark. Each run gets its own
tmux socket (-L), so the user's tmux sessions are never touched.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

CHRONUS = Path(sys.executable).with_name("chronus")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def engine_unavailable_reason(audio: str = "null", env: dict[str, str] | None = None) -> str | None:
    """Why the real engine cannot run here (None if it can): start and stop one."""
    if shutil.which("tmux") is None:
        return "tmux is not installed"
    try:
        from chronus_tui.engine.client import EngineClient, EngineError
        from chronus_tui.osc.server import OscServer  # noqa: F401  (the UI runs one)
    except ImportError as exc:
        return f"engine client or OSC server not available: {exc}"
    engine = EngineClient(audio=audio, env=env)
    try:
        engine.start(lambda event: None)
    except EngineError as exc:
        return f"the engine does not start with --audio {audio}: {exc}"
    finally:
        engine.close()
    return None


class TmuxChronus:
    """`chronus ARGS` in a detached tmux pane of a fixed size; its exit status lands in a file."""

    def __init__(self, workdir: Path, args: list[str], *, width: int = 120, height: int = 40,
                 env: dict[str, str] | None = None) -> None:
        self.socket = f"chronus-ui-{os.getpid()}-{time.monotonic_ns() % 1_000_000}"
        self.exit_file = workdir / "exit-status"
        # Logs and platform folders go to the test's folder, never the user's home.
        env = {"PYO_GUI_WX": "0", "XDG_STATE_HOME": str(workdir / "state"),
               "XDG_DATA_HOME": str(workdir / "data"), "XDG_CONFIG_HOME": str(workdir / "config"),
               **(env or {})}
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        # COLUMNS/LINES (pytest sets them) would override the pane's real size; the test's
        # $CHRONUS_CONFIG_DIR would hide the XDG_CONFIG_HOME the settings are looked for in.
        command = (f"env -u COLUMNS -u LINES -u CHRONUS_CONFIG_DIR {exports} "
                   f"{shlex.quote(str(CHRONUS))} {shlex.join(args)}; "
                   f"echo EXIT=$? > {shlex.quote(str(self.exit_file))}; sleep 600")
        self.tmux("new-session", "-d", "-s", "chronus", "-x", str(width), "-y", str(height), command)

    def tmux(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                                timeout=10, check=True)
        return result.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "chronus")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "chronus", *keys)

    def wait_for(self, *texts: str, timeout: float = 20.0) -> str:
        """The screen once it shows every text; AssertionError with the screen if it never does."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if all(text in screen for text in texts):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{texts} not on screen after {timeout} s:\n{screen}")
            time.sleep(0.1)

    def exit_status(self, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while not self.exit_file.exists() or not self.exit_file.read_text().strip():
            if time.monotonic() > deadline:
                raise AssertionError(f"chronus did not exit within {timeout} s:\n{self.screen()}")
            time.sleep(0.1)
        return self.exit_file.read_text().strip()

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)
