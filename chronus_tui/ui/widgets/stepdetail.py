"""Step detail: the grid cursor's step in full (on, accent, note, slide, probability, trig
condition, micro-timing, ratchets and parameter locks), in the Sound panel's place while it
is open; its keys (actions.DETAIL) edit the field under its cursor, one Session call each.

What it draws comes from the live pattern, which a file or OSC may have filled: a lock the
track's voice cannot take, or a value no format expects, is drawn as it is, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.markup import escape

from chronus_tui.model import (
    ACID_MODULE,
    CONDITION_NAMES,
    MAX_CYCLE,
    MAX_LOCKS,
    MICRO_DIVISIONS,
    MICRO_SPEC,
    PROB_SPEC,
    RATCHET_SPEC,
    VOICES,
    ParamSpec,
    Pattern,
    PatternError,
    Step,
    Track,
    lock_spec,
    lockable_params,
)
from chronus_tui.session import Change, ChangeKind, Session
from chronus_tui.ui.actions import ACTIONS, DETAIL, bindings, key_display
from chronus_tui.ui.literal import drawn, literal
from chronus_tui.ui.preferences import Preferences
from chronus_tui.ui.widgets.grid import StepGrid, micro_text, step_note
from chronus_tui.ui.widgets.panel import RowCursor, SessionPanel
from chronus_tui.ui.widgets.params import format_value

PROB, COND, MICRO, RATCHET = "prob", "cond", "micro", "ratchet"
OPTIONS = (PROB, COND, MICRO, RATCHET)  # the step's own fields, above its locks
OPTION_SPECS: dict[str, ParamSpec] = {PROB: PROB_SPEC, MICRO: MICRO_SPEC, RATCHET: RATCHET_SPEC}
LABELS = {PROB: "probability", COND: "condition", MICRO: "micro", RATCHET: "ratchet"}
# A coarse step: 10 % of probability, a quarter of a step of micro-timing.
COARSE = {PROB: 10, MICRO: MICRO_DIVISIONS // 4}
# The conditions in the order ← and → go through them: always, every A:B (1:1 is always,
# so it is left out), then the named ones.
CONDITIONS: tuple[str | None, ...] = (
    None, *(f"{a}:{b}" for b in range(2, MAX_CYCLE + 1) for a in range(1, b + 1)), *CONDITION_NAMES)
# The values' column: after the longest lock name (acid1/res_accent_boost) and a space; a
# longer name (which no voice has, but a pattern built in code may) is cut to fit.
MAX_LOCK_NAME = max(len(key) for voice in VOICES for key in lockable_params(voice))
LABEL_WIDTH = MAX_LOCK_NAME + 1
TRACK_MIX = frozenset({"mute", "solo", "level", "gate"})  # a track's fields the panel does not show
MAX_VALUE = 24  # a value is cut here: a file may hold a number hundreds of digits long


@dataclass(frozen=True)
class DetailRow:
    """A row the cursor can be on: one of OPTIONS, or the lock of `lock`."""

    field: str
    lock: str | None = None


def cycle_condition(cond: str | None, direction: int) -> str | None:
    """The condition after (direction 1) or before (-1) `cond` in CONDITIONS, wrapping round;
    a condition not in the cycle (1:1) goes on from always."""
    index = CONDITIONS.index(cond) if cond in CONDITIONS else 0
    return CONDITIONS[(index + direction) % len(CONDITIONS)]


def stepped_option(step: Step, field: str, direction: int, coarse: bool = False) -> int | str | None:
    """The value of the step's `field` one fine (or coarse) step up or down, kept in range:
    probability by 1 % (10 %), micro by 1/24 (6/24), ratchets by one (doubled or halved),
    the condition to the next one either way."""
    if field == COND:
        return cycle_condition(step.cond, direction)
    spec = OPTION_SPECS[field]
    value = getattr(step, field)
    if field == RATCHET and coarse:
        moved = value * 2 if direction > 0 else value // 2
    else:
        moved = value + direction * (COARSE[field] if coarse else 1)
    return int(spec.clamp(moved)[0])


def voice_value(pattern: Pattern, voice: str, key: str) -> float:
    """The track's own value of lock `key` (its voice's, or acid1's): where a new lock starts."""
    module = ACID_MODULE if key.startswith(ACID_MODULE + "/") else voice
    return pattern.modules[module][lock_spec(voice, key).name]


def option_text(step: Step, field: str) -> str:
    if field == PROB:
        return f"{step.prob} %"
    if field == COND:
        return "always" if step.cond is None else literal(str(step.cond), MAX_VALUE)
    if field == MICRO:
        return micro_text(step.micro)
    return "1 (no ratchet)" if step.ratchet == 1 else f"{step.ratchet} hits"


def lock_value_text(voice: str, key: str, value: object, flats: bool = False) -> str:
    """A lock's value as the Sound panel shows its parameter (A5 880 Hz, 0.8, 0.2 s); a lock
    the voice cannot take or a value that is no number in range, as it is, cut to MAX_VALUE."""
    try:
        spec = lock_spec(voice, key)
    except PatternError:
        return f"{literal(repr(value), MAX_VALUE)} (not a lock of {voice})"
    try:
        text = format_value(spec, value, flats)  # type: ignore[arg-type]
    except (ArithmeticError, TypeError, ValueError):
        text = repr(value)
    return literal(text, MAX_VALUE)


def field_text(track: Track, step: Step, row: DetailRow, flats: bool = False) -> str:
    """The value of a row as the panel shows it (and the `=` prompt offers it)."""
    if row.lock is None:
        return option_text(step, row.field)
    return lock_value_text(track.voice, row.lock, step.locks.get(row.lock), flats)


class StepDetail(SessionPanel, RowCursor[DetailRow], can_focus=True):
    """The step under the grid's cursor; `selected` is the row its keys edit."""

    BINDINGS = bindings(DETAIL)
    REDRAW_ON = frozenset({ChangeKind.PATTERN, ChangeKind.TRACKS, ChangeKind.TRACK, ChangeKind.SEED})

    def __init__(self, session: Session, grid: StepGrid, preferences: Preferences, *,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.session = session
        self.grid = grid  # whose cursor it follows
        self.preferences = preferences  # the app's: how notes are named
        self.selected = 0

    def on_mount(self) -> None:
        self.border_subtitle = " · ".join(f"{key_display(a.keys[0])} {SUBTITLE[a.action]}"
                                          for a in ACTIONS if a.action in SUBTITLE)

    def redraws_on(self, change: Change) -> bool:
        # Of a track it shows the steps, name and voice, not its mix.
        return super().redraws_on(change) and not (
            change.kind == ChangeKind.TRACK and TRACK_MIX & change.data.keys())

    def here(self) -> tuple[Track, int, Step] | None:
        """The track, index and step under the grid's cursor; None without tracks."""
        here = self.grid.current()
        if here is None:
            return None
        track, index = here
        return track, index, track.steps[index]

    def rows(self) -> list[DetailRow]:
        here = self.here()
        locks = list(here[2].locks) if here is not None else []
        return [DetailRow(field) for field in OPTIONS] + [DetailRow("lock", key) for key in locks]

    def select_lock(self, key: str) -> None:
        """Put the cursor on the lock of `key` (one just added)."""
        rows = self.rows()
        if DetailRow("lock", key) in rows:
            self.selected = rows.index(DetailRow("lock", key))
            self.refresh()

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        here = self.here()
        if here is None:
            self.border_title = "Step"
            text.append("no tracks: no step to show", style="dim")
            return drawn(text)
        track, index, step = here
        # A border title is read as markup: a track's name ("[/x]") must show as typed.
        self.border_title = f"Step {index + 1}/{track.length} · {escape(literal(track.name))} ({track.voice})"
        rows = self.rows()
        self.current()
        head = ["on" if step.on else "rest"]
        if step.accent:
            head.append("accent")
        head.append(step_note(step, self.preferences.flats))
        if step.slide:
            head.append("slide")
        text.append(" · ".join(head), style="bold")
        lines = [self._row_text(track, step, row) for row in rows]
        # Under the head line and the locks' heading: as many rows as fit, the cursor's among them.
        room = max(1, self.size.height - 2)
        top = min(max(self.selected - room + 1, 0), max(len(lines) - room, 0))
        for number in range(top, min(len(lines), top + room)):
            if number == len(OPTIONS):
                text.append(f"\nlocks {len(step.locks)}/{MAX_LOCKS}", style="dim")
            text.append("\n")
            line = lines[number]
            if number == self.selected:
                line.stylize("reverse bold" if self.has_focus else "bold underline")
            text.append_text(line)
        if not step.locks and top + room > len(OPTIONS):
            add = key_display(next(a.keys[0] for a in ACTIONS if a.action == "detail_add_lock"))
            text.append(f"\nlocks: none ({add} locks a parameter on this step)", style="dim")
        return drawn(text)

    def _row_text(self, track: Track, step: Step, row: DetailRow) -> Text:
        name = LABELS[row.field] if row.lock is None else literal(str(row.lock), MAX_LOCK_NAME)
        text = Text(f"{name:<{LABEL_WIDTH}}{field_text(track, step, row, self.preferences.flats)}")
        if row.field == PROB:  # the pattern's seed, which the roll comes from
            text.append(f" · seed {self.session.pattern.seed}", style="dim")
        return text


# The keys the panel's subtitle names, and as what (the rest are in ? and the palette).
SUBTITLE = {"detail_add_lock": "lock", "detail_clear": "remove", "type_seed": "seed", "step_detail": "close"}
