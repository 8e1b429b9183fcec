"""`chronus send` as a real subprocess: what it prints and its exit status."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from support.osc import OscClient, free_udp_port, osc_fixture, wait_until  # noqa: F401

from chronus_tui.osc.send import osc_value
from chronus_tui.osc.server import OscServer, encode
from chronus_tui.session import Session

Osc = tuple[OscServer, OscClient]


def chronus_send(port: int, *args: str, timeout: float = 1.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chronus_tui", "send", "--port", str(port),
                           "--timeout", str(timeout), *args],
                          capture_output=True, text=True, timeout=30, env={**os.environ, "PYO_GUI_WX": "0"})


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A UDP port where something listens but never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_arguments_are_sent_as_numbers_when_they_read_as_numbers() -> None:
    assert [osc_value(a) for a in ("128", "-1", "0.5", "1e3", "41.2,49,55", "kick")] == [
        128, -1, 0.5, 1000.0, "41.2,49,55", "kick"]


def test_command_prints_its_confirmation(osc: Osc, session: Session) -> None:
    server, _ = osc
    result = chronus_send(server.port, "/seq/add", "acid", "voice2", "x.x.X...", "41.2", "notes=41.2,49,55")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("/ok /seq/add acid voice2 x.x.X... "
                             "base_freq ignored: notes set every hit's pitch\n")
    assert [s.note for s in session.pattern.track("acid").steps if s.on] == [28, 49, 55]


def test_the_common_osc_port_option_is_where_send_sends(osc: Osc, session: Session) -> None:
    """`chronus --osc-port P send …`: the port a headless chronus was started with."""
    server, _ = osc
    result = subprocess.run([sys.executable, "-m", "chronus_tui", "--osc-port", str(server.port), "send",
                             "/seq/bpm", "97"], capture_output=True, text=True, timeout=30,
                            env={**os.environ, "PYO_GUI_WX": "0"})
    assert result.returncode == 0, result.stderr
    assert session.pattern.bpm == 97


def test_query_prints_the_json_alone(osc: Osc, session: Session) -> None:
    server, _ = osc
    session.set_bpm(111)
    result = chronus_send(server.port, "/seq/status")
    assert result.returncode == 0
    assert json.loads(result.stdout)["bpm"] == 111.0


def test_error_exits_1(osc: Osc, session: Session) -> None:
    server, _ = osc
    result = chronus_send(server.port, "/seq/bpm", "fast")
    assert result.returncode == 1
    assert result.stdout == "/error /seq/bpm bpm: 'fast' is not a number\n"


def test_queued_load_prints_both_replies(osc: Osc, session: Session, engine: Any) -> None:
    server, _ = osc
    session.save_slot(3, "three")
    session.start()

    def switch_when_queued() -> None:
        wait_until(lambda: session.pending is not None, timeout=10)
        session.on_engine_event(engine.switch(session.pending.token))

    switcher = threading.Thread(target=switch_when_queued)
    switcher.start()
    result = chronus_send(server.port, "/pattern/load", "3", timeout=5)
    switcher.join()
    assert result.returncode == 0, result.stderr
    assert result.stdout == "/ok /pattern/load 3 queued bar\n/ok /pattern/load 3 switched\n"


def test_nothing_listening_exits_1() -> None:
    result = chronus_send(free_udp_port(), "/seq/start")
    assert result.returncode == 1
    assert "is chronus running?" in result.stderr


@pytest.mark.parametrize("message", [("/engine/status",), ("/seq/bpm", "120")])
def test_no_reply_exits_1_with_a_message_for_queries_and_commands(silent_port: int,
                                                                   message: tuple[str, ...]) -> None:
    result = chronus_send(silent_port, *message, timeout=0.3)
    assert result.returncode == 1
    assert "no reply" in result.stderr and result.stdout == ""


def test_an_address_without_its_slash_is_a_usage_error(silent_port: int) -> None:
    result = chronus_send(silent_port, "seq/bpm", "120")
    assert result.returncode == 2
    assert "OSC addresses start with /" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("port", ["70000", "0", "-1", "fifty"])
def test_a_port_out_of_range_is_a_usage_error(port: str) -> None:
    result = subprocess.run([sys.executable, "-m", "chronus_tui", "send", "--port", port, "/seq/start"],
                            capture_output=True, text=True, timeout=30, env={**os.environ, "PYO_GUI_WX": "0"})
    assert result.returncode == 2
    assert "argument --port" in result.stderr and "Traceback" not in result.stderr


def test_a_malformed_reply_is_skipped_not_a_hang() -> None:
    """Whatever answers on the port is read with the server's bounded decoder: a malformed
    bundle (the one that sent python-osc's bundle parser round forever) is skipped, and the
    real reply after it counts."""
    hanging_bundle = b"#bundle\0" + bytes(8) + struct.pack(">i", -8) + b"/x\0\0"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as fake_server:
        fake_server.bind(("127.0.0.1", 0))
        fake_server.settimeout(20)

        def answer() -> None:
            _, sender = fake_server.recvfrom(65536)
            fake_server.sendto(hanging_bundle, sender)
            fake_server.sendto(encode("/ok", ["/seq/bpm", 120.0]), sender)

        threading.Thread(target=answer, daemon=True).start()
        result = chronus_send(fake_server.getsockname()[1], "/seq/bpm", "120", timeout=2.0)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["/ok", "/seq/bpm", "120.0"]
