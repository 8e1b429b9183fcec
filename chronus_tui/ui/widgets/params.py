"""Parameter panel: the selected track's level and voice, the acid insert and the effects.

Names and ranges come from model.MODULE_PARAMS, the one parameter table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.text import Text

from chronus_tui.model import (
    GATE_SPEC,
    LEVEL_SPEC,
    MODULE_PARAMS,
    PITCH,
    VOICES,
    WAVEFORMS,
    ParamSpec,
    Track,
    hz_to_midi,
    note_name,
)
from chronus_tui.session import Change, ChangeKind, Session
from chronus_tui.ui.actions import PARAMS, bindings
from chronus_tui.ui.literal import drawn
from chronus_tui.ui.preferences import Preferences
from chronus_tui.ui.widgets.panel import RowCursor, SessionPanel

EFFECT_MODULES = tuple(module for module in MODULE_PARAMS if module not in VOICES)  # acid1 … master
TRACK = "track"  # the selected track's own fields, shown above its voice
TRACK_PARAMS = (LEVEL_SPEC, GATE_SPEC)
COLUMN_WIDTH = 40  # label 9, name 13, value 10 + 1, bar 6 + 1
NAME_WIDTH, VALUE_WIDTH = 13, 10
BAR_WIDTH = 6


@dataclass(frozen=True)
class ParamRow:
    module: str  # a module of MODULE_PARAMS, or TRACK
    spec: ParamSpec


def name_and_value(name: str, value: str) -> str:
    """The name left and the value right in NAME_WIDTH + VALUE_WIDTH characters. A longer
    name (res_accent_boost) takes the room a short value leaves, and is cut with … only
    when the two do not fit with a space between them."""
    width = NAME_WIDTH + VALUE_WIDTH
    room = max(NAME_WIDTH, width - len(value) - 1)
    if len(name) > room:
        name = name[:room - 1] + "…"
    return f"{name:<{width - len(value)}}{value}"


def format_value(spec: ParamSpec, value: float, flats: bool = False) -> str:
    """The value as the panel shows it; a pitch with its nearest note in front (A2 110 Hz)."""
    if spec.name == "osc/type":
        return WAVEFORMS[int(value)]
    text = f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}" if value else "0"
    if spec.scale == PITCH:
        text = f"{note_name(hz_to_midi(value), flats)} {text}"
    return f"{text} {spec.unit}".strip()


class ParamPanel(SessionPanel, RowCursor[ParamRow], can_focus=True):
    BINDINGS = bindings(PARAMS)
    REDRAW_ON = frozenset({ChangeKind.PATTERN, ChangeKind.TRACKS, ChangeKind.PARAM})

    def __init__(self, session: Session, preferences: Preferences, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session = session
        self.preferences = preferences  # the app's: how notes are named
        self.selected = 0
        self.track: Track | None = None

    def on_mount(self) -> None:
        self.border_title = "Sound"

    def redraws_on(self, change: Change) -> bool:
        # It shows the selected track's level and gate, not the rest of a track.
        return super().redraws_on(change) or (
            change.kind == ChangeKind.TRACK and bool({"level", "gate"} & change.data.keys()))

    def rows(self) -> list[ParamRow]:
        rows = []
        if self.track is not None:
            rows += [ParamRow(TRACK, spec) for spec in TRACK_PARAMS]
            rows += [ParamRow(self.track.voice, spec) for spec in MODULE_PARAMS[self.track.voice]]
        for module in EFFECT_MODULES:
            rows += [ParamRow(module, spec) for spec in MODULE_PARAMS[module]]
        return rows

    def show_track(self, track: Track | None) -> None:
        """Follow the grid's selected track (keeping the selected row's position)."""
        if track is not self.track:
            self.track = track
            self.refresh()

    def value(self, row: ParamRow) -> float:
        if row.module == TRACK:
            return getattr(self.track, row.spec.name) if self.track is not None else row.spec.default
        return self.session.pattern.modules[row.module][row.spec.name]

    def render(self) -> Text:
        rows = self.rows()
        self.current()
        columns = max(1, self.size.width // COLUMN_WIDTH)
        per_column = math.ceil(len(rows) / columns)
        height = max(1, self.size.height)
        # Scroll so the selected row stays in view when not everything fits.
        row_of_selected = self.selected % per_column
        top = min(max(row_of_selected - height + 1, 0), max(per_column - height, 0))
        text = Text(no_wrap=True, overflow="ellipsis")
        for line in range(top, min(per_column, top + height)):
            if line > top:
                text.append("\n")
            for column in range(columns):
                index = column * per_column + line
                if index < len(rows):
                    self._render_row(text, rows, index, at_top=line == top)
        return drawn(text)

    def _render_row(self, text: Text, rows: list[ParamRow], index: int, *, at_top: bool) -> None:
        row = rows[index]
        first_of_module = index == 0 or rows[index - 1].module != row.module
        label = (self.track.name if row.module == TRACK and self.track else row.module)
        # A module continued from above (or from the previous column) is named again, dimmed.
        text.append(f"{label[:8] if first_of_module or at_top else '':<9}",
                    style="bold" if first_of_module else "dim")
        value = self.value(row)
        spec = row.spec
        selected = index == self.selected
        style = ("reverse bold" if self.has_focus else "bold underline") if selected else ""
        shown = format_value(spec, value, self.preferences.flats)
        text.append(f"{name_and_value(spec.name, shown)} ", style=style)
        filled = round(BAR_WIDTH * (value - spec.low) / (spec.high - spec.low))
        text.append("█" * filled, style="green")
        text.append("░" * (BAR_WIDTH - filled) + " ", style="dim")
