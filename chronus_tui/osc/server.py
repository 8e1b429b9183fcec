"""The OSC server: UDP on an asyncio loop, every message through the route table.

Usable from any running loop (Textual's when the UI runs, its own with `--no-ui`):

    server = OscServer(session, "127.0.0.1", 5005)
    await server.start()
    ...
    server.close()

Messages are handled one at a time in arrival order; routes that touch files
(save, load, list) run in a worker thread while later messages wait, so the loop
(and a UI on it) never waits for the disk and the order still holds. Datagrams are
read by packet.decode, whole or not at all, with every size checked. Timetags of
bundles are ignored: a future-dated bundle cannot stall the server. Replies go to
the sender's address and port from this socket. A bad message gets
`/error <address> <message>`, is logged, and is reported to Session listeners as a
Change("error", {"message", "address"}, source="osc") so the UI can show it; past a
burst, one such report a second per sender host (RefusalLog). What a server sends
(/ok, /error, notifications, query replies) and anything from our own address is
never answered: two servers cannot keep each other talking.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import socket
import struct
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from chronus_tui.osc import DEFAULT_HOST, DEFAULT_PORT
from chronus_tui.osc.args import ArgError
from chronus_tui.osc.notify import Address, Feedback, TokenBucket, arrives_at
from chronus_tui.osc.packet import PacketError, decode
from chronus_tui.osc.routes import SOURCE, Reply, Request, Route, address_map, unknown_address
from chronus_tui.osc.schema import schema_json
from chronus_tui.session import Session, SessionError

log = logging.getLogger(__name__)

# A queued datagram costs the kernel ~800 bytes however small it is: 32 MiB holds a burst
# of ~40,000 parameter sets while the server catches up.
RECEIVE_BUFFER = 32 << 20
_SO_RCVBUFFORCE = 33  # Linux: may exceed net.core.rmem_max (needs CAP_NET_ADMIN)
MAX_DATAGRAM = 65507
# Free text in a reply (an /error's address and message, which may quote what a sender sent) is
# cut to this many characters, so an answer stays about as small as the request that caused it.
MAX_REPLY_TEXT = 500
_TEXT_REPLIES = {"/error", "/notify/error"}
# What a server sends, never a request: answering one could keep two servers talking forever.
_ANSWERS = {"/ok", "/error"}
_NOTIFY_PREFIX = "/notify/"
# Refusals logged (and shown to Session listeners) per sender host: a burst, then one a
# second; and at most a few a second from all hosts together. The rest are counted.
REFUSALS_PER_SECOND = 1.0
REFUSAL_BURST = 10
ALL_REFUSALS_PER_SECOND = 5.0
ALL_REFUSAL_BURST = 20
_REFUSAL_HOSTS = 256  # hosts remembered (least recently refused forgotten first)
MAX_LOGGED_TEXT = 200  # characters of a sender's text in one log line


class OscServer:
    def __init__(self, session: Session, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 allow: Iterable[ipaddress.IPv4Network] = ()) -> None:
        self.session = session
        self.host = host
        self.port = port  # 0 picks a free port; the bound one is here after start()
        self.allow = tuple(allow)  # served besides loopback when listening on a non-loopback address
        self.handled = 0  # messages handled (answered with /ok, a query reply or /error)
        self.receive_buffer = 0  # bytes the kernel gave the socket
        self.errors = 0
        self.dropped = 0  # datagrams from senders not allowed, dropped unanswered
        self.ignored = 0  # replies and notifications received, and datagrams from our own address
        self._refusals = RefusalLog()
        self._serve_all = True  # a loopback socket: only this machine can reach it
        self._local_paths: list[tuple[str, str]] = []
        self._routes = address_map()
        self._transport: asyncio.DatagramTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._feedback: Feedback | None = None
        self._backlog: deque[tuple[str, list[Any] | str, Address]] = deque()
        self._busy: asyncio.Future[Reply] | None = None

    @property
    def address(self) -> str:
        """host:port as bound (for the UI's transport line and the log)."""
        return f"{self.host}:{self.port}"

    @property
    def feedback(self) -> Feedback:
        if self._feedback is None:
            raise RuntimeError("the OSC server has not started")
        return self._feedback

    async def start(self) -> str | None:
        """Bind the socket (OSError if the port is taken) and start answering. On an address
        other machines can reach, the warning it logged (for a UI to show), else None."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=(self.host, self.port), family=socket.AF_INET)
        sock = transport.get_extra_info("socket")
        self.receive_buffer = _raise_receive_buffer(sock)
        if self.receive_buffer < RECEIVE_BUFFER:  # the kernel caps it at 2 × net.core.rmem_max
            log.info("OSC receive buffer is %d bytes (raise net.core.rmem_max for bigger bursts)",
                     self.receive_buffer)
        self._transport, self._loop = transport, loop
        own_host, self.port = sock.getsockname()
        self._serve_all = ipaddress.ip_address(own_host).is_loopback
        warning = None if self._serve_all else exposure_warning(self.address, self.allow)
        if warning is not None:
            log.warning("%s", warning)
        self._local_paths = _local_paths(self.session.store.root)
        self._feedback = Feedback(self.session, self._send, loop, own=(own_host, self.port))
        self.session.subscribe(self._feedback.on_change)
        return warning

    def close(self) -> None:
        """Stop answering at once; the socket itself closes on the loop's next turn."""
        if self._feedback is not None:
            self.session.unsubscribe(self._feedback.on_change)
        self._backlog.clear()
        if self._busy is not None:
            self._busy.cancel()
        if self._transport is not None:
            self._transport.close()
        self._transport = None

    # -- receiving ---------------------------------------------------------------------

    def received(self, data: bytes, sender: Address) -> None:
        """One datagram: its messages join the queue, handled in order."""
        if not self.serves(sender[0]):
            self.dropped += 1
            return
        if self._transport is not None and arrives_at(self._transport.get_extra_info("sockname"), *sender):
            self._ignore("a datagram from this server's own address", sender)
            return
        for address, args in _messages(data):
            if self._is_answer(address, args):
                self._ignore(f"{_cut(address)}: a reply or notification, not a request", sender)
            else:
                self._backlog.append((address, args, sender))
        if self._busy is None:
            self._drain()

    def _is_answer(self, address: str, args: list[Any] | str) -> bool:
        """Whether a message is shaped like what a server sends: /ok, /error, a notification,
        or a query's address with the JSON a query reply carries."""
        if address in _ANSWERS or (address.startswith(_NOTIFY_PREFIX) and address not in self._routes):
            return True
        found = self._routes.get(address)
        return (found is not None and found[0].query and isinstance(args, list) and len(args) > 0
                and isinstance(args[0], str) and args[0][:1] in ("{", "["))

    def _ignore(self, what: str, sender: Address) -> None:
        self.ignored += 1
        log.debug("%s:%d ignored %s", *sender, what)

    def _drain(self) -> None:
        while self._backlog:
            address, args, sender = self._backlog.popleft()
            if isinstance(args, str):  # the datagram could not be read
                self._error(address, args, sender)
                continue
            found = self._routes.get(address)
            if found is None:
                self._error(address, unknown_address(address), sender)
                continue
            route, bound = found
            try:
                values = {**route.parse(args), **bound}
            except ArgError as exc:
                self._error(address, str(exc), sender)
                continue
            except Exception as exc:  # a bug must cost one message, not the messages queued after it
                self._error(address, f"internal error: {exc}", sender, exc)
                continue
            request = Request(self.session, address, sender, self.feedback, schema_json, self.counters)
            if route.blocking:  # later messages wait in the backlog until it is done
                assert self._loop is not None
                self.feedback.hold()
                self._busy = self._loop.run_in_executor(None, route.handler, request, values)
                self._busy.add_done_callback(functools.partial(self._blocking_done, route, request, args))
                return
            self._finish(route, request, args, functools.partial(route.handler, request, values))

    def _blocking_done(self, route: Route, request: Request, args: list[Any],
                       future: asyncio.Future[Reply]) -> None:
        self._busy = None
        try:
            if not future.cancelled():  # cancelled: the server closed
                self._finish(route, request, args, future.result)
        finally:
            self.feedback.release()
        self._drain()

    def _finish(self, route: Route, request: Request, args: list[Any], call: Callable[[], Reply]) -> None:
        """Run a handler (or read its result) and answer: reply, or /error and log."""
        try:
            reply: Reply = call()
        except (ArgError, SessionError) as exc:
            self._error(request.address, str(exc), request.sender)
            return
        except Exception as exc:  # a bug must cost one message, not the server
            self._error(request.address, f"internal error: {exc}", request.sender, exc)
            return
        self.handled += 1
        if route.query:
            self._send(request.address, list(reply.args), request.sender)
        else:
            self._send("/ok", [request.address, *reply.args], request.sender)
        if reply.wait_for is not None:
            self.feedback.await_switch(request.sender, request.address, reply.args[0], reply.wait_for)
        if log.isEnabledFor(logging.INFO):
            log.info("%s:%d %s %s -> %s", *request.sender, request.address, _show(args),
                     "reply" if route.query else _show(reply.args) or "ok")

    def serves(self, host: str) -> bool:
        """Whether datagrams from `host` are answered: every sender on a loopback socket, else
        loopback senders and those in `allow`."""
        if self._serve_all:
            return True
        try:
            sender = ipaddress.ip_address(host)
        except ValueError:
            return False
        return sender.is_loopback or any(sender in network for network in self.allow)

    def counters(self) -> dict[str, int]:
        """The server's counts, as /engine/status reports them."""
        return {"osc_handled": self.handled, "osc_errors": self.errors, "osc_dropped": self.dropped,
                "osc_ignored": self.ignored}

    # -- sending -----------------------------------------------------------------------

    def _error(self, address: str, message: str, sender: Address, bug: Exception | None = None) -> None:
        """Answer /error; log and report it unless this sender (or everyone) refused too often
        (a flood of bad messages must not flood the log or the screen)."""
        self.handled += 1
        self.errors += 1
        unlogged = self._refusals.admit(sender[0])
        if unlogged is not None:
            more = f" ({unlogged} more refused from {sender[0]} not logged)" if unlogged else ""
            log.log(logging.ERROR if bug else logging.WARNING, "%s:%d %s refused: %s%s", *sender,
                    _cut(address) or "(unreadable)", _cut(message), more, exc_info=bug)
            self.session.report_error(f"OSC {address}: {message}", SOURCE, address=address)
        self._send("/error", [address, message], sender)

    def _send(self, address: str, args: list[Any], target: Address) -> None:
        if self._transport is None:
            return
        args = [self._reply_text(arg, address) if isinstance(arg, str) else arg for arg in args]
        data = encode(address, args)
        if len(data) > MAX_DATAGRAM:
            data = encode("/error", [args[0] if address == "/ok" else address,
                                     f"reply of {len(data)} bytes is too large for UDP"])
        self._transport.sendto(data, target)

    def _reply_text(self, text: str, address: str) -> str:
        """A string as it may leave: no local folder's absolute path, free text bounded."""
        for path, shown in self._local_paths:
            if path in text:
                text = text.replace(path, shown)
        return _cut(text, MAX_REPLY_TEXT) if address in _TEXT_REPLIES else text


def exposure_warning(address: str, allow: Iterable[ipaddress.IPv4Network]) -> str:
    """The one warning for a socket other machines can reach: who is served, who is not."""
    networks = ", ".join(str(network) for network in allow)
    served = f"senders in {networks} and loopback" if networks else \
        "only loopback senders (--osc-allow CIDR[,CIDR…] serves others)"
    return f"OSC listens on {address}, reachable from other machines: {served} are served; " \
           "datagrams from anyone else are dropped unanswered (osc_dropped in /engine/status)"


def _local_paths(patterns_root: Path) -> list[tuple[str, str]]:
    """(absolute path, what replies show instead): the patterns folder's files by their
    relative names, the home folder as ~. Longest first, so the folder wins over home."""
    pairs = {}
    for root in {str(patterns_root.absolute()), str(patterns_root.resolve())}:
        pairs[root + "/"] = ""
        pairs[root] = "the patterns folder"
    home = str(Path.home())
    if home != "/":
        pairs[home] = "~"
    return sorted(pairs.items(), key=lambda pair: -len(pair[0]))


def _raise_receive_buffer(sock: socket.socket) -> int:
    """Ask for RECEIVE_BUFFER bytes (past the sysctl cap where we may); the bytes granted."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, RECEIVE_BUFFER)
    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) < RECEIVE_BUFFER:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        except OSError as exc:  # a smaller buffer still works; big bursts may drop
            log.warning("could not raise the OSC receive buffer: %s", exc)
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, server: OscServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        try:
            self.server.received(data, (addr[0], addr[1]))
        except Exception:  # never let one datagram stop the server
            log.exception("OSC datagram from %s:%s failed", addr[0], addr[1])

    def error_received(self, exc: Exception) -> None:
        # e.g. ICMP port unreachable after replying to a client that already left
        log.debug("OSC socket: %s", exc)


def _messages(data: bytes) -> list[tuple[str, list[Any] | str]]:
    """The messages of a datagram (a message or a bundle), or one entry saying why it is
    unreadable (with the message's address where that much could be read)."""
    try:
        return [(message.address, message.args) for message in decode(data)]
    except PacketError as exc:
        return [(exc.address, f"not a readable OSC message: {exc}")]


class RefusalLog:
    """Which refusals are logged and reported: per sender host a burst of REFUSAL_BURST, then
    REFUSALS_PER_SECOND, within a budget for all hosts together; the rest are counted."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._all = TokenBucket(ALL_REFUSALS_PER_SECOND, ALL_REFUSAL_BURST, clock())
        self._hosts: OrderedDict[str, tuple[TokenBucket, int]] = OrderedDict()  # bucket, unlogged

    def admit(self, host: str) -> int | None:
        """None: stay quiet about this refusal; else how many from `host` went unlogged before it."""
        now = self._clock()
        known = self._hosts.pop(host, None)
        bucket, unlogged = known or (TokenBucket(REFUSALS_PER_SECOND, REFUSAL_BURST, now), 0)
        admitted = bucket.take(now) and self._all.take(now)
        self._hosts[host] = (bucket, 0 if admitted else unlogged + 1)  # the most recent last
        if len(self._hosts) > _REFUSAL_HOSTS:
            self._hosts.popitem(last=False)
        return unlogged if admitted else None


def _osc_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return raw + b"\0" * (4 - len(raw) % 4)


def encode(address: str, args: list[Any]) -> bytes:
    """An OSC message of strings, ints, floats, booleans and None: what replies and
    notifications hold (several times faster than python-osc's builder)."""
    tags, payload = [","], []
    for arg in args:
        if isinstance(arg, bool):
            tags.append("T" if arg else "F")
        elif isinstance(arg, int):
            small = -(2**31) <= arg < 2**31
            tags.append("i" if small else "h")
            payload.append(struct.pack(">i" if small else ">q", arg))
        elif isinstance(arg, float):
            try:
                payload.append(struct.pack(">f", arg))
                tags.append("f")
            except OverflowError:  # beyond 32-bit float range
                payload.append(struct.pack(">d", arg))
                tags.append("d")
        elif arg is None:
            tags.append("N")
        else:
            tags.append("s")
            payload.append(_osc_string(str(arg)))
    return b"".join([_osc_string(address), _osc_string("".join(tags)), *payload])


def _show(values: Any) -> str:
    return _cut(" ".join(repr(v) if isinstance(v, str) and (" " in v or not v) else str(v) for v in values))


def _cut(text: str, limit: int = MAX_LOGGED_TEXT) -> str:
    """A sender's text cut to `limit` characters (… last): as a log line or a reply holds it."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


@contextlib.contextmanager
def serve_in_thread(session: Session, host: str = DEFAULT_HOST, port: int = 0) -> Iterator[OscServer]:
    """An OscServer on its own loop in a daemon thread, for programs without an asyncio loop
    (tests, benchmarks, embedding). Yields the started server; stops it on exit."""
    server = OscServer(session, host, port)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start())
        except BaseException as exc:
            failure.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="osc-server", daemon=True)
    thread.start()
    started.wait()
    if failure:
        loop.close()
        raise failure[0]
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
