"""The one parser of what the OSC server receives: a datagram → messages, every size checked.

python-osc trusts the sizes a sender writes (a bundle element of size -8 sends its
parser round forever), so no received byte reaches it. Here every string, blob and
bundle element must end inside the datagram (or the bundle holding it), bundle
element sizes are positive multiples of 4, and a datagram is read whole or refused
whole with PacketError: a message with an argument we cannot read is never
half-applied, and a bundle is applied entirely or not at all. Every loop is bounded
by the caps below or by the datagram's length. Timetags are read past and ignored.

Type tags read: i h (ints), f d (floats), s S (strings), b (blob, as bytes), T F
(booleans), N (None), [ ] (arrays, as lists). Refused, since no route takes one: c
(char), r (RGBA colour), m (MIDI message), t (timetag), I (infinitum) and any other.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 4  # bundles inside bundles, and arrays inside arrays
MAX_ELEMENTS = 64  # messages and bundles in one datagram
MAX_ARGS = 256  # arguments of one message, array items included
BUNDLE = b"#bundle\0"
_BUNDLE_HEADER = len(BUNDLE) + 8  # the tag and the (ignored) timetag

_INT32 = struct.Struct(">i")
_FIXED = {"i": _INT32, "h": struct.Struct(">q"), "f": struct.Struct(">f"), "d": struct.Struct(">d")}
_CONSTANTS = {"T": True, "F": False, "N": None}
_READ_TAGS = frozenset("ihfdsSbTFN[]")


class PacketError(ValueError):
    """A datagram that is not well-formed OSC; `address` is the message's, when it was readable."""

    def __init__(self, message: str, address: str = "") -> None:
        super().__init__(message)
        self.address = address


@dataclass(frozen=True)
class Message:
    address: str
    args: list[Any]


def decode(data: bytes) -> list[Message]:
    """The messages of a datagram (one message, or a bundle's in order); PacketError if any
    part is malformed, and then none of them."""
    reader = _Reader(data)
    if data[:1] == b"/":
        return [reader.message(0, len(data))]
    if data.startswith(BUNDLE):
        messages: list[Message] = []
        reader.bundle(0, len(data), 1, messages)
        return messages
    raise PacketError("neither a message (starts with '/') nor a bundle (starts with '#bundle')")


class _Reader:
    """Reads parts of one datagram between bounds the caller has checked."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.elements = 0

    def string(self, start: int, end: int, what: str) -> tuple[str, int]:
        """The NUL-terminated string at start and the index after its padding, both before end."""
        nul = self.data.find(b"\0", start, end)
        if nul < 0:
            raise PacketError(f"the {what} has no terminating NUL")
        after = nul + 4 - (nul - start) % 4
        if after > end:
            raise PacketError(f"the {what} lacks its padding to 4 bytes")
        try:
            return self.data[start:nul].decode("utf-8"), after
        except UnicodeDecodeError:
            raise PacketError(f"the {what} is not UTF-8") from None

    def message(self, start: int, end: int) -> Message:
        address, index = self.string(start, end, "address")
        if not address.isprintable():
            raise PacketError("the address holds unprintable characters")
        if index == end:  # no type tag string: an old sender's message without arguments
            return Message(address, [])
        try:
            return Message(address, self.arguments(index, end))
        except PacketError as exc:
            raise PacketError(str(exc), address) from None

    def arguments(self, start: int, end: int) -> list[Any]:
        if self.data[start:start + 1] != b",":
            raise PacketError("the type tag string does not start with ','")
        tags, index = self.string(start, end, "type tag string")
        unknown = set(tags[1:]) - _READ_TAGS
        if unknown:
            raise PacketError(f"unsupported OSC type tag {''.join(sorted(unknown))!r} in {tags}")
        if len(tags) - 1 > MAX_ARGS:
            raise PacketError(f"{len(tags) - 1} type tags, at most {MAX_ARGS}")
        args: list[Any] = []
        arrays = [args]  # the open arrays, innermost last
        for tag in tags[1:]:
            if tag == "[":
                if len(arrays) > MAX_DEPTH:
                    raise PacketError(f"arrays nested deeper than {MAX_DEPTH}")
                inner: list[Any] = []
                arrays[-1].append(inner)
                arrays.append(inner)
            elif tag == "]":
                if len(arrays) == 1:
                    raise PacketError(f"']' closes no array in {tags}")
                arrays.pop()
            else:
                value, index = self.argument(tag, index, end)
                arrays[-1].append(value)
        if len(arrays) > 1:
            raise PacketError(f"an array is not closed in {tags}")
        if index != end:
            raise PacketError(f"{end - index} bytes follow the last argument of {tags}")
        return args

    def argument(self, tag: str, start: int, end: int) -> tuple[Any, int]:
        if tag in _CONSTANTS:
            return _CONSTANTS[tag], start
        if tag in _FIXED:
            layout = _FIXED[tag]
            if end - start < layout.size:
                raise PacketError(f"the '{tag}' argument is cut short: {end - start} of {layout.size} bytes")
            return layout.unpack_from(self.data, start)[0], start + layout.size
        if tag == "b":
            size, index = self.argument("i", start, end)
            after = index + size + -size % 4
            if size < 0 or after > end:
                raise PacketError(f"a blob of {size} bytes does not fit in the message")
            return self.data[index:index + size], after
        return self.string(start, end, "string argument")  # s or S: the only tags left

    def bundle(self, start: int, end: int, depth: int, messages: list[Message]) -> None:
        """Append the messages of the bundle at start (its tag already matched) to messages."""
        if end - start < _BUNDLE_HEADER:
            raise PacketError("the bundle is shorter than its header")
        index = start + _BUNDLE_HEADER
        while index < end:  # each turn takes an element (capped) of at least 8 bytes
            if end - index < _INT32.size:
                raise PacketError("a bundle element's size is cut short")
            size = _INT32.unpack_from(self.data, index)[0]
            index += _INT32.size
            if size <= 0 or size % 4 or size > end - index:
                raise PacketError(f"a bundle element's size of {size} bytes is not a positive multiple of 4 "
                                  f"inside the bundle ({end - index} bytes left)")
            self.elements += 1
            if self.elements > MAX_ELEMENTS:
                raise PacketError(f"more than {MAX_ELEMENTS} bundle elements in one datagram")
            if self.data[index:index + 1] == b"/":
                messages.append(self.message(index, index + size))
            elif self.data.startswith(BUNDLE, index, index + size):
                if depth >= MAX_DEPTH:
                    raise PacketError(f"bundles nested deeper than {MAX_DEPTH}")
                self.bundle(index, index + size, depth + 1, messages)
            else:
                raise PacketError("a bundle element is neither a message nor a bundle")
            index += size
