"""Step grid: a row per track, 16 steps a page, with the playhead from engine positions.

Given the height, it shows several pages one under another (all 64 steps of a long
pattern on a tall terminal); given less, one page and as many tracks as fit.
"""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Size

from chronus_tui.model import MICRO_DIVISIONS, PROB_SPEC, RATCHET_SPEC, STEPS_PER_BAR, Step, Track, note_name
from chronus_tui.session import ChangeKind, Session
from chronus_tui.ui.actions import ACTIONS, GRID, bindings, key_display
from chronus_tui.ui.clipboard import Clipboard
from chronus_tui.ui.literal import drawn, literal
from chronus_tui.ui.preferences import Preferences
from chronus_tui.ui.widgets.panel import SessionPanel

ADD_TRACK_KEY = key_display(next(a.keys[0] for a in ACTIONS if a.action == "add_track"))  # for the empty grid

NAME_WIDTH = 8
LABEL_WIDTH = NAME_WIDTH + 4  # name, space, mute and solo flags, space
TAIL_WIDTH = 4  # space and the track length
# Cell width: mark only on a narrow screen, mark + note + slide when there is room.
NARROW_CELL, WIDE_CELL = 3, 6
NOTE_WIDTH = 3  # a wide cell's note field; a detune mark or C#-1 may take one more
DETUNED_UP, DETUNED_DOWN = "⁺", "⁻"  # a note tuned off its semitone (Step.cents)
# A step with a probability, condition, micro-timing, ratchets or locks (Step.expressive):
# this mark right after its cell's text, readable without colour.
EXPRESSIVE_MARK, EXPRESSIVE_STYLE = "*", "bold magenta"
MAX_CONDITION = 8  # characters of a condition shown (a file's may be anything)


def step_mark(step: Step) -> str:
    return ("X" if step.accent else "x") if step.on else "·"


def step_note(step: Step, flats: bool) -> str:
    """The step's note as a musician reads it, with its fine tune: C4, Eb2, C4 +3.47¢."""
    if step.note is None:
        return "voice freq"
    return note_name(step.note, flats) + (f" {step.cents:+g}¢" if step.cents else "")


def cell_note(step: Step, flats: bool) -> str:
    """The note in a wide grid cell: its name, with ⁺ or ⁻ when it is tuned off the semitone
    (a four-character name, C#-1, leaves no room for the mark)."""
    if step.note is None:
        return ""
    name = note_name(step.note, flats)
    if step.cents and len(name) <= NOTE_WIDTH:
        name += DETUNED_UP if step.cents > 0 else DETUNED_DOWN
    return name


def micro_text(micro: int) -> str:
    """Micro-timing as a musician counts it: +3/24, −3/24, 0."""
    return "0" if micro == 0 else f"{micro:+d}/{MICRO_DIVISIONS}".replace("-", "−")


def expressive_summary(step: Step) -> list[str]:
    """What the step has beyond on, accent, note and slide, in a few words each (the grid's
    step line): 50 %, 1:4, micro +3/24, ×3, 2 locks."""
    parts = []
    if step.prob != PROB_SPEC.default:
        parts.append(f"{step.prob} %")
    if step.cond is not None:
        parts.append(literal(str(step.cond), MAX_CONDITION))
    if step.micro:
        parts.append(f"micro {micro_text(step.micro)}")
    if step.ratchet != RATCHET_SPEC.default:
        parts.append(f"×{step.ratchet}")
    if step.locks:
        parts.append(f"{len(step.locks)} lock{'s' if len(step.locks) > 1 else ''}")
    return parts


def step_style(step: Step) -> str:
    if not step.on:
        return "dim"
    return "bold bright_red" if step.accent else "bold cyan"


class StepGrid(SessionPanel, can_focus=True):
    """Draws the live pattern; the cursor (track, step) is what the step keys edit, and
    the steps from the mark to the cursor (on the cursor's track) what copy takes."""

    BINDINGS = bindings(GRID)
    REDRAW_ON = frozenset({ChangeKind.POSITION, ChangeKind.TRANSPORT, ChangeKind.PATTERN,
                           ChangeKind.TRACKS, ChangeKind.TRACK})
    RELAYOUT_ON = frozenset({ChangeKind.TRACKS, ChangeKind.PATTERN})  # its height follows the tracks

    def __init__(self, session: Session, preferences: Preferences, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session = session
        self.preferences = preferences  # the app's: how notes are named
        self.track_index = 0
        self.step_index = 0
        self.mark: int | None = None  # where a marked step range starts; the cursor ends it
        self.clipboard: Clipboard | None = None  # the app's, shown on the info line
        self._laid_out_pages = 0  # the page count the height was last laid out for

    def on_mount(self) -> None:
        self.border_title = "Pattern"

    # -- cursor -------------------------------------------------------------------

    def current(self) -> tuple[Track, int] | None:
        """The track and step under the cursor, kept inside the live pattern."""
        tracks = list(self.session.pattern.tracks)
        if not tracks:
            return None
        self.track_index = min(self.track_index, len(tracks) - 1)
        track = tracks[self.track_index]
        self.step_index = min(self.step_index, track.length - 1)
        return track, self.step_index

    def move(self, steps: int, tracks: int) -> None:
        count = len(self.session.pattern.tracks)
        if count:
            self.track_index = min(max(self.track_index + tracks, 0), count - 1)
            length = self.session.pattern.tracks[self.track_index].length
            self.step_index = min(max(self.step_index + steps, 0), length - 1)
        self.refresh()

    def marked(self) -> tuple[int, int] | None:
        """The first and last marked step of the cursor's track, when a range is marked."""
        here = self.current()
        if self.mark is None or here is None:
            return None
        mark = min(self.mark, here[0].length - 1)
        return min(mark, self.step_index), max(mark, self.step_index)

    def toggle_mark(self) -> None:
        self.mark = None if self.mark is not None else self.step_index
        self.refresh()

    def extend(self, steps: int) -> None:
        """Move the cursor, marking from where it was if nothing is marked yet."""
        if self.mark is None:
            self.mark = self.step_index
        self.move(steps, 0)

    def playhead(self, track: Track) -> int | None:
        """The step a track plays now, from the engine's last position event; None when stopped."""
        transport = self.session.transport
        if not transport.playing:
            return None
        return (transport.bar * STEPS_PER_BAR + transport.step) % track.length

    # -- drawing ------------------------------------------------------------------

    def pages(self) -> int:
        return max([(t.length - 1) // STEPS_PER_BAR + 1 for t in self.session.pattern.tracks] or [1])

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        # Every page with a heading row over its tracks, and the info line.
        return self.pages() * (max(1, len(self.session.pattern.tracks)) + 1) + 1

    def shown_pages(self) -> range:
        """The pages that fit the height given, the cursor's among them."""
        pages = self.pages()
        rows = max(1, self.size.height - 1)
        count = min(pages, max(1, rows // (max(1, len(self.session.pattern.tracks)) + 1)))
        first = min(self.step_index // STEPS_PER_BAR // count * count, pages - count)
        return range(first, first + count)

    def render(self) -> Text:
        tracks = list(self.session.pattern.tracks)
        here = self.current()
        width = self.size.width
        cell = WIDE_CELL if width >= LABEL_WIDTH + TAIL_WIDTH + 16 * WIDE_CELL else NARROW_CELL
        if self.pages() != self._laid_out_pages:  # a track grew or shrank past a page: new height
            self._laid_out_pages = self.pages()
            self.refresh(layout=True)
        shown = self.shown_pages()
        # One page: as many tracks as fit, scrolled to the cursor; several: every track.
        rows = max(1, self.size.height - 2) if len(shown) == 1 else len(tracks)
        top = min(max(self.track_index - rows + 1, 0), max(len(tracks) - rows, 0))
        text = Text(no_wrap=True, overflow="ellipsis")
        for page in shown:
            if page != shown[0]:
                text.append("\n")
            self._render_heading(text, page, cell, several=len(shown) > 1)
            for index in range(top, min(top + rows, len(tracks))):
                text.append("\n")
                self._render_track(text, tracks[index], index, page * STEPS_PER_BAR, cell,
                                   self.playhead(tracks[index]))
        if not tracks:
            text.append(f"\nno tracks: {ADD_TRACK_KEY} adds one (or /seq/add over OSC), or load a slot",
                        style="dim")
        text.append("\n")
        if here is not None:
            self._render_info(text, *here)
        elif self.clipboard is not None:
            text.append(f"clipboard: {self.clipboard.describe()}", style="italic")
        return drawn(text)

    def _render_heading(self, text: Text, page: int, cell: int, *, several: bool) -> None:
        # "MS" heads the mute and solo flags of the rows below.
        pages = self.pages()
        text.append(f"{f'page {page + 1}/{pages}':<{NAME_WIDTH + 1}}MS ", style="dim")
        transport = self.session.transport
        # Pages under one another: the bar marker only over the page the longest track plays.
        here = transport.playing and (not several or transport.bar % pages == page)
        bar_step = transport.step if here else None
        first = page * STEPS_PER_BAR
        for i in range(first, first + STEPS_PER_BAR):
            if i % STEPS_PER_BAR == bar_step:  # where the bar is now, readable without colour
                text.append(f"{'▼':<{cell}}", style="bold green")
            else:
                text.append(f"{i + 1:<{cell}}" if i % 4 == 0 else " " * cell, style="dim")

    def _render_track(self, text: Text, track: Track, index: int, first: int, cell: int,
                      playhead: int | None) -> None:
        selected = index == self.track_index
        text.append(f"{track.name[:NAME_WIDTH]:<{NAME_WIDTH}} ",
                    style="bold reverse" if selected and self.has_focus else "bold" if selected else "")
        text.append("M" if track.mute else "·", style="bold red" if track.mute else "dim")
        text.append("S" if track.solo else "·", style="bold yellow" if track.solo else "dim")
        text.append(" ")
        steps = track.steps
        marked = self.marked() if selected else None
        for i in range(first, first + STEPS_PER_BAR):
            if i >= len(steps):
                text.append(" " * cell)
                continue
            step = steps[i]
            body = step_mark(step)
            if cell == WIDE_CELL:
                body += f"{cell_note(step, self.preferences.flats):<{NOTE_WIDTH}}"
            slide = "~" if step.slide else ""
            style = step_style(step)
            if track.mute:
                style = "dim"
            if i == playhead:
                style += " on dark_green"
            elif (i // 4) % 2:
                style += " on grey19"
            if marked is not None and marked[0] <= i <= marked[1]:
                style += " underline on dark_blue"
            if selected and i == self.step_index:
                style += " reverse"
            if step.expressive:  # right after what the cell shows; a full cell gives up a note letter, not ~
                body = body[:cell - 1 - len(slide)] + slide if slide else body.rstrip()[:cell - 1]
                text.append(body, style=style)
                text.append(EXPRESSIVE_MARK, style=f"{style} {EXPRESSIVE_STYLE}")
                text.append(" " * (cell - len(body) - 1), style=style)
            else:
                text.append(f"{body + (slide or ' '):<{cell}}", style=style)
        text.append(f" {track.length:>3}", style="dim")

    def _render_info(self, text: Text, track: Track, index: int) -> None:
        step = track.steps[index] if index < track.length else Step()
        parts = [f"{track.name} ({track.voice})", f"step {index + 1}/{track.length}",
                 "on" if step.on else "rest"]
        if step.accent:
            parts.append("accent")
        parts.append(step_note(step, self.preferences.flats))
        if step.slide:
            parts.append("slide")
        parts += expressive_summary(step)
        parts.append(f"level {track.level:.2f}")
        if (marked := self.marked()) is not None:
            parts.append(f"marked {marked[0] + 1}–{marked[1] + 1}")
        if self.clipboard is not None:
            parts.append(f"clipboard: {self.clipboard.describe()}")
        text.append(" · ".join(parts), style="italic")
