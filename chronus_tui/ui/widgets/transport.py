"""Transport line: play state, tempo, swing, position, slots, audio backend, OSC address.

For a few seconds after an undo or redo, "undo: <summary>" takes the place of the fields
after the position, cut to fit the line rather than wrapped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.geometry import Size
from textual.timer import Timer

from chronus_tui.session import Change, ChangeKind, Session
from chronus_tui.store import slot_label
from chronus_tui.ui.literal import drawn, literal
from chronus_tui.ui.widgets.panel import SessionPanel

SEPARATOR = "  │  "
TRAVELS = ("undo", "redo")  # the history actions the line shows
# Less room than this left beside the position: the undo summary takes a line of its own.
FLASH_MIN_WIDTH = 16


class TransportBar(SessionPanel):
    REDRAW_ON = frozenset({ChangeKind.POSITION, ChangeKind.TEMPO, ChangeKind.SWING, ChangeKind.NAME,
                           ChangeKind.TRANSPORT, ChangeKind.ENGINE, ChangeKind.QUEUED,
                           ChangeKind.PATTERN, ChangeKind.RENAMED, ChangeKind.HISTORY})
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
        self.refresh(layout=True)

    def _end_flash(self) -> None:
        self.flashed = self._flash_timer = None
        self.refresh(layout=True)

    def parts(self) -> list[Text]:
        """The line's fields, each kept whole when the line wraps on a narrow screen."""
        status = self.session.status()
        if status["engine"] in ("down", "restarting"):  # nothing sounds, whatever the transport says
            play = Text(" ⚠ ENGINE DOWN — restarting ", style="bold white on red")
        elif status["engine"] == "stopped":
            play = Text(" ⏹ AUDIO STOPPED ", style="bold white on grey35")
        elif status["playing"]:
            play = Text(" ▶ PLAY ", style="bold black on green")
        else:
            play = Text(" ■ STOP ", style="bold white on grey35")
        tempo = Text.assemble((f"{status['bpm']:.1f}", "bold"), (" BPM", "dim"))
        swing = Text.assemble(("swing ", "dim"), (f"{status['swing']:.2f}", "bold"))
        position = Text(f"{status['bar'] + 1:03d}:{status['step'] + 1:02d}", style="bold")
        playing = status["playing_slot"]
        slot = Text.assemble((f"{slot_label(playing) if playing else '—'} ", "bold green"), status["name"])
        if (rec := self.session.recording_status())["recording"]:
            minutes, seconds = divmod(int(rec["seconds"]), 60)
            play = Text.assemble(play, (f" ● REC {minutes}:{seconds:02d} ", "bold white on red"))
        if self.flashed is not None:
            return [play, tempo, swing, position, self.flashed]
        parts = [play, tempo, swing, position, slot]
        pending = self.session.pending
        if pending is not None:
            queued = status["queued_slot"]
            parts.append(Text(f"◆ next {slot_label(queued) if queued else pending.pattern.name}",
                              style="bold yellow"))
        parts.append(self._audio(status))
        parts.append(Text(f"OSC {self.osc_address}") if self.osc_address
                     else Text("OSC off", style="bold red"))
        return parts

    def _audio(self, status: dict[str, Any]) -> Text:
        backend = status.get("backend") or self.audio
        if backend == "null":
            return Text(" ⚠ NO SOUND: null audio ", style="bold black on yellow")
        text = Text(f"audio {backend}")
        if status.get("sr"):
            text.append(f" {status['sr'] / 1000:g}k/{status.get('buffer', '?')}", style="dim")
        return text

    def lines(self, width: int) -> list[Text]:
        """The fields laid out in lines of `width`, each field kept whole (an undo's summary
        is cut to fit)."""
        lines = [Text()]
        for part in self.parts():
            line = lines[-1]
            room = width - line.cell_len - len(SEPARATOR) if line else width
            if part is self.flashed:
                part = part.copy()
                part.truncate(room if room >= FLASH_MIN_WIDTH else width, overflow="ellipsis")
            if line and part.cell_len > room:
                lines.append(Text())
                line = lines[-1]
            elif line:
                line.append(SEPARATOR, style="dim")
            line.append_text(part)
        return lines

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines(width))

    def render(self) -> Text:
        lines = self.lines(max(self.size.width, 1))
        if len(lines) != self.size.height:
            self.refresh(layout=True)  # a longer name or a queued slot needs another line
        return drawn(Text("\n").join(lines))
