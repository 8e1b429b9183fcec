"""Fuzzing the server with hypothesis: random addresses, type tags, values and raw datagrams.

Properties: the server answers every datagram and never dies (a valid /seq/status
still answers afterwards), and the state changes only through messages it accepted:
whatever got /error left the session exactly as it was. Numbers include subnormals,
infinities and NaN in every width; every type tag python-osc and liblo send is sent;
payloads are cut short; bundles come with element sizes negative, odd, too large and
nested too deep, and one is applied entirely or refused whole.
"""

from __future__ import annotations

import itertools
import json
import math
import struct
import time
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pythonosc.osc_message_builder import build_msg
from support.osc import OscClient, osc_fixture  # noqa: F401

from chronus_tui.osc.packet import BUNDLE, MAX_DEPTH, MAX_ELEMENTS
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
                         "bar", "now", "immediate", "", " ", "=", "x" * 70,
                         # today's routes: chains, songs, launch quantize, follow actions, exports
                         "A01x4", "A01x4 B05x2 once", "H16×64", "A01x65", "I01", "A00", "loop", "once",
                         "bar2", "bar4", "bar8", "end", "4 next", "2 slot A03", "1 random A03 B07", "off",
                         "previous", "verse", "../verse", "a\u202eb", "e\u0301", "set.mid", ".mid", "²",
                         # expressive steps: /seq/step's options
                         "prob=50", "cond=1:4", "cond=none", "micro=-3", "ratchet=9", "lock=filter/freq:800",
                         "lock=amp:", "unlock=amp", "lock=acid1/res:0.5"])
# Numbers at the edges: subnormal (as doubles and as 32-bit floats), the smallest normal and
# largest 32-bit floats either side of their limits, huge, infinite and NaN.
EDGES = [5e-324, -5e-324, 1e-310, 2.2e-308, 1e-40, -1e-45, 1.1754943508222875e-38, 1.17e-38, 3.4e38, 3.5e38,
         1e300, -1e300, math.inf, -math.inf, math.nan]
doubles = st.floats() | st.floats(-2, 200) | st.sampled_from(EDGES)
floats32 = (st.floats(width=32) | st.floats(-2, 200, width=32)
            | st.sampled_from([1e-45, 1e-40, -1.1e-38, 3.4e38]))
values = st.one_of(
    st.integers(-(2**31), 2**31 - 1), st.integers(-3, 140),
    floats32, st.sampled_from(EDGES),
    words, st.text(max_size=12), st.booleans(), st.none(), st.binary(max_size=6),
)
messages = st.tuples(addresses, st.lists(values, max_size=7))


def state(session: Session) -> tuple[Any, ...]:
    """What a refused message must leave as it was: the pattern, the transport, the chain set
    (and where it plays) and the launch quantize, the song files and the exports."""
    t = session.transport
    files = sorted(str(path.relative_to(session.store.root)) for folder in ("songs", "exports")
                   for path in (session.store.root / folder).glob("*"))
    return (json.dumps(session.snapshot(), sort_keys=True), t.playing, t.playing_slot, t.queued_slot,
            json.dumps(session.chain_status(), sort_keys=True), session.quantize, files)


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


def check(osc: Osc, session: Session, data: bytes, address: str) -> None:
    server, client = osc
    before, ignored = state(session), server.ignored
    replies = exchange(client, data)
    if server.ignored > ignored:  # shaped like a reply (/error, /notify/…): never answered, never applied
        assert not replies and state(session) == before, replies
        return
    assert replies, f"no answer to {data!r}"
    if not data.startswith(BUNDLE):  # one message, one answer (a queued load's `switched` comes later)
        assert len(replies) == 1, replies
    assert not [r for r in replies if r[0] == "/error" and r[1][1].startswith("internal error")], replies
    if any(r[0] == "/error" for r in replies):
        assert state(session) == before, f"{address} was refused yet changed the state: {replies}"


@FUZZ
@given(message=messages)
def test_random_messages(osc: Osc, session: Session, message: tuple[str, list[Any]]) -> None:
    address, args = message
    try:
        data = build_msg(address, args).dgram
    except Exception:
        return  # python-osc cannot even build it (e.g. a surrogate in a string)
    check(osc, session, data, address)


@FUZZ
@given(data=st.binary(max_size=120))
def test_raw_garbage(osc: Osc, session: Session, data: bytes) -> None:
    check(osc, session, data, "garbage")


def osc_string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return raw + b"\0" * (4 - len(raw) % 4)


@FUZZ
@given(address=st.sampled_from(ADDRESSES), tags=st.text(st.sampled_from("ifsbhdtTFNImcr[]S"), max_size=8),
       payload=st.binary(max_size=40))
def test_random_type_tags(osc: Osc, session: Session, address: str, tags: str, payload: bytes) -> None:
    """Any type tag string (known, unknown, unbalanced arrays) over any argument bytes."""
    check(osc, session, osc_string(address) + osc_string("," + tags) + payload, address)


@FUZZ
@given(message=messages, cut=st.integers(0, 200), flips=st.lists(st.tuples(st.integers(0, 200),
                                                                           st.integers(0, 255)), max_size=4))
def test_damaged_datagrams(osc: Osc, session: Session, message: tuple[str, list[Any]], cut: int,
                           flips: list[tuple[int, int]]) -> None:
    """Valid messages with bytes changed or cut off: wrong type tags, short arguments, bad padding."""
    try:
        data = bytearray(build_msg(*message).dgram)
    except Exception:
        return
    for index, byte in flips:
        if index < len(data):
            data[index] = byte
    check(osc, session, bytes(data[: max(1, len(data) - cut % 8)]), message[0])


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


# -- every type tag, with payloads as python-osc and liblo write them --------------------

Arg = tuple[str, bytes]  # type tags (one, or an array's) and their payload


def blob(data: bytes) -> bytes:
    return struct.pack(">i", len(data)) + data + b"\0" * (-len(data) % 4)


def packed(tag: str, layout: str) -> Any:
    return lambda value: (tag, struct.pack(layout, value))


read_args = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(packed("i", ">i")),
    st.integers(-(2**63), 2**63 - 1).map(packed("h", ">q")),
    floats32.map(packed("f", ">f")), doubles.map(packed("d", ">d")),
    words.map(lambda w: ("s", osc_string(w))), words.map(lambda w: ("S", osc_string(w))),
    st.binary(max_size=9).map(lambda b: ("b", blob(b))),
    st.sampled_from("TFN").map(lambda tag: (tag, b"")),
)
UNREAD = ("c", "r", "m", "t", "I")  # char, RGBA colour, MIDI message, timetag, infinitum: no route takes one
unread_args = st.one_of(
    st.tuples(st.sampled_from("crm"), st.binary(min_size=4, max_size=4)),
    st.binary(min_size=8, max_size=8).map(lambda b: ("t", b)), st.just(("I", b"")))


def array(items: list[Arg]) -> Arg:
    return "[" + "".join(tag for tag, _ in items) + "]", b"".join(payload for _, payload in items)


any_args = st.lists(st.one_of(read_args, unread_args, st.lists(read_args, max_size=3).map(array)), max_size=6)


def tagged(address: str, args: list[Arg]) -> bytes:
    tags = "".join(tag for tag, _ in args)
    return osc_string(address) + osc_string("," + tags) + b"".join(payload for _, payload in args)


@FUZZ
@given(address=st.sampled_from(ADDRESSES), args=any_args)
def test_every_type_tag_and_edge_number(osc: Osc, session: Session, address: str, args: list[Arg]) -> None:
    """A tag no route takes refuses the message whole; numbers at any edge never crash a route."""
    _, client = osc
    data = tagged(address, args)
    if not any(tag in UNREAD for tag, _ in args):
        check(osc, session, data, address)
        return
    before = state(session)
    replies = exchange(client, data)
    assert len(replies) == 1 and replies[0][0] == "/error", replies
    assert replies[0][1][1].startswith("not a readable OSC message: unsupported OSC type tag"), replies
    assert state(session) == before


@FUZZ
@given(address=st.sampled_from(ADDRESSES), args=st.lists(read_args, max_size=4),
       last=st.sampled_from([("i", 4), ("h", 8), ("f", 4), ("d", 8), ("s", 4), ("b", 8)]), data=st.data())
def test_truncated_payloads_are_refused(osc: Osc, session: Session, address: str, args: list[Arg],
                                        last: tuple[str, int], data: st.DataObject) -> None:
    """The last argument cut short (python-osc padded a cut float with zeros and applied it)."""
    _, client = osc
    tag, size = last
    payload = data.draw(st.binary(min_size=size, max_size=size))
    if tag == "s":
        payload = payload.replace(b"\0", b"a")[:3] + b"\0"
    elif tag == "b":
        payload = struct.pack(">i", 4) + payload[4:]
    cut = data.draw(st.integers(1, size - 1))
    before = state(session)
    replies = exchange(client, tagged(address, [*args, (tag, payload)])[:-cut])
    assert len(replies) == 1 and replies[0][0] == "/error", replies
    assert replies[0][1][1].startswith("not a readable OSC message"), replies
    assert state(session) == before


# -- malformed bundles --------------------------------------------------------------------


@dataclass(frozen=True)
class Tree:
    """A datagram, and what reading it must find: sound sizes, messages, elements, depth."""

    data: bytes
    sound: bool
    messages: int = 1
    elements: int = 0
    depth: int = 0

    @property
    def readable(self) -> bool:
        return self.sound and self.depth <= MAX_DEPTH and self.elements <= MAX_ELEMENTS


SET = [build_msg(address, [value]).dgram for address, value in
       (("/seq/bpm", 90.0), ("/seq/swing", 0.1), ("/mod/voice1/amp", 0.5), ("/seq/bpm", 100))]
CUT_SHORT = build_msg("/seq/bpm", [90.0]).dgram[:-4]  # its float missing
SIZES = {"right": lambda n: n, "negative": lambda n: -n, "zero": lambda n: 0, "odd": lambda n: n + 2,
         "too large": lambda n: n + 4, "huge": lambda n: 2**31 - 1}


def bundle_of(parts: list[tuple[Tree, str]]) -> Tree:
    body = b"".join(struct.pack(">i", SIZES[size](len(child.data))) + child.data for child, size in parts)
    children = [child for child, _ in parts]
    sound = all(child.sound and size == "right" for child, size in parts)
    return Tree(BUNDLE + bytes(8) + body, sound, sum(child.messages for child in children),
                len(parts) + sum(child.elements for child in children),
                1 + max((child.depth for child in children), default=0))


def chain(depth: int, leaf: Tree) -> Tree:
    tree = bundle_of([(leaf, "right")])
    for _ in range(depth - 1):
        tree = bundle_of([(tree, "right")])
    return tree


leaves = st.sampled_from(SET).map(lambda data: Tree(data, True)) | st.just(Tree(CUT_SHORT, False))
sizes = st.sampled_from(list(SIZES)) | st.just("right")
bundles = st.one_of(
    st.recursive(leaves, lambda trees: st.lists(st.tuples(trees, sizes), max_size=5).map(bundle_of),
                 max_leaves=30).filter(lambda tree: tree.depth > 0),
    st.builds(chain, st.integers(1, MAX_DEPTH + 3), leaves),
    st.builds(lambda n, size: bundle_of([(Tree(SET[0], True), size)] * n), st.integers(1, MAX_ELEMENTS + 8),
              sizes),
)


@settings(FUZZ, max_examples=300)
@given(tree=bundles)
def test_malformed_bundles_never_stall_the_server(osc: Osc, session: Session, tree: Tree) -> None:
    """A bundle is applied entirely or refused whole, and /seq/status answers within 1 s after it."""
    _, client = osc
    before = state(session)
    replies = exchange(client, tree.data)
    if tree.readable:
        assert [address for address, _ in replies] == ["/ok"] * tree.messages, replies
    else:
        assert len(replies) == 1 and replies[0][0] == "/error", replies
        assert replies[0][1][1].startswith("not a readable OSC message"), replies
        assert state(session) == before
    asked = time.monotonic()
    client.send("/seq/status")
    assert client.recv(1.0)[0] == "/seq/status" and time.monotonic() - asked < 1.0
