"""One OSC message from its own socket, and every reply it gets (for `chronus send`, cli.cmd_send).

Arguments that read as numbers are sent as int or float, the rest as strings.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from pythonosc.osc_message_builder import build_msg

from chronus_tui.osc.packet import PacketError, decode

QUIET = 0.15  # seconds without a reply after which no more are expected


def osc_value(text: str) -> int | float | str:
    """An argument as typed on the command line: int, float, or string."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def exchange(host: str, port: int, address: str, values: list[Any],
             timeout: float) -> list[tuple[str, list[Any]]]:
    """Send one message; collect replies until none comes for a moment (or `timeout` passes).

    After a queued load's `/ok … queued` it waits up to `timeout` for the `switched`
    follow-up. OSError when the message cannot be sent or nothing listens there.
    """
    data = build_msg(address, values).dgram
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((socket.gethostbyname(host), port))  # also surfaces "connection refused"
        sock.send(data)
        replies: list[tuple[str, list[Any]]] = []
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            waiting_for_more = replies and not _follow_up_expected(replies[-1])
            wait = min(deadline - now, QUIET) if waiting_for_more else deadline - now
            if wait <= 0:
                return replies
            sock.settimeout(wait)
            try:
                packet = sock.recv(65536)
            except TimeoutError:
                return replies
            try:  # a reply is read as warily as a request: the same bounded decoder
                messages = decode(packet)
            except PacketError:
                continue  # not ours to read
            replies.extend((message.address, message.args) for message in messages)


def _follow_up_expected(reply: tuple[str, list[Any]]) -> bool:
    address, args = reply
    return address == "/ok" and "queued" in args
