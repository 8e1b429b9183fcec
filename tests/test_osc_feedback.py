"""Feedback over UDP: subscribers hear every state change; queued loads get a second reply."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from osc_support import OscClient, osc_fixture  # noqa: F401

from chronus_tui.osc.notify import MAX_SUBSCRIBERS, NOTIFICATIONS
from chronus_tui.osc.server import OscServer
from chronus_tui.session import Session

Osc = tuple[OscServer, OscClient]


@pytest.fixture
def listener(osc: Osc) -> Any:
    """A second client subscribed on its own port (as a controller would be)."""
    server, client = osc
    other = OscClient(server.port)
    assert client.ok("/notify/subscribe", other.port) == ["127.0.0.1", other.port, 1]
    yield other
    other.close()


def test_subscriber_hears_changes_made_by_others(osc: Osc, session: Session, listener: OscClient) -> None:
    _, client = osc
    client.ok("/seq/bpm", 128)
    client.ok("/mod/acid1/res", 0.5)
    client.ok("/seq/add", "kick", "voice1", "X...")
    client.ok("/seq/step", "kick", 2, 1)
    client.ok("/seq/start")
    session.set_swing(0.2, source="ui")  # a change from the keyboard reaches OSC subscribers too
    heard = listener.recv_all()
    assert heard[0] == ("/notify/tempo", [128.0])
    assert heard[1] == ("/notify/param", ["acid1", "res", 0.5])
    assert heard[2] == ("/notify/tracks", ["kick"])
    assert heard[3] == ("/notify/track", ["kick", "voice1", "X.x.", 4, 0, 0, 1.0, 0.5])
    assert heard[4] == ("/notify/transport", [1])
    assert heard[5][0] == "/notify/swing" and heard[5][1][0] == pytest.approx(0.2)
    assert len(heard) == 6


def test_refused_messages_are_notified_but_change_nothing(osc: Osc, listener: OscClient) -> None:
    _, client = osc
    client.error("/seq/bpm", "fast")
    assert listener.recv_all() == [("/notify/error", ["OSC /seq/bpm: bpm: 'fast' is not a number"])]


def test_unsubscribe_stops_feedback(osc: Osc, listener: OscClient) -> None:
    _, client = osc
    assert client.ok("/notify/unsubscribe", listener.port) == ["127.0.0.1", listener.port]
    client.ok("/seq/bpm", 99)
    assert listener.recv_all() == []
    assert "not subscribed" in client.error("/notify/unsubscribe", listener.port)


def test_subscribe_without_port_uses_the_senders(osc: Osc) -> None:
    _, client = osc
    assert client.ok("/notify/subscribe") == ["127.0.0.1", client.port, 1]
    client.send("/seq/bpm", 101)
    assert client.recv_all() == [("/ok", ["/seq/bpm", 101.0]), ("/notify/tempo", [101.0])]


def test_subscribers_are_bounded(osc: Osc) -> None:
    _, client = osc
    for port in range(40000, 40000 + MAX_SUBSCRIBERS):
        client.ok("/notify/subscribe", port)
    assert "already" in client.error("/notify/subscribe", 50000)


def test_every_notification_kind_is_a_session_change_kind(session: Session, listener: OscClient) -> None:
    """Drive each Change kind once and check each notification address arrives."""
    session.set_param("voice1", "amp", 0.5)
    session.set_bpm(100)
    session.set_swing(0.1)
    session.set_name("live")
    session.add_track("t", "voice1", "x...")
    session.set_mute("t", True)
    session.save_slot(3)
    session.rename_slot(3, "three")
    session.start()
    session.load_slot(3)  # queued (the fake engine and the transport runs)
    session.on_engine_event({"event": "position", "bar": 1, "step": 2})
    session.on_engine_event({"event": "status", "backend": "null", "sr": 48000})
    session.on_engine_event({"event": "error", "message": "boom"})
    session.gate("voice2", True)
    heard = {address for address, _ in listener.recv_all()}
    assert heard >= {n.address for n in NOTIFICATIONS} - {"/notify/pattern"}


def test_queued_load_answers_queued_then_switched(osc: Osc, session: Session, engine: Any,
                                                  listener: OscClient) -> None:
    _, client = osc
    session.add_track("old", "voice1", "x...")
    session.save_slot(5, "five")
    session.clear_tracks()
    client.ok("/seq/start")
    assert client.ok("/pattern/load", 5) == [5, "queued", "bar"]
    assert session.transport.queued_slot == 5 and session.pattern.tracks == []
    token = engine.last("pattern")["token"]
    assert engine.last("pattern")["mode"] == "bar"
    # the engine reports the switch from its reader thread, as the real client does
    thread = threading.Thread(target=session.on_engine_event, args=(engine.switch(token, 96000),))
    thread.start()
    thread.join()
    assert client.recv() == ("/ok", ["/pattern/load", 5, "switched"])
    assert [t.name for t in session.pattern.tracks] == ["old"]
    heard = [m for m in listener.recv_all() if m[0] in ("/notify/queued", "/notify/pattern")]
    assert heard == [("/notify/queued", [5, "bar"]), ("/notify/pattern", [5, "five"])]


def test_immediate_load_queues_for_the_next_step(osc: Osc, session: Session, engine: Any) -> None:
    _, client = osc
    session.save_slot(6)
    client.ok("/seq/start")
    assert client.ok("/pattern/load", 6, 1) == [6, "queued", "step"]
    assert engine.last("pattern")["mode"] == "step"
    assert client.ok("/pattern/load", 6, "now") == [6, "loaded", "untitled"]
    assert client.recv() == ("/ok", ["/pattern/load", 6, "switched"])  # the step load's outcome


def test_a_newer_load_replaces_a_queued_one(osc: Osc, session: Session, engine: Any) -> None:
    _, client = osc
    session.save_slot(7)
    session.save_slot(8)
    client.ok("/seq/start")
    client.ok("/pattern/load", 7)
    client.ok("/pattern/load", 8)
    session.on_engine_event(engine.switch(engine.last("pattern")["token"]))
    assert sorted(m[1][1:] for m in client.recv_all()) == [[7, "replaced"], [8, "switched"]]
    assert session.transport.playing_slot == 8


def test_stop_applies_a_queued_load_and_says_so(osc: Osc, session: Session) -> None:
    _, client = osc
    session.save_slot(9)
    client.ok("/seq/start")
    client.ok("/pattern/load", 9)
    client.ok("/seq/stop")
    assert ("/ok", ["/pattern/load", 9, "switched"]) in client.recv_all()
    assert session.transport.playing_slot == 9


def test_cancelled_load_is_reported(osc: Osc, session: Session) -> None:
    _, client = osc
    session.save_slot(10)
    client.ok("/seq/start")
    client.ok("/pattern/load", 10)
    session.cancel_queued(source="ui")
    assert client.recv() == ("/ok", ["/pattern/load", 10, "cancelled"])
