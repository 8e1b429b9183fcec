"""The README's key table is the one the action registry makes (regenerate it with
`python -m chronus_tui.ui.actions`)."""

from __future__ import annotations

from pathlib import Path

from chronus_tui.ui.actions import ACTIONS, keys_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_holds_the_key_table() -> None:
    table = keys_table()
    assert len(table.splitlines()) == len(ACTIONS) + 2
    assert table in README.read_text(encoding="utf-8"), (
        "README.md's key table differs from the action registry; "
        "paste the output of `python -m chronus_tui.ui.actions`")
