"""Exposure and reply sizes (issue 13): who is served on a public address, what a reply may
carry (never an absolute path), how big a reply may grow (always one datagram), and
options out of range stopping before anything starts.

The in-process tests drive a served Session over real UDP; the others start the real
`chronus --no-ui` (Headless).
"""

from __future__ import annotations

import ipaddress
import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg
from support.headless import READY, Headless
from support.osc import OscClient, free_udp_port
from support.patterns import full_pattern
from support.ui import make_app
from test_osc_routes import VALID
from test_osc_server import non_loopback_address
from test_ui_actions import SIZE, spy_notifications

from chronus_tui.model import MAX_NAME, Step
from chronus_tui.osc.routes import LIST_PAGE_BYTES, LISTED_TEXT
from chronus_tui.osc.server import MAX_DATAGRAM, MAX_REPLY_TEXT, OscServer, serve_in_thread
from chronus_tui.session import Session

WIDE = "\U0001d11e"  # 𝄞: one character, 4 bytes of UTF-8, 12 bytes of JSON \u escapes
SLOTS = range(0, 129)


def exchange(client: OscClient, address: str, *args: Any) -> bytes:
    """Send one message; the raw reply datagram."""
    client.send(address, *args)
    client.sock.settimeout(5)
    return client.sock.recv(65536)


def read(datagram: bytes) -> tuple[str, list[Any]]:
    message = OscMessage(datagram)
    return message.address, list(message.params)


@pytest.fixture
def served(session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OscClient]:
    """A served session whose patterns folder lies inside the home folder (as it does for users)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    with serve_in_thread(session) as server:
        client = OscClient(server.port)
        try:
            yield client
        finally:
            client.close()


# -- no reply carries an absolute path ------------------------------------------------------


def write_slot(patterns_dir: Path, slot: int, document: dict[str, Any] | str) -> None:
    text = document if isinstance(document, str) else json.dumps(document, ensure_ascii=False)
    (patterns_dir / "slots").mkdir(parents=True, exist_ok=True)
    (patterns_dir / "slots" / f"slot_{slot:03d}.json").write_text(text, encoding="utf-8")


def test_no_reply_of_any_route_carries_an_absolute_path(served: OscClient, session: Session,
                                                        patterns_dir: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    client = served
    client.ok("/seq/add", "bass", "voice2", "x.x.X...", "notes=41.2,49,55")
    session.save_slot(1, "one")
    write_slot(patterns_dir, 9, "{ not json")
    sent: list[tuple[str, tuple[Any, ...]]] = [VALID[route] for route in VALID]
    sent += [("/pattern/load", (9,)), ("/pattern/load", (10,)), ("/pattern/list", (0, 5))]
    replies = [exchange(client, address, *args) for address, args in sent]
    replies += client.recv_all()  # a queued load's follow-up, if any
    # an error whose text names a file (an OSError from deep down) is shown by its relative name
    monkeypatch.setattr(session.store, "list", lambda: (_ for _ in ()).throw(
        OSError(28, "No space left on device", str(patterns_dir / "slots" / "slot_001.json"))))
    failed = exchange(client, "/pattern/list")
    assert read(failed)[0] == "/error" and "'slots/slot_001.json'" in read(failed)[1][1]
    # notifications too: an error naming a file in the home folder reaches subscribers as ~/…
    client.ok("/notify/subscribe")
    session.report_error(f"cannot open {tmp_path / 'take1.wav'}", "engine")
    notified = client.sock.recv(65536)
    assert read(notified) == ("/notify/error", ["cannot open ~/take1.wav"])
    listing = json.loads(read(replies[sent.index(("/pattern/list", ()))])[1][0])
    assert [entry["path"] for entry in listing] == ["slots/slot_001.json", "slots/slot_007.json",
                                                    "slots/slot_009.json"]
    for datagram in [*replies, failed, notified]:
        assert str(tmp_path).encode() not in datagram, read(datagram)


# -- every reply fits one datagram ------------------------------------------------------------


def fill_every_slot_with_the_worst(session: Session, patterns_dir: Path) -> None:
    """129 slot files: readable ones with the longest, widest names, and unreadable ones whose
    error quotes a huge name or a huge saved_at."""
    session.save_slot(1, WIDE * MAX_NAME)
    good = json.loads((patterns_dir / "slots" / "slot_001.json").read_text(encoding="utf-8"))
    for slot in SLOTS:
        bad = {"name": WIDE * 5000} if slot % 4 == 0 else {"saved_at": WIDE * 5000} if slot % 4 == 2 else {}
        write_slot(patterns_dir, slot, {**good, **bad})


def test_the_worst_pattern_list_pages_in_datagrams_of_a_few_kb(served: OscClient, session: Session,
                                                                patterns_dir: Path) -> None:
    fill_every_slot_with_the_worst(session, patterns_dir)
    unpaged = exchange(served, "/pattern/list")  # too big for one list: the first page, not /error
    assert read(unpaged)[0] == "/pattern/list"
    assert json.loads(read(unpaged)[1][0])["first"] == 0
    seen: list[dict[str, Any]] = []
    first: int | None = 0
    while first is not None:
        datagram = exchange(served, "/pattern/list", first)
        assert len(datagram) <= LIST_PAGE_BYTES + 200
        page = json.loads(read(datagram)[1][0])
        assert page["total"] == len(SLOTS) and page["slots"] and page["first"] == first
        seen += page["slots"]
        first = page["next"]
    assert [entry["slot"] for entry in seen] == list(SLOTS)
    for entry in seen:
        assert all(len(entry[key] or "") <= limit for key, limit in LISTED_TEXT.items())
    assert seen[0]["name"] is None and seen[1]["name"] == WIDE * MAX_NAME, seen[1]


def test_a_list_of_every_slot_with_ordinary_names_is_still_one_json_list(served: OscClient,
                                                                         session: Session,
                                                                         patterns_dir: Path) -> None:
    session.save_slot(1, "n" * MAX_NAME)
    good = (patterns_dir / "slots" / "slot_001.json").read_text(encoding="utf-8")
    for slot in SLOTS:
        write_slot(patterns_dir, slot, good)
    listing = served.query("/pattern/list")
    assert [entry["slot"] for entry in listing] == list(SLOTS)
    page = served.query("/pattern/list", 5, 3)
    assert [entry["slot"] for entry in page["slots"]] == [5, 6, 7] and page["next"] == 8
    assert served.query("/pattern/list", 128)["next"] is None
    assert "first" in served.error("/pattern/list", 129)


def test_the_largest_session_status_fits_one_datagram(served: OscClient, session: Session) -> None:
    """16 tracks of 64 steps with notes and slides, every name as long and wide as allowed."""
    pattern = full_pattern(tracks=16, name=WIDE * MAX_NAME)
    for number, track in enumerate(pattern.tracks):
        track.name = f"{number:02d}" + WIDE * (MAX_NAME - 2)
        track.steps = [Step(on=True, accent=True, note=127, slide=True) for _ in range(64)]
        track.gate, track.level = 0.5, 1.0
    session.apply_snapshot(pattern, "now")
    for address in ("/seq/status", "/engine/status", "/engine/schema"):
        datagram = exchange(served, address)
        assert read(datagram)[0] == address and len(datagram) <= MAX_DATAGRAM
    status = served.query("/seq/status")
    assert len(status["tracks"]) == 16 and all(len(t["notes"]) == 64 for t in status["tracks"])


@pytest.mark.parametrize("message", [("/seq/bpm", "x" * 60000), ("/" + "a" * 60000,),
                                     ("/seq/add", "k" * 30000, "voice1", "x" * 30000)])
def test_an_error_about_a_huge_request_is_small(served: OscClient, message: tuple[str, ...]) -> None:
    datagram = exchange(served, *message)
    address, (about, text) = read(datagram)
    assert address == "/error" and len(about) <= MAX_REPLY_TEXT and len(text) <= MAX_REPLY_TEXT
    assert len(datagram) < 2 * 4 * MAX_REPLY_TEXT + 64


# -- the real process ---------------------------------------------------------------------


def headless_stderr(process: Headless) -> str:
    return "\n".join(process.lines)


def test_a_public_address_warns_once_and_serves_loopback(tmp_path: Path) -> None:
    port = free_udp_port()
    process = Headless(tmp_path / "patterns", tmp_path / "state", port,
                       "--osc-host", "0.0.0.0", "--osc-allow", "10.0.0.0/8,192.168.7.7")
    try:
        process.wait_for(READY)
        warnings = [line for line in process.lines if "reachable from other machines" in line]
        assert len(warnings) == 1 and "10.0.0.0/8, 192.168.7.7/32 and loopback" in warnings[0]
        client = OscClient(port)
        try:
            assert "tracks" in client.query("/seq/status")
            assert client.query("/engine/status")["osc_dropped"] == 0
        finally:
            client.close()
    finally:
        assert process.stop(signal.SIGTERM) == 0, headless_stderr(process)


def test_a_public_address_drops_other_senders(tmp_path: Path) -> None:
    outsider = non_loopback_address()
    port = free_udp_port()
    process = Headless(tmp_path / "patterns", tmp_path / "state", port, "--osc-host", "0.0.0.0")
    try:
        process.wait_for(READY)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((outsider, 0))
            sock.settimeout(0.5)
            sock.sendto(build_msg("/seq/bpm", [99]).dgram, (outsider, port))
            with pytest.raises(TimeoutError):
                sock.recv(65536)
        client = OscClient(port)
        try:
            status = client.query("/engine/status")
            assert status["osc_dropped"] == 1
            assert client.query("/seq/status")["bpm"] != 99
        finally:
            client.close()
    finally:
        process.stop(signal.SIGTERM)


@pytest.mark.parametrize("option", [("--osc-port", "70000"), ("--osc-port", "0"),
                                    ("--osc-allow", "10.0.0.300/8"), ("--osc-allow", "10.0.0.0/8,")])
def test_options_out_of_range_stop_before_anything_is_written(tmp_path: Path,
                                                              option: tuple[str, str]) -> None:
    patterns = tmp_path / "patterns"
    result = subprocess.run(
        [sys.executable, "-m", "chronus_tui", "--no-ui", "--audio", "null", "--patterns-dir", str(patterns),
         *option], capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYO_GUI_WX": "0", "XDG_STATE_HOME": str(tmp_path / "state")})
    assert result.returncode == 2, result.stderr
    assert f"argument {option[0]}" in result.stderr and "Traceback" not in result.stderr
    assert not patterns.exists()


def test_the_real_pattern_list_names_files_relative_to_the_patterns_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    patterns, port = tmp_path / "patterns", free_udp_port()
    write_slot(patterns, 4, "{ not json")
    process = Headless(patterns, tmp_path / "state", port)
    try:
        process.wait_for(READY)
        client = OscClient(port)
        try:
            client.ok("/pattern/save", 3, "three")
            datagrams = [exchange(client, "/pattern/list"), exchange(client, "/pattern/list", 0),
                         exchange(client, "/pattern/load", 4)]
        finally:
            client.close()
    finally:
        process.stop(signal.SIGTERM)
    listing = json.loads(read(datagrams[0])[1][0])
    assert [(entry["slot"], entry["path"]) for entry in listing] == [(3, "slots/slot_003.json"),
                                                                      (4, "slots/slot_004.json")]
    assert read(datagrams[2])[0] == "/error"
    for datagram in datagrams:
        assert str(tmp_path).encode() not in datagram, read(datagram)


def test_the_osc_server_counts_what_it_did(session: Session) -> None:
    with serve_in_thread(session) as server:
        client = OscClient(server.port)
        try:
            client.ok("/seq/bpm", 90)
            client.error("/seq/bpm", "fast")
            client.send("/ok", "/seq/bpm", 90.0)  # a reply is never answered, only counted
            status = client.query("/engine/status")
        finally:
            client.close()
    assert isinstance(server, OscServer)
    counts = [status[key] for key in ("osc_handled", "osc_errors", "osc_dropped", "osc_ignored")]
    assert counts == [2, 1, 0, 1]


async def test_the_ui_shows_the_exposure_warning(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir)
    app.osc_server = OscServer(session, "0.0.0.0", 0, allow=[ipaddress.IPv4Network("10.0.0.0/8")])
    notes = spy_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert [severity for message, severity in notes if "reachable from other machines" in message
                and "10.0.0.0/8 and loopback" in message] == ["warning"]
        await pilot.press("q")
