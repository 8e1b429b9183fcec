"""The headless loop of `chronus --no-ui` (started by cli.cmd_headless): the OSC server on
its own asyncio loop, one log line per action on stderr, until SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterable
from ipaddress import IPv4Network

from chronus_tui.osc.server import OscServer
from chronus_tui.runtime import Runtime
from chronus_tui.session import Change, ChangeKind
from chronus_tui.store import slot_label

log = logging.getLogger("chronus")


async def serve(runtime: Runtime, host: str, port: int, allow: Iterable[IPv4Network] = ()) -> int:
    """Answer OSC until SIGINT or SIGTERM; 1 if the port cannot be bound."""
    server = OscServer(runtime.session, host, port, allow)
    try:
        await server.start()
    except OSError as exc:
        log.error("cannot listen for OSC on %s:%d: %s", host, port, exc.strerror or exc)
        return 1
    runtime.serving()  # from now on the session is the user's set (autosaved, journaled)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runtime.session.subscribe(_log_change)
    backend = runtime.engine.backend if runtime.engine is not None else "off"
    log.info("listening for OSC on %s; audio %s; patterns in %s; SIGINT or SIGTERM stops",
             server.address, backend, runtime.store.root)
    try:
        await stop.wait()
    finally:
        runtime.session.unsubscribe(_log_change)
        server.close()
    return 0


def _log_change(change: Change) -> None:
    """Log what happens without an OSC message of its own (the server logs every message)."""
    data = change.data
    if change.kind == ChangeKind.PATTERN and data.get("switched"):
        slot = data.get("slot")
        log.info("switched to %s %r at sample %s", "pattern" if slot is None else f"slot {slot_label(slot)}",
                 data.get("name"), data.get("sample"))
    elif change.kind == ChangeKind.ERROR and change.source != "osc":
        log.error("%s: %s", change.source or "error", data.get("message"))
    elif change.kind == ChangeKind.ENGINE and data.get("event") == "restarted":
        log.warning("engine process restarted; live state sent again")
    elif change.kind == ChangeKind.IMPORTED:  # the UI's log says the same, field by field
        for field in data["dropped"]:
            log.warning("%s: original Music Chronus field not carried over: %s",
                        slot_label(data["slot"]), field)
