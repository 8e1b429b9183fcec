"""ChangeKind: every kind of Session change is notified over OSC or deliberately not, and
each UI panel names the kinds that redraw it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.ui import make_app as ui_app

from chronus_tui.model import Pattern, Track, parse_steps
from chronus_tui.osc.notify import NOTIFICATIONS
from chronus_tui.session import Change, ChangeKind, Session
from chronus_tui.ui.app import ChronusApp
from chronus_tui.ui.widgets.panel import SessionPanel

# Kinds with no /notify/ message, and why: a new kind must be added to NOTIFICATIONS or here.
NOT_NOTIFIED = {
    ChangeKind.IMPORTED: "a warning for the screen; the load itself is /notify/pattern",
}
# Kinds no panel draws, and why: a new kind must be in a panel's REDRAW_ON or here.
NOT_DRAWN = {
    ChangeKind.GATE: "a gate set by hand shows nowhere on screen",
    ChangeKind.IMPORTED: "a toast",
    ChangeKind.ERROR: "a toast",
}


def make_app(patterns_dir: Path) -> tuple[ChronusApp, Session]:
    pattern = Pattern(name="kinds", tracks=[Track("kick", "voice1", parse_steps("X...x...")),
                                            Track("bass", "voice2", parse_steps("x.x.x.x."))])
    return ui_app(patterns_dir, backend="null", pattern=pattern)  # draws each change at once


def test_a_change_refuses_a_bare_string_kind() -> None:
    with pytest.raises(TypeError, match="ChangeKind"):
        Change("tempo", {"bpm": 120.0})  # type: ignore[arg-type]
    assert Change(ChangeKind.TEMPO).kind == "tempo"  # str-valued: logs and JSON read the same


def test_every_change_kind_is_notified_or_deliberately_not() -> None:
    notified = [n.kind for n in NOTIFICATIONS]
    assert all(isinstance(kind, ChangeKind) for kind in notified)
    assert len(set(notified)) == len(notified)  # one notification a kind
    assert not set(notified) & NOT_NOTIFIED.keys()
    assert set(notified) | NOT_NOTIFIED.keys() == set(ChangeKind)


def test_every_panel_declares_the_kinds_that_redraw_it(patterns_dir: Path) -> None:
    app, _ = make_app(patterns_dir)
    assert {type(panel) for panel in app.panels} == set(SessionPanel.__subclasses__())
    for panel in app.panels:
        assert isinstance(panel.REDRAW_ON, frozenset) and panel.REDRAW_ON
        assert all(isinstance(kind, ChangeKind) for kind in panel.REDRAW_ON)
        assert isinstance(panel.RELAYOUT_ON, frozenset) and panel.RELAYOUT_ON <= panel.REDRAW_ON
    drawn = set().union(*(panel.REDRAW_ON for panel in app.panels))
    assert not drawn & NOT_DRAWN.keys()
    assert drawn | NOT_DRAWN.keys() == set(ChangeKind)


def test_the_sound_panel_redraws_for_a_tracks_level_or_gate_not_its_steps(patterns_dir: Path) -> None:
    app, _ = make_app(patterns_dir)
    assert app.params.redraws_on(Change(ChangeKind.TRACK, {"track": "kick", "level": 0.5}))
    assert app.params.redraws_on(Change(ChangeKind.TRACK, {"track": "kick", "gate": 0.5}))
    assert not app.params.redraws_on(Change(ChangeKind.TRACK, {"track": "kick", "mute": True}))
    assert not app.params.redraws_on(Change(ChangeKind.TRACK, {"track": "kick", "step": 3}))


async def test_a_session_change_redraws_exactly_the_panels_that_name_it(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        redrawn: dict[str, list[bool]] = {}

        def recorder(panel: SessionPanel) -> Any:
            def refresh(*args: Any, layout: bool = False, **kwargs: Any) -> SessionPanel:
                redrawn.setdefault(panel.id or "", []).append(layout)
                return panel
            return refresh

        for panel in app.panels:
            panel.refresh = recorder(panel)  # type: ignore[method-assign]

        async def after(edit: Any) -> dict[str, bool]:
            redrawn.clear()
            edit()
            await pilot.pause()
            return {name: any(layouts) for name, layouts in redrawn.items()}

        assert await after(lambda: session.set_level("kick", 0.5, source="osc")) == \
            {"grid": False, "params": False}
        assert await after(lambda: session.set_mute("kick", True, source="osc")) == {"grid": False}
        assert await after(lambda: session.set_bpm(99, source="osc")) == {"transport": False}
        assert await after(lambda: session.remove_track("bass", source="osc")) == \
            {"grid": True, "params": False, "detail": False}
        assert await after(lambda: session.set_step_options("kick", 1, {"prob": 50}, source="osc")) == \
            {"grid": False, "detail": False}
        assert await after(lambda: session.set_fill(True, source="osc")) == {"transport": False}
        assert await after(lambda: session.gate("voice1", True, source="osc")) == {}
