"""Slot browser: the 128 slots as banks A–H × 16 pads, the selected bank's names, and the
chain: each slot's place(s) in it beside its name, and the chain as a line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.geometry import Size

from chronus_tui.chain import Chain
from chronus_tui.session import ChangeKind, Session
from chronus_tui.songs import entry_from_dict
from chronus_tui.store import BANKS, PADS, SLOT_COUNT, slot_label
from chronus_tui.ui.actions import SLOTS, bindings
from chronus_tui.ui.literal import drawn, literal
from chronus_tui.ui.widgets.panel import SessionPanel

MARKS = {"empty": "·", "saved": "■", "playing": "▶", "queued": "◆", "broken": "!"}
STYLES = {"empty": "dim", "saved": "", "playing": "bold green", "queued": "bold yellow",
          "broken": "bold red"}
LEGEND = (("saved", "saved"), ("playing", "playing"), ("queued", "queued"), ("broken", "bad"))
NAME_WIDTH = 10
# Pad header, a row per bank, the selected slot, then the bank's names in two columns.
FULL_HEIGHT = 1 + len(BANKS) + 1 + PADS // 2
CHAIN_LINE_ROW = 1 + len(BANKS) + 1  # the chain line's row, under the selected slot, without the names
# A slot in the chain; the entry playing and the one after it, in their places and the chain line.
CHAIN_STYLE, PLAYING_ENTRY_STYLE, NEXT_ENTRY_STYLE = "magenta", "bold black on green", "bold black on yellow"


@dataclass(frozen=True)
class ChainView:
    """The Session's chain as the browser draws it: the entries, and which entry plays and
    which comes next (0-based places; None when not running or not known)."""

    chain: Chain | None
    playing: int | None = None
    coming: int | None = None

    @classmethod
    def of(cls, status: dict[str, Any]) -> ChainView:
        """From Session.song_status(): the chain's entries with their tempos and mutes."""
        if not status["song_entries"]:
            return cls(None)
        chain = Chain(tuple(entry_from_dict(entry, f"entries[{index}]")
                            for index, entry in enumerate(status["song_entries"])), status["loop"])
        if not status["running"]:
            return cls(chain)
        if status["entry"] is None:  # the first entry is queued: the one of that slot
            labels = [slot_label(entry.slot) for entry in chain.entries]
            return cls(chain, None, labels.index(status["next"]) if status["next"] in labels else None)
        playing = status["entry"] - 1
        return cls(chain, playing, chain.next_index(playing) if status["next"] else None)

    def places(self, slot: int) -> list[int]:
        """Where `slot` is in the chain (0-based; a slot may be there more than once)."""
        entries = self.chain.entries if self.chain is not None else ()
        return [index for index, entry in enumerate(entries) if entry.slot == slot]

    def style(self, index: int) -> str:
        return {self.coming: NEXT_ENTRY_STYLE, self.playing: PLAYING_ENTRY_STYLE}.get(index, CHAIN_STYLE)

    def line(self, width: int) -> Text:
        """`⛓ A01×4 A02×2 B05×1` (then `once` when it stops at its end); while it plays, when
        the whole chain does not fit `width`, from the entry before the one playing, so a long
        chain shows where it is."""
        whole = self._line(0)
        return whole if whole.cell_len <= width else self._line(max((self.playing or 0) - 1, 0))

    def _line(self, first: int) -> Text:
        assert self.chain is not None
        text = Text("⛓ ", style=CHAIN_STYLE)
        entries = self.chain.entries
        if first:
            text.append("… ", style="dim")
        for index in range(first, len(entries)):
            text.append(entries[index].label(), style=self.style(index))
            text.append(" ")
        text.append("loop" if self.chain.loop else "once", style="dim")
        return text


FOLLOW_MARK = "↪"  # after a slot's mark in the bank's names: it has a follow action


@dataclass(frozen=True)
class SlotEntry:
    name: str | None = None
    error: str | None = None
    follow: bool = False  # the file has a follow action


class SlotBrowser(SessionPanel, can_focus=True):
    """Shows every slot's state; the selected slot is what load, save and rename act on."""

    BINDINGS = bindings(SLOTS)
    REDRAW_ON = frozenset({ChangeKind.TRANSPORT, ChangeKind.QUEUED, ChangeKind.PATTERN,
                           ChangeKind.SAVED, ChangeKind.RENAMED, ChangeKind.FOLLOW,
                           ChangeKind.CHAIN, ChangeKind.SONG})

    def __init__(self, session: Session, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session = session
        self.selected = 1
        self.entries: dict[int, SlotEntry] = {}
        self._chain = ChainView(None)  # as of the last render

    def on_mount(self) -> None:
        self.border_title = "Slots"
        self.rescan()

    def rescan(self) -> None:
        """Read every slot file's name (broken files are shown, never fatal)."""
        self.entries = {info.slot: SlotEntry(info.name, info.error, info.follow is not None)
                        for info in self.session.list_slots() if info.slot > 0}
        self.refresh()

    def set_entry(self, slot: int, name: str, follow: bool | None = None) -> None:
        """A slot saved (`follow`: whether its file has a follow action) or renamed (None: as it was)."""
        was = self.entries.get(slot, SlotEntry()).follow
        self.entries[slot] = SlotEntry(name, follow=was if follow is None else follow)
        self.refresh()

    def has_follow(self, slot: int) -> bool:
        """The slot has a follow action: the live pattern's for the slot playing, else its file's."""
        if slot == self.session.transport.playing_slot:
            return self.session.pattern.follow is not None
        return self.entries.get(slot, SlotEntry()).follow

    def select(self, slot: int) -> None:
        self.selected = min(max(slot, 1), SLOT_COUNT)
        self.border_subtitle = slot_label(self.selected)
        self.refresh()

    def bank_first(self) -> int:
        """The first slot of the selected slot's bank."""
        return (self.selected - 1) // PADS * PADS + 1

    def state(self, slot: int) -> str:
        transport = self.session.transport
        if slot == transport.queued_slot:
            return "queued"
        if slot == transport.playing_slot:
            return "playing"
        entry = self.entries.get(slot)
        if entry is None:
            return "empty"
        return "broken" if entry.error else "saved"

    def describe(self, slot: int) -> str:
        entry = self.entries.get(slot)
        if entry is None:
            return ""
        return literal(entry.error or entry.name or "")

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return FULL_HEIGHT

    def render(self) -> Text:
        self._chain = ChainView.of(self.session.song_status())
        text = Text(no_wrap=True, overflow="ellipsis")
        header = "".join(f"{pad + 1:<2}" if pad % 4 == 0 else "  " for pad in range(PADS))
        text.append(f"  {header}".rstrip(), style="dim")
        for bank_index, bank in enumerate(BANKS):
            text.append("\n")
            bank_selected = (self.selected - 1) // PADS == bank_index
            text.append(f"{bank} ", style="bold" if bank_selected else "dim")
            for pad in range(PADS):
                slot = bank_index * PADS + pad + 1
                state = self.state(slot)
                style = STYLES[state]
                if state == "saved" and self._chain.places(slot):
                    style = f"bold {CHAIN_STYLE}"
                if slot == self.selected:
                    style = f"{style} reverse".strip()
                text.append(MARKS[state], style=style)
                if pad < PADS - 1:
                    text.append(" ")
        state = self.state(self.selected)
        text.append("\n")
        text.append(f"{slot_label(self.selected)} {state:<7} ", style=f"bold {STYLES[state]}".strip())
        text.append(self.describe(self.selected), style="red" if state == "broken" else "")
        if self.size.height < FULL_HEIGHT:  # no room for the names: the chain line, if there is room
            if self._chain.chain is not None and self.size.height > CHAIN_LINE_ROW:
                text.append("\n")
                text.append_text(self._chain.line(self.size.width))
            return drawn(text)
        self._render_bank_names(text)
        if self.size.height >= FULL_HEIGHT + 1:  # the chain line, else a blank line
            text.append("\n")
            if self._chain.chain is not None:
                text.append_text(self._chain.line(self.size.width))
        if self.size.height >= FULL_HEIGHT + 2:
            for state, word in LEGEND:
                text.append("\n" if state == "saved" else " ")
                text.append(MARKS[state], style=STYLES[state])
                text.append(f" {word}", style="dim")
        return drawn(text)

    def _render_bank_names(self, text: Text) -> None:
        first = self.bank_first()
        half = PADS // 2
        for row in range(half):
            text.append("\n")
            for slot in (first + row, first + row + half):
                state = self.state(slot)
                style = STYLES[state] + (" reverse" if slot == self.selected else "")
                follows = FOLLOW_MARK if self.has_follow(slot) else " "
                text.append(f"{slot_label(slot)}{MARKS[state]}{follows}", style=style.strip())
                room = NAME_WIDTH
                for number, place in enumerate(self._chain.places(slot)):  # its places, from 1: `1,3`
                    label = f"{',' if number else ''}{place + 1}"
                    if len(label) + 1 > room:
                        break
                    text.append(label, style=self._chain.style(place))
                    room -= len(label)
                if room < NAME_WIDTH:
                    text.append(" ")
                    room -= 1
                name = self.entries.get(slot, SlotEntry()).name or ""
                text.append(f"{name[:room]:<{room}}", style="dim" if state == "empty" else "")
                text.append(" ")
