"""Text from users, files and the network is drawn literally: never markup, never raw control codes.

Textual reads a toast as markup unless told otherwise: a slot named `[/x]` used to end the
app (and with it the engine's runtime, so the sound). These tests put hostile text into every
way a string reaches the screen (a slot file, the pattern and track names, an OSC error, a
name typed at a prompt, the palette) and read what the terminal would be sent.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from rich.text import Text
from support.fakes import FakeEngine
from support.osc import OscClient, free_udp_port
from support.ui import fixed_pattern, make_app, screen_text
from textual import events
from textual.pilot import Pilot

from chronus_tui import patternfile
from chronus_tui.osc.server import OscServer
from chronus_tui.store import SlotStore
from chronus_tui.ui.app import ChronusApp
from chronus_tui.ui.literal import MAX_SHOWN, drawn, literal, printable

SIZE = (120, 40)
# Valid names (1–32 printable characters) that Textual's markup would read as tags.
MARKUP_NAMES = ("[/x]", "[bold]oops", "[link=http://x]y[/link]", "[@click=app.quit]q[/]",
                "[/] [b]x[/b] [$accent]", "[on red]" * 4)
# What a terminal would act on: clear the screen, colour, bell, CSI, bidi override, a lone surrogate.
CONTROL_TEXT = "\x1b[2J\x1b[31mred\x07 \x9b6n \u202eevil \ud800 end"


async def settle(pilot: Pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def toasts(app: ChronusApp) -> list[str]:
    """The text of every toast on screen (title, newline, message), as drawn."""
    return [toast.render().plain for toast in app.screen.query("Toast")]


def assert_alive_and_printable(app: ChronusApp) -> str:
    """The app still runs, and no character sent to the terminal is a control character."""
    assert app.is_running and app.return_code is None
    screen = screen_text(app)
    bad = {char for char in screen if not char.isprintable() and char != "\n"}
    assert not bad, f"raw characters on screen: {bad!r}\n{screen}"
    return screen


@pytest.mark.parametrize("name", MARKUP_NAMES)
async def test_markup_in_slot_pattern_and_track_names_is_shown_as_typed(patterns_dir: Path,
                                                                        name: str) -> None:
    SlotStore(patterns_dir).save(1, patternfile.pattern_to_dict(fixed_pattern()), name=name)
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        assert f"A01 saved   {name[:16]}" in assert_alive_and_printable(app)   # the slot file's name
        await pilot.press("L")                                            # load it: a toast and the title
        await settle(pilot)
        await asyncio.to_thread(session.add_track, name, "voice5", "x.x.X...", source="osc")
        await settle(pilot)
        await pilot.press("down", "down", "down", "down")                 # the cursor on the new track
        screen = assert_alive_and_printable(app)
        assert f"Loaded A01 “{name}”" in screen and f"Loaded A01 “{name}”" in toasts(app)
        assert f"A01 {name}" in app.transport.render().plain and f"A01 {name}" in screen
        assert f"{name} (voice5) · step 1/8" in screen                    # the grid's info line
        assert f"{name[:8]:<8} ··" in screen                              # the grid's row
        assert session.pattern.name == name


@pytest.mark.parametrize("name", MARKUP_NAMES)
async def test_a_rename_typed_at_the_prompt_is_saved_and_shown_as_typed(patterns_dir: Path,
                                                                         name: str) -> None:
    SlotStore(patterns_dir).save(1, patternfile.pattern_to_dict(fixed_pattern()), name="plain")
    app, _ = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("R")
        await pilot.pause()
        await pilot.press(*["backspace"] * len("plain"), *name, "enter")
        await settle(pilot)
        assert json.loads((patterns_dir / "slots" / "slot_001.json").read_text())["name"] == name
        screen = assert_alive_and_printable(app)
        assert f"Renamed A01 to “{name}”" in toasts(app) and f"A01 saved   {name[:16]}" in screen


async def test_markup_in_osc_addresses_names_and_errors_is_shown_as_sent(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    port = free_udp_port()
    app.osc_server = OscServer(session, "127.0.0.1", port)
    client = OscClient(port)
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await pilot.pause()
            error = await asyncio.to_thread(client.error, "/x[/x]", "[bold]oops")
            await settle(pilot)
            assert "OSC /x[/x]: unknown address" in assert_alive_and_printable(app)
            assert f"from osc\nOSC /x[/x]: {error}" in toasts(app)
            reply = await asyncio.to_thread(client.ask, "/pattern/save", 5, "[@click=app.quit]q[/]")
            assert reply[0] == "/ok"
            await settle(pilot)
            screen = assert_alive_and_printable(app)
            assert f"from osc 127.0.0.1:{client.port}\nSaved A05 “[@click=app.quit]q[/]”" in toasts(app)
            assert "A05" in screen and "[@click=app.quit]q[/]" in screen
            # A refused name comes back in the error, quoted: still literal on screen.
            await asyncio.to_thread(client.error, "/seq/mute", "[link=http://x]y[/link]", 1)
            await settle(pilot)
            assert_alive_and_printable(app)
            assert "from osc\nOSC /seq/mute: no track named '[link=http://x]y[/link]'" in toasts(app)
    finally:
        client.close()


async def test_control_characters_are_drawn_visible_never_sent_raw(patterns_dir: Path) -> None:
    # A slot file whose error names a field with an ESC in it (the field name is the file's).
    broken = patternfile.pattern_to_dict(fixed_pattern())
    broken["modules"]["\x1b[2J[/x]"] = {}
    (patterns_dir / "slots").mkdir(parents=True)
    (patterns_dir / "slots" / "slot_001.json").write_text(json.dumps(broken))
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        assert app.slots.state(1) == "broken"
        assert_alive_and_printable(app)
        assert "[2J[/x]" in app.slots.render().plain and "\x1b" not in app.slots.render().plain
        await asyncio.to_thread(session.report_error, CONTROL_TEXT, "osc")
        await settle(pilot)
        screen = assert_alive_and_printable(app)
        assert "␛[2J␛[31mred␇ �6n �evil � end" in screen
        assert toasts(app) == ["from osc\n␛[2J␛[31mred␇ �6n �evil � end"]
        assert "Pattern" in screen and "Slots" in screen   # nothing cleared the screen


async def test_long_text_is_cut_not_drawn_whole(patterns_dir: Path) -> None:
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await asyncio.to_thread(session.report_error, "[/x]" * 250_000, "osc")   # a megabyte
        await settle(pilot)
        shown = [n.message for n in app._notifications]
        assert shown == ["[/x]" * ((MAX_SHOWN - 1) // 4) + "[/x"[:(MAX_SHOWN - 1) % 4] + "…"]
        assert "[/x][/x]" in assert_alive_and_printable(app)


async def test_markup_typed_in_prompts_and_the_palette_is_text(patterns_dir: Path) -> None:
    app, _ = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("g", *"[/x]", "enter")
        await pilot.pause()
        assert "'[/x]' is not a slot: type A01–H16 or 1–128" in assert_alive_and_printable(app)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"[bold]", "backspace", *"[/x]")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.press("ctrl+c")    # Textual's own hint, made plain like every toast
        await pilot.pause()
        assert "Press q or ctrl+q to quit" in assert_alive_and_printable(app)


def test_control_characters_are_replaced_one_for_one() -> None:
    assert printable(CONTROL_TEXT) == "␛[2J␛[31mred␇ �6n �evil � end"
    assert printable("a\tb\nc\x7f") == "a␉b␊c␡"
    assert printable("[/x] Ünïcödé ♪") == "[/x] Ünïcödé ♪"
    assert literal("x" * 10, limit=5) == "xxxx…"
    assert literal(CONTROL_TEXT, limit=5) == "␛[2J…"


def test_a_drawn_panel_keeps_its_lines_and_styles_in_place() -> None:
    text = Text.assemble(("a\x1bb", "bold"), "\n", ("c\x9b", "red"))
    assert drawn(text).plain == "a␛b\nc�"
    assert [(span.start, span.end, span.style) for span in text.spans] == [(0, 3, "bold"), (4, 6, "red")]


async def test_every_panel_draws_control_characters_visibly(patterns_dir: Path) -> None:
    """Defence in depth: names are checked on the way in, but a panel never trusts that."""
    app, session = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        session.pattern.name = "\x1b[2Jtitle"
        session.pattern.tracks[0].name = "\x1b[31mkick"
        app.slots.set_entry(1, "\x1b]0;pwned\x07")
        for panel in (app.transport, app.grid, app.params, app.slots):
            panel.refresh()
        await pilot.pause()
        screen = assert_alive_and_printable(app)
        assert "— ␛[2Jtitle" in screen                                       # transport
        assert "␛[31mkick (voice1)" in screen and "␛[31mkic ··" in screen   # grid: info line, row
        assert "␛[31mkic level" in screen                                    # sound panel
        assert "A01 saved   ␛]0;pwned␇" in screen                            # slot browser


async def test_control_characters_pasted_at_a_prompt_become_symbols(patterns_dir: Path) -> None:
    SlotStore(patterns_dir).save(1, patternfile.pattern_to_dict(fixed_pattern()), name="plain")
    app, _ = make_app(patterns_dir, engine=FakeEngine())
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("R", "end", *["backspace"] * len("plain"))
        await pilot.pause()
        app.screen.query_one("#prompt-input").post_message(events.Paste("\x1b[2J\x07x\ud800"))
        await pilot.pause()
        assert "␛[2J␇x�" in assert_alive_and_printable(app)
        await pilot.press("enter")
        await settle(pilot)
        assert json.loads((patterns_dir / "slots" / "slot_001.json").read_text())["name"] == "␛[2J␇x�"
