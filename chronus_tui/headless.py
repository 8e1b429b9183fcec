"""`chronus --no-ui`: the engine and the OSC server, one log line per action on stderr.

SIGINT and SIGTERM stop it cleanly: the OSC socket closes, the live session is
autosaved to slot 0 and the engine process stops (Runtime.close()). A start that
fails (folder in use, bad options, no engine, port taken) exits 1 and writes nothing
in the patterns folder.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Iterable
from ipaddress import IPv4Network

from chronus_tui.engine.client import EngineError
from chronus_tui.logs import flush_counts, start_logging
from chronus_tui.osc.server import OscServer
from chronus_tui.runtime import Runtime, open_runtime
from chronus_tui.session import Change, ChangeKind
from chronus_tui.store import slot_label

log = logging.getLogger("chronus")


def headless_main(args: argparse.Namespace) -> int:
    engine_log, warning = start_logging(ui=False)
    if warning is not None:
        log.warning("%s", warning)
    try:
        runtime = open_runtime(args, engine_log=engine_log)
    except EngineError as exc:
        log.error("cannot start the audio engine: %s", exc)
        return 1
    for notice in runtime.notices:
        log.warning("%s", notice)
    try:
        return asyncio.run(serve(runtime, args.osc_host, args.osc_port, args.osc_allow))
    finally:
        saved = runtime.close()
        if not runtime.autosave:
            log.info("stopped before serving; the patterns folder is as it was")
        elif saved is not None:
            log.info("stopped; session autosaved to %s", saved)
        else:
            log.info("stopped; the session could not be autosaved (see above)")
        flush_counts()


async def serve(runtime: Runtime, host: str, port: int, allow: Iterable[IPv4Network] = ()) -> int:
    """Answer OSC until SIGINT or SIGTERM; 1 if the port cannot be bound."""
    server = OscServer(runtime.session, host, port, allow)
    try:
        await server.start()
    except OSError as exc:
        log.error("cannot listen for OSC on %s:%d: %s", host, port, exc.strerror or exc)
        return 1
    runtime.autosave = True  # serving: from now on the session is the user's set
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
