"""`chronus send ADDRESS [ARG ...]`: one OSC message from its own socket; prints every reply.

Arguments that read as numbers are sent as int or float, the rest as strings. A
query's answer (a reply on the request's own address) is printed as its argument
alone, so `chronus send /seq/status | jq .` works; other replies print as
`address arg …`. Exit status: 0 when answered, 1 on `/error` or when no reply came (a
message on stderr says which), 2 for a usage error (argparse's, e.g. an address without
its leading `/`).
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from typing import Any

from pythonosc.osc_message_builder import build_msg

from chronus_tui.osc.packet import PacketError, decode

QUIET = 0.15  # seconds without a reply after which no more are expected
EXIT_FAILED = 1  # an /error, or no reply at all


def osc_value(text: str) -> int | float | str:
    """An argument as typed on the command line: int, float, or string."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def send_main(args: argparse.Namespace) -> int:
    values = [osc_value(text) for text in args.args]
    try:
        replies = exchange(args.host, args.port, args.address, values, args.timeout)
    except OSError as exc:
        print(f"chronus send: {args.host}:{args.port}: {exc.strerror or exc} (is chronus running?)",
              file=sys.stderr)
        return EXIT_FAILED
    for address, reply_args in replies:
        if address == args.address:
            print(*(str(v) for v in reply_args))
        else:
            print(address, *(str(v) for v in reply_args))
    if not replies:
        print(f"chronus send: no reply from {args.host}:{args.port} within {args.timeout:g} s "
              "(is chronus running there? on another machine it answers only the senders its "
              "--osc-allow names)",
              file=sys.stderr)
        return EXIT_FAILED
    if any(address == "/error" for address, _ in replies):
        return EXIT_FAILED
    return 0


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
