"""Pick one of a short list (a track's voice); Enter or a click picks, Escape cancels."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList

from chronus_tui.ui.literal import literal


class ChoiceScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, options: tuple[str, ...], selected: str | None = None) -> None:
        super().__init__()
        self.question = question
        self.options = options
        self.selected = selected

    def compose(self) -> ComposeResult:
        with Vertical(id="choice-body"):
            yield Label(literal(self.question), markup=False)
            yield OptionList(*(Text(literal(option)) for option in self.options), id="choice-list")

    def on_mount(self) -> None:
        choices = self.query_one(OptionList)
        if self.selected in self.options:
            choices.highlighted = self.options.index(self.selected)
        choices.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.options[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)
