"""The real `chronus --no-ui` as a subprocess, for tests that drive it as a user would.

`Headless(patterns_dir, state_dir, port, *extra_args)` starts it with `--audio null`;
`wait_for(text)` waits for a stderr line; `stop(sig)` ends it; `with ready(Headless(…)) as p:`
waits until it listens and kills it if the block leaves it running. The `headless` fixture
(import it: `from support.headless import headless_fixture  # noqa: F401`) yields one that
is listening, on a free port, with its own patterns and state folders under tmp_path.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.osc import free_udp_port

READY = "listening for OSC on"


class Headless:
    def __init__(self, patterns_dir: Path, state_dir: Path, port: int, *extra: str) -> None:
        self.port = port
        env = {**os.environ, "PYO_GUI_WX": "0", "XDG_STATE_HOME": str(state_dir)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chronus_tui", "--no-ui", "--audio", "null", "--osc-port", str(port),
             "--patterns-dir", str(patterns_dir), *extra],
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


@contextlib.contextmanager
def ready(process: Headless) -> Iterator[Headless]:
    """`process` once it listens; killed on the way out if it still runs."""
    try:
        process.wait_for(READY)
        yield process
    finally:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


@pytest.fixture(name="headless")
def headless_fixture(tmp_path: Path) -> Iterator[Headless]:
    with ready(Headless(tmp_path / "patterns", tmp_path / "state", free_udp_port())) as process:
        yield process


def run_console(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The installed `chronus` console script with `args`, in a child process, run to its end."""
    script = Path(sys.executable).with_name("chronus")
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYO_GUI_WX": "0"})
