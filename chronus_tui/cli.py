"""The `chronus` command line, and the one place where a program's pieces are put together.

Each `cmd_*` function is one command: it sets up logging, opens the runtime (folder lock,
store, engine, Session), starts what serves it (the OSC server, the terminal UI) and
autosaves on the way out. The modules keep the reusable pieces; they are imported inside
each command, so `chronus slots` never loads pyo or Textual.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import ipaddress
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chronus_tui.model import STEPS_PER_BAR, Pattern
from chronus_tui.osc import DEFAULT_HOST, DEFAULT_PORT
from chronus_tui.store import SlotStore, StoreError, slot_label

if TYPE_CHECKING:
    from chronus_tui.chain import Chain, Played

log = logging.getLogger("chronus")
EXIT_FAILED = 1  # a start that failed; for `chronus send`, an /error or no reply at all


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chronus",
        description="Chronus: a terminal step sequencer for live electronic music: patterns in 128 "
                    "slots, played one by one, in chains or as saved songs. With no command it opens "
                    "the terminal UI.")
    parser.add_argument("--version", action="version", version=f"chronus {package_version()}")
    parser.add_argument("--no-ui", action="store_true",
                        help="headless: engine and OSC server only, logs to stderr")
    _add_common(parser)
    parser.add_argument("--audio", choices=("auto", "jack", "portaudio", "null"), default="auto",
                        help="audio backend (auto: JACK if running, else PortAudio, else a silent clock)")
    parser.add_argument("--sr", type=int, default=48000, help="sample rate (default 48000)")
    parser.add_argument("--buffer", type=int, default=256, help="audio buffer size in frames (default 256)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    render = sub.add_parser("render", help="render a pattern, song or chain offline to a WAV file")
    render.add_argument("source", help="slot number, pattern file, library name, song name, or a chain "
                                       "in quotes (\"A01x4 A02x2\"); a song or chain renders whole")
    render.add_argument("-o", "--output", type=Path, required=True, help="WAV file to write")
    render.add_argument("--bars", type=int, default=None,
                        help="bars of a pattern to render (default 4; refused with a song or chain)")
    render.add_argument("--sr", type=int, default=argparse.SUPPRESS, help="sample rate (default 48000)")
    render.add_argument("--tail", type=_tail_seconds, default=None, metavar="SECONDS",
                        help="seconds to render after the last bar, sequencer stopped (default: until the "
                             "reverb and delay die out, at most 10; 0: exactly the bars)")
    _add_patterns_dir(render, default=argparse.SUPPRESS)

    export = sub.add_parser("export-midi", help="export a pattern, song or chain as a Standard MIDI File")
    export.add_argument("source", help="slot number, pattern file, library name, song name, or a chain "
                                       "in quotes (\"A01x4 A02x2\"); a song or chain exports whole")
    export.add_argument("-o", "--output", type=Path, required=True, help="MIDI file to write")
    export.add_argument("--bars", type=int, default=None,
                        help="bars of a pattern to export, 1–1024 (default: the longest track, in whole "
                             "bars; refused with a song or chain)")
    _add_patterns_dir(export, default=argparse.SUPPRESS)

    slots = sub.add_parser("slots", help="list the saved slots, good and broken")
    slots.add_argument("--json", action="store_true", help="print a JSON list")
    _add_patterns_dir(slots, default=argparse.SUPPRESS)

    songs = sub.add_parser("songs", help="list the saved songs (songs/NAME.json), good and broken")
    songs.add_argument("--json", action="store_true",
                       help="print a JSON list (name, entries, loop, bars, seconds, missing, saved_at, "
                            "error, path)")
    _add_patterns_dir(songs, default=argparse.SUPPRESS)

    send = sub.add_parser("send", help="send one OSC message and print the replies")
    send.add_argument("address", type=osc_address, help="OSC address, e.g. /seq/bpm")
    send.add_argument("args", nargs="*", help="arguments: numbers are sent as numbers")
    # default: the common --osc-host/--osc-port, so `chronus --osc-port P send …` reaches P
    send.add_argument("--host", default=argparse.SUPPRESS, help="default: --osc-host, else 127.0.0.1")
    send.add_argument("--port", type=udp_port, default=argparse.SUPPRESS,
                      help="default: --osc-port, else 5005")
    send.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for replies")
    return parser


def package_version() -> str:
    """The installed package's version (pyproject.toml's); run from a bare source tree, says so."""
    try:
        return importlib.metadata.version("chronus-tui")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--osc-host", default=DEFAULT_HOST,
                        help="OSC listen address (default 127.0.0.1; another interface is your choice)")
    parser.add_argument("--osc-port", type=udp_port, default=DEFAULT_PORT,
                        help="OSC UDP port 1–65535 (default 5005)")
    parser.add_argument("--osc-allow", type=networks, default=(), metavar="CIDR[,CIDR…]",
                        help="on a non-loopback --osc-host, also serve senders in these IPv4 networks "
                             "(loopback is always served; others are dropped and counted)")
    _add_patterns_dir(parser)


def udp_port(text: str) -> int:
    """A UDP port 1–65535, else an argparse usage error (before anything starts or writes)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a UDP port (1–65535)")
    return port


def networks(text: str) -> tuple[ipaddress.IPv4Network, ...]:
    """Comma-separated IPv4 networks (`10.0.0.0/8,192.168.1.7`), else an argparse usage error."""
    found = []
    for part in text.split(","):
        try:
            found.append(ipaddress.IPv4Network(part.strip(), strict=False))
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{part.strip()!r} is not an IPv4 network ({exc})") from None
    return tuple(found)


def osc_address(text: str) -> str:
    if not text.startswith("/"):
        raise argparse.ArgumentTypeError(f"OSC addresses start with / (got {text!r})")
    return text


def _add_patterns_dir(parser: argparse.ArgumentParser, default: object = None) -> None:
    # Subcommands pass SUPPRESS so `chronus --patterns-dir D slots` keeps the top-level value.
    parser.add_argument("--patterns-dir", type=Path, default=default,
                        help="the patterns folder: slots, songs, library, backups (default: "
                             "$CHRONUS_PATTERNS_DIR, else the user data folder)")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "slots":
            return cmd_slots(args)
        if args.command == "songs":
            return cmd_songs(args)
        if args.command == "render":
            return cmd_render(args)
        if args.command == "export-midi":
            return cmd_export_midi(args)
        if args.command == "send":
            return cmd_send(args)
        if args.no_ui:
            return cmd_headless(args)
        return cmd_ui(args)
    except StoreError as exc:
        print(f"chronus: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def cmd_slots(args: argparse.Namespace) -> int:
    store = SlotStore(args.patterns_dir)
    rows = [(info, f"{info.slot:3d} {slot_label(info.slot):8}") for info in store.list()]
    return _print_listing(args, rows, f"no saved slots in {store.slots_dir}",
                          lambda info: f"{info.name:<32} {info.bpm:6.1f} bpm  {info.tracks:2d} tracks  "
                                       f"{info.saved_at or ''}")


def cmd_songs(args: argparse.Namespace) -> int:
    """`chronus songs [--json]`: every song file, with its length at its entries' tempos."""
    store = SlotStore(args.patterns_dir)

    def row(info: Any) -> str:
        length = (f"{info.bars:7g} bars {info.seconds:8.1f} s" if info.bars is not None
                  else f"{'?':>7} bars {'?':>8} s")
        missing = f"  empty or unreadable: {' '.join(info.missing)}" if info.missing else ""
        return (f"{info.entries:2d} entries  {length}  {'loop' if info.loop else 'once'}  "
                f"{info.saved_at or ''}{missing}")

    # a song's name is its file's, and a file may be named anything: one with a control character is quoted
    return _print_listing(args, [(info, f"{info.name if info.name.isprintable() else repr(info.name):<32}")
                                 for info in store.songs()],
                          f"no saved songs in {store.songs_dir}", row)


def _print_listing(args: argparse.Namespace, rows: list[tuple[Any, str]], empty: str,
                   line: Callable[[Any], str]) -> int:
    """A listing's files (each with its row's head): as JSON with --json, else one line each,
    a file that cannot be read as ERROR and why."""
    if args.json:
        print(json.dumps([info.as_dict() for info, _ in rows], indent=2))
        return 0
    if not rows:
        print(empty)
        return 0
    for info, head in rows:
        print(f"{head}  ERROR  {info.error}" if info.error else f"{head}  {line(info)}")
    return 0


def _tail_seconds(text: str) -> float:
    """--tail's value: seconds from 0 to MAX_TAIL."""
    from chronus_tui.synth.offline import MAX_TAIL

    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= seconds <= MAX_TAIL:  # NaN too
        raise argparse.ArgumentTypeError(f"{text!r} is not 0–{MAX_TAIL:g} seconds")
    return seconds


def cmd_render(args: argparse.Namespace) -> int:
    """`chronus render SOURCE -o out.wav [--bars N] [--sr R] [--tail S]`: exit 0, or 1 with the reason."""
    from chronus_tui.chain import ChainQueue, chain_steps, entry_onsets
    from chronus_tui.synth.offline import MAX_BARS, SAMPLE_RATES, RenderError, render

    def fail(message: object) -> int:
        print(f"chronus render: {message}", file=sys.stderr)
        return 1

    if (resolved := _source_and_output(args, "chronus render")) is None:
        return 1
    source, output = resolved
    if isinstance(source, Pattern):
        pattern, bars = source, 4 if args.bars is None else args.bars
        length: dict[str, Any] = {"bars": bars}
        what = f"{bars} bar{'s' if bars != 1 else ''} of {pattern.name!r} at {pattern.bpm:g} bpm"
    else:  # a chain plays each entry once, whole, as it would live: its next entries queued on the lines
        if args.bars is not None:
            return fail("--bars is for one pattern: a chain or a song renders whole")
        named, played = source
        steps = sum(chain_steps(played))
        if steps > MAX_BARS * STEPS_PER_BAR:
            return fail(f"{named} is {steps} steps long: a render holds at most {MAX_BARS} bars")
        if args.sr not in SAMPLE_RATES:
            return fail(f"--sr {args.sr} is not one of {', '.join(map(str, SAMPLE_RATES))}")
        queue = ChainQueue(played)
        pattern, bars = played[0][1], -(-steps // STEPS_PER_BAR)
        length = {"frames": entry_onsets(played, args.sr)[-1], "schedule": {0: queue.first()},
                  "react": queue.react, "loads": [entry_pattern for _, entry_pattern in played[1:]]}
        what = f"{named}, {steps} steps"
    progress = _RenderProgress(bars)
    try:
        result = render(pattern, output, sr=args.sr, progress=progress, tail=args.tail, **length)
    except RenderError as exc:
        return fail(exc)
    except OSError as exc:
        return fail(f"cannot write {output}: {exc.strerror or exc}")
    finally:
        progress.finish()
    seconds = result.frames / result.sr
    print(f"{output}: {what}, {seconds:.2f} s, {result.frames} frames at {result.sr} Hz")
    return 0


def _resolve_source(args: argparse.Namespace, command: str) -> Pattern | tuple[str, Played] | None:
    """The pattern SOURCE names (a slot, a pattern file or a library name), else the song or
    the chain (`A01x4 A02x2`) it names: what it is ("the song 'verse'") and each entry with the
    pattern that entry plays. None once the reason is printed. Fields of an original Music
    Chronus file with no place here are named."""
    from chronus_tui.chain import played_entries

    dropped: list[str] = []
    store = SlotStore(args.patterns_dir)
    try:
        try:
            pattern = store.resolve(args.source, dropped=dropped)
        except StoreError as exc:
            named = _song_or_chain(store, args.source)
            if named is None and os.path.lexists(args.source):  # a file that is no pattern: say only that
                raise
            if named is None:
                raise StoreError(f"{exc}, nor a song or a chain of slots (\"A01x4 A02x2\")") from exc
            what, chain = named
            try:
                return what, played_entries(chain, lambda slot: store.load(slot, dropped=dropped))
            except StoreError as entry_error:
                raise StoreError(f"{what}: {entry_error}") from entry_error
    except StoreError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return None
    finally:
        for lost in dropped:
            print(f"{command}: original Music Chronus field not carried over: {lost}", file=sys.stderr)
    return pattern


def _song_or_chain(store: SlotStore, source: str) -> tuple[str, Chain] | None:
    """The saved song named `source` (a broken one is a StoreError), else the chain it is; None
    for neither (a slot number is a slot, never a chain of one entry)."""
    from chronus_tui.chain import ChainError, parse_chain

    text = source.strip()
    try:
        song = store.song_path(text)
    except StoreError:
        song = None  # not a song's name
    if song is not None and os.path.lexists(song):
        chain = store.load_song(text)
        return f"the song {text!r} ({chain.text()})", chain
    if text.isdigit():
        return None
    try:
        chain = parse_chain(text)
    except ChainError:
        return None
    return f"the chain {chain.text()}", chain


def _source_and_output(args: argparse.Namespace,
                       command: str) -> tuple[Pattern | tuple[str, Played], Path] | None:
    """SOURCE resolved and `-o` checked (a folder that is there, a name that is no folder), as
    render and export-midi both begin; None once the reason is printed."""
    source = _resolve_source(args, command)
    if source is None:
        return None
    output = Path(args.output)
    if not output.parent.is_dir():
        problem = f"{output.parent} is not a directory"
    elif output.is_dir():
        problem = f"{output} is a directory; give a file name"
    else:
        return source, output
    print(f"{command}: {problem}", file=sys.stderr)
    return None


def cmd_export_midi(args: argparse.Namespace) -> int:
    """`chronus export-midi SOURCE -o out.mid [--bars N]`: exit 0, or 1 with the reason."""
    from chronus_tui import midiexport
    from chronus_tui.chain import chain_steps

    def fail(message: object) -> int:
        print(f"chronus export-midi: {message}", file=sys.stderr)
        return 1

    if (resolved := _source_and_output(args, "chronus export-midi")) is None:
        return 1
    source, output = resolved
    try:
        if isinstance(source, Pattern):
            entries = [midiexport.bars_entry(source, args.bars)]
            bars = entries[0].steps // STEPS_PER_BAR
            what = f"{bars} bar{'s' if bars != 1 else ''} of {source.name!r} at {source.bpm:g} bpm"
        elif args.bars is not None:
            return fail("--bars is for one pattern: a chain or a song exports whole")
        else:  # each entry for its own steps, at its own tempo
            named, played = source
            entries = [midiexport.ExportEntry(pattern, steps)
                       for (_, pattern), steps in zip(played, chain_steps(played), strict=True)]
            what = f"{named}, {sum(entry.steps for entry in entries)} steps"
        midi = midiexport.export_midi(entries)
        midiexport.save(midi, output)
    except midiexport.ExportError as exc:
        return fail(exc)
    print(f"{output}: {what}, {len(midi.tracks) - 1} tracks, {midiexport.note_count(midi)} notes")
    return 0


class _RenderProgress:
    """A progress line on stderr, only once a render has taken more than a second."""

    PROGRESS_AFTER = 1.0  # seconds of wall time before the line appears

    def __init__(self, bars: int) -> None:
        self.bars = bars
        self.started = time.monotonic()
        self.last = 0.0
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.started < self.PROGRESS_AFTER or now - self.last < 0.2:
            return
        self.last = now
        self.shown = True
        sys.stderr.write(f"\rchronus render: {100 * done // max(total, 1):3d}% "
                         f"(bar {min(self.bars, done * self.bars // max(total, 1) + 1)}/{self.bars})")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


def cmd_ui(args: argparse.Namespace) -> int:
    """`chronus` with no --no-ui: engine, OSC server and the terminal UI on one Session."""
    from chronus_tui.engine.client import EngineError
    from chronus_tui.logs import flush_counts, start_logging
    from chronus_tui.osc.server import OscServer
    from chronus_tui.runtime import open_runtime
    from chronus_tui.ui.app import ChronusApp

    # Log lines go to chronus.log; nothing may print over the UI, so a log that cannot be
    # written is said once here, before the UI takes the screen, and again on it.
    engine_log, warning = start_logging(ui=True)
    if warning is not None:
        print(f"chronus: {warning}", file=sys.stderr)
    try:
        runtime = open_runtime(args, engine_log=engine_log)
    except EngineError as exc:
        where = f"engine log: {engine_log}" if engine_log is not None else "the engine's output was discarded"
        print(f"chronus: {exc} ({where})", file=sys.stderr)
        return EXIT_FAILED
    for notice in runtime.notices:  # shown on screen by the app, and kept in the log
        log.warning("%s", notice)
    if warning is not None:
        runtime.notices.append(warning)
    runtime.serving()  # from here on the session is the user's set (and journaled)
    try:
        app = ChronusApp(runtime.session, audio=args.audio,
                         osc_address=f"{args.osc_host}:{args.osc_port}",
                         osc_server=OscServer(runtime.session, args.osc_host, args.osc_port, args.osc_allow),
                         notices=runtime.notices)
        _yield_to_audio()
        app.run()
    finally:
        runtime.close()
        flush_counts()
    return app.return_code or 0


def _yield_to_audio(niceness: int = 5) -> None:
    """Lower the UI thread's priority, so drawing never takes a core the engine needs.

    On Linux niceness is per thread: only this (UI and OSC) thread is lowered; the
    engine process, started already or later from the client's own threads, is not.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError) as exc:  # not Linux, or not allowed: draw at normal priority
        log.info("UI priority unchanged: %s", exc)


def cmd_headless(args: argparse.Namespace) -> int:
    """`chronus --no-ui`: the engine and the OSC server, one log line per action on stderr.

    SIGINT and SIGTERM stop it cleanly: the OSC socket closes, the live session is
    autosaved to slot 0 and the engine process stops (Runtime.close()). A start that
    fails (folder in use, bad options, no engine, port taken) exits 1 and writes nothing
    in the patterns folder.
    """
    from chronus_tui.engine.client import EngineError
    from chronus_tui.headless import serve
    from chronus_tui.logs import flush_counts, start_logging
    from chronus_tui.runtime import open_runtime

    engine_log, warning = start_logging(ui=False)
    if warning is not None:
        log.warning("%s", warning)
    try:
        runtime = open_runtime(args, engine_log=engine_log)
    except EngineError as exc:
        log.error("cannot start the audio engine: %s", exc)
        return EXIT_FAILED
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


def cmd_send(args: argparse.Namespace) -> int:
    """`chronus send ADDRESS [ARG ...]`: one OSC message; prints every reply.

    A query's answer (a reply on the request's own address) is printed as its argument
    alone, so `chronus send /seq/status | jq .` works; other replies print as
    `address arg …`. Exit status: 0 when answered, 1 on `/error` or when no reply came (a
    message on stderr says which), 2 for a usage error (argparse's, e.g. an address without
    its leading `/`).
    """
    from chronus_tui.osc.send import exchange, osc_value

    host, port = getattr(args, "host", args.osc_host), getattr(args, "port", args.osc_port)
    values = [osc_value(text) for text in args.args]
    try:
        replies = exchange(host, port, args.address, values, args.timeout)
    except OSError as exc:
        print(f"chronus send: {host}:{port}: {exc.strerror or exc} (is chronus running?)", file=sys.stderr)
        return EXIT_FAILED
    for address, reply_args in replies:
        if address == args.address:
            print(*(str(v) for v in reply_args))
        else:
            print(address, *(str(v) for v in reply_args))
    if not replies:
        print(f"chronus send: no reply from {host}:{port} within {args.timeout:g} s "
              "(is chronus running there? on another machine it answers only the senders its "
              "--osc-allow names)",
              file=sys.stderr)
        return EXIT_FAILED
    if any(address == "/error" for address, _ in replies):
        return EXIT_FAILED
    return 0
