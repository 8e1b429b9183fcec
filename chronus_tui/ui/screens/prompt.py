"""A one-line prompt (rename a slot, go to a slot); Enter answers, Escape cancels."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from chronus_tui.ui.literal import literal, printable


class PlainInput(Input):
    """An Input of printable text: a control character pasted in shows as its symbol, never raw."""

    def replace(self, text: str, start: int, end: int) -> None:
        # Typing, pasting and editing all arrive here.
        super().replace(printable(text), start, end)


class PromptScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.question = question
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-body"):
            yield Label(literal(self.question), markup=False)
            # A name from a file may hold control characters: the field offers their visible form.
            yield PlainInput(literal(self.value), placeholder=self.placeholder, id="prompt-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
