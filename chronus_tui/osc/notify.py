"""OSC feedback: state changes sent to subscribed clients, and follow-ups of queued loads.

A client sends `/notify/subscribe [port]` and from then on receives every change of
the live state (whoever made it: the keyboard, another OSC client, the engine) as
plain OSC messages, the way Hydrogen feeds its controllers. NOTIFICATIONS is the one
table of what is sent; the schema and README list it.

Nothing a sender does can make this loop or flood: a subscription to the server's own
socket is refused, there are at most MAX_SUBSCRIBERS, each lapses LEASE_SECONDS after its
last `/notify/subscribe`, and each is sent at most NOTIFY_RATE notifications a second.
Past that rate a subscriber's notifications wait, coalesced (the newest value of each
notification and key wins), and go out in order as its budget allows, so it always ends
up with the final state. One timer sends them, for all subscribers together; replies
(the follow-ups of queued loads) are never held back.

Session listeners may be called from any thread (the engine client's reader thread
delivers "switched"); everything here is handed to the event loop first, so the
socket is only ever used from the loop's thread.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chronus_tui import patternfile
from chronus_tui.model import PatternError, Track, steps_text
from chronus_tui.session import Change, ChangeKind, Session

MAX_SUBSCRIBERS = 16
LEASE_SECONDS = 60  # a subscription lapses this long after its last /notify/subscribe
NOTIFY_RATE = 100  # notifications a second to one subscriber (and as many at once)
MAX_PENDING = 1024  # coalesced notifications waiting for one subscriber (far above what the keys make)
MAX_WAITERS = 64
ANY_HOST = "0.0.0.0"
Address = tuple[str, int]
Send = Callable[[str, list[Any], Address], None]
Clock = Callable[[], float]


@dataclass(frozen=True)
class Notification:
    kind: ChangeKind
    address: str
    args: str
    doc: str
    build: Callable[[Session, dict[str, Any]], list[Any] | None]
    key: tuple[str, ...] = ()  # the Change's fields that tell apart notifications that coalesce
    key_of: Callable[[dict[str, Any]], Any] | None = None  # or this, of the Change's data, does

    def coalesce_key(self, data: dict[str, Any]) -> tuple[Any, ...]:
        """Notifications with the same key replace each other while they wait: the newest wins."""
        if self.key_of is not None:
            return (self.address, self.key_of(data))
        return (self.address, *(data.get(name) for name in self.key))


def _track(session: Session, data: dict[str, Any]) -> list[Any] | None:
    try:
        t = session.pattern.track(data["track"])
    except (PatternError, KeyError):
        return None  # removed again before we got to it
    return [t.name, t.voice, steps_text(t.steps), t.length, int(t.mute), int(t.solo), t.level, t.gate,
            expressive_json(t)]


def expressive_json(track: Track) -> str:
    """The expressive fields of a track's playing steps that have any, as compact JSON
    {"index": {prob, cond, micro, ratchet, locks}} (a file's step fields; "{}" for none)."""
    return json.dumps({str(i): patternfile.step_options_to_dict(s) for i, s in enumerate(track.steps)
                       if s.expressive}, separators=(",", ":"))


def _slot(value: int | None) -> int:
    return -1 if value is None else value


def _progress(status: dict[str, Any]) -> list[Any]:
    """A chain's status as /notify/chain sends it: entry repeat bar slot next (0 and "" when none)."""
    return [status["entry"] or 0, status["repeat"] or 0, status["bar"] or 0, status["slot"] or "",
            status["next"] or ""]


def _follow(value: dict[str, Any] | None) -> list[Any]:
    if value is None:
        return [0, "off"]
    return [value["after"], value["action"], *value["slots"]]


def _history(session: Session, data: dict[str, Any]) -> list[Any]:
    entry = data["entry"]
    return [data["action"], entry["id"], entry["author"], entry["summary"]]


NOTIFICATIONS: tuple[Notification, ...] = (
    Notification(ChangeKind.PARAM, "/notify/param", "module param value", "a sound parameter changed",
                 lambda s, d: [d["module"], d["param"], d["value"]], key=("module", "param")),
    Notification(ChangeKind.TEMPO, "/notify/tempo", "bpm", "the tempo changed", lambda s, d: [d["bpm"]]),
    Notification(ChangeKind.SWING, "/notify/swing", "swing", "the swing changed", lambda s, d: [d["swing"]]),
    Notification(ChangeKind.NAME, "/notify/name", "name", "the pattern was renamed",
                 lambda s, d: [d["name"]]),
    Notification(ChangeKind.FOLLOW, "/notify/follow", "after action slot …",
                 "the pattern's follow action was set (slots as numbers) or cleared (0 off)",
                 lambda s, d: _follow(d["follow"])),
    Notification(ChangeKind.SEED, "/notify/seed", "seed",
                 "the pattern's seed changed (its probability rolls)",
                 lambda s, d: [d["seed"]]),
    Notification(ChangeKind.FILL, "/notify/fill", "on", "fill mode was turned on (1) or off (0)",
                 lambda s, d: [int(d["fill"])]),
    Notification(ChangeKind.TRACKS, "/notify/tracks", "name …",
                 "a track was added or removed: every track's name",
                 lambda s, d: [t.name for t in s.pattern.tracks]),
    Notification(ChangeKind.TRACK, "/notify/track",
                 "name voice pattern length mute solo level gate expressive",
                 "a track's steps or settings changed; expressive is JSON of its steps that have expressive "
                 "fields, by index: `{\"3\":{\"prob\":50,\"locks\":{\"filter/freq\":800.0}}}` (`{}`: none)",
                 _track, key=("track",)),
    Notification(ChangeKind.PATTERN, "/notify/pattern", "slot name",
                 "a pattern was loaded (slot -1: not from a slot)",
                 lambda s, d: [_slot(d.get("slot")), d.get("name", "")]),
    Notification(ChangeKind.QUEUED, "/notify/queued", "slot at bar step",
                 "a load was queued (slot -1: the queue was cancelled); it switches at bar:step of the "
                 "playing pattern (counted from 0, as /notify/position; -1 -1: not known)",
                 lambda s, d: [_slot(d.get("slot")), d.get("at", ""), *(d.get("lands") or (-1, -1))]),
    Notification(ChangeKind.QUANTIZE, "/notify/quantize", "quantize",
                 "the launch quantize of loads that name none changed", lambda s, d: [d["quantize"]]),
    Notification(ChangeKind.CHAIN, "/notify/chain", "entry repeat bar slot next",
                 "the chain started, moved on (a new entry, play or bar; numbers from 1) or ended "
                 "(0 0 0 \"\" \"\")", lambda s, d: _progress(d)),
    Notification(ChangeKind.SONG, "/notify/song", "name entry repeat bar slot next",
                 "as /notify/chain, while the chain is a song's", lambda s, d: [d["song"], *_progress(d)]),
    Notification(ChangeKind.TRANSPORT, "/notify/transport", "playing", "play (1) or stop (0)",
                 lambda s, d: [int(d["playing"])]),
    Notification(ChangeKind.GATE, "/notify/gate", "voice on", "a voice's gate was set by hand",
                 lambda s, d: [d["voice"], int(d["on"])], key=("voice",)),
    Notification(ChangeKind.SAVED, "/notify/saved", "slot name", "a slot was saved",
                 lambda s, d: [d["slot"], d["name"]], key=("slot",)),
    Notification(ChangeKind.RENAMED, "/notify/renamed", "slot name", "a slot was renamed",
                 lambda s, d: [d["slot"], d["name"]], key=("slot",)),
    Notification(ChangeKind.POSITION, "/notify/position", "bar step", "the playhead moved (once a step)",
                 lambda s, d: [d["bar"], d["step"]]),
    Notification(ChangeKind.ENGINE, "/notify/engine", "json",
                 "the engine reported its status (event status), its process died (down), a new one "
                 "starts (restarting) or runs (restarted)",
                 lambda s, d: [json.dumps(d, separators=(",", ":"))]),
    Notification(ChangeKind.HISTORY, "/notify/history", "action id author summary",
                 "an edit entered the history (action edit; a run of one value's changes is one entry, "
                 "its id sent again with the newest summary), or an entry was undone or redone "
                 "(undo, redo); author is `ui` or `osc host:port`",
                 _history, key_of=lambda d: d["entry"]["id"]),
    Notification(ChangeKind.ERROR, "/notify/error", "message", "a request was refused or the engine failed",
                 lambda s, d: [d.get("message", "")]),
)
_BY_KIND = {n.kind: n for n in NOTIFICATIONS}
_LOAD_KINDS = frozenset({ChangeKind.PATTERN, ChangeKind.QUEUED})  # they resolve waiting loads


class TokenBucket:
    """A budget of `rate` sends a second, `burst` of them saved up at most."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at = now

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + max(0.0, now - self._at) * self.rate)
        self._at = now

    def take(self, now: float) -> bool:
        """Spend one send if the budget holds one."""
        self._refill(now)
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def wait(self, now: float) -> float:
        """Seconds from `now` until take() succeeds."""
        self._refill(now)
        return max(0.0, (1 - self._tokens) / self.rate)


@dataclass
class _Subscription:
    expires: float
    bucket: TokenBucket
    # coalesce key -> (address, args), oldest first: what waits for the budget
    pending: OrderedDict[tuple[Any, ...], tuple[str, list[Any]]] = field(default_factory=OrderedDict)

    def offer(self, key: tuple[Any, ...], address: str, args: list[Any], now: float) -> bool:
        """True if it may go now; else it waits, replacing an older one of the same key."""
        if not self.pending and self.bucket.take(now):
            return True
        self.pending.pop(key, None)  # the newest goes last: after every change made before it
        self.pending[key] = (address, args)
        if len(self.pending) > MAX_PENDING:
            self.pending.popitem(last=False)
        return False

    def due(self, now: float) -> list[tuple[str, list[Any]]]:
        """The waiting notifications the budget allows now, oldest first."""
        out = []
        while self.pending and self.bucket.take(now):
            out.append(self.pending.popitem(last=False)[1])
        return out


@dataclass(frozen=True)
class _Waiter:
    """A client whose load was queued: it is told when the load switched (or did not)."""

    sender: Address
    address: str
    slot: int
    token: int


def _is_local(host: str) -> bool:
    """Whether `host` is an address of this machine (only those can be bound)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((host, 0))
    except (OSError, ValueError, TypeError):
        return False
    return True


def arrives_at(own: Address, host: str, port: int) -> bool:
    """Whether a datagram sent to host:port arrives at a socket bound to `own`
    (a socket bound to 0.0.0.0 receives on every local address)."""
    own_host, own_port = own
    if port != own_port:
        return False
    return host == own_host or (ANY_HOST in (host, own_host) and _is_local(host))


class Feedback:
    """Subscribers, and the second reply of queued loads. Use from the loop's thread
    (on_change excepted, which any thread may call).

    `own` is the address the server's socket is bound to: nothing is sent there.
    `clock` (seconds, monotonic) times leases and budgets.
    """

    def __init__(self, session: Session, send: Send, loop: asyncio.AbstractEventLoop, own: Address,
                 clock: Clock = time.monotonic) -> None:
        self._session = session
        self._send = send
        self._loop = loop
        self._own = own
        self._clock = clock
        self._loop_thread = threading.get_ident()
        self._subscriptions: dict[Address, _Subscription] = {}
        self._timer: asyncio.TimerHandle | None = None  # the one timer that sends waiting notifications
        self._waiters: list[_Waiter] = []
        self._loaded: OrderedDict[int, int | None] = OrderedDict()  # token -> slot, of recent loads
        self._held: list[Change] | None = None

    @property
    def subscribers(self) -> list[Address]:
        """The subscriptions whose lease has not lapsed."""
        self._prune(self._clock())
        return list(self._subscriptions)

    def subscribe(self, host: str, port: int) -> int:
        """Subscribe host:port, or renew its lease; the number of subscribers.
        ValueError (and nothing changes) for the server's own address or past MAX_SUBSCRIBERS."""
        if arrives_at(self._own, host, port):
            raise ValueError(f"{host}:{port} is this server's own address: "
                             "it would send its notifications to itself")
        now = self._clock()
        self._prune(now)
        subscription = self._subscriptions.get((host, port))
        if subscription is not None:
            subscription.expires = now + LEASE_SECONDS
        elif len(self._subscriptions) >= MAX_SUBSCRIBERS:
            raise ValueError(f"already {MAX_SUBSCRIBERS} subscribers; unsubscribe one first")
        else:
            self._subscriptions[(host, port)] = _Subscription(
                now + LEASE_SECONDS, TokenBucket(NOTIFY_RATE, NOTIFY_RATE, now))
        return len(self._subscriptions)

    def unsubscribe(self, host: str, port: int) -> bool:
        self._prune(self._clock())
        return self._subscriptions.pop((host, port), None) is not None

    def _prune(self, now: float) -> None:
        for address in [a for a, s in self._subscriptions.items() if s.expires <= now]:
            del self._subscriptions[address]

    def on_change(self, change: Change) -> None:
        """Session listener (any thread): hand the change to the loop."""
        if change.kind not in _LOAD_KINDS and not self._subscriptions:
            return  # the common case under a burst of parameter sets: nothing to do
        try:
            if threading.get_ident() == self._loop_thread:
                self._loop.call_soon(self.deliver, change)
            else:
                self._loop.call_soon_threadsafe(self.deliver, change)
        except RuntimeError:
            pass  # the loop has closed: the server is gone

    def hold(self) -> None:
        """Keep changes back until release(): a request's own reply goes out before its effects."""
        if self._held is None:
            self._held = []

    def release(self) -> None:
        held, self._held = self._held or [], None
        for change in held:
            self.deliver(change)

    def deliver(self, change: Change) -> None:
        """Send a change to every subscriber its budget allows, and hold it for the rest
        (from the loop's thread; on_change hands changes here)."""
        if self._held is not None:
            self._held.append(change)
            return
        if change.kind == ChangeKind.PATTERN and not change.data.get("undo"):
            self._switched(change.data)  # an undone or redone load switches no queued one
        elif change.kind == ChangeKind.QUEUED and change.data.get("slot") is None:
            self._resolve_all(lambda waiter: "cancelled")
        notification = _BY_KIND.get(change.kind)
        if notification is None or not self._subscriptions:
            return
        args = notification.build(self._session, change.data)
        if args is None:
            return
        now = self._clock()
        self._prune(now)
        key = notification.coalesce_key(change.data)
        for target, subscription in self._subscriptions.items():
            if subscription.offer(key, notification.address, args, now):
                self._send(notification.address, args, target)
        self._schedule(now)

    def tick(self) -> None:
        """Send the waiting notifications every budget allows now (the timer calls this)."""
        now = self._clock()
        self._prune(now)
        for target, subscription in self._subscriptions.items():
            for address, args in subscription.due(now):
                self._send(address, args, target)
        self._schedule(now)

    def _on_timer(self) -> None:
        self._timer = None
        self.tick()

    def _schedule(self, now: float) -> None:
        """Arm the timer for the first subscriber whose waiting notifications can go."""
        if self._timer is not None:
            return
        waits = [s.bucket.wait(now) for s in self._subscriptions.values() if s.pending]
        if waits:
            self._timer = self._loop.call_later(max(min(waits), 1 / NOTIFY_RATE), self._on_timer)

    # -- follow-ups of queued loads ----------------------------------------------------

    def await_switch(self, sender: Address, address: str, slot: int, token: int) -> None:
        """Tell `sender` when the load `token` takes effect (called after its "queued" reply)."""
        if token in self._loaded:  # it switched before we got here
            self._send("/ok", [address, slot, "switched"], sender)
            return
        self._waiters.append(_Waiter(sender, address, slot, token))
        del self._waiters[:-MAX_WAITERS]

    def _switched(self, data: dict[str, Any]) -> None:
        token, slot = data.get("token"), data.get("slot")
        if token is not None:
            self._loaded[token] = slot
            while len(self._loaded) > MAX_WAITERS:
                self._loaded.popitem(last=False)
        # Stopping the transport applies a queued load at once under a new token: match by slot too.
        self._resolve_all(lambda w: "switched" if w.token == token or w.slot == slot else "replaced")

    def _resolve_all(self, outcome: Callable[[_Waiter], str]) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            self._send("/ok", [waiter.address, waiter.slot, outcome(waiter)], waiter.sender)
