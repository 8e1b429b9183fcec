"""Help screen: every action of the registry, grouped, with its keys."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from chronus_tui.ui.actions import ACTIONS, APP, SCOPE_PANELS


def actions_table() -> Table:
    table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    table.add_column("keys", style="bold cyan", no_wrap=True, min_width=12)
    table.add_column("action")
    group = None
    for action in ACTIONS:
        if action.group != group:
            if group is not None:
                table.add_row("", "")
            group = action.group
            table.add_row(Text.assemble((f" {group} ", "bold reverse")), "")
        title = Text(action.row_title)
        where = SCOPE_PANELS[action.scope]
        if action.scope != APP and where != group:  # a key that works only there says so, as the README
            title.append(f" · {where}", style="dim")
        table.add_row(Text(action.keys_display), title)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "dismiss", "Close help")]

    def __init__(self, bank_strip: Text) -> None:
        super().__init__()
        self.bank_strip = bank_strip

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body") as body:
            body.border_title = "Chronus keys  (esc closes; ctrl+p searches them)"
            yield Static("Arrow keys act on the focused panel (Pattern at start); tab moves the focus. "
                         "Load, save and rename act on the selected slot from anywhere.\n",
                         markup=False, classes="help-intro")
            yield Static(Text.assemble((" Perform keys ", "bold reverse"),
                                       " (f2; the bank of the selected slot)"), classes="help-intro")
            yield Static(self.bank_strip, id="help-bank-strip")
            yield Static(actions_table(), id="help-table")
