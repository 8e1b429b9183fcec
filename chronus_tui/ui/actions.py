"""The one registry of UI actions.

It feeds the key bindings (app-wide and per panel), the command palette and the
help screen, so a key shown anywhere is the key that works. Every action is an
`action_*` method of ChronusApp; panel bindings call it through the "app."
namespace, so the palette can run any of them from anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from textual.binding import Binding
from textual.keys import format_key

from chronus_tui.store import BANKS

APP, GRID, SLOTS, PARAMS, PERFORM, SONG = "app", "grid", "slots", "params", "perform", "song"
DETAIL = "detail"
# Where a scoped action works: the panel (by its border title) that must have focus.
SCOPE_PANELS = {APP: "anywhere", GRID: "Pattern panel", SLOTS: "Slots panel", PARAMS: "Sound panel",
                PERFORM: "Perform strip", SONG: "Song view", DETAIL: "Step detail"}
# Perform keys: the bank's 16 pads on two letter rows (shift: load now), the 8 banks on digits.
# Letters, not digits or symbols, for the pads: shift+letter is the same key on every layout.
PAD_ROWS = (tuple("qwertyui"), tuple("asdfghjk"))
PAD_KEYS = PAD_ROWS[0] + PAD_ROWS[1]
BANK_KEYS = tuple("12345678")
# In the slot browser a digit gives the chain's last entry that many plays (×1–×9).
REPEAT_KEYS = tuple("123456789")
# What the help screen and README show for an action with no key: run it from the palette.
PALETTE_ONLY = "(palette)"


@dataclass(frozen=True)
class UiAction:
    action: str                  # what Textual runs: an app action with its arguments
    keys: tuple[str, ...]        # Textual key names; none: only the palette runs it
    title: str                   # short label: footer, palette, help
    group: str                   # heading in the help screen
    scope: str = APP             # APP: works anywhere; otherwise only while that panel has focus
    footer: str = ""             # a short label if the footer shows it
    # A row of keys, one action each: `{index}` in action is the key's place (`first` for the
    # first key), `{place}` in title its name (places[index], else index + 1; on the row, the
    # whole range).
    per_key: bool = False
    first: int = 0
    places: tuple[str, ...] = ()

    @property
    def keys_display(self) -> str:
        return " ".join(key_display(key) for key in self.keys) or PALETTE_ONLY

    @property
    def row_title(self) -> str:
        """The title on the help screen and in the README: a key row names its whole range."""
        if not self.per_key:
            return self.title
        last = self.first + len(self.keys) - 1
        return self.title.format(place=f"{self._place(self.first)}–{self._place(last)}")

    def _place(self, index: int) -> str:
        return self.places[index] if self.places else str(index + 1)

    def each_key(self) -> list[UiAction]:
        """The actions this entry binds: itself, or one plain action per key of a row."""
        if not self.per_key:
            return [self]
        return [replace(self, action=self.action.format(index=index), keys=(key,), per_key=False,
                        title=self.title.format(place=self._place(index)))
                for index, key in enumerate(self.keys, self.first)]

    def binding(self) -> Binding:
        action = self.action if self.scope == APP else f"app.{self.action}"
        return Binding(",".join(self.keys), action, self.footer or self.title, show=bool(self.footer),
                       key_display=self.keys_display)


ACTIONS: tuple[UiAction, ...] = (
    # Transport
    UiAction("play_stop", ("space",), "Play / stop", "Transport", footer="Play"),
    UiAction("bpm(1)", ("plus",), "Tempo +1 BPM", "Transport"),
    UiAction("bpm(-1)", ("minus",), "Tempo −1 BPM", "Transport"),
    UiAction("bpm(10)", ("asterisk",), "Tempo +10 BPM", "Transport"),
    UiAction("bpm(-10)", ("slash",), "Tempo −10 BPM", "Transport"),
    UiAction("swing(0.05)", ("right_parenthesis",), "Swing +0.05", "Transport"),
    UiAction("swing(-0.05)", ("left_parenthesis",), "Swing −0.05", "Transport"),
    UiAction("record", ("ctrl+r",), "Record the set / stop recording", "Transport"),
    # A terminal sends no key release, so fill is a toggle rather than a key held down.
    UiAction("fill", ("f",), "Fill mode on / off (a toggle: no hold, terminals send no key release)",
             "Transport"),
    # Slots
    UiAction("load(None)", ("enter",), "Load slot at the next bar (or as Q sets)", "Slots",
             footer="Load@bar"),
    UiAction("load('now')", ("L", "shift+enter"), "Load slot now", "Slots"),
    UiAction("save", ("S",), "Save to slot", "Slots", footer="Save"),
    UiAction("rename", ("R",), "Rename slot", "Slots", footer="Rename"),
    UiAction("cancel_queued", ("escape",), "Cancel queued load", "Slots"),
    UiAction("select_slot(-1)", ("left_square_bracket",), "Previous slot", "Slots"),
    UiAction("select_slot(1)", ("right_square_bracket",), "Next slot", "Slots"),
    UiAction("select_slot(-16)", ("left_curly_bracket",), "Previous bank", "Slots"),
    UiAction("select_slot(16)", ("right_curly_bracket",), "Next bank", "Slots"),
    UiAction("goto_slot", ("g",), "Go to slot (A01–H16 or 1–128)", "Slots"),
    UiAction("follow", ("F",), "Follow action of the playing pattern (4 next, 2 slot A03, off)", "Slots",
             SLOTS),
    UiAction("select_slot(-1)", ("left",), "Slot left", "Slots panel", SLOTS),
    UiAction("select_slot(1)", ("right",), "Slot right", "Slots panel", SLOTS),
    UiAction("select_slot(-16)", ("up",), "Bank up", "Slots panel", SLOTS),
    UiAction("select_slot(16)", ("down",), "Bank down", "Slots panel", SLOTS),
    # Perform: the bank strip's keys, live while it has focus
    UiAction("perform", ("f2",), "Perform keys on / off", "Perform"),
    *(UiAction("perform_pad({index}, 'bar')", row, "Queue pad {place} for the next bar", "Perform",
               PERFORM, per_key=True, first=first) for first, row in ((0, PAD_ROWS[0]), (8, PAD_ROWS[1]))),
    *(UiAction("perform_pad({index}, 'now')", tuple(key.upper() for key in row), "Load pad {place} now",
               "Perform", PERFORM, per_key=True, first=first)
      for first, row in ((0, PAD_ROWS[0]), (8, PAD_ROWS[1]))),
    UiAction("perform_bank({index})", BANK_KEYS, "Bank {place}", "Perform", PERFORM, per_key=True,
             places=tuple(BANKS)),
    # Step grid
    UiAction("cursor(-1, 0)", ("left",), "Step left", "Step grid", GRID),
    UiAction("cursor(1, 0)", ("right",), "Step right", "Step grid", GRID),
    UiAction("cursor(0, -1)", ("up",), "Track up", "Step grid", GRID),
    UiAction("cursor(0, 1)", ("down",), "Track down", "Step grid", GRID),
    UiAction("cursor(-16, 0)", ("pageup",), "Previous page", "Step grid", GRID),
    UiAction("cursor(16, 0)", ("pagedown",), "Next page", "Step grid", GRID),
    UiAction("toggle_step", ("x",), "Toggle step", "Step grid"),
    UiAction("toggle_accent", ("a",), "Accent", "Step grid"),
    UiAction("toggle_slide", ("s",), "Slide", "Step grid"),
    UiAction("note(1)", ("k",), "Note +1 semitone", "Step grid"),
    UiAction("note(-1)", ("j",), "Note −1 semitone", "Step grid"),
    UiAction("note(12)", ("K",), "Note +1 octave", "Step grid"),
    UiAction("note(-12)", ("J",), "Note −1 octave", "Step grid"),
    UiAction("clear_note", ("backspace", "delete"), "Clear note (voice freq)", "Step grid"),
    UiAction("toggle_mute", ("m",), "Mute track", "Step grid"),
    UiAction("toggle_solo", ("o",), "Solo track", "Step grid"),
    UiAction("length(1)", ("full_stop",), "Track length +1", "Step grid"),
    UiAction("length(-1)", ("comma",), "Track length −1", "Step grid"),
    UiAction("length(16)", ("greater_than_sign",), "Track length +16", "Step grid"),
    UiAction("length(-16)", ("less_than_sign",), "Track length −16", "Step grid"),
    # Step detail: the cursor's step in full, in the Sound panel's place; each key one edit
    UiAction("step_detail", ("i",), "Step detail on / off: probability, condition, micro, ratchet, locks",
             "Step detail"),
    UiAction("detail_select(-1)", ("up",), "Previous field", "Step detail", DETAIL),
    UiAction("detail_select(1)", ("down",), "Next field", "Step detail", DETAIL),
    UiAction("detail_change(1)", ("right",), "Value up (fine: 1 %, 1/24, the next condition)", "Step detail",
             DETAIL),
    UiAction("detail_change(-1)", ("left",), "Value down (fine)", "Step detail", DETAIL),
    UiAction("detail_change(1, True)", ("shift+right",), "Value up (coarse: 10 %, 6/24, ratchets ×2)",
             "Step detail", DETAIL),
    UiAction("detail_change(-1, True)", ("shift+left",), "Value down (coarse)", "Step detail", DETAIL),
    UiAction("detail_add_lock", ("n",), "Lock a parameter on the step (from the voice's value)",
             "Step detail", DETAIL),
    UiAction("detail_clear", ("z",), "Remove the lock (or reset the field)", "Step detail",
             DETAIL),
    # Tracks: removing asks nothing, since u takes it back
    UiAction("add_track", ("t",), "Add a track (name, then voice)", "Tracks"),
    UiAction("remove_track", ("D",), "Remove track (u undoes)", "Tracks"),
    UiAction("rename_track", ("T",), "Rename track", "Tracks"),
    UiAction("track_voice", ("v",), "Change the track's voice", "Tracks"),
    UiAction("duplicate_track", ("d",), "Duplicate track", "Tracks"),
    UiAction("clear_track", ("e",), "Clear the track's steps", "Tracks"),
    UiAction("new_pattern", ("ctrl+n",), "New empty pattern (keeps tempo)", "Tracks"),
    # Copy and paste: the clipboard outlives a load
    UiAction("mark", ("b",), "Mark / unmark a step range", "Copy and paste"),
    UiAction("extend(-1)", ("shift+left",), "Mark and extend left", "Copy and paste", GRID),
    UiAction("extend(1)", ("shift+right",), "Mark and extend right", "Copy and paste", GRID),
    UiAction("copy_steps", ("c",), "Copy marked steps (or the step)", "Copy and paste"),
    UiAction("copy_track", ("C",), "Copy track", "Copy and paste"),
    UiAction("copy_pattern", ("W",), "Copy the whole pattern", "Copy and paste"),
    UiAction("paste", ("p",), "Paste at the cursor (a pattern: replaces it)", "Copy and paste"),
    # Parameters
    UiAction("select_param(-1)", ("up",), "Previous parameter", "Sound panel", PARAMS),
    UiAction("select_param(1)", ("down",), "Next parameter", "Sound panel", PARAMS),
    # Fine and coarse steps follow the parameter (model.step_value): a semitone and an octave
    # for a pitch, 10 % and ×2 for a time or a rate, 1 % and 10 % of the range otherwise.
    UiAction("nudge(1)", ("right",), "Parameter up (fine: a semitone, 10 % of a time)", "Sound panel",
             PARAMS),
    UiAction("nudge(-1)", ("left",), "Parameter down (fine)", "Sound panel", PARAMS),
    UiAction("nudge(1, True)", ("shift+right",), "Parameter up (coarse: an octave, ×2 a time)",
             "Sound panel", PARAMS),
    UiAction("nudge(-1, True)", ("shift+left",), "Parameter down (coarse)", "Sound panel", PARAMS),
    UiAction("type_value", ("equals_sign",),
             "Type a value: parameter, step note/field, BPM; or bpm/swing/length/note/seed N",
             "Values"),
    UiAction("type_seed", ("number_sign",), "Type the pattern's seed (its probability rolls)", "Values"),
    UiAction("toggle_flats", (), "Show notes with flats / sharps", "Values"),
    # Chains: slots marked in the browser, in order, play one after another
    UiAction("chain_add", ("l",), "Add the slot to the chain (again: once more)", "Chains", SLOTS),
    UiAction("chain_repeats({index})", REPEAT_KEYS, "The chain's last entry plays ×{place}", "Chains",
             SLOTS, per_key=True, first=1, places=tuple("0123456789")),
    UiAction("chain_type_repeats", ("X",), "Type the last entry's plays (1–64)", "Chains", SLOTS),
    UiAction("chain_remove_last", ("z",), "Take the last entry off the chain", "Chains", SLOTS),
    UiAction("chain_clear", ("Z",), "Clear the chain", "Chains", SLOTS),
    UiAction("chain_start", ("P",), "Play the chain from the next launch line", "Chains"),
    UiAction("chain_stop", ("O",), "Stop the chain (its pattern plays on)", "Chains"),
    UiAction("cycle_quantize", ("Q",), "Launch quantize: bar, 2, 4, 8 bars, the pattern's end", "Chains"),
    # Song view: the chain's entries with their tempo and mutes, in place of the Sound panel
    UiAction("song_view", ("f3",), "Song view on / off", "Song"),
    UiAction("song_cursor(-1)", ("up",), "Entry up", "Song", SONG),
    UiAction("song_cursor(1)", ("down",), "Entry down", "Song", SONG),
    UiAction("song_repeats(1)", ("right",), "Plays +1", "Song", SONG),
    UiAction("song_repeats(-1)", ("left",), "Plays −1", "Song", SONG),
    UiAction("song_tempo", ("B",), "BPM of the entry (empty: the slot's own)", "Song", SONG),
    UiAction("song_mute", ("M",), "Mute / unmute one of the entry's tracks", "Song", SONG),
    UiAction("song_move(-1)", ("shift+up",), "Move the entry up", "Song", SONG),
    UiAction("song_move(1)", ("shift+down",), "Move the entry down", "Song", SONG),
    UiAction("song_delete", ("z",), "Take the entry off", "Song", SONG),
    UiAction("song_loop", ("l",), "Loop / play once and stop", "Song", SONG),
    UiAction("song_save", ("w",), "Write the chain as a song (name)", "Song", SONG),
    UiAction("song_load", ("r",), "Read a song into the chain", "Song", SONG),
    # Edit history: the keyboard undoes and redoes its own edits, the palette anyone's
    UiAction("undo", ("u", "ctrl+z"), "Undo your last edit", "Edit history"),
    UiAction("redo", ("U", "ctrl+y"), "Redo your last undone edit", "Edit history"),
    UiAction("undo(True)", (), "Undo everyone's last edit", "Edit history"),
    UiAction("redo(True)", (), "Redo everyone's last undone edit", "Edit history"),
    # App
    UiAction("focus_next", ("tab",), "Next panel", "App"),
    UiAction("focus_previous", ("shift+tab",), "Previous panel", "App"),
    UiAction("help", ("question_mark",), "Help", "App", footer="Help"),
    UiAction("command_palette", ("ctrl+p",), "Command palette", "App"),
    UiAction("quit", ("q", "ctrl+q"), "Quit", "App", footer="Quit"),
)


def bindings(scope: str) -> list[Binding]:
    return [each.binding() for a in ACTIONS if a.scope == scope and a.keys for each in a.each_key()]


def key_display(key: str) -> str:
    """How a key is written on screen and in the README: shift+→, ctrl+p, ⏎."""
    return "+".join(format_key(part) for part in key.split("+"))


def keys_table() -> str:
    """The key bindings as a Markdown table, for the README."""
    lines = ["| Keys | Action | Works |", "|---|---|---|"]
    for a in ACTIONS:
        keys = " / ".join(f"`{key_display(k)}`" for k in a.keys) or PALETTE_ONLY
        where = SCOPE_PANELS[a.scope] + ("" if a.scope == APP else " focused")
        lines.append(f"| {keys} | {a.row_title} | {where} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # `python -m chronus_tui.ui.actions` prints the README's key table
    print(keys_table(), end="")
