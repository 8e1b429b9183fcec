"""Transport line: play state, tempo, swing, position, slots, audio backend, OSC address."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.geometry import Size

from chronus_tui.session import ChangeKind, Session
from chronus_tui.store import slot_label
from chronus_tui.ui.literal import drawn
from chronus_tui.ui.widgets.panel import SessionPanel

SEPARATOR = "  │  "


class TransportBar(SessionPanel):
    REDRAW_ON = frozenset({ChangeKind.POSITION, ChangeKind.TEMPO, ChangeKind.SWING, ChangeKind.NAME,
                           ChangeKind.TRANSPORT, ChangeKind.ENGINE, ChangeKind.QUEUED,
                           ChangeKind.PATTERN, ChangeKind.RENAMED})

    def __init__(self, session: Session, *, audio: str, osc_address: str | None,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.session = session
        self.audio = audio  # what was asked for, until the engine reports its backend
        self.osc_address = osc_address

    def parts(self) -> list[Text]:
        """The line's fields, each kept whole when the line wraps on a narrow screen."""
        status = self.session.status()
        if status["engine"] in ("down", "restarting"):  # nothing sounds, whatever the transport says
            play = Text(" ⚠ ENGINE DOWN — restarting ", style="bold white on red")
        elif status["playing"]:
            play = Text(" ▶ PLAY ", style="bold black on green")
        else:
            play = Text(" ■ STOP ", style="bold white on grey35")
        tempo = Text.assemble((f"{status['bpm']:.1f}", "bold"), (" BPM", "dim"))
        swing = Text.assemble(("swing ", "dim"), (f"{status['swing']:.2f}", "bold"))
        position = Text(f"{status['bar'] + 1:03d}:{status['step'] + 1:02d}", style="bold")
        playing = status["playing_slot"]
        slot = Text.assemble((f"{slot_label(playing) if playing else '—'} ", "bold green"), status["name"])
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
        """The fields laid out in lines of `width`, each field kept whole."""
        lines = [Text()]
        for part in self.parts():
            line = lines[-1]
            if line and len(line) + len(SEPARATOR) + len(part) > width:
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
