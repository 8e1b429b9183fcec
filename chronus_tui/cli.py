"""The `chronus` command line (DESIGN.md §6).

This module only parses arguments and hands each command to the module that owns
it; those are imported lazily so `chronus slots` never loads pyo or Textual.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from chronus_tui.osc import DEFAULT_HOST, DEFAULT_PORT
from chronus_tui.store import SlotStore, StoreError, slot_label


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chronus",
        description="Chronus: a terminal step sequencer for live electronic music. "
                    "With no command it opens the terminal UI.")
    parser.add_argument("--no-ui", action="store_true",
                        help="headless: engine and OSC server only, logs to stderr")
    _add_common(parser)
    parser.add_argument("--audio", choices=("auto", "jack", "portaudio", "null"), default="auto",
                        help="audio backend (auto: JACK if running, else PortAudio, else a silent clock)")
    parser.add_argument("--sr", type=int, default=48000, help="sample rate (default 48000)")
    parser.add_argument("--buffer", type=int, default=256, help="audio buffer size in frames (default 256)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    render = sub.add_parser("render", help="render a pattern offline to a WAV file")
    render.add_argument("source", help="slot number, pattern file, or library name")
    render.add_argument("-o", "--output", type=Path, required=True, help="WAV file to write")
    render.add_argument("--bars", type=int, default=4, help="bars to render (default 4)")
    render.add_argument("--sr", type=int, default=argparse.SUPPRESS, help="sample rate (default 48000)")
    _add_patterns_dir(render, default=argparse.SUPPRESS)

    slots = sub.add_parser("slots", help="list the saved slots, good and broken")
    slots.add_argument("--json", action="store_true", help="print a JSON list")
    _add_patterns_dir(slots, default=argparse.SUPPRESS)

    send = sub.add_parser("send", help="send one OSC message and print the replies")
    send.add_argument("address", type=osc_address, help="OSC address, e.g. /seq/bpm")
    send.add_argument("args", nargs="*", help="arguments: numbers are sent as numbers")
    # default: the common --osc-host/--osc-port, so `chronus --osc-port P send …` reaches P
    send.add_argument("--host", default=argparse.SUPPRESS, help="default: --osc-host, else 127.0.0.1")
    send.add_argument("--port", type=udp_port, default=argparse.SUPPRESS,
                      help="default: --osc-port, else 5005")
    send.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for replies")
    return parser


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
                        help="pattern storage folder (default: $CHRONUS_PATTERNS_DIR, "
                             "else the user data folder)")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "slots":
            return cmd_slots(args)
        if args.command == "render":
            from chronus_tui.synth.offline import render_main
            return render_main(args)
        if args.command == "send":
            from chronus_tui.osc.send import send_main
            args.host, args.port = getattr(args, "host", args.osc_host), getattr(args, "port", args.osc_port)
            return send_main(args)
        if args.no_ui:
            from chronus_tui.headless import headless_main
            return headless_main(args)
        from chronus_tui.ui.app import ui_main
        return ui_main(args)
    except StoreError as exc:
        print(f"chronus: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def cmd_slots(args: argparse.Namespace) -> int:
    store = SlotStore(args.patterns_dir)
    infos = store.list()
    if args.json:
        print(json.dumps([info.as_dict() for info in infos], indent=2))
        return 0
    if not infos:
        print(f"no saved slots in {store.slots_dir}")
        return 0
    for info in infos:
        label = slot_label(info.slot)
        if info.error:
            print(f"{info.slot:3d} {label:8}  ERROR  {info.error}")
        else:
            print(f"{info.slot:3d} {label:8}  {info.name:<32} {info.bpm:6.1f} bpm  "
                  f"{info.tracks:2d} tracks  {info.saved_at or ''}")
    return 0
