"""Helpers for the OSC tests: a UDP client, and a server on a free loopback port.

Use the fixture by importing it into a test module:
`from support.osc import osc_fixture  # noqa: F401`; a test then asks for `osc`, which
yields (server, client) over the conftest `session` (whose FakeEngine makes loads queue
while the transport runs).
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg

from chronus_tui.osc.server import OscServer, serve_in_thread
from chronus_tui.session import Session

Reply = tuple[str, list[Any]]


class OscClient:
    """A UDP socket on loopback that sends OSC and reads the replies addressed to it."""

    def __init__(self, port: int) -> None:
        self.target = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Room for the replies to a volley sent before reading any: the kernel charges ~1 KB a
        # datagram, so the default buffer drops replies past a few hundred, the last one too.
        # (SO_RCVBUFFORCE passes the sysctl cap where we may, as the server does.)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 4 << 20)  # SO_RCVBUFFORCE
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()

    def send(self, address: str, *args: Any) -> None:
        self.sock.sendto(build_msg(address, list(args)).dgram, self.target)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.target)

    def recv(self, timeout: float = 2.0) -> Reply:
        self.sock.settimeout(timeout)
        message = OscMessage(self.sock.recv(65536))
        return message.address, list(message.params)

    def recv_all(self, quiet: float = 0.1) -> list[Reply]:
        """Every reply until none arrives for `quiet` seconds."""
        replies = []
        try:
            while True:
                replies.append(self.recv(quiet))
        except TimeoutError:
            return replies

    def ask(self, address: str, *args: Any) -> Reply:
        self.send(address, *args)
        return self.recv()

    def ok(self, address: str, *args: Any) -> list[Any]:
        """Send and expect `/ok <address> …`; the values after the address."""
        reply = self.ask(address, *args)
        assert reply[0] == "/ok" and reply[1][0] == address, f"{address} {args} got {reply}"
        return reply[1][1:]

    def error(self, address: str, *args: Any) -> str:
        """Send and expect `/error <address> <message>`; the message."""
        reply = self.ask(address, *args)
        assert reply[0] == "/error", f"{address} {args} got {reply}, expected /error"
        return reply[1][1]

    def query(self, address: str, *args: Any) -> Any:
        reply = self.ask(address, *args)
        assert reply[0] == address and len(reply[1]) == 1, f"{address} got {reply}"
        return json.loads(reply[1][0])


def oscsend(server: OscServer, address: str, types: str = "", *values: object) -> None:
    """One message through liblo's `oscsend` (a client we did not write; liblo-tools)."""
    subprocess.run(["oscsend", "localhost", str(server.port), address, types, *map(str, values)],
                   check=True, timeout=5)


def free_udp_port() -> int:
    """A loopback UDP port nothing listens on (yet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Any, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


@pytest.fixture(name="osc")
def osc_fixture(session: Session) -> Iterator[tuple[OscServer, OscClient]]:
    with serve_in_thread(session) as server:
        client = OscClient(server.port)
        try:
            yield server, client
        finally:
            client.close()
