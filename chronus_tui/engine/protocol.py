"""What crosses the pipe between the control process and the synth process: one place.

Both ends are our own processes, so the objects are pickled as they are (wire.py) and
trusted: a command's `Pattern` or `Track` was validated where it came in (a file, OSC,
the keyboard) and is not checked again on the way. Every object is frozen; the Session
puts a copy of its live pattern or track in a command, never the one it goes on editing.

Commands, control → synth, applied at the start of an audio block in the order sent:

    ReplacePattern(pattern, mode, token, every)
                                          "edit": the live pattern edited in place (tracks
                                          added, removed, cleared); "now": another pattern
                                          at once; "bar"/"step": queued for the next bar
                                          line or step, reported by Switched(token); a
                                          "bar" load waits for the next multiple of `every`
                                          steps since the playing pattern began (16: the
                                          next bar, 64: 4 bars; 0: the end of its longest
                                          track)
    ReplaceTrack(index, track)            one playing track edited in place, from its next step
    SetParam(module, param, value)        one sound parameter
    SetTempo(bpm, swing)
    SetTransport(playing)                 start (from bar 1) or stop
    SetFill(on)                           fill mode on or off, from the next step (FILL trigs)
    Gate(voice, on)                       hold or release a voice by hand
    CancelQueued()                        forget the queued load
    StartRecording(path, at_bar)          record the output to a new WAV `path` (stereo,
                                          24-bit), from the next bar line while playing
                                          (at_bar), else from this block
    StopRecording()                       close the recording (its header finalised)

Commands with the same `supersedes` key in one block replace each other: only the last
one has any effect (synth/process.py drops the others before it applies any).

Events, synth → control:

    Ready(backend, sr, buffer, pid)       the graph is built and plays (the client keeps it)
    Failed(backend, message)              the backend cannot start (the client keeps it)
    Status(backend, sr, buffer, cpu, …)   about twice a second
    Position(bar, step, sample)           at most one per step
    Switched(token, sample)               the queued (or immediate) load `token` took effect
    EngineMessage(message)                a command could not be applied, or a note for the user
    RecordingStarted(path, sample)        the file's first frame is the output's sample `sample`
    RecordingStopped(path, frames, error) closed after `frames` frames; `error`: why it stopped
                                          by itself (the file could not be written)

The client's own events, about the synth process's life (never on the pipe):

    Down(message, retry_in, attempt, restarts), Restarting(attempt, restarts),
    Restarted(backend, restarts)

`Event.as_dict()` is an event as listeners and OSC subscribers see it:
{"event": <kind>, <field>: <value>, …}, fields that are None left out.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

from chronus_tui.model import STEPS_PER_BAR, Pattern, Track

LoadMode = Literal["edit", "now", "bar", "step"]
SupersedeKey = tuple[Any, ...]


@dataclass(frozen=True)
class Command:
    """A command for the synth process; `op` names its kind in logs and errors."""

    op: ClassVar[str] = ""

    @property
    def supersedes(self) -> SupersedeKey | None:
        """Commands with an equal key in one block: only the last one matters (None: every one does)."""
        return None


@dataclass(frozen=True)
class ReplacePattern(Command):
    op: ClassVar[str] = "pattern"
    pattern: Pattern
    mode: LoadMode = "now"
    token: int = 0
    every: int = STEPS_PER_BAR  # a "bar" load's launch quantum in steps; 0: the pattern's end

    @property
    def supersedes(self) -> SupersedeKey | None:
        # an in-place edit carries the whole live pattern, modules and tempo included;
        # a load is reported by its token, so every one counts
        return ("edit",) if self.mode == "edit" else None


@dataclass(frozen=True)
class ReplaceTrack(Command):
    op: ClassVar[str] = "track"
    index: int
    track: Track

    @property
    def supersedes(self) -> SupersedeKey | None:
        return ("track", self.index)  # it carries the whole track


@dataclass(frozen=True)
class SetParam(Command):
    op: ClassVar[str] = "param"
    module: str
    param: str
    value: float

    @property
    def supersedes(self) -> SupersedeKey | None:
        return ("param", self.module, self.param)


@dataclass(frozen=True)
class SetTempo(Command):
    op: ClassVar[str] = "tempo"
    bpm: float
    swing: float

    @property
    def supersedes(self) -> SupersedeKey | None:
        return ("tempo",)


@dataclass(frozen=True)
class SetTransport(Command):
    op: ClassVar[str] = "transport"
    playing: bool


@dataclass(frozen=True)
class SetFill(Command):
    op: ClassVar[str] = "fill"
    on: bool

    @property
    def supersedes(self) -> SupersedeKey | None:
        return ("fill",)


@dataclass(frozen=True)
class Gate(Command):
    op: ClassVar[str] = "gate"
    voice: str
    on: bool


@dataclass(frozen=True)
class CancelQueued(Command):
    op: ClassVar[str] = "cancel"


@dataclass(frozen=True)
class StartRecording(Command):
    op: ClassVar[str] = "record"
    path: str
    at_bar: bool = True


@dataclass(frozen=True)
class StopRecording(Command):
    op: ClassVar[str] = "record-stop"


@dataclass(frozen=True)
class Event:
    """An event from the synth process or about it; `kind` names it to listeners."""

    kind: ClassVar[str] = ""

    def as_dict(self) -> dict[str, Any]:
        """{"event": kind, **fields}, the fields that are None left out."""
        return {"event": self.kind, **{f.name: value for f in fields(self)
                                       if (value := getattr(self, f.name)) is not None}}


@dataclass(frozen=True)
class Ready(Event):
    kind: ClassVar[str] = "ready"
    backend: str
    sr: int
    buffer: int
    pid: int


@dataclass(frozen=True)
class Failed(Event):
    kind: ClassVar[str] = "failed"
    backend: str
    message: str


@dataclass(frozen=True)
class Status(Event):
    """Backend facts and load since the last status: cpu is the synth process's CPU time in %
    of one core; callback_ms the longest the per-block Python work took; slow_commands how
    many commands took over a quarter of a block; xruns (JACK only, else None) every xrun
    of the JACK server since it started."""

    kind: ClassVar[str] = "status"
    backend: str
    sr: int
    buffer: int
    cpu: float = 0.0
    blocks: int = 0
    callback_ms: float = 0.0
    slow_commands: int = 0
    xruns: int | None = None


@dataclass(frozen=True)
class Position(Event):
    kind: ClassVar[str] = "position"
    bar: int
    step: int
    sample: int = 0  # where the step's sound starts, counted from the server's first sample


@dataclass(frozen=True)
class Switched(Event):
    kind: ClassVar[str] = "switched"
    token: int
    sample: int = 0  # where the new pattern's first step sounds


@dataclass(frozen=True)
class EngineMessage(Event):
    kind: ClassVar[str] = "error"
    message: str


@dataclass(frozen=True)
class RecordingStarted(Event):
    kind: ClassVar[str] = "recording"
    path: str
    sample: int  # the output sample the file's first frame holds (a bar line's, as Position's)


@dataclass(frozen=True)
class RecordingStopped(Event):
    kind: ClassVar[str] = "recorded"
    path: str
    frames: int
    error: str | None = None  # set when it stopped by itself: the file could not be written


@dataclass(frozen=True)
class Down(Event):
    kind: ClassVar[str] = "down"
    message: str
    retry_in: float  # seconds to the next attempt
    attempt: int
    restarts: int


@dataclass(frozen=True)
class Restarting(Event):
    kind: ClassVar[str] = "restarting"
    attempt: int
    restarts: int


@dataclass(frozen=True)
class Restarted(Event):
    kind: ClassVar[str] = "restarted"
    backend: str
    restarts: int
