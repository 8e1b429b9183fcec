"""Undo, redo and history over OSC: each client (host and port) is an author of its own.

Two clients on different ports take back their own edits, or anyone's with `all`; an undo
that would overwrite another client's later change is refused, naming that client. Most
tests run the server in this process over real UDP; the last drives the real
`chronus --no-ui` with liblo's `oscsend`, which is a new client every time it runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from support.headless import Headless, headless_fixture  # noqa: F401
from support.osc import OscClient, osc_fixture, wait_until  # noqa: F401

from chronus_tui.history import HISTORY_LIMIT
from chronus_tui.model import Pattern, Track, parse_steps
from chronus_tui.osc.notify import NOTIFICATIONS
from chronus_tui.osc.routes import MAX_SOURCE, REPLY_BYTES, client_source
from chronus_tui.osc.server import OscServer
from chronus_tui.patternfile import pattern_to_dict
from chronus_tui.session import Change, ChangeKind, Session

Osc = tuple[OscServer, OscClient]
ENTRY_FIELDS = {"id", "author", "time", "at", "summary", "undone"}


def author(client: OscClient) -> str:
    return f"osc 127.0.0.1:{client.port}"


def save(session: Session, slot: int, pattern: Pattern) -> None:
    """A slot file, written behind the live session's back (no edit, no history entry)."""
    session.store.save(slot, pattern_to_dict(pattern))


@pytest.fixture
def two(osc: Osc) -> Iterator[tuple[OscClient, OscClient]]:
    """Clients A and B of one server, on ports of their own."""
    server, a = osc
    b = OscClient(server.port)
    yield a, b
    b.close()


def test_each_client_is_the_author_of_its_edits(two: tuple[OscClient, OscClient], session: Session,
                                               changes: list[Change]) -> None:
    a, b = two
    cutoff = session.pattern.modules["acid1"]["cutoff"]
    a.ok("/seq/bpm", 130)
    b.ok("/mod/acid1/cutoff", 900)
    assert [(e.author, e.summary) for e in session.history.last(5)] == [
        (author(a), "bpm 120 → 130"), (author(b), f"acid1/cutoff {cutoff:g} → 900")]
    # the toast of a change names its client ("from osc 127.0.0.1:53211")
    assert [(c.kind, c.source) for c in changes] == [(ChangeKind.TEMPO, author(a)),
                                                    (ChangeKind.PARAM, author(b))]


def test_a_clients_name_is_bounded() -> None:
    assert client_source(("127.0.0.1", 5000)) == "osc 127.0.0.1:5000"
    assert len(client_source(("h" * 300, 65535))) == MAX_SOURCE


def test_undo_takes_back_the_senders_own_edit_only(two: tuple[OscClient, OscClient],
                                                   session: Session) -> None:
    a, b = two
    a.ok("/seq/bpm", 130)
    b.ok("/seq/swing", 0.3)
    assert a.ok("/undo") == [1, "bpm 120 → 130"]
    assert session.pattern.bpm == 120 and session.pattern.swing == pytest.approx(0.3)
    assert "nothing of yours" in a.error("/undo")  # A has nothing more; B's edit stays
    assert b.ok("/undo") == [1, "swing 0 → 0.3"]
    assert session.pattern.swing == 0


def test_undo_all_takes_the_newest_edit_of_anyone(two: tuple[OscClient, OscClient], session: Session) -> None:
    a, b = two
    a.ok("/seq/bpm", 130)
    b.ok("/seq/swing", 0.3)
    assert a.ok("/undo", "all") == [1, "swing 0 → 0.3"]  # B's, the newer
    assert session.pattern.swing == 0 and session.pattern.bpm == 130
    assert b.ok("/undo", "ALL") == [1, "bpm 120 → 130"]  # A's
    assert session.pattern.bpm == 120
    assert [e.undone_by for e in session.history.last(2)] == [author(b), author(a)]


def test_undo_of_a_value_another_client_changed_since_is_refused(two: tuple[OscClient, OscClient],
                                                                session: Session) -> None:
    a, b = two
    a.ok("/seq/bpm", 130)
    b.ok("/seq/bpm", 140)
    before = session.snapshot()
    message = a.error("/undo")
    assert message == f"cannot undo “bpm 120 → 130”: bpm was changed since by {author(b)}"
    assert session.snapshot() == before
    assert not any(e.undone for e in session.history.last(5))


def test_redo_makes_the_undone_edits_again(two: tuple[OscClient, OscClient], session: Session) -> None:
    a, _ = two
    a.ok("/seq/bpm", 130)
    a.ok("/seq/add", "hat", "voice4", "x.x.")
    a.ok("/seq/mute", "hat", 1)
    assert a.ok("/undo", 3) == [3, "hat mute on", "add track hat", "bpm 120 → 130"]
    assert session.pattern.bpm == 120 and session.pattern.tracks == []
    assert a.ok("/redo", "all", 2) == [2, "bpm 120 → 130", "add track hat"]  # either order
    assert session.pattern.bpm == 130 and not session.pattern.track("hat").mute
    assert a.ok("/redo") == [1, "hat mute on"]
    assert session.pattern.track("hat").mute
    assert "nothing of yours" in a.error("/redo")


def test_a_new_edit_ends_only_its_authors_redo_branch(two: tuple[OscClient, OscClient],
                                                     session: Session) -> None:
    a, b = two
    a.ok("/seq/bpm", 130)
    b.ok("/seq/swing", 0.3)
    a.ok("/undo")
    b.ok("/undo")
    a.ok("/mod/voice1/amp", 0.2)  # A's new edit: A can no longer redo
    assert "nothing of yours" in a.error("/redo")
    assert session.pattern.bpm == 120
    assert b.ok("/redo") == [1, "swing 0 → 0.3"]  # B's branch is untouched
    assert session.pattern.swing == pytest.approx(0.3)


def test_seq_add_with_options_is_one_entry_and_one_undo(osc: Osc, session: Session) -> None:
    _, client = osc
    before = session.snapshot()
    client.ok("/seq/add", "hat", "voice4", "x.x.", 3000, "level=0.5", "gate_frac=0.8", "reverb_send=0.4")
    track = session.pattern.track("hat")
    assert (track.level, track.gate) == (0.5, 0.8)
    assert session.pattern.modules["voice4"]["freq"] == 3000
    assert len(session.history) == 1
    after = session.snapshot()
    undone = client.ok("/undo")
    assert undone[0] == 1 and "add track hat" in undone[1]
    assert session.snapshot() == before
    assert client.ok("/redo") == undone
    assert session.snapshot() == after


def test_undo_of_a_load_returns_the_previous_live_pattern(osc: Osc, session: Session) -> None:
    _, client = osc
    client.ok("/seq/add", "bass", "voice2", "x.x.X...", "notes=A1,C2")
    save(session, 2, Pattern(name="other", bpm=99, tracks=[Track("kick", "voice1", parse_steps("X..."))]))
    before, status = session.snapshot(), client.query("/seq/status")
    assert client.ok("/pattern/load", 2) == [2, "loaded", "other"]
    assert client.query("/seq/status")["bpm"] == 99
    assert client.ok("/undo") == [1, "load A02 'other'"]
    assert session.snapshot() == before and session.transport.playing_slot is None
    assert client.query("/seq/status") == status
    assert client.ok("/redo") == [1, "load A02 'other'"]
    assert session.transport.playing_slot == 2 and client.query("/seq/status")["bpm"] == 99


def test_undoing_a_load_leaves_a_queued_load_waiting(osc: Osc, session: Session, engine: Any) -> None:
    _, client = osc
    save(session, 2, Pattern(name="two", tracks=[Track("kick", "voice1", parse_steps("X..."))]))
    save(session, 3, Pattern(name="three", tracks=[Track("hat", "voice3", parse_steps("x.x."))]))
    client.ok("/pattern/load", 2)  # at once: the transport is stopped
    client.ok("/seq/start")
    assert client.ok("/pattern/load", 3) == [3, "queued", "bar"]
    token = engine.last("pattern")["token"]
    assert client.ok("/undo") == [1, "load A02 'two'"]
    assert session.pattern.tracks == [] and session.transport.queued_slot == 3
    assert [m for m in client.recv_all() if m[0] == "/ok"] == []  # no "replaced": it still waits
    session.on_engine_event(engine.switch(token))  # the bar line comes
    assert client.recv() == ("/ok", ["/pattern/load", 3, "switched"])
    assert session.transport.playing_slot == 3


def test_history_lists_the_last_entries_oldest_first(two: tuple[OscClient, OscClient],
                                                     session: Session) -> None:
    a, b = two
    assert a.query("/history") == []
    for index in range(12):
        (a if index % 2 else b).ok("/seq/add", f"t{index}", "voice1", "x...")
    a.ok("/undo")
    listed = a.query("/history")
    assert len(listed) == 10 and all(set(entry) == ENTRY_FIELDS for entry in listed)
    assert [entry["id"] for entry in listed] == list(range(3, 13))
    assert [entry["summary"] for entry in listed[-2:]] == ["add track t10", "add track t11"]
    assert [entry["author"] for entry in listed[-2:]] == [author(b), author(a)]
    assert [entry["undone"] for entry in listed[-2:]] == [False, True]
    assert listed[-1]["at"] == "1:1" and listed[-1]["time"][:2] == "20"  # ISO: 2026-…
    assert [entry["id"] for entry in a.query("/history", 2)] == [11, 12]
    assert [entry["id"] for entry in a.query("/history", "3")] == [10, 11, 12]
    assert len(a.query("/history", 0)) == 1  # clamped to 1–2000
    assert len(a.query("/history", 99999)) == 12


def test_history_and_undo_replies_fit_one_datagram(osc: Osc, session: Session) -> None:
    _, client = osc
    for index in range(HISTORY_LIMIT):  # long summaries: the whole history is ~400 KB of JSON
        session.set_name(f"{index:06d} a long pattern name…", source="ui")
    address, (text,) = client.ask("/history", HISTORY_LIMIT)
    listed = json.loads(text)
    assert address == "/history" and len(text) <= REPLY_BYTES
    assert 100 < len(listed) < HISTORY_LIMIT  # as many as fit, the newest
    assert [e["id"] for e in listed] == list(range(HISTORY_LIMIT + 1 - len(listed), HISTORY_LIMIT + 1))
    reply = client.ok("/undo", HISTORY_LIMIT, "all")
    assert reply[0] == HISTORY_LIMIT and reply[-1] == f"… {HISTORY_LIMIT - len(reply) + 2} more"
    assert reply[1] == "name '001998 a long pattern name…' → '001999 a long pattern name…'"  # the newest
    assert session.pattern.name == "untitled"


def test_bad_undo_arguments_change_nothing(osc: Osc, session: Session) -> None:
    _, client = osc
    client.ok("/seq/bpm", 130)
    for args in [(0,), (1.5,), (b"\x01",), ("everything",), (2001,), (1, 2), ("all", "all"), (1, "all", 1),
                 (True,), (None,), ("-1",)]:
        assert client.error("/undo", *args)
    assert "1–2000" in client.error("/undo", 0) and "1–2000" in client.error("/redo", 9999)
    assert session.pattern.bpm == 130 and not any(e.undone for e in session.history.last(5))
    assert client.ok("/undo", "1") == [1, "bpm 120 → 130"]  # a count as text, as scripts send it


def test_subscribers_hear_every_history_entry(two: tuple[OscClient, OscClient], session: Session) -> None:
    a, listener = two
    a.ok("/notify/subscribe", listener.port)
    a.ok("/seq/bpm", 130)
    a.ok("/undo")
    a.ok("/redo")
    session.set_swing(0.2, source="ui")
    heard = listener.recv_all()
    history = [args for address, args in heard if address == "/notify/history"]
    assert history == [["edit", 1, author(a), "bpm 120 → 130"], ["undo", 1, author(a), "bpm 120 → 130"],
                       ["redo", 1, author(a), "bpm 120 → 130"], ["edit", 2, "ui", "swing 0 → 0.2"]]
    # an edit's entry is announced just before the edit itself
    addresses = [address for address, _ in heard]
    assert addresses[:2] == ["/notify/history", "/notify/tempo"]


def test_a_knobs_run_is_one_entry_whose_newest_summary_is_heard_last(two: tuple[OscClient, OscClient],
                                                                      session: Session) -> None:
    a, listener = two
    session.history.clock = lambda: 0.0  # no quiet between the turns, however slow this machine
    a.ok("/notify/subscribe", listener.port)
    for bpm in range(121, 131):
        a.ok("/seq/bpm", bpm)
    history = [args for address, args in listener.recv_all() if address == "/notify/history"]
    assert {args[1] for args in history} == {1} and history[-1] == ["edit", 1, author(a), "bpm 120 → 130"]
    assert [e["summary"] for e in a.query("/history")] == ["bpm 120 → 130"]


def test_waiting_history_notifications_coalesce_by_entry() -> None:
    notification = next(n for n in NOTIFICATIONS if n.kind == ChangeKind.HISTORY)
    first = {"action": "edit", "entry": {"id": 7, "author": "ui", "summary": "bpm 120 → 121"}}
    grown = {"action": "edit", "entry": {"id": 7, "author": "ui", "summary": "bpm 120 → 125"}}
    other = {"action": "edit", "entry": {"id": 8, "author": "ui", "summary": "bpm 120 → 125"}}
    assert notification.coalesce_key(first) == notification.coalesce_key(grown)
    assert notification.coalesce_key(first) != notification.coalesce_key(other)
    assert notification.build(None, grown) == ["edit", 7, "ui", "bpm 120 → 125"]  # type: ignore[arg-type]


# -- the real process and a one-shot sender -------------------------------------------------


@pytest.mark.skipif(not shutil.which("oscsend"), reason="oscsend not installed (Debian package liblo-tools)")
def test_oscsend_is_a_new_client_each_time_and_undoes_with_all(headless: Headless) -> None:
    def oscsend(address: str, types: str = "", *values: object) -> None:
        subprocess.run(["oscsend", "localhost", str(headless.port), address, types, *map(str, values)],
                       check=True, timeout=10)

    client = OscClient(headless.port)
    try:
        bpm = client.query("/seq/status")["bpm"]
        oscsend("/seq/bpm", "f", 133)
        wait_until(lambda: client.query("/seq/status")["bpm"] == 133, timeout=10)
        oscsend("/undo")  # a new port: this sender made no edit, so it has nothing to undo
        oscsend("/undo", "s", "all")
        wait_until(lambda: client.query("/seq/status")["bpm"] == bpm, timeout=10)
        history = client.query("/history")
        assert [(e["summary"], e["undone"]) for e in history] == [(f"bpm {bpm:g} → 133", True)]
        assert history[0]["author"].startswith("osc 127.0.0.1:")
        assert "nothing of yours" in client.error("/undo")  # this client is someone else again
    finally:
        client.close()
