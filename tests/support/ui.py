"""Shared pieces of the UI tests: a fixed pattern and an app on a Session with a fake engine."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Input

from chronus_tui.engine.protocol import Status
from chronus_tui.model import Pattern, Track, parse_steps
from chronus_tui.session import Session
from chronus_tui.store import SlotStore
from chronus_tui.ui.app import ChronusApp
from chronus_tui.ui.screens.help import actions_table
from chronus_tui.ui.screens.prompt import PromptScreen
from support.fakes import FakeEngine


def help_rows(width: int) -> list[str]:
    """The help screen's table of keys as printed at `width`, each row's spaces made one."""
    console = Console(width=width, file=io.StringIO())
    console.print(actions_table())
    return [" ".join(line.split()) for line in console.file.getvalue().splitlines()]


def fixed_pattern() -> Pattern:
    """A small, fixed pattern: the same screen on every run."""
    def track(name: str, voice: str, steps: str, notes: dict[int, int] | None = None) -> Track:
        t = Track(name, voice, parse_steps(steps))
        for index, note in (notes or {}).items():
            t.steps[index].note = note
        return t

    bass = track("bass", "voice2", "x.xX..x.x.xX..x.", {0: 36, 2: 36, 3: 48, 6: 39, 8: 41})
    bass.steps[3].slide = True
    return Pattern(name="test beat", bpm=126.0, swing=0.1, tracks=[
        track("kick", "voice1", "X...x...X...x..."),
        track("hat", "voice3", "..x...x...x...X."),
        bass,
        track("stab", "voice4", "x.....x.....", {0: 60, 6: 63}),
    ])


def make_app(patterns_dir: Path, *, engine: FakeEngine | None = None, backend: str = "jack",
             pattern: Pattern | None = None) -> tuple[ChronusApp, Session]:
    session = Session(SlotStore(patterns_dir), engine=engine, pattern=pattern or fixed_pattern())
    if engine is not None:
        session.on_engine_event(Status(backend=backend, sr=48000, buffer=256, cpu=0.0))
    # settings.json beside the patterns folder: never the user's own preferences.
    app = ChronusApp(session, audio=backend, osc_address="127.0.0.1:5005",
                     config=patterns_dir.with_name(f"{patterns_dir.name}-config"))
    # Draw every change at once, so a test sees it after one pause (the throttle has its own test).
    app.redraw_interval = 0.0
    return app, session


def screen_text(app: ChronusApp) -> str:
    """Every line of the top screen as the terminal gets it (panels, toasts, modal screens)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def spy_notifications(app: ChronusApp) -> list[tuple[str, str]]:
    """(message, severity) of every notification; "from SOURCE" titles go in front of the message."""
    seen: list[tuple[str, str]] = []
    original = app.notify

    def notify(message: str, *, title: str = "", severity: str = "information", **kwargs: object) -> None:
        seen.append((f"{title}: {message}" if title else message, severity))
        original(message, title=title, severity=severity, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    return seen


async def settle(pilot: Pilot) -> None:
    """Let slot-file workers finish and their Session changes reach the screen."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def type_value(pilot: Pilot, text: str) -> None:
    """`=`, the text, Enter: a typed value for what has the focus."""
    await pilot.press("equals_sign")
    assert isinstance(pilot.app.screen, PromptScreen)
    await pilot.press(*text, "enter")
    await pilot.pause()


async def paste_value(pilot: Pilot, text: str) -> None:
    """`=`, the text pasted (characters no key sends, such as −), Enter."""
    await pilot.press("equals_sign")
    assert isinstance(pilot.app.screen, PromptScreen)
    pilot.app.screen.query_one(Input).insert_text_at_cursor(text)
    await pilot.press("enter")
    await pilot.pause()


async def palette(pilot: Pilot, query: str) -> None:
    """Run the palette's best match for query."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*query, "enter")
    await pilot.pause()
    await pilot.pause()
