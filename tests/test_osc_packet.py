"""Reading received datagrams: our bounded decoder (chronus_tui.osc.packet) and the server's
receive path, which refuses anything malformed whole and never answers a reply.

python-osc's parser loops forever on a bundle element of negative size; no received
byte reaches it any more. Every malformed shape is refused with PacketError (a
ValueError), none is half-read, and the server answers `/error` and changes nothing.
"""

from __future__ import annotations

import json
import math
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg
from support.osc import OscClient, osc_fixture  # noqa: F401
from test_osc_fuzz import exchange, osc_string

from chronus_tui.osc.packet import BUNDLE, MAX_ARGS, MAX_DEPTH, MAX_ELEMENTS, Message, PacketError, decode
from chronus_tui.osc.server import OscServer, encode
from chronus_tui.session import Session

Osc = tuple[OscServer, OscClient]
HANGING_BUNDLE = BUNDLE + bytes(8) + struct.pack(">i", -8) + b"/x\0\0"


def message(address: str, tags: str, payload: bytes = b"") -> bytes:
    return osc_string(address) + osc_string("," + tags) + payload


def element(data: bytes, size: int | None = None) -> bytes:
    return struct.pack(">i", len(data) if size is None else size) + data


def bundle(*elements: bytes) -> bytes:
    return BUNDLE + bytes(8) + b"".join(elements)


def nested(depth: int, inner: bytes = b"") -> bytes:
    """`depth` bundles, each inside the one before; the innermost holds `inner`."""
    data = bundle(inner)
    for _ in range(depth - 1):
        data = bundle(element(data))
    return data


BPM = message("/seq/bpm", "f", struct.pack(">f", 90.0))


# -- the decoder --------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    [], [1, -(2**31), 2**31 - 1], [2**40, -(2**63)], [0.5, -1.25, 1e-45], ["text", "", "é"],
    [b"\x00\x01\x02", b"abcd", b"abcde"], [True, False, None], [[1, "a"], [], [[2.5]]],
    ["kick", "voice1", "X...", "notes=C2,E2", 41.2, 2],
])
def test_what_python_osc_builds_reads_as_python_osc_reads_it(args: list[Any]) -> None:
    dgram = build_msg("/seq/add", args).dgram
    assert decode(dgram) == [Message("/seq/add", OscMessage(dgram).params)]


def test_bundles_read_in_order_through_nesting_and_ignore_timetags() -> None:
    inner = OscBundleBuilder(12345.0)
    inner.add_content(build_msg("/b", [2]))
    outer = OscBundleBuilder(1.0)
    outer.add_content(build_msg("/a", [1]))
    outer.add_content(inner.build())
    outer.add_content(build_msg("/c", ["3"]))
    assert decode(outer.build().dgram) == [Message("/a", [1]), Message("/b", [2]), Message("/c", ["3"])]
    assert decode(bundle()) == []  # an empty bundle holds nothing to do


def test_a_message_without_a_type_tag_string_has_no_arguments() -> None:
    assert decode(osc_string("/seq/start")) == [Message("/seq/start", [])]


@pytest.mark.skipif(not shutil.which("oscsend"), reason="oscsend not installed (Debian package liblo-tools)")
def test_every_type_tag_liblo_sends_is_read_or_refused_by_name() -> None:
    """liblo's own bytes (oscsend writes the datagram to stdout with the url '-')."""
    def liblo(types: str, *values: str) -> bytes:
        return subprocess.run(["oscsend", "-", "/seq/bpm", types, *values], capture_output=True,
                              check=True, timeout=30).stdout

    assert decode(liblo("ihfdsSTFN", "7", "-8", "1.5", "5e-324", "text", "symbol")) == [
        Message("/seq/bpm", [7, -8, 1.5, 5e-324, "text", "symbol", True, False, None])]
    for tag, values in {"c": ["A"], "m": ["01020304"], "I": []}.items():
        with pytest.raises(PacketError, match=f"unsupported OSC type tag '{tag}' in ,f{tag}"):
            decode(liblo("f" + tag, "1", *values))


@pytest.mark.parametrize("tag, payload", [("r", b"\xff\x00\x00\xff"), ("t", bytes(8)), ("x", b"")])
def test_tags_no_route_takes_are_refused_whole(tag: str, payload: bytes) -> None:
    with pytest.raises(PacketError, match=f"unsupported OSC type tag '{tag}'") as refused:
        decode(message("/seq/bpm", "f" + tag, struct.pack(">f", 90.0) + payload))
    assert refused.value.address == "/seq/bpm"


MALFORMED = {
    "the negative element size python-osc loops on": (HANGING_BUNDLE, "size of -8 bytes"),
    "a zero element size": (bundle(element(b"", 0)), "size of 0 bytes"),
    "an odd element size": (bundle(element(BPM, 6)), "size of 6 bytes"),
    "an element size past the end": (bundle(element(BPM, len(BPM) + 4)), f"size of {len(BPM) + 4} bytes"),
    "an element size past its bundle": (bundle(element(bundle(element(BPM, len(BPM) + 4))), element(BPM)),
                                        f"size of {len(BPM) + 4} bytes"),
    "an element size cut short": (bundle(b"\0\0"), "size is cut short"),
    "a bundle without its timetag": (BUNDLE + bytes(4), "shorter than its header"),
    "an element of neither kind": (bundle(element(b"junk")), "neither a message nor a bundle"),
    "bundles nested too deep": (nested(MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH}"),
    "too many elements": (bundle(*[element(BPM)] * (MAX_ELEMENTS + 1)), f"more than {MAX_ELEMENTS}"),
    "neither a message nor a bundle": (b"\x00\x01garbage", "neither a message"),
    "a float cut short (a truncated /seq/bpm)": (message("/seq/bpm", "f", b"\x42\xb4"), "cut short: 2 of 4"),
    "an int64 cut short": (message("/seq/bpm", "h", bytes(4)), "cut short: 4 of 8"),
    "a double missing": (message("/seq/bpm", "d"), "cut short: 0 of 8"),
    "an address without NUL": (b"/seq/bpm", "address has no terminating NUL"),
    "an address without padding": (b"/seq/bpm\0", "address lacks its padding"),
    "an unprintable address": (osc_string("/seq\x1b[31m/bpm"), "unprintable"),
    "an address not UTF-8": (osc_string(b"/seq\xff"), "not UTF-8"),
    "a string argument without NUL": (message("/seq/remove", "s", b"kick"), "string argument has no"),
    "a type tag string without ','": (osc_string("/seq/bpm") + osc_string("f"), "does not start with ','"),
    "a negative blob size": (message("/seq/remove", "b", struct.pack(">i", -4)), "blob of -4 bytes"),
    "a blob past the end": (message("/seq/remove", "b", struct.pack(">i", 5) + b"abcd"), "blob of 5 bytes"),
    "an unclosed array": (message("/seq/update/notes", "s[i", osc_string("kick") + bytes(4)), "not closed"),
    "a stray ']'": (message("/seq/update/notes", "s]", osc_string("kick")), "closes no array"),
    "arrays nested too deep": (message("/x", "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)),
                               f"arrays nested deeper than {MAX_DEPTH}"),
    "too many arguments": (message("/x", "N" * (MAX_ARGS + 1)), f"at most {MAX_ARGS}"),
    "bytes after the last argument": (BPM + bytes(4), "4 bytes follow the last argument"),
}


@pytest.mark.parametrize("data, reason", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_datagrams_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(PacketError, match=reason.replace("(", r"\(").replace("[", r"\[")):
        decode(data)


def test_a_bundle_with_one_bad_message_is_refused_whole_naming_it() -> None:
    with pytest.raises(PacketError, match="cut short") as refused:
        decode(bundle(element(BPM), element(message("/seq/swing", "d", bytes(4)))))
    assert refused.value.address == "/seq/swing"


def test_the_refused_address_is_empty_where_no_message_could_be_read() -> None:
    with pytest.raises(PacketError) as refused:
        decode(HANGING_BUNDLE)
    assert refused.value.address == ""


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(data=st.binary(max_size=200) | st.binary(max_size=120).map(lambda tail: BUNDLE + tail))
def test_decode_reads_or_refuses_any_bytes(data: bytes) -> None:
    try:
        messages = decode(data)
    except PacketError:
        return
    assert len(data) % 4 == 0 and all(m.address.startswith("/") for m in messages)


# -- the receive path ---------------------------------------------------------------------


def test_the_hanging_bundle_is_refused_in_time(tmp_path: Path) -> None:
    """Run in a child with a deadline: the test cannot hang even if the server does."""
    script = textwrap.dedent(f"""
        from chronus_tui.osc.server import OscServer
        from chronus_tui.session import Session
        from chronus_tui.store import SlotStore
        session = Session(SlotStore({str(tmp_path)!r}))
        server = OscServer(session)
        for data in {[HANGING_BUNDLE, MALFORMED["a float cut short (a truncated /seq/bpm)"][0]]!r}:
            server.received(data, ("127.0.0.1", 9))
        print(server.errors, session.pattern.bpm)
    """)
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("reading the bundle did not end within 60 s")
    assert done.stdout.split() == ["2", "120.0"], done.stderr


def test_malformed_datagrams_get_an_error_and_change_nothing(osc: Osc, session: Session) -> None:
    _, client = osc
    before = session.snapshot()
    for data, _ in MALFORMED.values():
        replies = exchange(client, data)
        assert len(replies) == 1 and replies[0][0] == "/error", (data, replies)
        assert replies[0][1][1].startswith("not a readable OSC message: ")
    assert exchange(client, MALFORMED["a float cut short (a truncated /seq/bpm)"][0]) == [
        ("/error", ["/seq/bpm", "not a readable OSC message: the 'f' argument is cut short: 2 of 4 bytes"])]
    assert session.snapshot() == before


ANSWERS = [
    encode("/ok", ["/seq/bpm", 90.0]), encode("/error", ["/seq/bpm", "fast: not a number"]),
    encode("/error", ["", "not a readable OSC message"]), encode("/notify/tempo", [90.0]),
    encode("/notify/error", ["OSC /x: unknown address"]), encode("/notify/anything", []),
    encode("/seq/status", [json.dumps({"bpm": 90.0})]), encode("/engine/status", ["{}"]),
    encode("/pattern/list", ["[]"]), encode("/engine/schema", ['{"routes":[]}']),
    message("/ok", "f", b"\0\0"),  # unreadable, yet a reply by its address: never answered either
]


def test_replies_and_notifications_are_never_answered(osc: Osc, session: Session) -> None:
    """Answering them could keep two servers talking forever."""
    server, client = osc
    before = session.snapshot()
    for data in ANSWERS:
        assert exchange(client, data) == [], data
    assert server.ignored == len(ANSWERS)
    assert exchange(client, bundle(*map(element, ANSWERS[:4]), element(BPM)))[0][0] == "/ok"  # only BPM
    assert session.snapshot() == {**before, "sequencer": {**before["sequencer"], "bpm": 90.0}}
    # requests on the same addresses are still answered
    assert client.ask("/engine/schema", "json")[0] == "/engine/schema"
    assert client.ok("/notify/subscribe")[1:] and client.ok("/notify/unsubscribe")


async def test_datagrams_from_the_servers_own_address_are_ignored(session: Session) -> None:
    server = OscServer(session, "127.0.0.1", 0)
    await server.start()
    try:
        server.received(encode("/seq/bpm", [99.0]), ("127.0.0.1", server.port))
        server.received(b"garbage", ("127.0.0.1", server.port))
        assert session.pattern.bpm == 120.0 and server.ignored == 2 and server.errors == 0
        server.received(encode("/seq/bpm", [99.0]), ("127.0.0.1", server.port + 1))  # anyone else: served
        assert session.pattern.bpm == 99.0
    finally:
        server.close()


def test_refusals_are_logged_at_a_bounded_rate(osc: Osc, caplog: pytest.LogCaptureFixture) -> None:
    _, client = osc
    caplog.set_level("WARNING", logger="chronus_tui.osc.server")
    for _ in range(300):
        client.send_raw(HANGING_BUNDLE)
        assert client.recv(5.0)[0] == "/error"  # every refusal is answered, logged or not
    assert client.error("/seq/bpm", "x" * 60_000)  # a long text is cut in the log line
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert 10 <= len(refused) < 40, len(refused)  # a burst, then about one a second
    assert all(len(line) < 600 for line in refused)


def test_refusal_log_admits_a_burst_then_one_a_second_and_counts_the_rest() -> None:
    from chronus_tui.osc.server import REFUSAL_BURST, RefusalLog

    now = [0.0]
    refusals = RefusalLog(clock=lambda: now[0])
    assert [refusals.admit("10.0.0.1") for _ in range(REFUSAL_BURST)] == [0] * REFUSAL_BURST
    assert [refusals.admit("10.0.0.1") for _ in range(5)] == [None] * 5
    assert refusals.admit("10.0.0.2") == 0  # another sender has a budget of its own
    now[0] = 1.0
    assert refusals.admit("10.0.0.1") == 5  # the next logged line says how many went unlogged
    assert refusals.admit("10.0.0.1") is None


def with_value(address: str, head: list[str | int], tag: str, value: float | str) -> bytes:
    """A message of `head` (strings and ints) and then `value` sent with type tag `tag`."""
    tags = "".join("s" if isinstance(h, str) else "i" for h in head) + tag
    payload = b"".join(osc_string(h) if isinstance(h, str) else struct.pack(">i", h) for h in head)
    return message(address, tags, payload + (osc_string(str(value)) if tag == "s" else
                                             struct.pack(">" + tag, value)))


BAD_NUMBERS = [("d", 5e-324), ("d", -1e-310), ("f", 1e-40), ("d", 1e39), ("d", -1e300), ("f", math.inf),
               ("d", -math.inf), ("d", math.nan), ("s", "5e-324"), ("s", "1e39"), ("s", "nan"),
               ("s", "9" * 400)]
NUMERIC_ARGS = [("/seq/step", ["bass", 0, 1]), ("/seq/bpm", []), ("/seq/swing", []), ("/mod/voice1/amp", []),
                ("/gate/voice1", []), ("/seq/length", ["bass"]), ("/seq/level", ["bass"]),
                ("/seq/gate", ["bass"]), ("/seq/update/notes", ["bass"]),
                ("/seq/add", ["lead", "voice3", "x..."]),
                ("/pattern/save", []), ("/pattern/load", []), ("/notify/subscribe", [])]


def test_numbers_outside_the_engines_floats_are_refused_everywhere(osc: Osc, session: Session) -> None:
    """A note of 5e-324 used to end in an uncaught math domain error and no reply."""
    _, client = osc
    client.ok("/seq/add", "bass", "voice2", "x.x.")
    before = session.snapshot()
    for tag, value in BAD_NUMBERS:
        for address, head in NUMERIC_ARGS:
            replies = exchange(client, with_value(address, head, tag, value))
            assert [r[0] for r in replies] == ["/error"], (address, tag, value, replies)
        in_a_list = message("/seq/update/notes", "s[i" + tag + "]", osc_string("bass") + struct.pack(">i", 60)
                            + (osc_string(str(value)) if tag == "s" else struct.pack(">" + tag, value)))
        for sent in (in_a_list, build_msg("/seq/update/notes", ["bass", f"C2,{value}"]).dgram):
            assert [r[0] for r in exchange(client, sent)] == ["/error"], (sent, value)
    assert session.snapshot() == before
    assert client.ok("/seq/step", "bass", 1, 1, 440.0)[3] == 69  # a frequency in range still reads
