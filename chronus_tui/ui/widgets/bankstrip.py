"""The bank strip: the current bank's 16 slots under the perform keys that load them."""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Size

from chronus_tui.session import ChangeKind, Session
from chronus_tui.store import BANKS, PADS, slot_label
from chronus_tui.ui.actions import BANK_KEYS, PAD_KEYS, PERFORM, bindings, key_display
from chronus_tui.ui.literal import drawn, literal
from chronus_tui.ui.widgets.panel import SessionPanel
from chronus_tui.ui.widgets.slots import MARKS, STYLES, SlotBrowser

# The pads on two rows, as their keys lie on the keyboard.
ROWS = (range(PADS // 2), range(PADS // 2, PADS))
# A cell is the key, a space, the slot's mark, its name and a space; with this much room, its
# label too (the bank is in the strip's title, so a narrow strip gives the room to names).
LABEL_FROM_WIDTH = 16


def strip_text(slots: SlotBrowser, width: int, *, labels: bool | None = None) -> Text:
    """The selected slot's bank as two rows of `key mark label name` cells, `width` columns
    wide; labels (A01) shown if asked, else if there is room for them."""
    first = slots.bank_first()
    cell = max(width // len(ROWS[0]), 4)
    if labels is None:
        labels = cell >= LABEL_FROM_WIDTH
    text = Text(no_wrap=True, overflow="ellipsis")
    for row in ROWS:
        if row.start:
            text.append("\n")
        for pad in row:
            slot = first + pad
            state = slots.state(slot)
            text.append(key_display(PAD_KEYS[pad]), style="bold cyan")
            text.append(" ")
            shown = f"{slot_label(slot)} " if labels else ""
            text.append(f"{MARKS[state]}{shown}", style=STYLES[state])
            room = cell - 4 - len(shown)
            name = literal(slots.describe(slot), limit=room) if room > 0 else ""
            text.append(f"{name:<{room}}", style=STYLES[state])
            if pad != row.stop - 1:
                text.append(" ")
    return drawn(text)


class BankStrip(SessionPanel, can_focus=True):
    """Shows the bank the perform keys play; while it has focus, those keys are live."""

    BINDINGS = bindings(PERFORM)
    REDRAW_ON = frozenset({ChangeKind.TRANSPORT, ChangeKind.QUEUED, ChangeKind.PATTERN,
                           ChangeKind.SAVED, ChangeKind.RENAMED})

    def __init__(self, session: Session, slots: SlotBrowser, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session = session
        self.slots = slots

    def on_mount(self) -> None:
        self.follow()

    def watch_has_focus(self, has_focus: bool) -> None:
        super().watch_has_focus(has_focus)  # the :focus border
        self.follow()

    def follow(self) -> None:
        """Show the selected slot's bank, and whether the perform keys are live."""
        bank = BANKS[(self.slots.selected - 1) // PADS]
        banks = f"{key_display(BANK_KEYS[0])}–{key_display(BANK_KEYS[-1])}"
        if self.has_focus:
            self.border_title = f"PERFORM KEYS ON · bank {bank}"
            self.border_subtitle = f"key: next bar · shift+key: now · {banks}: bank · f2: off"
        else:
            self.border_title = f"Perform · bank {bank}"
            self.border_subtitle = "f2: perform keys on"
        self.refresh()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(ROWS)

    def render(self) -> Text:
        return strip_text(self.slots, self.size.width)
