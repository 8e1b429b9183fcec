"""The server's API on the caller's own asyncio loop, as the Textual UI runs it."""

from __future__ import annotations

import asyncio
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
    assert [(c.kind, c.source) for c in seen if c.kind in ("tempo", "saved", "error")] == [
        ("tempo", "osc"), ("saved", "osc"), ("error", "osc")]
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
