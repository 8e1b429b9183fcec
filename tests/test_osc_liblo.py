"""A client we did not write: liblo's `oscsend` plays the server, `oscdump` hears its feedback.

oscsend's socket closes as soon as it has sent, so what it changed is checked in the
session and in the notifications an `oscdump` subscriber receives (refusals included,
as /notify/error).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from support.osc import OscClient, free_udp_port, osc_fixture, oscsend, wait_until  # noqa: F401

from chronus_tui.osc.server import OscServer
from chronus_tui.session import Session

Osc = tuple[OscServer, OscClient]

pytestmark = pytest.mark.skipif(not (shutil.which("oscsend") and shutil.which("oscdump")),
                                reason="oscsend/oscdump not installed (Debian package liblo-tools)")


class Dump:
    """`oscdump -L PORT` in the background; `lines` are its messages as (address, "types values")."""

    def __init__(self) -> None:
        self.port = free_udp_port()
        self.proc = subprocess.Popen(["oscdump", "-L", str(self.port)], stdout=subprocess.PIPE, text=True)
        self.lines: list[tuple[str, str]] = []
        threading.Thread(target=self._read, daemon=True).start()
        probe = OscClient(self.port)
        try:  # wait until it listens
            deadline = time.monotonic() + 5
            while not any(address == "/probe" for address, _ in self.lines):
                assert time.monotonic() < deadline, "oscdump did not start"
                probe.send("/probe")
                time.sleep(0.02)
        finally:
            probe.close()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            _, address, *rest = line.rstrip("\n").split(" ", 2)
            self.lines.append((address, rest[0] if rest else ""))

    def wait_for(self, address: str, text: str) -> None:
        wait_until(lambda: (address, text) in self.lines)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


@pytest.fixture
def dump(osc: Osc) -> Iterator[Dump]:
    server, _ = osc
    listener = Dump()
    oscsend(server, "/notify/subscribe", "i", listener.port)
    yield listener
    listener.close()


def test_oscsend_sets_tempo_params_and_tracks(osc: Osc, session: Session, dump: Dump) -> None:
    server, _ = osc
    oscsend(server, "/seq/bpm", "f", 128)
    dump.wait_for("/notify/tempo", "f 128.000000")
    oscsend(server, "/seq/bpm", "i", 100)  # an int where a float is meant
    dump.wait_for("/notify/tempo", "f 100.000000")
    oscsend(server, "/seq/bpm", "s", "140.5")  # a number as a string
    dump.wait_for("/notify/tempo", "f 140.500000")
    oscsend(server, "/seq/bpm", "d", 133.25)  # a double
    dump.wait_for("/notify/tempo", "f 133.250000")
    oscsend(server, "/mod/acid1/cutoff", "h", 1200)  # a 64-bit int
    dump.wait_for("/notify/param", 'ssf "acid1" "cutoff" 1200.000000')
    oscsend(server, "/seq/add", "sssfs", "acid", "voice2", "x.x.X...", 55, "notes=41.2,49,A2")
    dump.wait_for("/notify/tracks", 's "acid"')
    oscsend(server, "/seq/mute", "sT", "acid")  # true as the T type tag
    oscsend(server, "/seq/step", "siiiii", "acid", 1, 1, 60, 1, 1)
    oscsend(server, "/seq/swing", "f", 0.2)
    dump.wait_for("/notify/swing", "f 0.200000")
    assert session.pattern.bpm == 133.25
    assert session.pattern.swing == pytest.approx(0.2)
    assert session.pattern.modules["acid1"]["cutoff"] == 1200.0
    acid = session.pattern.track("acid")
    assert acid.mute
    assert [(s.on, s.accent, s.note, s.slide) for s in acid.steps[:5]] == [
        (True, False, 28, False), (True, True, 60, True), (True, False, 49, False),
        (False, False, None, False), (True, True, 45, False)]


def test_oscsend_bad_messages_are_refused_and_change_nothing(osc: Osc, session: Session, dump: Dump) -> None:
    server, _ = osc
    before = session.snapshot()
    oscsend(server, "/seq/bpm", "s", "fast")
    dump.wait_for("/notify/error", "s \"OSC /seq/bpm: bpm: 'fast' is not a number\"")
    oscsend(server, "/seq/bpm", "N")
    dump.wait_for("/notify/error", "s \"OSC /seq/bpm: bpm: None is not a number\"")
    oscsend(server, "/seq/swing", "c", "A")  # a char: a type we do not read
    dump.wait_for("/notify/error", "s \"OSC /seq/swing: not a readable OSC message: unsupported OSC type tag "
                                   "'c' in ,c\"")
    oscsend(server, "/mod/voice1/cutoff", "f", 1)
    oscsend(server, "/seq/step", "sii", "nosuch", 0, 1)
    oscsend(server, "/seq/bpm", "f", 90)  # the server still works
    dump.wait_for("/notify/tempo", "f 90.000000")
    errors = [text for address, text in dump.lines if address == "/notify/error"]
    assert len(errors) == 5
    assert session.snapshot() == {**before, "sequencer": {**before["sequencer"], "bpm": 90.0}}


def test_oscsend_queries_and_file_routes(osc: Osc, session: Session, dump: Dump) -> None:
    """Replies to oscsend go nowhere (its socket is closed): the server must shrug that off."""
    server, client = osc
    oscsend(server, "/seq/add", "sss", "kick", "voice1", "X...X...")
    oscsend(server, "/seq/status")
    oscsend(server, "/engine/schema")
    oscsend(server, "/pattern/save", "is", 4, "from liblo")
    dump.wait_for("/notify/saved", 'is 4 "from liblo"')
    oscsend(server, "/seq/clear")
    oscsend(server, "/pattern/load", "i", 4)
    dump.wait_for("/notify/pattern", 'is 4 "from liblo"')
    assert [t.name for t in session.pattern.tracks] == ["kick"]
    assert client.query("/seq/status")["tracks"][0]["pattern"] == "X...X..."


def test_oscsend_drives_chains_songs_quantize_follow_and_exports(osc: Osc, session: Session,
                                                                  dump: Dump) -> None:
    """Today's routes from a client we did not write, each argument as liblo types it."""
    server, _ = osc
    oscsend(server, "/seq/add", "sss", "kick", "voice1", "X...X...")
    oscsend(server, "/pattern/save", "hs", 5, "liblo")  # the slot as a 64-bit int
    dump.wait_for("/notify/saved", 'is 5 "liblo"')
    oscsend(server, "/chain/set", "sshS", "A05x4", "B01x2", 5, "once")  # a string, a number, a symbol
    dump.wait_for("/notify/chain", "iiiss 0 0 0 \"\" \"\"")
    assert session.chain_status()["chain"] == "A05×4 B01×2 A05×1 once"
    oscsend(server, "/pattern/quantize", "S", "bar4")
    dump.wait_for("/notify/quantize", 's "bar4"')
    oscsend(server, "/pattern/follow", "is", 2, "next")
    dump.wait_for("/notify/follow", "is 2 \"next\"")
    oscsend(server, "/song/save", "s", "liblo_song")
    oscsend(server, "/pattern/export_midi", "is", 5, "from liblo")
    wait_until(lambda: (session.store.root / "exports" / "from liblo.mid").is_file())
    assert session.store.load_song("liblo_song").text() == session.chain_status()["chain"]
    assert session.quantize == "bar4"



# Wrong types and sizes for today's routes, as liblo writes them. Each is counted as refused by
# the server (its notifications and log lines are rate-limited past 10 refusals, so the count is
# what is checked; the messages are the routes' own tests').
HOSTILE_TODAY = [
    ("/chain/set", "sd", "A01x2", 2.5),  # a double is no slot
    ("/chain/set", "sT", "A01x2", ""),  # nor is true
    ("/chain/set", "c", "A"),  # a char: a type no route reads
    ("/chain/start", "m", "01020304"),  # a MIDI message
    ("/chain/start", "I"),  # infinitum
    ("/chain/start", "h", 2**40),  # a 64-bit entry far out of range
    ("/chain/set", "s" * 65, *["A01x2"] * 65),  # one entry too many
    ("/chain/set", "s" * 257, *["A01"] * 257),  # past the 256 arguments a message may have
    ("/chain/set", "s", "A01x2 " * 5000),  # 30 kB of entries
    ("/pattern/quantize", "d", 4.0),
    ("/pattern/quantize", "s", "bar3"),
    ("/song/save", "s", "x" * 60000),  # a huge name
    ("/song/save", "s", "a\u202eb"),  # a right-to-left override
    ("/song/save", "s", "cafe\u0301"),  # a combining mark: not a letter
    ("/song/load", "S", "../verse"),
    ("/song/play", "f", 1.5),
    ("/song/list", "i", -1),
    ("/pattern/export_midi", "ds", 1.5, "set"),
    ("/pattern/export_midi", "is", 1, "../set"),
    ("/pattern/export_midi", "is", 1, "set\u202e"),
    ("/pattern/follow", "ish", 1, "slot", 200),
    ("/pattern/follow", "iss", 1, "slot", "A\u00b2"),  # a digit int() cannot read
]


def test_oscsend_wrong_types_on_todays_routes_are_refused_and_change_nothing(osc: Osc, session: Session,
                                                                             dump: Dump) -> None:
    server, _ = osc
    oscsend(server, "/chain/set", "s", "A01x2 A02x2")
    dump.wait_for("/notify/chain", "iiiss 0 0 0 \"\" \"\"")
    before = (session.chain_status(), session.quantize, session.snapshot())
    for address, types, *values in HOSTILE_TODAY:
        errors = server.errors
        oscsend(server, address, types, *values)
        wait_until(lambda errors=errors: server.errors == errors + 1)
    oscsend(server, "/seq/bpm", "f", 90)  # the server still works
    dump.wait_for("/notify/tempo", "f 90.000000")
    chain, quantize, snapshot = before
    assert (session.chain_status(), session.quantize) == (chain, quantize)
    assert session.snapshot() == {**snapshot, "sequencer": {**snapshot["sequencer"], "bpm": 90.0}}
    assert not (session.store.root / "songs").exists() and not (session.store.root / "exports").exists()
