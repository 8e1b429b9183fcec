"""OSC wire faults against the real `chronus --no-ui`: no datagram can hang it or change it
half-way, two servers cannot keep each other talking, and a flood of garbage writes a
bounded log.

Each fault is followed by a `/seq/status` that must be answered (generous timeouts: the
machine may be loaded) with the state as it was.
"""

from __future__ import annotations

import json
import random
import struct
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from pythonosc.osc_message_builder import build_msg
from support.headless import Headless, headless_fixture, ready  # noqa: F401
from support.osc import OscClient, free_udp_port

from chronus_tui.osc.server import ALL_REFUSAL_BURST, ALL_REFUSALS_PER_SECOND

ANSWER = 10.0  # seconds a reply may take on a loaded machine; a hang never answers at all
HANGING_BUNDLE = b"#bundle\0" + bytes(8) + struct.pack(">i", -8) + b"/x\0\0"
TRUNCATED_BPM = b"/seq/bpm\0\0\0\0,f\0\0\x42\xb4"  # 90.0 cut to 2 of its 4 bytes
UNREADABLE = "not a readable OSC message: "


def status(client: OscClient) -> dict[str, Any]:
    """/seq/status, skipping the replies to what was sent before it."""
    client.send("/seq/status")
    while (reply := client.recv(ANSWER))[0] != "/seq/status":
        pass
    return json.loads(reply[1][0])


def with_double(address: str, head: list[Any], value: float) -> bytes:
    """A message of `head` (as python-osc sends it), then `value` as a 64-bit float."""
    message = build_msg(address, head).dgram
    tags_at = message.index(b"\0") // 4 * 4 + 4
    tags_end = message.index(b"\0", tags_at)
    tags = message[tags_at:tags_end] + b"d"
    padded = tags + b"\0" * (4 - len(tags) % 4)
    return message[:tags_at] + padded + message[tags_end // 4 * 4 + 4:] + struct.pack(">d", value)


def test_the_negative_size_bundle_is_refused_and_the_server_answers(headless: Headless) -> None:
    """python-osc's bundle parser looped forever on it: 100% CPU, no replies, SIGTERM ignored."""
    client = OscClient(headless.port)
    before = status(client)
    client.send_raw(HANGING_BUNDLE)
    address, (where, message) = client.recv(ANSWER)
    assert (address, where) == ("/error", "")
    assert message.startswith(UNREADABLE + "a bundle element's size of -8")
    assert status(client) == before
    assert headless.stop(15) == 0  # SIGTERM ends it as always


def test_a_truncated_bpm_is_refused(headless: Headless) -> None:
    """It used to be padded with zeros and applied (the tempo jumped)."""
    client = OscClient(headless.port)
    before = status(client)
    client.send_raw(TRUNCATED_BPM)
    assert client.recv(ANSWER) == ("/error", ["/seq/bpm",
                                              UNREADABLE + "the 'f' argument is cut short: 2 of 4 bytes"])
    assert status(client) == before


def test_a_subnormal_note_is_refused(headless: Headless) -> None:
    """A note of 5e-324 ended in an uncaught math domain error and no reply."""
    client = OscClient(headless.port)
    client.send("/seq/add", "bass", "voice2", "x.x.")
    before = status(client)
    for data in (with_double("/seq/step", ["bass", 0, 1], 5e-324),
                 build_msg("/seq/update/notes", ["bass", "5e-324"]).dgram,
                 build_msg("/seq/update/notes", ["bass", "C2,1e-320"]).dgram,
                 with_double("/mod/voice1/freq", [], 5e-324), with_double("/seq/bpm", [], 1e300)):
        client.send_raw(data)
        address, (_, message) = client.recv(ANSWER)
        assert address == "/error" and "outside the numbers the engine computes with" in message, message
    assert status(client) == before


def garbage(rng: random.Random) -> bytes:
    nested = HANGING_BUNDLE
    for _ in range(rng.randrange(1, 8)):
        nested = b"#bundle\0" + bytes(8) + struct.pack(">i", len(nested)) + nested
    return rng.choice([
        HANGING_BUNDLE, TRUNCATED_BPM, nested, rng.randbytes(rng.randrange(1, 200)),
        b"#bundle\0" + bytes(8) + struct.pack(">i", rng.choice([-4, 2, 6, 2**31 - 1])) + rng.randbytes(12),
        build_msg("/seq/bpm", ["fast" * rng.randrange(1, 500)]).dgram, build_msg("/no/such/route", [1]).dgram,
    ])


def test_a_flood_of_garbage_writes_a_bounded_log(headless: Headless) -> None:
    client, flood = OscClient(headless.port), OscClient(headless.port)  # flood's replies overflow unread
    before = status(client)
    logged = len(headless.lines)
    rng = random.Random(13)
    started = time.monotonic()
    for _ in range(3000):
        flood.send_raw(garbage(rng))
    assert status(client) == before
    elapsed = time.monotonic() - started
    flood_lines = headless.lines[logged:]
    refused = [line for line in flood_lines if "refused" in line]
    assert len(refused) <= ALL_REFUSAL_BURST + ALL_REFUSALS_PER_SECOND * elapsed + 2, (elapsed, refused)
    assert len(flood_lines) <= len(refused) + 5, flood_lines  # the status query's own line, little else
    assert sum(len(line) for line in flood_lines) < 400 * len(flood_lines) + 1  # each line cut short
    time.sleep(1.5)  # a budget refills: the next refusal is logged, saying how many were not
    client.send_raw(HANGING_BUNDLE)
    headless.wait_for("more refused from 127.0.0.1 not logged")


def datagrams(client: OscClient, quiet: float = 2.0) -> list[bytes]:
    """Every datagram that reaches `client`, as sent, until none comes for `quiet` seconds."""
    heard = []
    client.sock.settimeout(quiet)
    try:
        while True:
            heard.append(client.sock.recv(65536))
    except TimeoutError:
        return heard


QUERIES = ("/seq/status", "/engine/status", "/pattern/list", "/engine/schema")
REQUESTS = [build_msg(address, args).dgram for address, args in [
    ("/notify/subscribe", []), ("/seq/bpm", [90.0]), ("/seq/bpm", ["fast"]), ("/no/such", []),
    ("/seq/add", ["k", "voice1", "x"]), *((query, []) for query in QUERIES),
]] + [HANGING_BUNDLE, TRUNCATED_BPM]


def test_one_servers_replies_sent_to_another_are_never_answered(tmp_path: Path) -> None:
    """Everything A answers (and notifies), relayed to B, gets no answer from B and changes nothing."""
    with ExitStack() as stack:
        a, b = (stack.enter_context(ready(Headless(tmp_path / name / "patterns", tmp_path / name / "state",
                                                   free_udp_port()))) for name in ("a", "b"))
        to_a, to_b = OscClient(a.port), OscClient(b.port)
        before = status(to_b)
        for request in REQUESTS:
            to_a.send_raw(request)
        replies = datagrams(to_a)
        addresses = {reply[:reply.index(b"\0")].decode() for reply in replies}
        assert addresses >= {"/ok", "/error", "/notify/tempo", *QUERIES}
        for reply in replies:
            to_b.send_raw(reply)
        assert datagrams(to_b) == []
        assert status(to_b) == before


def test_two_servers_notifying_each_other_go_quiet(tmp_path: Path) -> None:
    """A's notifications go to B's port and B's to A's: neither answers the other's, so no
    /error ping-pong starts (each would call the other's notification an unknown address)."""
    with ExitStack() as stack:
        a, b = (stack.enter_context(ready(Headless(tmp_path / name / "patterns", tmp_path / name / "state",
                                                   free_udp_port()))) for name in ("a", "b"))
        to_a, to_b = OscClient(a.port), OscClient(b.port)
        bpm_of_b = status(to_b)["bpm"]
        assert to_a.ok("/notify/subscribe", b.port)[:2] == ["127.0.0.1", b.port]
        assert to_b.ok("/notify/subscribe", a.port)[:2] == ["127.0.0.1", a.port]
        for bpm in (90, 100, 110):
            to_a.ok("/seq/bpm", bpm)
            to_b.ok("/seq/swing", bpm / 1000)
        time.sleep(2.0)  # a loop would be thousands of errors by now
        for client in (to_a, to_b):
            client.send("/engine/status")
            while (reply := client.recv(ANSWER))[0] != "/engine/status":
                pass
            assert json.loads(reply[1][0])["osc_errors"] == 0
        assert status(to_a)["bpm"] == 110.0 and status(to_b)["bpm"] == bpm_of_b
