"""Transport line: play state, tempo, swing, position, slots (the queued one with where it
lands), the chain playing, the launch quantize, audio backend, OSC address.

Always one line, at any width: when the fields do not fit, the separators narrow, the OSC
address and the audio backend make room (the no-sound warning is only shortened), the queued
load and the chain take their short forms, the launch quantize makes room, the name or an
undo's summary is cut with "…", and last the play state, tempo and swing take theirs. For a
few seconds after an undo or redo, "undo: <summary>" takes the place of the fields after the
position.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.timer import Timer

from chronus_tui.session import Change, ChangeKind, Session
from chronus_tui.store import slot_label
from chronus_tui.ui.literal import drawn, literal
from chronus_tui.ui.widgets.panel import SessionPanel

SEPARATOR = "  │  "
NARROW_SEPARATOR = " │ "  # when the fields do not fit between the usual ones
TRAVELS = ("undo", "redo")  # the history actions the line shows
# Room kept for a field cut with "…" before the whole line is cut instead.
MIN_CUT_WIDTH = 4


@dataclass
class Field:
    """One field of the line and what it may give up on a narrow screen."""

    text: Text
    optional: bool = False  # left out when there is no room
    cuttable: bool = False  # cut with "…" when there is no room
    short: Text | None = None  # taken instead when there is no room
    # When it gives up its room (left out or short): ranks 1-3 before any cut, rank 4 after.
    rank: int = 1


class TransportBar(SessionPanel):
    REDRAW_ON = frozenset({ChangeKind.POSITION, ChangeKind.TEMPO, ChangeKind.SWING, ChangeKind.NAME,
                           ChangeKind.TRANSPORT, ChangeKind.ENGINE, ChangeKind.QUEUED,
                           ChangeKind.PATTERN, ChangeKind.RENAMED, ChangeKind.HISTORY,
                           ChangeKind.QUANTIZE, ChangeKind.CHAIN, ChangeKind.SONG, ChangeKind.FILL})
    flash_seconds = 3.0  # how long an undo or redo shows

    def __init__(self, session: Session, *, audio: str, osc_address: str | None,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.session = session
        self.audio = audio  # what was asked for, until the engine reports its backend
        self.osc_address = osc_address
        self.flashed: Text | None = None  # the undo or redo on show
        self._flash_timer: Timer | None = None

    def redraws_on(self, change: Change) -> bool:
        # Of the history it shows undos and redos only: a plain edit shows where it is made.
        if change.kind == ChangeKind.HISTORY:
            return change.data.get("action") in TRAVELS
        return super().redraws_on(change)

    def flash_travels(self, changes: Iterable[Change], own_source: str) -> None:
        """Show the last undo or redo among changes for flash_seconds; whose it was, unless
        own_source's (the keyboard's); how many more, when one request took back several."""
        travels = [c for c in changes if c.kind == ChangeKind.HISTORY and c.data.get("action") in TRAVELS]
        if not travels:
            return
        last = travels[-1]
        action = last.data["action"]
        text = Text.assemble((f"{action}: ", "bold cyan"), literal(last.data["entry"]["summary"]))
        more = sum(c.data["action"] == action and c.source == last.source for c in travels) - 1
        if more:
            text.append(f" and {more} more", style="dim")
        if last.source not in ("", own_source):
            text.append(f" (by {literal(last.source)})", style="dim")
        self.flashed = text
        if self._flash_timer is not None:
            self._flash_timer.stop()
        self._flash_timer = self.set_timer(self.flash_seconds, self._end_flash)
        self.refresh()

    def _end_flash(self) -> None:
        self.flashed = self._flash_timer = None
        self.refresh()

    def parts(self) -> list[Field]:
        """The line's fields, with what each may give up when the line is too narrow."""
        status = self.session.status()
        short_play = None  # the warnings have no short form
        if status["engine"] in ("down", "restarting"):  # nothing sounds, whatever the transport says
            play = Text(" ⚠ ENGINE DOWN — restarting ", style="bold white on red")
        elif status["engine"] == "stopped":
            play = Text(" ⏹ AUDIO STOPPED ", style="bold white on grey35")
        else:
            mark, word, style = ("▶", "PLAY", "bold black on green") if status["playing"] else (
                "■", "STOP", "bold white on grey35")
            play, short_play = Text(f" {mark} {word} ", style=style), Text(f" {mark} ", style=style)
        bpm = Text(f"{status['bpm']:.1f}", style="bold")
        tempo = Text.assemble(bpm, (" BPM", "dim"))
        swing_value = Text(f"{status['swing']:.2f}", style="bold")
        swing = Text.assemble(("swing ", "dim"), swing_value)
        position = Text(_at(status["bar"], status["step"]), style="bold")
        playing = status["playing_slot"]
        slot = Text.assemble((f"{slot_label(playing) if playing else '—'} ", "bold green"), status["name"])
        if (rec := self.session.recording_status())["recording"]:
            minutes, seconds = divmod(int(rec["seconds"]), 60)
            rec = (f" ● REC {minutes}:{seconds:02d} ", "bold white on red")
            play = Text.assemble(play, rec)
            short_play = Text.assemble(short_play, rec) if short_play is not None else None
        fixed = [Field(play, short=short_play, rank=4), Field(tempo, short=bpm, rank=4),
                 Field(swing, short=Text.assemble(("sw ", "dim"), swing_value), rank=4), Field(position)]
        if self.session.fill:  # FILL trigs play while it shows
            fixed.insert(1, Field(Text(" FILL ", style="bold black on magenta")))
        if self.flashed is not None:
            return [*fixed, Field(self.flashed, cuttable=True)]
        parts = [*fixed, Field(slot, cuttable=True)]
        pending = self.session.pending
        if pending is not None:
            queued = slot_label(status["queued_slot"]) if status["queued_slot"] else pending.pattern.name
            text, short = (Text(f"◆ {words}{queued}", style="bold yellow") for words in ("next ", ""))
            if pending.lands is not None:
                text.append(f" at {_at(*pending.lands)}", style="yellow")
                short.append(f" {_at(*pending.lands)}", style="yellow")
            parts.append(Field(text, cuttable=True, short=short, rank=2))
        chain = self.session.chain_status()
        if chain["running"] and chain["entry"] is not None:
            short = Text(f"⛓ {chain['entry']}/{chain['entries']} ×{chain['repeat']}/{chain['repeats']}",
                         style="bold magenta")
            text = short.copy()
            if chain["next"]:
                text.append(f" → {chain['next']}", style="magenta")
            parts.append(Field(text, cuttable=True, short=short, rank=2))
        if self.session.quantize != "bar":
            parts.append(Field(Text(f"launch {self.session.quantize}", style="dim"), optional=True, rank=3))
        parts.append(self._audio(status))
        parts.append(Field(Text(f"OSC {self.osc_address}") if self.osc_address
                           else Text("OSC off", style="bold red"), optional=True))
        return parts

    def _audio(self, status: dict[str, Any]) -> Field:
        backend = status.get("backend") or self.audio
        if backend == "null":  # a warning: never left out, only shortened
            return Field(Text(" ⚠ NO SOUND: null audio ", style="bold black on yellow"),
                         short=Text("⚠ NO SOUND", style="bold black on yellow"))
        text = Text(f"audio {backend}")
        if status.get("sr"):
            text.append(f" {status['sr'] / 1000:g}k/{status.get('buffer', '?')}", style="dim")
        return Field(text, optional=True)

    def line(self, width: int) -> Text:
        """The fields in one line of `width`. Until it fits: the separators are narrowed; rank
        by rank (1-3), the optional fields left out from the end and the short forms taken; the
        cuttable fields cut with "…" (widest first), and if that is not enough, the rank-4 short
        forms taken before the cuts; last the line itself cut."""
        fields = self.parts()
        separator = SEPARATOR

        def length() -> int:
            return sum(f.text.cell_len for f in fields) + len(separator) * (len(fields) - 1)

        def give_up(rank: int) -> None:
            while length() > width and (out := [i for i, f in enumerate(fields)
                                                 if f.optional and f.rank == rank]):
                del fields[out[-1]]
            for field in fields:
                if length() > width and field.short is not None and field.rank == rank:
                    field.text, field.cuttable = field.short, False  # a short form is cut no further

        if length() > width:
            separator = NARROW_SEPARATOR
        for rank in (1, 2, 3):
            give_up(rank)
        def cut() -> None:
            cuttable = [f for f in fields if f.cuttable]
            while (over := length() - width) > 0 and cuttable:
                widest = max(cuttable, key=lambda f: f.text.cell_len)
                cuttable.remove(widest)
                widest.text = widest.text.copy()
                widest.text.truncate(max(widest.text.cell_len - over, MIN_CUT_WIDTH), overflow="ellipsis")

        whole = [field.text for field in fields]
        cut()
        if length() > width:  # cuts are not enough: the rank-4 short forms, then cut from whole again
            for field, text in zip(fields, whole, strict=True):
                field.text = text
            give_up(4)
            cut()
        line = Text(separator, style="dim").join(f.text for f in fields)
        line.truncate(width, overflow="ellipsis")
        return line

    def render(self) -> Text:
        return drawn(self.line(max(self.size.width, 1)))


def _at(bar: int, step: int) -> str:
    """A playhead position as shown: bar and step from 1 (bar 0, step 0 is 001:01)."""
    return f"{bar + 1:03d}:{step + 1:02d}"
