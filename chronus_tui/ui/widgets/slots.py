"""Slot browser: the 128 slots as banks A–H × 16 pads, and the selected bank's names."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.geometry import Size

from chronus_tui.session import ChangeKind, Session
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
                           ChangeKind.SAVED, ChangeKind.RENAMED, ChangeKind.FOLLOW})

    def __init__(self, session: Session, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session = session
        self.selected = 1
        self.entries: dict[int, SlotEntry] = {}

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
                if slot == self.selected:
                    style = f"{style} reverse".strip()
                text.append(MARKS[state], style=style)
                if pad < PADS - 1:
                    text.append(" ")
        state = self.state(self.selected)
        text.append("\n")
        text.append(f"{slot_label(self.selected)} {state:<7} ", style=f"bold {STYLES[state]}".strip())
        text.append(self.describe(self.selected), style="red" if state == "broken" else "")
        if self.size.height >= FULL_HEIGHT:
            self._render_bank_names(text)
        if self.size.height >= FULL_HEIGHT + 2:
            text.append("\n")
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
                name = self.entries.get(slot, SlotEntry()).name or ""
                text.append(f"{name[:NAME_WIDTH]:<{NAME_WIDTH}}", style="dim" if state == "empty" else "")
                text.append(" ")
