"""Fuzzing the server with hypothesis: random addresses, type tags, values and raw datagrams.

Properties: the server answers every datagram and never dies (a valid /seq/status
still answers afterwards), and the state changes only through messages it accepted:
whatever got /error left the session exactly as it was.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from osc_support import OscClient, osc_fixture  # noqa: F401
from pythonosc.osc_message_builder import build_msg

from chronus_tui.osc.routes import address_map, unknown_address
from chronus_tui.osc.server import OscServer
from chronus_tui.session import Session

Osc = tuple[OscServer, OscClient]
FENCES = itertools.count()
UNKNOWN = unknown_address("/fence")
FUZZ = settings(max_examples=400, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Feedback routes would make the server send to random ports of this machine: left out.
ADDRESSES = sorted(a for a in address_map() if not a.startswith("/notify/"))
addresses = st.one_of(
    st.sampled_from(ADDRESSES),
    st.sampled_from(ADDRESSES).map(lambda a: a + "x"),
    st.sampled_from(["/mod/voice1", "/mod/voice0/freq", "/gate/", "/seq", "/seq/add/", "/mod/*/freq",
                     "/MOD/voice1/freq", "//seq/bpm", "/pattern/load/5"]),
    st.text(st.characters(codec="ascii", exclude_characters="\x00"), max_size=20).map(lambda t: "/" + t),
)
words = st.sampled_from(["kick", "bass", "voice1", "voice2", "x...X...", "X", "41.2,49,55", "C3", "true",
                         "0", "1", "128", "-1", "nan", "inf", "notes=C2,E2", "base_freq=60", "level=2",
                         "bar", "now", "immediate", "", " ", "=", "x" * 70])
values = st.one_of(
    st.integers(-(2**31), 2**31 - 1), st.integers(-3, 140),
    st.floats(width=32), st.floats(-2, 200, width=32),
    words, st.text(max_size=12), st.booleans(), st.none(), st.binary(max_size=6),
)
messages = st.tuples(addresses, st.lists(values, max_size=7))


def state(session: Session) -> tuple[Any, ...]:
    t = session.transport
    return json.dumps(session.snapshot(), sort_keys=True), t.playing, t.playing_slot, t.queued_slot


def exchange(client: OscClient, data: bytes) -> list[tuple[str, list[Any]]]:
    """Send a datagram, then a fence; every reply that came before the fence's answer.

    The fence is an address no fuzzed message can have, so its /error marks the end
    of the replies to the datagram (messages are answered in arrival order)."""
    fence = f"/fence/{next(FENCES)}"
    client.send_raw(data)
    client.send(fence)
    replies = []
    while (reply := client.recv(5.0)) != ("/error", [fence, UNKNOWN]):
        replies.append(reply)
    return replies


def check(client: OscClient, session: Session, data: bytes, address: str) -> None:
    before = state(session)
    replies = exchange(client, data)
    assert replies, f"no answer to {data!r}"
    assert not [r for r in replies if r[0] == "/error" and r[1][1].startswith("internal error")], replies
    if any(r[0] == "/error" for r in replies):
        assert state(session) == before, f"{address} was refused yet changed the state: {replies}"


@FUZZ
@given(message=messages)
def test_random_messages(osc: Osc, session: Session, message: tuple[str, list[Any]]) -> None:
    _, client = osc
    address, args = message
    try:
        data = build_msg(address, args).dgram
    except Exception:
        return  # python-osc cannot even build it (e.g. a surrogate in a string)
    check(client, session, data, address)


@FUZZ
@given(data=st.binary(max_size=120))
def test_raw_garbage(osc: Osc, session: Session, data: bytes) -> None:
    _, client = osc
    check(client, session, data, "garbage")


def osc_string(text: str) -> bytes:
    raw = text.encode()
    return raw + b"\0" * (4 - len(raw) % 4)


@FUZZ
@given(address=st.sampled_from(ADDRESSES), tags=st.text(st.sampled_from("ifsbhdtTFNImcr[]S"), max_size=8),
       payload=st.binary(max_size=40))
def test_random_type_tags(osc: Osc, session: Session, address: str, tags: str, payload: bytes) -> None:
    """Any type tag string (known, unknown, unbalanced arrays) over any argument bytes."""
    _, client = osc
    check(client, session, osc_string(address) + osc_string("," + tags) + payload, address)


@FUZZ
@given(message=messages, cut=st.integers(0, 200), flips=st.lists(st.tuples(st.integers(0, 200),
                                                                           st.integers(0, 255)), max_size=4))
def test_damaged_datagrams(osc: Osc, session: Session, message: tuple[str, list[Any]], cut: int,
                           flips: list[tuple[int, int]]) -> None:
    """Valid messages with bytes changed or cut off: wrong type tags, short arguments, bad padding."""
    _, client = osc
    try:
        data = bytearray(build_msg(*message).dgram)
    except Exception:
        return
    for index, byte in flips:
        if index < len(data):
            data[index] = byte
    check(client, session, bytes(data[: max(1, len(data) - cut % 8)]), message[0])


def test_server_survives_a_volley_of_bad_messages(osc: Osc, session: Session) -> None:
    """Garbage and refused messages sent without waiting for replies, mixed with valid sets."""
    _, client = osc
    for i in range(300):
        client.send_raw(bytes([i % 256]) * (i % 50))
        client.send("/seq/bpm", "x" * (i % 5))
        client.send(f"/mod/voice{i % 10}/amp", i / 300)
    client.send("/seq/status")
    while (reply := client.recv(5.0))[0] != "/seq/status":
        pass  # the replies to the volley come first: messages are answered in order
    assert json.loads(reply[1][0])["bpm"] == 120.0
    # voice8 was last set by i = 298 (the last i with i % 10 == 8)
    assert session.snapshot()["modules"]["voice8"]["amp"] == pytest.approx(298 / 300)
