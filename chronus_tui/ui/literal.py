"""Text from users, files and the network, drawn literally.

Names, messages and paths are never read as markup: the panels build rich Text from plain
strings, and every toast goes out with markup off (ChronusApp.notify). Nor may a
character a terminal acts on reach it raw (an ESC in a slot file could clear the screen or
recolour it): C0 controls and DEL are drawn as their Unicode control pictures (ESC as ␛),
every other character Python does not call printable (C1 controls, bidirectional
overrides, line separators, lone surrogates) as �. The replacement is one for one, so
columns and style spans stay where they were.
"""

from __future__ import annotations

from rich.text import Text

# One string from outside (a toast, a slot's error) is drawn up to this many characters:
# about ten lines of a toast; a 50 MB name must not stall every redraw.
MAX_SHOWN = 400
REPLACEMENT = "\ufffd"
_CONTROL_PICTURES = {code: chr(0x2400 + code) for code in range(0x20)} | {0x7F: "\u2421"}


def printable(text: str) -> str:
    """`text` with every non-printable character replaced by a visible one."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _CONTROL_PICTURES.get(ord(char), REPLACEMENT)
                   for char in text)


def literal(text: str, limit: int = MAX_SHOWN) -> str:
    """One string from outside as it is drawn: printable, and cut to `limit` characters with …."""
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return printable(text)


def drawn(text: Text) -> Text:
    """A panel's rendering, its lines kept, with every other control character made visible."""
    lines = text.plain.split("\n")
    if not all(line.isprintable() for line in lines):  # the usual case costs one pass in C
        text.plain = "\n".join(map(printable, lines))
    return text
