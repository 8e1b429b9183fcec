"""Feedback over UDP: subscribers hear every state change; queued loads get a second reply.

Subscriptions cannot loop or flood: the server's own address is refused, subscribers are
capped, leases lapse unless renewed, and each subscriber's notifications are rate-limited
and coalesced (the newest value wins, the final state always arrives). The unit tests drive
Feedback on a fake clock; the rest go through a real UDP server."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.fakes import FakeClock
from support.osc import OscClient, osc_fixture, wait_until  # noqa: F401

from chronus_tui.chain import parse_chain
from chronus_tui.engine.protocol import EngineMessage, Position, Status
from chronus_tui.osc.notify import (
    LEASE_SECONDS,
    MAX_PENDING,
    NOTIFICATIONS,
    NOTIFY_RATE,
    Feedback,
    TokenBucket,
)
from chronus_tui.osc.server import OscServer, serve_in_thread
from chronus_tui.session import Change, ChangeKind, Session

Osc = tuple[OscServer, OscClient]


@pytest.fixture
def listener(osc: Osc) -> Any:
    """A second client subscribed on its own port (as a controller would be)."""
    server, client = osc
    other = OscClient(server.port)
    assert client.ok("/notify/subscribe", other.port) == ["127.0.0.1", other.port, 1, LEASE_SECONDS]
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
    edits = [args for address, args in heard if address == "/notify/history"]  # test_osc_history's
    me = f"osc 127.0.0.1:{client.port}"
    assert [args[:3] for args in edits] == [["edit", 1, me], ["edit", 2, me], ["edit", 3, me],
                                            ["edit", 4, me], ["edit", 5, "ui"]]
    heard = [message for message in heard if message[0] != "/notify/history"]
    assert heard[0] == ("/notify/tempo", [128.0])
    assert heard[1] == ("/notify/param", ["acid1", "res", 0.5])
    assert heard[2] == ("/notify/tracks", ["kick"])
    assert heard[3] == ("/notify/track", ["kick", "voice1", "X.x.", 4, 0, 0, 1.0, 0.5, "{}"])
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
    assert client.ok("/notify/subscribe") == ["127.0.0.1", client.port, 1, LEASE_SECONDS]
    client.send("/seq/bpm", 101)
    assert client.recv_all() == [("/ok", ["/seq/bpm", 101.0]),
                                 ("/notify/history", ["edit", 1, f"osc 127.0.0.1:{client.port}",
                                                      "bpm 120 → 101"]),
                                 ("/notify/tempo", [101.0])]


def test_subscribers_are_capped_at_16(osc: Osc) -> None:
    server, client = osc
    for port in range(40000, 40016):
        client.ok("/notify/subscribe", port)
    assert "already 16 subscribers" in client.error("/notify/subscribe", 50000)
    assert ("127.0.0.1", 50000) not in server.feedback.subscribers
    assert client.ok("/notify/subscribe", 40003)[2] == 16  # a renewal is not a new subscriber


def test_the_servers_own_address_is_refused(osc: Osc) -> None:
    server, client = osc
    assert "own address" in client.error("/notify/subscribe", server.port)
    assert server.feedback.subscribers == []
    client.ok("/seq/bpm", 99)
    assert client.recv_all() == []
    assert server.handled == 2  # nothing went round: the server heard only the client's two


def test_a_wildcard_bound_server_refuses_its_port_on_any_local_address(session: Session) -> None:
    with serve_in_thread(session, "0.0.0.0", 0) as server:
        client = OscClient(server.port)  # sends from 127.0.0.1: the server hears it on its port too
        try:
            assert "own address" in client.error("/notify/subscribe", server.port)
            assert server.feedback.subscribers == []
        finally:
            client.close()


def test_every_notification_kind_is_a_session_change_kind(session: Session, listener: OscClient) -> None:
    """Drive each Change kind once and check each notification address arrives."""
    session.set_param("voice1", "amp", 0.5)
    session.set_bpm(100)
    session.set_swing(0.1)
    session.set_name("live")
    session.set_follow(2, "previous")
    session.set_seed(7)
    session.set_fill(True)
    session.add_track("t", "voice1", "x...")
    session.set_mute("t", True)
    session.save_slot(3)
    session.rename_slot(3, "three")
    session.start()
    session.load_slot(3)  # queued (the fake engine and the transport runs)
    session.on_engine_event(Position(bar=1, step=2))
    session.on_engine_event(Status(backend="null", sr=48000, buffer=256))
    session.on_engine_event(EngineMessage(message="boom"))
    session.gate("voice2", True)
    session.set_quantize("bar2")
    session.set_chain(parse_chain("A03"), song="verse")
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
    assert heard == [("/notify/queued", [5, "bar", 1, 0]), ("/notify/pattern", [5, "five"])]


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


# -- the rules on a fake clock ---------------------------------------------------------


Sent = list[tuple[tuple[str, int], str, list[Any]]]
OWN = ("127.0.0.1", 5005)
FAN = ("127.0.0.1", 6000)  # a subscriber


@pytest.fixture
def fake(session: Session) -> Iterator[tuple[Feedback, Sent, FakeClock]]:
    """Feedback over the conftest session on a fake clock, recording what it sends."""
    sent: Sent = []
    clock = FakeClock()
    loop = asyncio.new_event_loop()  # never run: the tests call tick() as the timer would
    feedback = Feedback(session, lambda address, args, target: sent.append((target, address, args)),
                        loop, own=OWN, clock=clock)
    yield feedback, sent, clock
    loop.close()


def _param(value: float, param: str = "amp") -> Change:
    return Change(ChangeKind.PARAM, {"module": "voice1", "param": param, "value": value})


def test_token_bucket_allows_the_rate_and_a_burst_of_as_many() -> None:
    bucket = TokenBucket(100, 100, now=0.0)
    assert sum(bucket.take(0.0) for _ in range(150)) == 100
    assert bucket.wait(0.0) == pytest.approx(0.01)
    assert not bucket.take(0.005)
    assert bucket.take(0.0101)
    assert sum(bucket.take(0.6005) for _ in range(100)) == 59  # 0.59 s refilled 59 tokens
    assert sum(bucket.take(1000.0) for _ in range(500)) == 100  # a long pause saves up one burst only


def test_a_flood_is_bounded_and_coalesced_and_the_final_state_arrives(fake: Any) -> None:
    feedback, sent, clock = fake
    feedback.subscribe(*FAN)
    for i in range(NOTIFY_RATE):  # the burst goes out at once
        feedback.deliver(_param(i / 1000))
    assert len(sent) == NOTIFY_RATE
    sent.clear()
    for i in range(1000):  # past the budget: the newest of each (address, key) waits
        feedback.deliver(_param(i / 1000))
        feedback.deliver(_param(i / 2000, "pan"))
        feedback.deliver(Change(ChangeKind.POSITION, {"bar": i // 16, "step": i % 16}))
    feedback.deliver(_param(0.25))  # the amp was set once more: it goes after the others
    feedback.tick()
    assert sent == []  # no budget left yet
    clock.now += 1.0
    feedback.tick()
    assert sent == [(FAN, "/notify/param", ["voice1", "pan", 999 / 2000]),
                    (FAN, "/notify/position", [62, 7]),
                    (FAN, "/notify/param", ["voice1", "amp", 0.25])]


def test_notifications_per_subscriber_stay_within_the_rate_over_time(fake: Any) -> None:
    """1000 changes a second for 10 s, the timer ticking every 10 ms: at most the burst plus
    the rate times the time, every second window within one second's budget plus a burst."""
    feedback, sent, clock = fake
    feedback.subscribe(*FAN)
    times: list[float] = []
    start = clock.now
    for i in range(10_000):
        clock.now = start + i / 1000
        feedback.deliver(_param(i % 97 / 100, f"p{i % 7}"))
        if i % 10 == 0:
            feedback.tick()
        times.extend(clock.now for _ in range(len(sent) - len(times)))
    assert len(sent) <= NOTIFY_RATE + NOTIFY_RATE * 10
    for t in times:
        assert sum(t <= u < t + 1 for u in times) <= 2 * NOTIFY_RATE
    clock.now += 1
    feedback.tick()
    final = {args[1]: args[2] for _, _, args in sent}
    assert final == {f"p{i % 7}": i % 97 / 100 for i in range(9993, 10_000)}


def test_other_subscribers_and_replies_are_not_held_back(fake: Any) -> None:
    feedback, sent, clock = fake
    feedback.subscribe(*FAN)
    for i in range(3 * NOTIFY_RATE):
        feedback.deliver(_param(i / 1000))
    feedback.subscribe("127.0.0.1", 6001)  # a newcomer has a budget of its own
    feedback.await_switch(FAN, "/pattern/load", 4, token=7)
    sent.clear()
    feedback.deliver(Change(ChangeKind.PATTERN, {"slot": 4, "name": "four", "token": 7}))
    assert (FAN, "/ok", ["/pattern/load", 4, "switched"]) in sent  # a reply: exact, at once
    assert (("127.0.0.1", 6001), "/notify/pattern", [4, "four"]) in sent
    assert (FAN, "/notify/pattern", [4, "four"]) not in sent  # FAN's budget is spent: it waits
    clock.now += 1
    feedback.tick()
    assert sent[-2:] == [(FAN, "/notify/param", ["voice1", "amp", 0.299]),
                         (FAN, "/notify/pattern", [4, "four"])]


def test_what_waits_is_bounded_and_the_newest_is_kept(fake: Any) -> None:
    feedback, sent, clock = fake
    feedback.subscribe(*FAN)
    for i in range(NOTIFY_RATE + 3 * MAX_PENDING):  # more keys than can wait
        feedback.deliver(_param(0.5, f"p{i}"))
    sent.clear()
    while True:
        clock.now += 1
        before = len(sent)
        feedback.tick()
        if len(sent) == before:
            break
    assert [args[1] for _, _, args in sent] == [f"p{i}" for i in range(NOTIFY_RATE + 2 * MAX_PENDING,
                                                                          NOTIFY_RATE + 3 * MAX_PENDING)]


def test_a_subscription_lapses_unless_renewed(fake: Any) -> None:
    feedback, sent, clock = fake
    start = clock.now
    feedback.subscribe(*FAN)
    assert feedback.subscribe("127.0.0.1", 6001) == 2
    clock.now = start + LEASE_SECONDS - 10
    assert feedback.subscribe(*FAN) == 2  # renewed, not added
    clock.now = start + LEASE_SECONDS
    feedback.deliver(_param(0.5))
    assert sent == [(FAN, "/notify/param", ["voice1", "amp", 0.5])]  # 6001 lapsed
    assert feedback.subscribers == [FAN]
    clock.now = start + 2 * LEASE_SECONDS - 10
    assert feedback.subscribers == []
    assert not feedback.unsubscribe(*FAN)


def test_a_lapsed_subscriber_gets_nothing_it_was_owed(fake: Any) -> None:
    feedback, sent, clock = fake
    feedback.subscribe(*FAN)
    for i in range(2 * NOTIFY_RATE):
        feedback.deliver(_param(i / 1000))
    sent.clear()
    clock.now += LEASE_SECONDS
    feedback.tick()
    assert sent == []


def test_lapsed_subscriptions_free_their_place(fake: Any) -> None:
    feedback, _, clock = fake
    for port in range(40000, 40016):
        feedback.subscribe("127.0.0.1", port)
    with pytest.raises(ValueError, match="already 16"):
        feedback.subscribe("127.0.0.1", 50000)
    clock.now += LEASE_SECONDS
    assert feedback.subscribe("127.0.0.1", 50000) == 1


@pytest.mark.parametrize(("own", "target", "refused"), [
    (("127.0.0.1", 5005), ("127.0.0.1", 5005), True),
    (("127.0.0.1", 5005), ("127.0.0.1", 5006), False),
    (("127.0.0.1", 5005), ("127.0.0.2", 5005), False),  # another address: not this socket
    (("127.0.0.1", 5005), ("0.0.0.0", 5005), True),  # "this host"
    (("0.0.0.0", 5005), ("127.0.0.1", 5005), True),
    (("0.0.0.0", 5005), ("127.0.0.2", 5005), True),  # every loopback address is local
    (("0.0.0.0", 5005), ("192.0.2.1", 5005), False),  # TEST-NET: not an address of this machine
    (("0.0.0.0", 5005), ("127.0.0.1", 5006), False),
])
def test_own_address_is_refused_and_nothing_changes(session: Session, own: tuple[str, int],
                                                   target: tuple[str, int], refused: bool) -> None:
    loop = asyncio.new_event_loop()
    try:
        feedback = Feedback(session, lambda *_: None, loop, own=own)
        if refused:
            with pytest.raises(ValueError, match="own address"):
                feedback.subscribe(*target)
            assert feedback.subscribers == []
        else:
            assert feedback.subscribe(*target) == 1
    finally:
        loop.close()


def test_a_udp_flood_reaches_a_subscriber_bounded_and_ending_on_the_final_value(
        osc: Osc, listener: OscClient) -> None:
    server, client = osc
    heard: list[Any] = []
    started = time.monotonic()
    for chunk in range(30):  # in chunks the server takes in whole, however small its buffer
        for i in range(100):
            client.send("/mod/voice1/amp", (chunk * 100 + i + 1) / 3000)
        handled = (chunk + 1) * 100
        wait_until(lambda n=handled: heard.extend(listener.recv_all(0.001)) or server.handled >= n, 30)
    wait_until(lambda: heard.extend(listener.recv_all(0.05)) or heard[-1][1][2] == 1.0, 30)
    elapsed = time.monotonic() - started
    assert heard[-1] == ("/notify/param", ["voice1", "amp", 1.0])
    assert len(heard) <= NOTIFY_RATE * (1 + elapsed) + 1
