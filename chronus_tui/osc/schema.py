"""What the route table says about itself: the `/engine/schema` reply and the README's OSC tables.

Both are generated from ROUTES, their argument kinds and NOTIFICATIONS, so the server,
the schema and the README cannot drift apart.
"""

from __future__ import annotations

import functools
import json

from chronus_tui.model import PARAM_INDEX, fmt_range
from chronus_tui.osc.args import Kind
from chronus_tui.osc.notify import NOTIFICATIONS
from chronus_tui.osc.routes import ROUTES, Arg

SCHEMA_VERSION = 1

REPLIES = {
    "ok": "/ok <address> [applied values …]; 'clamped' is added when a value was brought into range",
    "query": "<address> <json>",
    "error": "/error <address> <message>; nothing was changed",
}


def _kinds() -> list[Kind]:
    """Every argument kind the routes use, in order of first use."""
    kinds: dict[str, Kind] = {}
    for route in ROUTES:
        for arg in (*route.args, *([route.extra] if route.extra else [])):
            kinds.setdefault(arg.kind.name, arg.kind)
    return list(kinds.values())


@functools.cache
def schema_json() -> str:
    """What `/engine/schema` answers: every route, parameter and notification."""
    return json.dumps({
        "schema": SCHEMA_VERSION,
        "replies": REPLIES,
        "types": {kind.name: kind.accepts for kind in _kinds()},
        "routes": [route.schema() for route in ROUTES],
        "params": {module: {name: {"min": spec.low, "max": spec.high, "default": spec.default,
                                   "type": "int" if spec.integer else "float", "unit": spec.unit}
                            for name, spec in params.items()}
                   for module, params in PARAM_INDEX.items()},
        "notifications": [{"address": n.address, "args": n.args, "doc": n.doc} for n in NOTIFICATIONS],
    }, separators=(",", ":"))


def markdown_table() -> str:
    """The README's OSC tables (routes, argument types, notifications), generated from ROUTES,
    their kinds and NOTIFICATIONS."""
    lines = [f"Every message is answered to its sender: `{REPLIES['ok']}`; a query: `{REPLIES['query']}`; "
             f"anything refused: `{REPLIES['error']}`.", "",
             "| address | arguments | reply | what it does |", "|---|---|---|---|"]
    for route in ROUTES:
        args = [_arg_markdown(arg) for arg in route.args]
        if route.extra is not None:  # its kind is named unless the name says it (options)
            kind = "" if route.extra.kind.name == route.extra.name else f" {route.extra.kind.name}"
            args.append(f"[`{route.extra.name}`{kind} …]")
        reply = f"`{route.address} <json>`" if route.query else "`/ok`"
        lines.append(f"| `{route.address}` | {'<br>'.join(args) or '—'} | {reply} | {route.doc} |")
    lines += ["", "| argument type | accepted as |", "|---|---|"]
    lines += [f"| {kind.name} | {kind.accepts} |" for kind in _kinds()]
    lines += ["", "Subscribers (`/notify/subscribe`) receive every change, whoever made it:", "",
              "| notification | arguments | sent when |", "|---|---|---|"]
    lines += [f"| `{n.address}` | {n.args} | {n.doc} |" for n in NOTIFICATIONS]
    return "\n".join(lines) + "\n"


def _arg_markdown(arg: Arg) -> str:
    text = f"`{arg.name}` {arg.kind.name}"
    if arg.range is not None:
        text += f" {fmt_range(*arg.range)}"
        if arg.out_of_range:
            text += f" ({arg.out_of_range})"
    if arg.doc:
        text += f": {arg.doc}"
    return f"[{text}]" if arg.optional else text
