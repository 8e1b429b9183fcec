"""The server's API on the caller's own asyncio loop, as the Textual UI runs it."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg

from chronus_tui.osc.server import OscServer, encode
from chronus_tui.session import Change, Session


async def ask(port: int, address: str, *args: object) -> tuple[str, list]:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.bind(("127.0.0.1", 0))
        await loop.sock_sendto(sock, build_msg(address, list(args)).dgram, ("127.0.0.1", port))
        data = await asyncio.wait_for(loop.sock_recv(sock, 65536), 2)
    message = OscMessage(data)
    return message.address, list(message.params)


async def test_server_runs_on_the_callers_loop(session: Session) -> None:
    seen: list[Change] = []
    session.subscribe(seen.append)
    server = OscServer(session, "127.0.0.1", 0)
    await server.start()
    try:
        assert server.address == f"127.0.0.1:{server.port}" and server.port > 0
        assert await ask(server.port, "/seq/bpm", 99) == ("/ok", ["/seq/bpm", 99.0])
        assert await ask(server.port, "/pattern/save", 2) == ("/ok", ["/pattern/save", 2, "A02", "untitled"])
        assert (await ask(server.port, "/seq/bpm", "x"))[0] == "/error"
    finally:
        server.close()
    # an edit names its client (each ask is a socket of its own); a refusal is the server's
    sources = [(c.kind, c.source[:14]) for c in seen if c.kind in ("tempo", "saved", "error")]
    assert sources == [("tempo", "osc 127.0.0.1:"), ("saved", "osc 127.0.0.1:"), ("error", "osc")]
    # closed (the socket itself on the loop's next turn): the port is free again
    await asyncio.sleep(0)
    again = OscServer(session, "127.0.0.1", server.port)
    await again.start()
    again.close()


async def test_a_taken_port_raises_oserror(session: Session) -> None:
    first = OscServer(session, "127.0.0.1", 0)
    await first.start()
    try:
        with pytest.raises(OSError):
            await OscServer(session, "127.0.0.1", first.port).start()
    finally:
        first.close()


def test_encode_writes_what_python_osc_reads() -> None:
    args = ["text", "", "é", 1, -(2**31), 2**40, 0.5, 1e300, True, False, None]
    assert OscMessage(encode("/ok", args)).params == args


# -- who is served ------------------------------------------------------------------------


def non_loopback_address() -> str:
    """This machine's address on its default route (a sender other than loopback), else skip."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("198.51.100.1", 9))  # no packet is sent: this only picks a route
        except OSError as exc:
            pytest.skip(f"no non-loopback IPv4 address to send from ({exc})")
        return sock.getsockname()[0]


async def ask_from(source: str, port: int, address: str, timeout: float) -> tuple[str, list] | None:
    """Ask from `source` (an address of this machine); None if no reply came in `timeout` s."""
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.bind((source, 0))
        target = ("127.0.0.1" if source.startswith("127.") else source, port)
        await loop.sock_sendto(sock, build_msg(address, []).dgram, target)
        try:
            data = await asyncio.wait_for(loop.sock_recv(sock, 65536), timeout)
        except TimeoutError:
            return None
    message = OscMessage(data)
    return message.address, list(message.params)


async def test_on_a_public_address_only_loopback_and_allowed_senders_are_served(
        session: Session, caplog: pytest.LogCaptureFixture) -> None:
    outsider = non_loopback_address()
    server = OscServer(session, "0.0.0.0", 0, allow=[ipaddress.IPv4Network("10.0.0.0/8")])
    with caplog.at_level(logging.WARNING, logger="chronus_tui.osc.server"):
        warning = await server.start()  # returned too, for the UI to show
    try:
        warnings = [r.getMessage() for r in caplog.records if "reachable from other" in r.getMessage()]
        assert warnings == [warning] and "10.0.0.0/8 and loopback" in warning
        assert (await ask_from("127.0.0.1", server.port, "/seq/status", 2))[0] == "/seq/status"
        assert await ask_from(outsider, server.port, "/seq/clear", 0.5) is None
        assert server.dropped == 1
        status = await ask_from("127.0.0.1", server.port, "/engine/status", 2)
        assert json.loads(status[1][0])["osc_dropped"] == 1
        # the rule itself, for senders this machine cannot send from
        assert server.serves("10.200.3.4") and server.serves("127.0.0.9")
        assert not server.serves("11.0.0.1") and not server.serves(outsider)
    finally:
        server.close()


async def test_without_an_allow_list_a_public_socket_serves_loopback_only(
        session: Session, caplog: pytest.LogCaptureFixture) -> None:
    outsider = non_loopback_address()
    session.set_bpm(111)
    server = OscServer(session, "0.0.0.0", 0)
    with caplog.at_level(logging.WARNING, logger="chronus_tui.osc.server"):
        await server.start()
    try:
        assert any("only loopback senders" in r.getMessage() for r in caplog.records)
        assert await ask_from(outsider, server.port, "/seq/bpm", 0.5) is None
        assert session.pattern.bpm == 111 and server.dropped == 1
        assert (await ask_from("127.0.0.1", server.port, "/seq/status", 2))[0] == "/seq/status"
    finally:
        server.close()


async def test_a_loopback_socket_serves_every_sender_and_warns_of_nothing(
        session: Session, caplog: pytest.LogCaptureFixture) -> None:
    server = OscServer(session, "127.0.0.1", 0)
    with caplog.at_level(logging.WARNING, logger="chronus_tui.osc.server"):
        assert await server.start() is None
    try:
        assert not [r for r in caplog.records if "reachable" in r.getMessage()]
        assert server.serves("203.0.113.5")  # only this machine can reach a loopback socket
    finally:
        server.close()
