"""The Chronus terminal UI: a thin layer that turns keys into Session calls.

The Session may tell us about changes from any thread (OSC server, engine
reader); those are queued and drained on the UI thread, one redraw per batch.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.notifications import SeverityLevel
from textual.widgets import Footer

from chronus_tui.chain import REPEATS_RANGE, Chain, ChainEntry
from chronus_tui.chainplay import (
    CHAIN_SOURCE,
    FOLLOW_OFF,
    FOLLOW_SOURCE,
    follow_words,
    parse_follow,
)
from chronus_tui.model import (
    BPM_SPEC,
    LENGTH_SPEC,
    MAX_TRACKS,
    MICRO_SPEC,
    NOTE_RANGE,
    SEED_SPEC,
    VOICES,
    Pattern,
    PatternError,
    Step,
    Track,
    condition_from_text,
    hz_to_midi,
    lock_spec,
    lockable_params,
    parse_note,
    step_value,
)
from chronus_tui.session import QUANTUM_STEPS, Change, ChangeKind, LoadAt, Session, SessionError
from chronus_tui.store import PADS, SLOT_COUNT, StoreError, parse_slot, slot_label
from chronus_tui.ui.actions import ACTIONS, APP, bindings, key_display
from chronus_tui.ui.clipboard import Clipboard
from chronus_tui.ui.commands import ActionsProvider
from chronus_tui.ui.entry import (
    BPM,
    FIELD,
    LENGTH,
    NOTE,
    PARAM,
    SEED,
    SWING,
    TARGET_SPECS,
    Entry,
    expected,
    parse_micro,
    parse_value,
    split_entry,
)
from chronus_tui.ui.literal import literal
from chronus_tui.ui.messages import SessionChanged
from chronus_tui.ui.preferences import config_dir, load_preferences, save_preferences
from chronus_tui.ui.screens.choice import ChoiceScreen
from chronus_tui.ui.screens.help import HelpScreen
from chronus_tui.ui.screens.prompt import PromptScreen
from chronus_tui.ui.widgets.bankstrip import BankStrip, strip_text
from chronus_tui.ui.widgets.grid import StepGrid, step_note
from chronus_tui.ui.widgets.panel import SessionPanel
from chronus_tui.ui.widgets.params import TRACK, ParamPanel, ParamRow, format_value
from chronus_tui.ui.widgets.slots import ChainView, SlotBrowser
from chronus_tui.ui.widgets.song import SongPanel
from chronus_tui.ui.widgets.stepdetail import (
    COND,
    LABELS,
    MICRO,
    OPTION_SPECS,
    DetailRow,
    StepDetail,
    field_text,
    stepped_option,
    voice_value,
)
from chronus_tui.ui.widgets.transport import TransportBar

log = logging.getLogger(__name__)

UI_SOURCE = "ui"
# The song view's mute choice that gives an entry back its slot's own mutes.
AS_SAVED = "every track as the slot saved it"
LAUNCH_PAST_BAR = ("bar2", "bar4", "bar8", "end")  # a queued load's toast says where these land
# The launch quantize as the toast says it (session.QUANTUM_STEPS).
QUANTIZE_WORDS = {"bar": "the next bar line", "bar2": "the next 2-bar line", "bar4": "the next 4-bar line",
                  "bar8": "the next 8-bar line", "end": "the end of the playing pattern"}
# The bank strip on the help screen: the keys and their slots (the names are on the main screen).
HELP_STRIP_WIDTH = 68
# The follow prompt's placeholder: examples short enough for the field at 80 columns.
FOLLOW_EXAMPLES = f"4 next, 2 slot A03, 1 random A03 B07, {FOLLOW_OFF}"


def imported_summary(dropped: int) -> str:
    """The one line that says an original-format file was loaded with fields left behind."""
    fields = "1 field" if dropped == 1 else f"{dropped} fields"
    return f"imported from Music Chronus; {fields} not carried over — details in the log"


class OscService(Protocol):
    """The OSC server as the app runs it: started and closed inside the app's event loop."""

    async def start(self) -> Any: ...
    def close(self) -> Any: ...  # may return an awaitable


class ChronusApp(App[int]):
    CSS_PATH = "chronus.tcss"
    TITLE = "Chronus"
    BINDINGS = bindings(APP)
    COMMANDS = {ActionsProvider}  # noqa: RUF012 (Textual's class-level registry)
    # Below this width the slot browser and the panel beside it do not both fit (chronus.tcss).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (76, "-wide")]  # noqa: RUF012 (Textual's)
    # Session changes are drawn at most this often (s); a step at 300 BPM lasts 0.05 s.
    redraw_interval = 1 / 30

    def __init__(self, session: Session, *, audio: str = "auto", osc_address: str | None = None,
                 osc_server: OscService | None = None, notices: Iterable[str] = (),
                 config: Path | None = None) -> None:
        """`config`: the folder of settings.json (default: config_dir())."""
        super().__init__()
        self.session = session
        self.config = config if config is not None else config_dir()
        # The one source of the note naming: every panel that names a note reads it.
        self.preferences = load_preferences(self.config)
        self._settings_unsaved = False  # a failed save was said once; not again this run
        self.audio = audio
        self.osc_address = osc_address
        self.osc_server = osc_server
        self.notices = list(notices)
        # The main screen's panels, held here: a change may arrive while a modal screen is on top.
        self.transport = TransportBar(session, audio=audio, osc_address=None, id="transport")
        self.grid = StepGrid(session, self.preferences, id="grid")
        self.slots = SlotBrowser(session, id="slots")
        self.params = ParamPanel(session, self.preferences, id="params")
        self.strip = BankStrip(session, self.slots, id="strip")
        self.song = SongPanel(session, self.slots, id="song")  # in the Sound panel's place (f3)
        self.detail = StepDetail(session, self.grid, self.preferences, id="detail")  # there too (i)
        self.panels: tuple[SessionPanel, ...] = (self.transport, self.grid, self.strip, self.slots,
                                                 self.params, self.song, self.detail)
        self.copied: Clipboard | None = None  # the app's clipboard, not the pattern's: it outlives a load
        self._inbox: deque[Change] = deque()
        self._flush_posted = False
        self._last_flush = 0.0
        # Each toast on screen (message, title, severity) and when it goes: a repeat is not shown.
        self._toasts_until: dict[tuple[str, str, str], float] = {}

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every toast is literal text: messages carry names from users, files and the network.

        `markup` is taken for Textual's callers and ignored: a `[/x]` in a name must show as
        typed, not end the set. A toast the same as one still on screen is not shown again, so
        a message repeated on every turn of a looping chain is one toast, not a stack of them.
        """
        toast = literal(message), literal(title), severity
        now = time.monotonic()
        if self._toasts_until.get(toast, 0.0) > now:
            return
        self._toasts_until = {shown: until for shown, until in self._toasts_until.items() if until > now}
        self._toasts_until[toast] = now + (self.NOTIFICATION_TIMEOUT if timeout is None else timeout)
        super().notify(toast[0], title=toast[1], severity=severity, timeout=timeout, markup=False)

    def action_help_quit(self) -> None:
        # Textual's own hint for ctrl+c is markup; toasts here are plain.
        quit_keys = next(a.keys for a in ACTIONS if a.action == "quit")
        self.notify(f"Press {' or '.join(map(key_display, quit_keys))} to quit",
                    title="Do you want to quit?")

    def compose(self) -> ComposeResult:
        yield self.transport
        yield self.grid
        yield self.strip
        with Horizontal(id="lower"):
            yield self.slots
            yield self.params
            yield self.song
            yield self.detail
        yield Footer()

    async def on_mount(self) -> None:
        self.session.subscribe(self._on_change)
        if self.preferences.quantize != self.session.quantize:  # the setting kept from the last run
            self._call(self.session.set_quantize, self.preferences.quantize)
        self._preload_bank()
        self.grid.focus()
        self._follow_track()
        for notice in self.notices:
            self.notify(notice, severity="warning", timeout=10)
        await self._start_osc()

    async def _start_osc(self) -> None:
        if self.osc_server is None:
            return
        try:
            exposed = await self.osc_server.start()
        except OSError as exc:
            self.osc_server = None
            self.notify(f"OSC server not started on {self.osc_address}: {exc.strerror or exc}",
                        severity="error", timeout=15)
            return
        self.transport.osc_address = self.osc_address
        self.transport.refresh()
        if exposed:  # listening where other machines can reach it: say who is served
            self.notify(exposed, severity="warning", timeout=15)

    async def _stop_osc(self) -> None:
        server, self.osc_server = self.osc_server, None
        if server is not None:
            closing = server.close()
            if inspect.isawaitable(closing):
                await closing

    async def on_unmount(self) -> None:
        self.session.unsubscribe(self._on_change)
        await self._stop_osc()

    # -- Session changes, from any thread ------------------------------------------

    def _on_change(self, change: Change) -> None:
        """Session listener: queue the change and wake the UI thread once (never blocks)."""
        self._inbox.append(change)
        if not self._flush_posted:
            self._flush_posted = True
            self.post_message(SessionChanged())

    def on_session_changed(self, _message: SessionChanged) -> None:
        # At most one redraw a frame: a flood of OSC edits must not eat the CPU the audio needs.
        wait = self._last_flush + self.redraw_interval - time.monotonic()
        if wait > 0:
            self.set_timer(wait, self._draw_changes)  # _flush_posted stays set: no more messages meanwhile
        else:
            self._draw_changes()

    def _draw_changes(self) -> None:
        self._last_flush = time.monotonic()
        self._flush_posted = False  # before draining: a change queued from now on posts again
        changes: list[Change] = []
        while self._inbox:
            change = self._inbox.popleft()
            changes.append(change)
            self._report(change)
        self.transport.flash_travels(changes, UI_SOURCE)
        redraw = [panel for panel in self.panels if any(panel.redraws_on(c) for c in changes)]
        if self.params in redraw or self.grid in redraw:
            self._follow_track()
        kinds = {change.kind for change in changes}
        first = self.slots.bank_first()
        if any(change.kind in (ChangeKind.SAVED, ChangeKind.RENAMED)
               and first <= change.data["slot"] < first + PADS for change in changes):
            self._preload_bank()  # by anyone (a key, OSC): the pads play the new file
        for panel in redraw:
            panel.refresh(layout=bool(kinds & panel.RELAYOUT_ON))

    def _report(self, change: Change) -> None:
        """Notifications for what a musician must know, titled with who caused it."""
        data = change.data
        if change.kind in (ChangeKind.CHAIN, ChangeKind.SONG) or (
                change.source in (CHAIN_SOURCE, FOLLOW_SOURCE)
                and change.kind in (ChangeKind.QUEUED, ChangeKind.PATTERN)):
            return  # a chain and its entries: the chain line and the transport show them, not a toast each
        title = "" if change.source in ("", UI_SOURCE) else f"from {change.source}"
        label = slot_label(data["slot"]) if data.get("slot") else ""
        if change.kind == ChangeKind.SAVED:
            self.slots.set_entry(data["slot"], data["name"], data["follow"])
            self.notify(f"Saved {label} “{data['name']}”", title=title)
        elif change.kind == ChangeKind.RENAMED:
            self.slots.set_entry(data["slot"], data["name"])
            self.notify(f"Renamed {label} to “{data['name']}”", title=title)
        elif change.kind == ChangeKind.QUEUED and data.get("slot") is None and not data.get("name"):
            self.notify("Queued load cancelled", title=title)
        elif change.kind == ChangeKind.QUEUED:
            lands = data.get("lands")
            past_bar = lands is not None and data["at"] in LAUNCH_PAST_BAR
            when = f"bar {lands[0] + 1:03d}:{lands[1] + 1:02d}" if past_bar else "the next bar"
            self.notify(f"{label or 'Pattern'} “{data['name']}” queued for {when}", title=title)
        elif change.kind == ChangeKind.PATTERN and not data.get("undo"):  # an undo: the transport says so
            what = f"{label} “{data['name']}”" if label else f"“{data['name']}”"
            verb = "Now playing" if data.get("switched") else "Loaded"
            self.notify(f"{verb} {what}", title=title)
        elif change.kind == ChangeKind.ERROR:
            self.notify(data.get("message", "error"), title=title, severity="error", timeout=10)
        elif change.kind == ChangeKind.IMPORTED:
            # One line on the screen; the fields themselves (there may be dozens) in the log.
            for field in data["dropped"]:
                log.warning("%s: original Music Chronus field not carried over: %s", label, field)
            self.notify(imported_summary(len(data["dropped"])), title=title, severity="warning",
                        timeout=15)
        elif change.kind == ChangeKind.ENGINE and data.get("event") == "restarted":
            self.notify("The audio engine stopped and was restarted", title=title, severity="warning",
                        timeout=10)

    def _follow_track(self) -> None:
        here = self.grid.current()
        self.params.show_track(here[0] if here else None)

    def _cursor_moved(self) -> None:
        self._follow_track()
        self.detail.refresh()  # it shows the cursor's step

    # -- helpers ------------------------------------------------------------------

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a Session method for the keyboard; a refused request becomes a notification."""
        try:
            return method(*args, source=UI_SOURCE, **kwargs)
        except (SessionError, StoreError) as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return None

    def _call_in_thread(self, method: Callable[..., Any], *args: Any) -> None:
        """Disk work (slot files) off the UI thread; errors come back as notifications."""
        def work() -> None:
            try:
                method(*args, source=UI_SOURCE)
            except (SessionError, StoreError) as exc:
                self.call_from_thread(self.notify, str(exc), severity="error", timeout=8)

        self.run_worker(work, thread=True, group="slots", exit_on_error=False)

    def _preload_bank(self) -> None:
        """Read the pads' slot files into memory, off the UI thread, so a pad loads none."""
        first = self.slots.bank_first()
        self.run_worker(lambda: self.session.preload_slots(range(first, first + PADS)), thread=True,
                        group="preload", exit_on_error=False)

    def _load(self, slot: int, at: LoadAt | None) -> None:
        """Load a slot at once from memory when it is preloaded and its file unchanged (a
        perform key reaches the engine within an audio block), else read it off the UI thread."""
        if self._call(self.session.load_preloaded_slot, slot, at) is False:
            self._call_in_thread(self.session.load_slot, slot, at)

    # -- transport ------------------------------------------------------------------

    def action_play_stop(self) -> None:
        self._call(self.session.stop if self.session.transport.playing else self.session.start)

    def action_bpm(self, delta: float) -> None:
        self._call(self.session.set_bpm, self.session.pattern.bpm + delta)

    def action_swing(self, delta: float) -> None:
        self._call(self.session.set_swing, round(self.session.pattern.swing + delta, 2))

    def action_fill(self) -> None:
        self._call(self.session.set_fill, not self.session.fill)

    def action_record(self) -> None:
        """Start recording (from the next bar line while playing) or stop; the line shows ● REC."""
        if self.session.recording is not None:
            if (done := self._call(self.session.stop_recording)) is not None:
                self.notify(f"recorded {done.path.name}", markup=False)
        elif (started := self._call(self.session.start_recording)) is not None:
            self.notify(f"recording to {started.path}", markup=False)

    # -- slots ----------------------------------------------------------------------

    def action_load(self, at: LoadAt | None) -> None:
        """`at` None: on the line of the launch quantize (Q)."""
        self._load(self.slots.selected, at)

    def action_save(self) -> None:
        self._call_in_thread(self.session.save_slot, self.slots.selected, None)

    def action_rename(self) -> None:
        slot = self.slots.selected
        entry = self.slots.entries.get(slot)
        if entry is None or entry.name is None:
            self.notify(f"{slot_label(slot)} is {'broken' if entry else 'empty'}: save to it first",
                        severity="error")
            return

        def answered(name: str | None) -> None:
            if name:
                self._call_in_thread(self.session.rename_slot, slot, name.strip())

        self.push_screen(PromptScreen(f"Rename {slot_label(slot)}", entry.name), answered)

    def action_cancel_queued(self) -> None:
        self._call(self.session.cancel_queued)

    def action_select_slot(self, delta: int) -> None:
        self._select(self.slots.selected + delta)

    def _select(self, slot: int) -> None:
        bank = self.slots.bank_first()
        self.slots.select(slot)
        self.strip.follow()
        if self.slots.bank_first() != bank:
            self._preload_bank()

    def action_goto_slot(self) -> None:
        def answered(text: str | None) -> None:
            if text is None:
                return
            slot = parse_slot(text)
            if slot is None:
                self.notify(f"{text!r} is not a slot: type A01–H16 or 1–{SLOT_COUNT}", severity="error")
            else:
                self._select(slot)

        self.push_screen(PromptScreen("Go to slot", placeholder="A01–H16 or 1–128"), answered)

    def action_follow(self) -> None:
        """Type the playing pattern's follow action (`4 next`, `2 slot A03`, `off`): an edit."""
        def answered(text: str | None) -> None:
            if text is None or not text.strip():
                return
            try:
                follow = parse_follow(text)
            except ValueError as exc:
                self.notify(str(exc), severity="error", timeout=8)
                return
            if follow is None:
                self._call(self.session.clear_follow)
            else:
                self._call(self.session.set_follow, follow.after, follow.action, follow.slots)

        follow, slot = self.session.pattern.follow, self.session.transport.playing_slot
        of = slot_label(slot) if slot else f"“{self.session.pattern.name}”"
        self.push_screen(PromptScreen(f"Follow action of {of}: after N plays, next, previous, slot S or "
                                      f"random S S …; {FOLLOW_OFF} clears it",
                                      follow_words(follow) if follow else "", FOLLOW_EXAMPLES), answered)

    # -- perform keys -----------------------------------------------------------------

    def action_perform(self) -> None:
        """Perform keys on (the bank strip takes the focus) or off (back to the pattern)."""
        if self.strip.has_focus:
            self.grid.focus()
        else:
            self.strip.focus()
            self._preload_bank()  # reads only the files changed behind our back since

    def action_perform_pad(self, pad: int, at: str) -> None:
        """Load the current bank's pad: an empty or unreadable slot says so and queues nothing."""
        slot = self.slots.bank_first() + pad
        entry = self.slots.entries.get(slot)
        if entry is None or entry.error:
            self.notify(f"{slot_label(slot)} is {'unreadable' if entry else 'empty'}: nothing loaded",
                        severity="warning", timeout=3)
            return
        self._load(slot, at)  # first: the engine gets it before the selection is drawn
        self._select(slot)

    def action_perform_bank(self, bank: int) -> None:
        """Another bank for the pads; the selected pad stays where it was."""
        self._select(bank * PADS + (self.slots.selected - 1) % PADS + 1)

    # -- chains -----------------------------------------------------------------------
    # The chain being built is the Session's own: each key is one of its song-entry methods,
    # so a chain playing plays on with the edit, and OSC and the song view see the same chain.

    def _chain(self) -> Chain | None:
        """The Session's chain, its entries' tempos and mutes too (None: no entries)."""
        return ChainView.of(self.session.song_status()).chain

    def _chain_to_edit(self) -> Chain | None:
        """The Session's chain; None, and a warning that says how to make one, when empty."""
        chain = self._chain()
        if chain is None:
            add = key_display(next(a.keys[0] for a in ACTIONS if a.action == "chain_add"))
            self.notify(f"the chain is empty: {add} in the slot browser adds the selected slot",
                        severity="warning")
        return chain

    def _last_entry(self) -> tuple[int, ChainEntry] | None:
        """The chain's last entry and its index; None (and a warning) when there is none."""
        if (chain := self._chain_to_edit()) is None:
            return None
        return len(chain.entries) - 1, chain.entries[-1]

    def action_chain_add(self) -> None:
        """Add the selected slot at the chain's end, once; an empty or unreadable slot is refused."""
        slot = self.slots.selected
        entry = self.slots.entries.get(slot)
        if entry is None or entry.error:
            self.notify(f"{slot_label(slot)} is {'unreadable' if entry else 'empty'}: not added to the chain",
                        severity="warning")
            return
        chain = self._chain()
        self._call(self.session.insert_song_entry, len(chain.entries) if chain is not None else 0, slot)

    def action_chain_repeats(self, repeats: int) -> None:
        """The last entry plays `repeats` times."""
        if (last := self._last_entry()) is not None:
            self._call(self.session.set_song_entry, last[0], repeats=repeats)

    def action_chain_type_repeats(self) -> None:
        if (last := self._last_entry()) is None:
            return
        index, entry = last

        def answered(text: str | None) -> None:
            typed = (text or "").strip().lstrip("x×*")
            if typed:  # anything but a whole number is refused by the Session, by name
                repeats = int(typed) if typed.isascii() and typed.isdigit() else typed  # ² is a digit
                self._call(self.session.set_song_entry, index, repeats=repeats)

        low, high = REPEATS_RANGE
        question = f"Plays of {slot_label(entry.slot)}, the chain's last entry ({low}–{high})"
        self.push_screen(PromptScreen(question, placeholder=str(entry.repeats)), answered)

    def action_chain_remove_last(self) -> None:
        if (last := self._last_entry()) is None:
            return
        if last[0] == 0:  # a chain holds one entry at least: the last one out clears it
            self.action_chain_clear()
        else:
            self._call(self.session.remove_song_entry, last[0])

    def action_chain_clear(self) -> None:
        """No entries: a chain playing stops (its pattern plays on); a song's name goes."""
        if self._chain() is not None:
            self._call(self.session.clear_chain)

    def action_chain_start(self) -> None:
        """Start the chain on the next line of the launch quantize (at once while stopped); its
        first slot is read off the UI thread."""
        if self._last_entry() is not None:
            self._call_in_thread(self.session.start_chain)

    def action_chain_stop(self) -> None:
        if self._call(self.session.stop_chain) is False:
            self.notify("no chain is playing", severity="warning")

    def action_cycle_quantize(self) -> None:
        """The launch quantize of loads and chain starts: bar → bar2 → bar4 → bar8 → end → bar,
        kept for the next run."""
        order = tuple(QUANTUM_STEPS)
        quantize = order[(order.index(self.session.quantize) + 1) % len(order)]
        self._call(self.session.set_quantize, quantize)
        self.preferences.quantize = self.session.quantize
        self._keep_preferences(f"loads and chains launch on {QUANTIZE_WORDS[self.session.quantize]}")

    # -- song view ------------------------------------------------------------------

    def _lower_right(self, shown: SessionPanel, focus: SessionPanel) -> None:
        """Show one of the Sound panel, the song view and the step detail, where they share,
        and give `focus` the focus once the screen is laid out anew: a panel just shown has no
        size before, and a small screen must scroll to it, or a narrow one give it the row."""
        for panel in (self.params, self.song, self.detail):
            panel.display = panel is shown
        self.call_after_refresh(focus.focus)

    def action_song_view(self) -> None:
        """The song view in the Sound panel's place, with the focus; again: the Sound panel."""
        showing = not self.song.display
        self._lower_right(self.song if showing else self.params, self.song if showing else self.grid)

    def _song_entry(self) -> tuple[int, ChainEntry] | None:
        """The entry under the song view's cursor and its index; None (and a warning) when
        the chain is empty."""
        if (chain := self._chain_to_edit()) is None:
            return None
        index = min(self.song.cursor, len(chain.entries) - 1)
        return index, chain.entries[index]

    def action_song_cursor(self, delta: int) -> None:
        self.song.move(delta)

    def action_song_repeats(self, delta: int) -> None:
        if (here := self._song_entry()) is not None:
            low, high = REPEATS_RANGE
            index, entry = here
            self._call(self.session.set_song_entry, index, repeats=min(max(entry.repeats + delta, low), high))

    def action_song_tempo(self) -> None:
        """Type the entry's tempo; an empty answer gives it back the slot's own."""
        if (here := self._song_entry()) is None:
            return
        index, entry = here

        def answered(text: str | None) -> None:
            if text is None:
                return
            try:
                bpm = parse_value(BPM_SPEC, text) if text.strip() else None
            except PatternError as exc:
                self.notify(str(exc), severity="error", timeout=8)
                return
            self._call(self.session.set_song_entry, index, bpm=bpm)

        shown = "" if entry.bpm is None else f"{entry.bpm:g}"
        self.push_screen(PromptScreen(f"Tempo of entry {index + 1} ({slot_label(entry.slot)}): "
                                      f"{expected(BPM_SPEC)}; empty: the slot's own", shown), answered)

    def action_song_mute(self) -> None:
        """Pick one of the entry's tracks to mute or unmute there (its slot is read off the UI
        thread); AS_SAVED gives the entry back the slot's own mutes."""
        if (here := self._song_entry()) is None:
            return
        index, entry = here

        def read() -> None:
            try:
                tracks = self.session.store.load(entry.slot).tracks
            except StoreError as exc:
                self.call_from_thread(self.notify, str(exc), severity="error", timeout=8)
                return
            self.call_from_thread(self._pick_mute, index, entry, tracks)

        self.run_worker(read, thread=True, group="slots", exit_on_error=False)

    def _pick_mute(self, index: int, entry: ChainEntry, tracks: list[Track]) -> None:
        if not tracks:
            self.notify(f"{slot_label(entry.slot)} has no tracks to mute", severity="warning")
            return
        muted = set(entry.mute) if entry.mute is not None else {t.name for t in tracks if t.mute}
        choices = {f"{'unmute' if t.name in muted else 'mute'} {t.name}": t.name for t in tracks}

        def picked(choice: str | None) -> None:
            if choice is None:
                return
            mute = None
            if choice != AS_SAVED:
                muted.symmetric_difference_update({choices[choice]})
                mute = tuple(t.name for t in tracks if t.name in muted)
            self._call(self.session.set_song_entry, index, mute=mute)

        self.push_screen(ChoiceScreen(f"Entry {index + 1} ({slot_label(entry.slot)}): mute or unmute",
                                      (*choices, AS_SAVED)), picked)

    def action_song_move(self, delta: int) -> None:
        if (here := self._song_entry()) is None:
            return
        index = here[0]
        if 0 <= index + delta < self.song.entry_count():
            self._call(self.session.move_song_entry, index, index + delta)
            self.song.move(delta)

    def action_song_delete(self) -> None:
        if (here := self._song_entry()) is None:
            return
        if self.song.entry_count() == 1:  # a chain holds one entry at least: the last one out clears it
            self.action_chain_clear()
        else:
            self._call(self.session.remove_song_entry, here[0])

    def action_song_loop(self) -> None:
        if (chain := self._chain_to_edit()) is not None:
            self._call(self.session.set_song_loop, not chain.loop)

    def action_song_save(self) -> None:
        """Save the chain as a song by name (the song's own name offered); off the UI thread."""
        if self._last_entry() is None:
            return

        def answered(text: str | None) -> None:
            if text and text.strip():
                self._call_in_thread(self._saved_song, text.strip())

        self.push_screen(PromptScreen("Save the chain as the song", self.session.chain_status()["song"] or "",
                                      placeholder="letters, digits, - and _"), answered)

    def _saved_song(self, name: str, source: str) -> None:
        self.session.save_song(name, source=source)
        self.call_from_thread(self.notify, f"Saved the song “{name}”")

    def action_song_load(self) -> None:
        """Pick one of the saved songs (listed off the UI thread); it becomes the chain."""
        def listed() -> None:
            names = tuple(info.name for info in self.session.list_songs() if info.error is None)
            self.call_from_thread(self._pick_song, names)

        self.run_worker(listed, thread=True, group="slots", exit_on_error=False)

    def _pick_song(self, names: tuple[str, ...]) -> None:
        if not names:
            save = key_display(next(a.keys[0] for a in ACTIONS if a.action == "song_save"))
            self.notify(f"no songs saved yet: {save} in the song view saves the chain as one",
                        severity="warning")
            return
        self.push_screen(ChoiceScreen("Load the song", names, self.session.chain_status()["song"]),
                         lambda name: name and self._call_in_thread(self.session.load_song, name))

    # -- step grid ------------------------------------------------------------------

    def action_cursor(self, steps: int, tracks: int) -> None:
        self.grid.move(steps, tracks)
        self._cursor_moved()

    def _edit_step(self, edit: Callable[[Any], dict[str, Any]]) -> None:
        here = self.grid.current()
        if here is None:
            self.notify("no tracks yet", severity="warning")
            return
        track, index = here
        self._call(self.session.set_step, track.name, index, **edit(track.steps[index]))

    def action_toggle_step(self) -> None:
        self._edit_step(lambda step: {"on": not step.on})

    def action_toggle_accent(self) -> None:
        # Accenting a rest makes it an accented hit, as `X` does in a pattern string.
        self._edit_step(lambda step: {"accent": not step.accent, "on": step.on or not step.accent})

    def action_toggle_slide(self) -> None:
        self._edit_step(lambda step: {"slide": not step.slide})

    def action_note(self, delta: int) -> None:
        def moved(step: Any) -> dict[str, Any]:
            track, _ = self.grid.current() or (None, 0)
            base = step.note
            if base is None:  # start from the voice's own pitch
                base = hz_to_midi(self.session.pattern.modules[track.voice]["freq"])
            return {"note": min(max(base + delta, NOTE_RANGE[0]), NOTE_RANGE[1])}

        self._edit_step(moved)

    def action_clear_note(self) -> None:
        self._edit_step(lambda step: {"note": None})

    def _edit_track(self, method: Callable[..., Any], value: Callable[[Any], Any]) -> None:
        here = self.grid.current()
        if here is None:
            self.notify("no tracks yet", severity="warning")
            return
        self._call(method, here[0].name, value(here[0]))

    def action_toggle_mute(self) -> None:
        self._edit_track(self.session.set_mute, lambda track: not track.mute)

    def action_toggle_solo(self) -> None:
        self._edit_track(self.session.set_solo, lambda track: not track.solo)

    def action_length(self, delta: int) -> None:
        self._edit_track(self.session.set_length, lambda track: track.length + delta)

    # -- step detail ----------------------------------------------------------------

    def action_step_detail(self) -> None:
        """The step detail in the Sound panel's place, with the focus; again (while it has the
        focus): the Sound panel, and the focus back on the pattern."""
        if self.detail.display and self.detail.has_focus:
            self._lower_right(self.params, self.grid)
        else:
            self._lower_right(self.detail, self.detail)

    def action_detail_select(self, delta: int) -> None:
        self._show_detail()
        self.detail.move(delta)

    def action_detail_change(self, direction: int, coarse: bool = False) -> None:
        """The selected field one fine (coarse) step up or down: one Session call, one undo."""
        if (here := self._detail_step()) is None:
            return
        track, index, step = here
        row = self.detail.current()
        if row.lock is None:
            value = stepped_option(step, row.field, direction, coarse)
            if value != getattr(step, row.field):  # at the end of its range: no empty undo
                self._call(self.session.set_step_options, track.name, index, {row.field: value})
            return
        try:
            spec = lock_spec(track.voice, row.lock)
            value = step_value(spec, step.locks[row.lock], direction, coarse)
        except (PatternError, ArithmeticError, TypeError) as exc:  # a lock its voice cannot take
            self.notify(str(exc), severity="error", timeout=8)
            return
        if value != step.locks[row.lock]:
            self._call(self.session.set_step_lock, track.name, index, row.lock, value)

    def action_detail_add_lock(self) -> None:
        """Pick one of the voice's parameters the step does not lock yet; the lock starts at
        the track's own value of it."""
        if (here := self._detail_step()) is None:
            return
        track, index, step = here
        free = tuple(key for key in lockable_params(track.voice) if key not in step.locks)
        if not free:
            self.notify("every parameter of the voice is locked on this step", severity="warning")
            return

        def picked(key: str | None) -> None:
            if key is None:
                return
            value = voice_value(self.session.pattern, track.voice, key)
            if self._call(self.session.set_step_lock, track.name, index, key, value) is not None:
                self.detail.select_lock(key)

        self.push_screen(ChoiceScreen(f"Lock on step {index + 1} of “{track.name}”", free), picked)

    def action_detail_clear(self) -> None:
        """Remove the selected lock, or give the selected field its default back."""
        if (here := self._detail_step()) is None:
            return
        track, index, _ = here
        row = self.detail.current()
        if row.lock is not None:
            self._call(self.session.set_step_lock, track.name, index, row.lock, None)
        else:
            default = None if row.field not in OPTION_SPECS else int(OPTION_SPECS[row.field].default)
            self._call(self.session.set_step_options, track.name, index, {row.field: default})

    def _detail_step(self) -> tuple[Track, int, Step] | None:
        self._show_detail()
        here = self.detail.here()
        if here is None:
            self.notify("no tracks yet", severity="warning")
        return here

    def _show_detail(self) -> None:
        """A step detail key run from the palette with the panel closed opens it: the field it
        edits is on screen."""
        if not self.detail.display:
            self._lower_right(self.detail, self.detail)

    # -- tracks ---------------------------------------------------------------------

    def _here(self) -> Track | None:
        """The track under the cursor; None (and a warning) when there is none."""
        here = self.grid.current()
        if here is None:
            self.notify("no tracks yet: t adds one", severity="warning")
            return None
        return here[0]

    def _go_to_track(self, name: str) -> None:
        names = [t.name for t in self.session.pattern.tracks]
        if name in names:
            self.grid.track_index = names.index(name)
            self.grid.refresh()
            self._cursor_moved()

    def action_add_track(self) -> None:
        tracks = self.session.pattern.tracks
        if len(tracks) >= MAX_TRACKS:
            self.notify(f"already {MAX_TRACKS} tracks, the most a pattern holds: remove one first (D)",
                        severity="error")
            return

        def named(text: str | None) -> None:
            name = (text or "").strip()
            if not name:
                return
            if any(t.name == name for t in self.session.pattern.tracks):
                self.notify(f"there is already a track named “{name}”", severity="error")
                return
            used = {t.voice for t in self.session.pattern.tracks}
            free = next((voice for voice in VOICES if voice not in used), VOICES[0])
            self.push_screen(ChoiceScreen(f"Voice for “{name}”", VOICES, free),
                             lambda voice: voice and self._add_track(name, voice))

        self.push_screen(PromptScreen("New track name", placeholder="e.g. kick"), named)

    def _add_track(self, name: str, voice: str) -> None:
        if self._call(self.session.add_track, name, voice, "." * 16) is not None:
            self._go_to_track(name)

    def action_remove_track(self) -> None:
        if (track := self._here()) is None:
            return
        self._call(self.session.remove_track, track.name)
        if all(t.name != track.name for t in self.session.pattern.tracks):
            self.notify(f"Removed track “{track.name}” (u brings it back)")

    def action_rename_track(self) -> None:
        if (track := self._here()) is None:
            return

        def answered(text: str | None) -> None:
            name = (text or "").strip()
            if name and name != track.name:
                self._call(self.session.rename_track, track.name, name)

        self.push_screen(PromptScreen(f"Rename track “{track.name}”", track.name), answered)

    def action_track_voice(self) -> None:
        if (track := self._here()) is None:
            return
        self.push_screen(ChoiceScreen(f"Voice for “{track.name}”", VOICES, track.voice),
                         lambda voice: voice and self._call(self.session.set_voice, track.name, voice))

    def action_duplicate_track(self) -> None:
        if (track := self._here()) is not None and (copy := self._call(self.session.duplicate_track,
                                                                        track.name)) is not None:
            self._go_to_track(copy.name)

    def action_clear_track(self) -> None:
        if (track := self._here()) is not None:
            self._call(self.session.clear_track, track.name)

    def action_new_pattern(self) -> None:
        live = self.session.pattern
        self._call(self.session.apply_snapshot, Pattern(bpm=live.bpm, swing=live.swing), "now")

    # -- copy and paste -----------------------------------------------------------------

    def action_mark(self) -> None:
        self.grid.toggle_mark()

    def action_extend(self, steps: int) -> None:
        self.grid.extend(steps)
        self._cursor_moved()

    def _copied(self, clipboard: Clipboard) -> None:
        self.copied = self.grid.clipboard = clipboard
        self.grid.mark = None
        self.grid.refresh()

    def action_copy_steps(self) -> None:
        if (track := self._here()) is not None:
            first, last = self.grid.marked() or (self.grid.step_index, self.grid.step_index)
            self._copied(Clipboard.of_steps(track, first, last))

    def action_copy_track(self) -> None:
        if (track := self._here()) is not None:
            self._copied(Clipboard.of_track(track))

    def action_copy_pattern(self) -> None:
        self._copied(Clipboard.of_pattern(self.session.pattern))

    def action_paste(self) -> None:
        """Steps go in at the cursor, a track over the cursor's track (its steps and length;
        name, voice and mix stay), a pattern over the live one. Each paste is one undo."""
        clip = self.copied
        if clip is None:
            self.notify("nothing copied yet: c copies steps, C a track, W the pattern", severity="warning")
            return
        if clip.pattern is not None:
            self._call(self.session.apply_snapshot, clip.pattern, "now")
            return
        if (track := self._here()) is None:
            return
        session, name, steps = self.session, track.name, list(clip.steps)
        try:
            with session.edit_group(UI_SOURCE, f"paste {clip.describe()} onto {name}"):
                if clip.track is not None:  # the whole track: from its first step, at its length
                    session.clear_track(name, source=UI_SOURCE)
                    session.set_length(name, len(steps), source=UI_SOURCE)
                pasted = session.paste_steps(name, 0 if clip.track else self.grid.step_index, steps,
                                             source=UI_SOURCE)
        except SessionError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        if pasted < len(steps):
            self.notify(f"pasted {pasted} of {len(steps)} steps: “{name}” ends at step {track.length}",
                        severity="warning")

    # -- parameters -----------------------------------------------------------------

    def action_select_param(self, delta: int) -> None:
        self.params.move(delta)

    def action_nudge(self, direction: int, coarse: bool = False) -> None:
        row = self.params.current()
        if row.module != TRACK:
            self._call(self.session.nudge_param, row.module, row.spec.name, direction, coarse)
            return
        self._edit_track(self._track_setter(row),
                         lambda track: step_value(row.spec, getattr(track, row.spec.name), direction, coarse))

    def _track_setter(self, row: ParamRow) -> Callable[..., Any]:
        return {"level": self.session.set_level, "gate": self.session.set_gate}[row.spec.name]

    # -- typed values -----------------------------------------------------------------

    def action_type_value(self) -> None:
        """`=`: type the selected parameter (Sound panel), the step's note (Pattern panel), the
        step detail's field or the tempo; a leading word picks another target. Bad text changes
        nothing."""
        row = self.params.current()
        empty = False  # whether an empty answer means something (no condition)
        if self.detail.has_focus and (step := self.detail.here()) is not None:
            field = self.detail.current()
            try:
                default, question = FIELD, self._field_question(step[0], field)
            except PatternError as exc:  # a lock its voice cannot take: nothing to type
                self.notify(str(exc), severity="error", timeout=8)
                return
            shown = field_text(step[0], step[2], field, self.preferences.flats)
            empty = field.field == COND
        elif self.params.has_focus:
            default, question = PARAM, f"{row.module} {row.spec.name}: {expected(row.spec)}"
            shown = format_value(row.spec, self.params.value(row), self.preferences.flats)
        elif self.grid.has_focus and (here := self.grid.current()) is not None:
            default, question = NOTE, "Note for the step: a name like Eb2, MIDI 0–127 or Hz"
            shown = step_note(here[0].steps[here[1]], self.preferences.flats)
        else:
            default, question = BPM, f"Tempo: {expected(BPM_SPEC)}"
            shown = f"{self.session.pattern.bpm:g}"

        def answered(text: str | None) -> None:
            if text is not None and (text.strip() or empty):
                self._enter(split_entry(text, default), row)

        self.push_screen(PromptScreen(f"{question} (or bpm/swing/length/note/seed N)", placeholder=shown),
                         answered)

    def action_type_seed(self) -> None:
        """Type the live pattern's seed: a new set of probability rolls, one undo."""
        def answered(text: str | None) -> None:
            if text is not None and text.strip():
                self._enter(Entry(SEED, text), self.params.current())

        self.push_screen(PromptScreen(f"Seed of the pattern's probability rolls: {expected(SEED_SPEC)}",
                                      placeholder=str(self.session.pattern.seed)), answered)

    def _enter(self, entry: Entry, row: ParamRow) -> None:
        try:
            if entry.target == PARAM:
                value = parse_value(row.spec, entry.text)
                if row.module == TRACK:
                    self._edit_track(self._track_setter(row), lambda _: value)
                else:
                    self._call(self.session.set_param, row.module, row.spec.name, value)
            elif entry.target == NOTE:
                note = parse_note(entry.text)
                self._edit_step(lambda _: {"note": note})
            elif entry.target == FIELD:
                self._enter_field(entry.text)
            elif entry.target == LENGTH:
                length = parse_value(LENGTH_SPEC, entry.text)
                self._edit_track(self.session.set_length, lambda _: int(length))
            elif entry.target == SEED:
                self._call(self.session.set_seed, int(parse_value(SEED_SPEC, entry.text)))
            else:
                setter = {BPM: self.session.set_bpm, SWING: self.session.set_swing}[entry.target]
                self._call(setter, parse_value(TARGET_SPECS[entry.target], entry.text))
        except PatternError as exc:
            self.notify(str(exc), severity="error", timeout=8, markup=False)

    @staticmethod
    def _field_question(track: Track, row: DetailRow) -> str:
        if row.lock is not None:
            return f"Lock {row.lock} on the step: {expected(lock_spec(track.voice, row.lock))}"
        if row.field == COND:
            return "Condition: A:B (1 ≤ A ≤ B ≤ 8), FILL, PRE, NEI, 1ST, each with ! to negate; empty: always"
        if row.field == MICRO:
            return f"Step micro, in 24ths of a step: {expected(MICRO_SPEC)} (−5 or −5/24)"
        return f"Step {LABELS[row.field]}: {expected(OPTION_SPECS[row.field])}"

    def _enter_field(self, text: str) -> None:
        """A typed value for the step detail's selected field: one Session call."""
        if (here := self._detail_step()) is None:
            return
        track, index, _ = here
        row = self.detail.current()
        if row.lock is not None:
            value = parse_value(lock_spec(track.voice, row.lock), text)
            self._call(self.session.set_step_lock, track.name, index, row.lock, value)
        else:
            if row.field == COND:
                value: int | str | None = condition_from_text(text)
            elif row.field == MICRO:
                value = parse_micro(text)
            else:
                value = int(parse_value(OPTION_SPECS[row.field], text))
            self._call(self.session.set_step_options, track.name, index, {row.field: value})

    def action_toggle_flats(self) -> None:
        """Name notes with flats or sharps everywhere on screen, and keep the choice for the
        next run; a settings file that cannot be written leaves it for this run, said once."""
        self.preferences.flats = not self.preferences.flats
        self.grid.refresh()
        self.params.refresh()
        self.detail.refresh()
        naming = "flats (Eb)" if self.preferences.flats else "sharps (D#)"
        self._keep_preferences(f"notes shown with {naming}")

    def _keep_preferences(self, shown: str) -> None:
        """Save the preferences and say `shown`; a settings file that cannot be written keeps
        the choice for this run, said once."""
        try:
            save_preferences(self.config, self.preferences)
        except OSError as exc:
            log.warning("settings not saved in %s: %s", self.config, exc)
            if not self._settings_unsaved:
                self._settings_unsaved = True
                self.notify(f"{shown} for this run: settings not saved in {self.config}: "
                            f"{exc.strerror or exc}", severity="warning", timeout=10)
                return
            shown += " for this run"
        self.notify(shown)

    # -- edit history -----------------------------------------------------------------

    def action_undo(self, everyone: bool = False) -> None:
        self._call(self.session.undo, everyone=everyone)

    def action_redo(self, everyone: bool = False) -> None:
        self._call(self.session.redo, everyone=everyone)

    # -- app ------------------------------------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(strip_text(self.slots, HELP_STRIP_WIDTH, labels=True)))

    async def action_quit(self) -> None:
        await self._stop_osc()
        self.exit(0)
