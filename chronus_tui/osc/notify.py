"""OSC feedback: state changes sent to subscribed clients, and follow-ups of queued loads.

A client sends `/notify/subscribe [port]` and from then on receives every change of
the live state (whoever made it: the keyboard, another OSC client, the engine) as
plain OSC messages, the way Hydrogen feeds its controllers. NOTIFICATIONS is the one
table of what is sent; the schema and README list it.

Session listeners may be called from any thread (the engine client's reader thread
delivers "switched"); everything here is handed to the event loop first, so the
socket is only ever used from the loop's thread.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chronus_tui.model import PatternError, steps_text
from chronus_tui.session import Change, Session

MAX_SUBSCRIBERS = 32
MAX_WAITERS = 64
Address = tuple[str, int]
Send = Callable[[str, list[Any], Address], None]


@dataclass(frozen=True)
class Notification:
    kind: str  # the Session's Change.kind
    address: str
    args: str
    doc: str
    build: Callable[[Session, dict[str, Any]], list[Any] | None]


def _track(session: Session, data: dict[str, Any]) -> list[Any] | None:
    try:
        t = session.pattern.track(data["track"])
    except (PatternError, KeyError):
        return None  # removed again before we got to it
    return [t.name, t.voice, steps_text(t.steps), t.length, int(t.mute), int(t.solo), t.level, t.gate]


def _slot(value: int | None) -> int:
    return -1 if value is None else value


NOTIFICATIONS: tuple[Notification, ...] = (
    Notification("param", "/notify/param", "module param value", "a sound parameter changed",
                 lambda s, d: [d["module"], d["param"], d["value"]]),
    Notification("tempo", "/notify/tempo", "bpm", "the tempo changed", lambda s, d: [d["bpm"]]),
    Notification("swing", "/notify/swing", "swing", "the swing changed", lambda s, d: [d["swing"]]),
    Notification("name", "/notify/name", "name", "the pattern was renamed", lambda s, d: [d["name"]]),
    Notification("tracks", "/notify/tracks", "name …", "a track was added or removed: every track's name",
                 lambda s, d: [t.name for t in s.pattern.tracks]),
    Notification("track", "/notify/track", "name voice pattern length mute solo level gate",
                 "a track's steps or settings changed", _track),
    Notification("pattern", "/notify/pattern", "slot name", "a pattern was loaded (slot -1: not from a slot)",
                 lambda s, d: [_slot(d.get("slot")), d.get("name", "")]),
    Notification("queued", "/notify/queued", "slot at",
                 "a load was queued (slot -1: the queue was cancelled)",
                 lambda s, d: [_slot(d.get("slot")), d.get("at", "")]),
    Notification("transport", "/notify/transport", "playing", "play (1) or stop (0)",
                 lambda s, d: [int(d["playing"])]),
    Notification("gate", "/notify/gate", "voice on", "a voice's gate was set by hand",
                 lambda s, d: [d["voice"], int(d["on"])]),
    Notification("saved", "/notify/saved", "slot name", "a slot was saved",
                 lambda s, d: [d["slot"], d["name"]]),
    Notification("renamed", "/notify/renamed", "slot name", "a slot was renamed",
                 lambda s, d: [d["slot"], d["name"]]),
    Notification("position", "/notify/position", "bar step", "the playhead moved (once a step)",
                 lambda s, d: [d["bar"], d["step"]]),
    Notification("engine", "/notify/engine", "json", "the engine reported its status or restarted",
                 lambda s, d: [json.dumps(d, separators=(",", ":"))]),
    Notification("error", "/notify/error", "message", "a request was refused or the engine failed",
                 lambda s, d: [d.get("message", "")]),
)
_BY_KIND = {n.kind: n for n in NOTIFICATIONS}
_LOAD_KINDS = ("pattern", "queued")


@dataclass(frozen=True)
class _Waiter:
    """A client whose load was queued: it is told when the load switched (or did not)."""

    sender: Address
    address: str
    slot: int
    token: int


class Feedback:
    """Subscribers, and the second reply of queued loads. Use from the loop's thread
    (on_change excepted, which any thread may call)."""

    def __init__(self, session: Session, send: Send, loop: asyncio.AbstractEventLoop) -> None:
        self._session = session
        self._send = send
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._subscribers: dict[Address, None] = {}
        self._waiters: list[_Waiter] = []
        self._loaded: OrderedDict[int, int | None] = OrderedDict()  # token -> slot, of recent loads
        self._held: list[Change] | None = None

    @property
    def subscribers(self) -> list[Address]:
        return list(self._subscribers)

    def subscribe(self, host: str, port: int) -> int:
        if (host, port) not in self._subscribers and len(self._subscribers) >= MAX_SUBSCRIBERS:
            raise ValueError(f"already {MAX_SUBSCRIBERS} subscribers; unsubscribe one first")
        self._subscribers[(host, port)] = None
        return len(self._subscribers)

    def unsubscribe(self, host: str, port: int) -> bool:
        if (host, port) not in self._subscribers:
            return False
        del self._subscribers[(host, port)]
        return True

    def on_change(self, change: Change) -> None:
        """Session listener (any thread): hand the change to the loop."""
        if change.kind not in _LOAD_KINDS and not self._subscribers:
            return  # the common case under a burst of parameter sets: nothing to do
        try:
            if threading.get_ident() == self._loop_thread:
                self._loop.call_soon(self._deliver, change)
            else:
                self._loop.call_soon_threadsafe(self._deliver, change)
        except RuntimeError:
            pass  # the loop has closed: the server is gone

    def hold(self) -> None:
        """Keep changes back until release(): a request's own reply goes out before its effects."""
        if self._held is None:
            self._held = []

    def release(self) -> None:
        held, self._held = self._held or [], None
        for change in held:
            self._deliver(change)

    def _deliver(self, change: Change) -> None:
        if self._held is not None:
            self._held.append(change)
            return
        if change.kind == "pattern":
            self._switched(change.data)
        elif change.kind == "queued" and change.data.get("slot") is None:
            self._resolve_all(lambda waiter: "cancelled")
        notification = _BY_KIND.get(change.kind)
        if notification is None or not self._subscribers:
            return
        args = notification.build(self._session, change.data)
        if args is None:
            return
        for subscriber in list(self._subscribers):
            self._send(notification.address, args, subscriber)

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
