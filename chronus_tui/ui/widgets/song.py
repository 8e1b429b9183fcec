"""Song view: the chain's entries one a row (slot, name, plays, tempo, muted tracks), in place
of the Sound panel while f3 has it open; its keys (actions.SONG) edit the entry under the cursor."""

from __future__ import annotations

from rich.text import Text

from chronus_tui.chain import ChainEntry
from chronus_tui.session import ChangeKind, Session
from chronus_tui.store import slot_label
from chronus_tui.ui.actions import ACTIONS, SONG, bindings, key_display
from chronus_tui.ui.literal import drawn, literal
from chronus_tui.ui.widgets.panel import SessionPanel
from chronus_tui.ui.widgets.slots import NEXT_ENTRY_STYLE, PLAYING_ENTRY_STYLE, ChainView, SlotBrowser

NAME_WIDTH = 16
# A narrow view narrows the name (to MIN_NAME_WIDTH) to keep MUTED_ROOM for the muted tracks,
# the columns around the name taking FIXED_WIDTH: mark, place, slot; plays, tempo.
MIN_NAME_WIDTH, MUTED_ROOM, FIXED_WIDTH = 6, 10, 25


def name_width(width: int) -> int:
    """The name column's width in a view `width` cells wide."""
    return max(MIN_NAME_WIDTH, min(NAME_WIDTH, width - FIXED_WIDTH - MUTED_ROOM))


def header(names: int) -> str:
    """The line over the rows' columns, the name column `names` wide."""
    return f"   #  slot {'name':<{names}} plays bpm    muted"


def entry_cells(entry: ChainEntry) -> tuple[str, str]:
    """The entry's tempo and muted tracks as the view shows them: `—` for the slot's own."""
    bpm = "—" if entry.bpm is None else f"{entry.bpm:g}"
    if entry.mute is None:
        return bpm, "—"
    return bpm, ", ".join(entry.mute) if entry.mute else "none"


class SongPanel(SessionPanel, can_focus=True):
    """The chain set (a song's, if it came from one) as a list; `cursor` is the entry the
    song keys act on."""

    BINDINGS = bindings(SONG)
    REDRAW_ON = frozenset({ChangeKind.CHAIN, ChangeKind.SONG, ChangeKind.SAVED, ChangeKind.RENAMED})

    def __init__(self, session: Session, slots: SlotBrowser, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session = session
        self.slots = slots
        self.cursor = 0

    def on_mount(self) -> None:
        self.border_subtitle = " · ".join(f"{key_display(a.keys[0])} {SUBTITLE[a.action]}"
                                          for a in ACTIONS if a.action in SUBTITLE)

    def entry_count(self) -> int:
        return self.session.chain_status()["entries"]

    def move(self, delta: int) -> None:
        """The cursor `delta` entries on, kept on the list."""
        self.cursor = min(max(self.cursor + delta, 0), max(self.entry_count() - 1, 0))
        self.refresh()

    def render(self) -> Text:
        status = self.session.song_status()
        view = ChainView.of(status)
        chain = view.chain
        song = f"Song {literal(status['song'])}" if status["song"] else "Chain"
        text = Text(no_wrap=True, overflow="ellipsis")
        if chain is None:
            self.border_title = song
            add = next(a for a in ACTIONS if a.action == "chain_add")
            text.append(f"No chain: {key_display(add.keys[0])} in the slot browser adds the selected slot; "
                        f"{key_display(LOAD_KEY)} here loads a song.", style="dim")
            return drawn(text)
        self.border_title = f"{song} · {len(chain.entries)} entries · {'loop' if chain.loop else 'once'}"
        self.cursor = min(max(self.cursor, 0), len(chain.entries) - 1)
        names = name_width(self.content_size.width)
        text.append(header(names), style="dim")
        for index, entry in enumerate(chain.entries):
            text.append("\n")
            mark, style = "  ", ""
            if index == view.playing:
                mark, style = "▶ ", PLAYING_ENTRY_STYLE
            elif index == view.coming:
                mark, style = "◆ ", NEXT_ENTRY_STYLE
            text.append(mark, style=style)
            name = self.slots.describe(entry.slot) or "(empty)"
            bpm, muted = entry_cells(entry)
            row = Text(f"{index + 1:>2}  {slot_label(entry.slot)}  ")
            row.append(f"{literal(name, limit=names):<{names}}")
            row.append(f" ×{entry.repeats:<4} {bpm:<6} ")
            row.append(literal(muted))
            if index == self.cursor:
                row.stylize("reverse")
            text.append_text(row)
        return drawn(text)


# The keys the view's subtitle names, and as what (the rest are in ? and the palette).
SUBTITLE = {"song_repeats(1)": "plays", "song_tempo": "bpm", "song_mute": "mute", "song_save": "save",
            "song_load": "load", "song_view": "close"}
LOAD_KEY = next(a.keys[0] for a in ACTIONS if a.action == "song_load")
