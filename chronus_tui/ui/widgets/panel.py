"""The base of the main screen's panels: each says which Session changes redraw it."""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from textual.widget import Widget

from chronus_tui.session import Change, ChangeKind


class SessionPanel(Widget):
    """A panel that draws the Session's state; the app redraws it after the changes it names.

    REDRAW_ON: the kinds of change that alter what it draws. RELAYOUT_ON (a part of
    REDRAW_ON): the kinds that may alter its height too.
    """

    REDRAW_ON: ClassVar[frozenset[ChangeKind]] = frozenset()
    RELAYOUT_ON: ClassVar[frozenset[ChangeKind]] = frozenset()

    def redraws_on(self, change: Change) -> bool:
        return change.kind in self.REDRAW_ON


Row = TypeVar("Row")


class RowCursor(Generic[Row]):
    """A panel's cursor over its rows (mixed into a SessionPanel): `selected`, kept on the
    rows as they come and go."""

    selected: int

    def rows(self) -> list[Row]:
        raise NotImplementedError

    def current(self) -> Row:
        rows = self.rows()
        self.selected = min(max(self.selected, 0), len(rows) - 1)
        return rows[self.selected]

    def move(self, delta: int) -> None:
        self.selected += delta
        self.current()
        self.refresh()  # type: ignore[attr-defined]  (the panel's)
