"""EngineGraph: the whole signal graph on a booted pyo server, driven by protocol commands.

For the synth process (synth/process.py) and the offline renderer (synth/offline.py):

- Import pyo through `chronus_tui.synth.pyolib` (the single-precision build) BEFORE
  anything imports `pyo64`, boot the Server from it, and build the graph before the
  server starts (its sample counter counts from the first block).
- `EngineGraph(server)` builds every object once (16 lanes, shared sources, master)
  and starts the master output (`.out()`); nothing is created afterwards. A render,
  which knows every pattern it will play, builds only the lanes they need (`lanes=`).
- `handle(command)` applies one command of engine/protocol.py (ReplaceTrack replaces
  the playing pattern's track `index` in place: from its next step on, with the bar
  position kept and the other tracks untouched; the Session sends it for every edit
  of one track, and ReplacePattern mode "edit" for adding, removing or clearing
  tracks). A command's Pattern or Track was validated where it came in and is not
  checked again; the graph keeps it, so a sender must not change it afterwards (the
  Session sends copies).
  Each command touches only what it changes (the lanes whose track, voice or gain
  changed, the parameters that differ), so it costs well under a millisecond inside the
  audio callback (benchmarks/bench_engine_commands.py). Call it between blocks,
  i.e. from the Server.setCallback function, which pyo runs before it computes each
  block; values set there apply from that block's first sample. Bad commands never
  raise: they produce an EngineMessage event and change nothing.
- Each track plays on a lane (a voice's objects). A loaded pattern's track keeps the
  lane of the playing track of its name (else of its place) while that lane plays its
  voice; otherwise it takes a silent lane, so the note the old lane still sounds rings
  out rather than changing voice a block before the bar line (a click). A lane left
  without a track plays no more hits, lets its note ring out, and stops once it is
  silent. An edited track keeps its lane, whatever its voice.
- `poll_events()` must be called exactly once per block from the same callback
  (before or after the block's commands, either works): it returns the Position
  (at most one per step), Switched (token and exact sample) and EngineMessage events
  since the last call, and arms a queued load in the block that holds its bar line
  or step. No two step starts may fall in one block (timing.block_fits: up to 1024
  samples from 29.5 kHz, 512 at 22050 Hz); EngineGraph refuses a server whose blocks are longer.
- Sample numbers count from the first sample the server computed (0) and name the
  sample where a step's sound starts: one after its trigger (ENVELOPE_LATENCY), so a
  recording of the output shows the new pattern's first hit on exactly that sample.
- Cost: every pyo object is a pass over each block, so the graph runs as few as it
  can: about 31 streams always (sample counter, LFOs, reverb, delay, dist1, limiter)
  and 15–18 per sounding track (its hit trigger and counter among them), 35 through
  the acid insert (a noise voice runs no pitch objects, the glide runs only for
  tracks with slides, a send only above 0),
  and inputs that never change are read without pyo's InputFader
  (pyolib.direct_inputs). Parameters cost nothing while they hold still
  (controls.py). benchmarks/bench_engine_render.py measures how fast a busy graph
  renders, and benchmarks/README.md says what it measured and where the time goes.
  Stopping reverb/delay or an LFO while unheard would change the sound when they
  return (frozen tail, LFO phase), so they run.

How time works (timing.py and sequencer.py have the details): the hit triggers,
table reads, gates, envelopes, glides and accents all run in the graph, sample by
sample. Python keeps the clock's line (timing.ClockMath, double precision), moves it
at block boundaries, and plans each lane's hits a few steps ahead (HitPlanner: which
steps play, where micro-timing and ratchets put them), writing them into the graph,
whose hit triggers fire on them. An edit plans again from the next step; the note
sounding plays on from its ring entry until then.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from chronus_tui.engine.protocol import (
    CancelQueued,
    Command,
    EngineMessage,
    Event,
    Gate,
    LoadMode,
    Position,
    RecordingStarted,
    RecordingStopped,
    ReplacePattern,
    ReplaceTrack,
    SetFill,
    SetParam,
    SetTempo,
    SetTransport,
    StartRecording,
    StopRecording,
    Switched,
)
from chronus_tui.model import (
    BPM_SPEC,
    MAX_TRACKS,
    PARAM_INDEX,
    STEPS_PER_BAR,
    SWING_SPEC,
    VOICES,
    Pattern,
    PatternError,
    Track,
    check_voice,
)
from chronus_tui.synth import pyolib
from chronus_tui.synth.controls import Controls
from chronus_tui.synth.effects import Master, Params, Sources, control_targets
from chronus_tui.synth.sequencer import (
    ClockGraph,
    HitPlanner,
    first_pitch,
    slides,
    track_levels,
    track_pitch,
)
from chronus_tui.synth.voices import ACID_VOICE, GAIN_PARAMS, Lane
from chronus_tui.timing import SWITCH_MARGIN, ClockMath, bar_of, block_fits, next_line

log = logging.getLogger("chronus.engine")

# pyo's MidiAdsr outputs 0 on the sample its gate opens: a hit triggered on sample t
# is heard from t + 1. Events name the sample where the sound starts.
ENVELOPE_LATENCY = 1
ACID_LOCK = "acid1/"  # a lock of acid1's parameters (the acid voice's tracks)
NO_LOCKS: dict[str, float] = {}  # (never changed)


@dataclass
class QueuedLoad:
    pattern: Pattern
    mode: LoadMode  # "bar" | "step"
    token: int
    every: int  # "bar": the launch quantum in steps (0: the playing pattern's end)


RECORD_CHECK_BLOCKS = 64  # blocks between checks that a recording's file grows (~0.3 s)
RECORD_FRAME_BYTES = 6  # stereo, 24-bit
RECORD_HEADER_BYTES = 44


class Recorder:
    """The output to a stereo 24-bit WAV, from exactly sample `first` on.

    pyo's Record writes whole blocks, from the block boundary where it is made; the
    first sound sample wanted (a bar line's) falls inside a block. So it records the
    output through a delay of `boundary - first` samples (under one block), made to run
    from the block before, and its file's first frame is the output's sample `first`.
    buffering=1: every block is written as it is computed, so stop() loses nothing.
    Record ignores a failed write (a full disk): check() compares the file's size with
    what was recorded, and the graph then closes the file (its header written in place,
    so what reached the disk plays).
    """

    def __init__(self, pyo: Any, source: Any, path: str, first: int, buffer: int, sr: int) -> None:
        self.pyo, self.path, self.first, self.buffer, self.sr = pyo, path, first, buffer, sr
        self.delay = pyo.SDelay(source, delay=0.0, maxdelay=2 * buffer / sr)
        self.delay.stop()
        self.record: Any = None
        self.began: int | None = None  # the block boundary where Record began

    def advance(self, start: int) -> bool:
        """At the block boundary before sample `start`: run the delay from the block holding
        `first`, begin recording at the first boundary at or after it; True once it began."""
        if self.record is not None:
            return False
        if start >= self.first:
            # + half a sample: pyo truncates the delay in samples, and d / sr × sr may fall below d
            self.delay.setDelay((start - self.first + 0.5) / self.sr)
            if not self.delay.isPlaying():
                self.delay.play()
            self.record = self.pyo.Record(self.delay, self.path, chnls=2, fileformat=0, sampletype=1,
                                          buffering=1)
            self.began = start
            return True
        if self.first < start + self.buffer and not self.delay.isPlaying():
            self.delay.play()
        return False

    def frames(self, now: int) -> int:
        return 0 if self.began is None else now - self.began

    def check(self, now: int) -> str | None:
        """Why the file is not being written (None: it is)."""
        if self.began is None:
            return None
        try:
            size = os.stat(self.path).st_size
        except OSError as exc:
            return f"recording stopped: {os.path.basename(self.path)} is gone ({exc.strerror or exc})"
        # a block or two may still be on its way to the disk
        if size < RECORD_HEADER_BYTES + (self.frames(now) - 2 * self.buffer) * RECORD_FRAME_BYTES:
            return (f"recording stopped: {os.path.basename(self.path)} could not be written "
                    "(is the disk full?); what was recorded is kept")
        return None

    def close(self) -> None:
        if self.record is not None:
            self.record.stop()  # closes the file: libsndfile writes the header's sizes
        self.delay.stop()


class EngineGraph:
    def __init__(self, server: Any, lanes: int = MAX_TRACKS) -> None:
        pyo = pyolib.pyo
        if not isinstance(server, pyo.Server):
            raise TypeError("EngineGraph needs a Server from chronus_tui.synth.pyolib")
        self.sr = int(server.getSamplingRate())
        self.buffer = int(server.getBufferSize())
        if not block_fits(self.buffer, self.sr):
            raise ValueError(f"{self.buffer}-sample blocks are too long at {self.sr} Hz")
        self.clock = ClockMath(self.sr)
        with pyolib.collector_paused(), pyolib.direct_inputs():
            self.clock_graph = ClockGraph(pyo, server)
            self.controls = Controls(pyo, self.sr, self.buffer)
            self.params = Params(self.controls, self.sr)
            self.sources = Sources(pyo, self.sr, self.params)
            with pyolib.created_stopped():  # a lane starts once it has a track
                self.lanes = [Lane(pyo, i, self.sr, self.clock_graph, self.sources, self.controls)
                              for i in range(lanes)]
            self.master = Master(pyo, self.params, self.sources, self.lanes)
        self.bpm = 120.0
        self.swing = 0.0
        self.tracks: list[Track] = []  # as installed
        self.lane_of: list[int] = []  # the lane each track plays on
        self.planner = HitPlanner([lane.hits for lane in self.lanes], self.clock, self.sr,
                                  self.params.values.__getitem__)
        self.lane_tracks: list[Track | None] = [None] * lanes  # the track each lane plays
        self._locks: list[dict[str, float]] = [{} for _ in range(lanes)]  # block-rate locks in effect
        self._lock_source: list[dict[str, float]] = [NO_LOCKS] * lanes  # the step locks they came from
        self._block_locked: set[int] = set()  # lanes whose track locks more than amp
        self._locking: set[int] = set()  # those playing, and lanes still locked
        self._releasing: set[int] = set()  # lanes without a track whose last note may still sound
        self._levels: list[float] = [0.0] * lanes  # each lane's track level after mute and solo
        self._silent: list[bool] = [False] * lanes  # each lane's track plays no hits (level 0)
        self.n0 = 0  # the step at which the current pattern (re)started: bar lines count from it
        self._previous_n0 = 0  # for the last steps before an armed switch
        self.queued: QueuedLoad | None = None
        self._events: list[Event] = []
        self._reports: list[tuple[int, int]] = []  # (token, expected sample) of armed switches
        self._last_step: int | None = None
        self._started_at = 0  # sample of the last transport start
        self._manual: dict[str, int] = {}  # voice -> lane borrowed for a hand-held gate
        self.recorder: Recorder | None = None
        self._record_bar: int | None = None  # the step whose bar line a recording waits for
        self._lfo1_moving = self.sources.lfo1_moving()
        self._update_usage()

    # -- the two entry points ---------------------------------------------------

    def handle(self, command: Command) -> None:
        """Apply one protocol command at this block boundary; errors become events."""
        handler = self._HANDLERS.get(type(command))
        try:
            if handler is None:
                raise TypeError(f"{type(command).__name__} is not a command")
            handler(self, command)
        except (PatternError, KeyError, TypeError, ValueError) as exc:
            self._error(f"bad command {str(command)[:200]}: {exc}")

    def poll_events(self) -> list[Event]:
        """Events since the last call; arms a queued load due in the coming block."""
        start = self.clock_graph.processed()
        self.clock_graph.schedule(self.clock, start)
        if self.controls.settle(start):
            self.master.update()
            if self.sources.lfo1_moving() != self._lfo1_moving:  # voice2's filter follows it or not
                self._lfo1_moving = not self._lfo1_moving
                self._voice_changed(ACID_VOICE, {"filter/freq"}, start, glide=True)
        self._report_switches(start)
        self._report_position()
        self._stop_silent()
        self._arm_queued(start)
        self.planner.advance(start, start + self.buffer)
        self._follow_locks(start)
        self._advance_recording(start)
        events, self._events = self._events, []
        return events

    def stop_recording(self, error: str | None = None) -> None:
        """Close the recording, if one runs or waits (the engine ends: its file is finalised)."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return
        recorder.close()
        self._events.append(RecordingStopped(recorder.path, recorder.frames(self.clock_graph.processed()),
                                             error))

    # -- commands -----------------------------------------------------------------

    def _pattern(self, command: ReplacePattern) -> None:
        pattern, mode, token = command.pattern, command.mode, command.token
        if mode not in ("edit", "now", "bar", "step"):
            raise ValueError(f"unknown load mode {mode!r}")
        if len(pattern.tracks) > len(self.lanes):
            raise ValueError(f"{len(pattern.tracks)} tracks, and this graph was built with "
                             f"{len(self.lanes)} lanes")
        start = self.clock_graph.processed()
        if mode in ("bar", "step") and self.clock.playing:
            if command.every < 0:
                raise ValueError(f"launch quantum {command.every} steps is negative")
            self.queued = QueuedLoad(pattern, mode, token, command.every)
            self._arm_queued(start)
            return
        if mode in ("bar", "step"):
            self.queued = None
            self._events.append(Switched(token, start + ENVELOPE_LATENCY))
        if self.clock.playing:  # edit / now: in place, the bar position kept
            next_step = self.clock.step_at(start - 1) + 1
            self._install(pattern, next_step, self.n0, start, edit=mode == "edit")
        else:  # stopped: the next start plays the new values at once
            self._install(pattern, 0, 0, start, glide=False, edit=mode == "edit")

    def _param(self, command: SetParam) -> None:
        module, param, value = command.module, command.param, command.value
        if module not in PARAM_INDEX or param not in PARAM_INDEX[module]:
            raise ValueError(f"unknown parameter {module}/{param}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{module}/{param}: {value!r} is not a number")
        start = self.clock_graph.processed()
        self.params.set(module, {param: value}, start)
        if module in VOICES:
            self._voice_changed(module, {param}, start, glide=True)
        elif module == "acid1":  # lanes on their own acid1 values (locks) take the others
            for index in {i for i in self.lane_of if any(k.startswith(ACID_LOCK) for k in self._locks[i])}:
                self._lock_acid(index)

    def _voice_changed(self, voice: str, params: set[str], now: int, glide: bool,
                       skip: Collection[int] = ()) -> None:
        """Voice parameters `params` changed: pass them to its lanes (but those in `skip`)."""
        lanes = [lane for lane in self.lanes if lane.voice == voice and lane.index not in skip]
        for lane in lanes:
            values = self._lane_values(lane.index)
            for param in params:
                lane.apply_param(param, values)
            if params & GAIN_PARAMS:
                lane.set_gains(self._levels[lane.index], values, now, glide)
        if "osc/type" in params:
            self._update_usage()
        if "freq" in params:  # the hits without a note of their own play it (not a note ringing out)
            playing = [lane.index for lane in lanes if lane.index not in self._releasing]
            for index in playing:
                sounding = self.lanes[index].hits.sounding
                if sounding is None or not sounding.note_hz:
                    self.lanes[index].hits.put("freq", self.params.values[voice]["freq"])
            self._update_pitch(playing)
        if params & {"freq", "amp"}:  # the hits written play the voice's freq, and an amp lock's share
            self._replan(now)

    def _track(self, command: ReplaceTrack) -> None:
        """One track edited in place: only its lane changes, from its next step on."""
        index, track = command.index, command.track
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.tracks):
            raise ValueError(f"track {index!r} is not one of the {len(self.tracks)} tracks playing")
        tracks = [*self.tracks]
        tracks[index] = track
        start = self.clock_graph.processed()
        rewritten, reassigned = self._set_tracks(tracks, start, glide=True, edit=True)
        if reassigned:
            self._update_usage()
        self._update_pitch(rewritten)
        self._replan(start)

    def _tempo(self, command: SetTempo) -> None:
        bpm, _ = BPM_SPEC.clamp_number(command.bpm, "bpm")
        swing, _ = SWING_SPEC.clamp_number(command.swing, "swing")
        start = self.clock_graph.processed()
        self.clock.rebase(start, bpm)
        self.clock.swing = swing
        self.bpm = self.planner.bpm = bpm
        self.swing = swing
        self.clock_graph.schedule(self.clock, start, moved=True)
        self._replan(start)

    def _fill(self, command: SetFill) -> None:
        self.planner.fill = bool(command.on)
        self._replan(self.clock_graph.processed())

    def _transport(self, command: SetTransport) -> None:
        start = self.clock_graph.processed()
        if command.playing:
            self.clock.start_at(start, self.bpm)
            self._started_at = start
            self.clock.swing = self.swing
            self.n0 = self._previous_n0 = 0
            self._last_step = None
            self.planner.restart(0, self.clock.onset(0))
        else:
            self.clock.stop()
            self.planner.stop()  # every gate ends: no next hit ends a slide's now
            self.planner.limit = None
            if self.queued is not None:  # stopped: a load applies at once
                queued, self.queued = self.queued, None
                self._events.append(Switched(queued.token, start + ENVELOPE_LATENCY))
                self._install(queued.pattern, 0, 0, start)
        self.clock_graph.schedule(self.clock, start, moved=True)

    def _gate(self, command: Gate) -> None:
        voice, on = check_voice(command.voice, "voice"), command.on
        lanes = [lane for lane in self.lanes if lane.voice == voice and lane.index not in self._releasing]
        if not lanes and on:
            free = next((lane for lane in self.lanes if lane.voice is None), None)
            if free is None:
                raise ValueError(f"no free lane to play {voice}")
            self._manual[voice] = free.index
            values = self.params.values[voice]
            free.assign(voice, values, ties=False, median_pitch=values["freq"])
            self._levels[free.index] = 1.0
            free.set_gains(1.0, values, self.clock_graph.processed(), glide=False)
            self._update_usage()
            free.hits.put("freq", values["freq"])
            lanes = [free]
        for lane in lanes:
            lane.hold(on)

    def _cancel(self, command: CancelQueued) -> None:
        self.queued = self.planner.limit = None

    def _record(self, command: StartRecording) -> None:
        if self.recorder is not None:
            raise ValueError(f"already recording to {os.path.basename(self.recorder.path)}")
        start = self.clock_graph.processed()
        first = start
        self._record_bar = None
        if command.at_bar and self.clock.playing:
            self._record_bar = self._next_line(self.clock.step_at(start - 1), STEPS_PER_BAR)
            first = self.clock.onset(self._record_bar) + ENVELOPE_LATENCY
        self.recorder = Recorder(pyolib.pyo, self.master.output, command.path, first, self.buffer, self.sr)
        self._advance_recording(start)

    def _stop_recording(self, command: StopRecording) -> None:
        self.stop_recording()

    _HANDLERS: ClassVar[dict[type[Command], Callable[[EngineGraph, Any], None]]] = {
        ReplacePattern: _pattern, ReplaceTrack: _track, SetParam: _param, SetTempo: _tempo,
        SetTransport: _transport, SetFill: _fill, Gate: _gate, CancelQueued: _cancel,
        StartRecording: _record, StopRecording: _stop_recording,
    }

    # -- switching ------------------------------------------------------------------

    def _arm_queued(self, start: int) -> None:
        """Install a queued load at this boundary if its first step falls in the coming block."""
        queued = self.queued
        if queued is None or not self.clock.playing:
            return
        # the step playing; before the pattern's first step (the transport started in this
        # block) that first step counts as playing, so a line is never the step it starts on
        current = max(self.clock.step_at(start - 1), self.n0)
        if queued.mode == "bar":
            longest = max((track.length for track in self.tracks), default=STEPS_PER_BAR)
            target = self._next_line(current, queued.every or longest)
        else:
            target = current + 1
        onset = self.clock.onset(target)
        if onset >= start + self.buffer + SWITCH_MARGIN:
            if self.planner.limit != target:  # the playing pattern plays no step from there on
                self.planner.limit = target
                self.planner.replan(target, start)
            return
        self.queued = self.planner.limit = None
        self.clock.anchor(target, onset, queued.pattern.bpm, queued.pattern.swing)
        n0 = target if queued.mode == "bar" else self.n0
        self._install(queued.pattern, target, n0, start, anchored=True)
        self._reports.append((queued.token, onset))

    def _next_line(self, current: int, every: int) -> int:
        """The first step after `current` that is a multiple of `every` steps from the playing
        pattern's start (its bar lines, when `every` is a bar)."""
        return self.n0 + next_line(current - self.n0, every)

    def _install(self, pattern: Pattern, next_step: int, n0: int, start: int, *,
                 anchored: bool = False, glide: bool = True, edit: bool = False) -> None:
        """Make `pattern` the one playing; its steps count from step n0, and the next step
        to play is next_step.

        Unless the caller `anchored` the clock on the switch step (a queued load, which
        starts its hits afresh there), the tempo changes from this block on, keeping the
        step position, and the hits are planned again from the next step. Without
        `glide`, levels and effect settings jump to the new values (the transport is stopped).
        """
        bpm, swing = float(pattern.bpm), float(pattern.swing)
        if not anchored:
            self.clock.rebase(start, bpm)
            self.clock.swing = swing
        self.bpm = self.planner.bpm = bpm
        self.swing = swing
        self.planner.seed = pattern.seed
        changed = self._set_modules(pattern.modules, start, glide)
        for voice in list(self._manual):  # a hand-held note is let go, and rings out
            lane = self.lanes[self._manual.pop(voice)]
            lane.hold(False)
            self._releasing.add(lane.index)
        rewritten, reassigned = self._set_tracks(pattern.tracks, start, glide, edit)
        for voice in VOICES:
            params = {param for module, param in changed if module == voice}
            if params:
                self._voice_changed(voice, params, start, glide, skip=reassigned)
        if reassigned:
            self._update_usage()
        self._update_pitch(rewritten)
        self._previous_n0, self.n0 = self.n0, n0
        if anchored:
            self.planner.restart(n0, self.clock.onset(next_step))
        else:
            self._replan(start)
        self.clock_graph.schedule(self.clock, start, moved=True)

    def _replan(self, now: int) -> None:
        """Hits from the next step on follow what changed (while playing)."""
        if self.clock.playing:
            self.planner.replan(self.clock.step_at(now - 1) + 1, now)

    def _set_modules(self, modules: dict[str, dict[str, float]], now: int,
                     glide: bool) -> list[tuple[str, str]]:
        """Set the module parameters that differ from the playing ones; returns those."""
        changed = []
        for module, values in modules.items():
            playing = self.params.values[module]
            differing = {param: value for param, value in values.items() if playing[param] != value}
            if differing:
                self.params.set(module, differing, now, glide)
                changed += [(module, param) for param in differing]
        return changed

    def _set_tracks(self, tracks: list[Track], now: int, glide: bool,
                    edit: bool = False) -> tuple[set[int], set[int]]:
        """Install `tracks` (`edit`: the playing tracks edited, not another pattern), touching
        only the lanes whose track changed; they are re-assigned only when their voice
        changed. A lane left without a track lets its last note ring out (_release).
        Level, mute and solo set the gains that changed. Returns (lanes whose track
        changed, lanes re-assigned).
        """
        lanes = self._allocate(tracks, edit)
        for lane_index in set(self.lane_of) - set(lanes):
            self._release(lane_index)
        previous = dict(zip(self.lane_of, self.tracks, strict=True))  # lane -> the track it played
        rewritten: set[int] = set()
        reassigned: set[int] = set()
        levels = [0.0] * len(self.lanes)
        for track, lane_index, level in zip(tracks, lanes, track_levels(tracks), strict=True):
            levels[lane_index] = level
            silent = level == 0.0
            if previous.get(lane_index) == track and self._silent[lane_index] == silent:
                continue
            rewritten.add(lane_index)
            self._releasing.discard(lane_index)
            self.lane_tracks[lane_index] = track
            if any(step.locks and (len(step.locks) > 1 or "amp" not in step.locks) for step in track.steps):
                self._block_locked.add(lane_index)
            else:
                self._block_locked.discard(lane_index)
            self._silent[lane_index] = silent
            lane = self.lanes[lane_index]
            ties = slides(track)
            values = self.params.values[track.voice]
            if track.voice != lane.voice:
                # a lane taking another voice takes its gains at once, as it takes its sound
                self._locks[lane_index], self._lock_source[lane_index] = {}, NO_LOCKS
                lane.assign(track.voice, values, ties, track_pitch(track, values["freq"]))
                lane.set_gains(level, values, now, glide=False)
                reassigned.add(lane_index)
            elif ties != lane.ties:
                lane.set_pitch(ties, lane.median_pitch, values)
            if not self.clock.playing or lane.hits.sounding is None:
                # its pitch is there before its first hit, as the oscillator runs (no jump from 0 Hz)
                lane.hits.put("freq", first_pitch(track, values["freq"]))
        self.tracks, self.lane_of = tracks, lanes
        self.planner.install(tracks, lanes, {i for i in lanes if self._silent[i]})
        self._locking = (self._block_locked & set(lanes)) | {
            i for i, locks in enumerate(self._locks) if locks}
        for lane_index, level in enumerate(levels):
            lane = self.lanes[lane_index]
            if lane_index in self._releasing:
                continue  # it keeps its gains while its note rings out
            if level != self._levels[lane_index] and lane.voice is not None and lane_index not in reassigned:
                lane.set_gains(level, self.params.values[lane.voice], now, glide)
            self._levels[lane_index] = level
        return rewritten, reassigned

    def _allocate(self, tracks: list[Track], edit: bool) -> list[int]:
        """The lane of each track. A track is the playing track of its name, else of its
        place. An edited track keeps its lane (a drone given another voice plays on in
        it). A track of another pattern keeps the lane while the lane plays its voice;
        else it takes a lane on that voice whose track has gone, else a silent one, so
        that the note its old lane sounds rings out there instead of changing voice
        (a click). Only when every lane sounds does a lane change voice mid-note."""
        by_name = {track.name: lane for track, lane in zip(self.tracks, self.lane_of, strict=True)}
        named = {track.name for track in tracks}
        by_place = [lane if track.name not in named else None  # a renamed track, or another pattern's
                    for track, lane in zip(self.tracks, self.lane_of, strict=True)]
        lanes: list[int | None] = [None] * len(tracks)
        for i, track in enumerate(tracks):
            lane = by_name.get(track.name, by_place[i] if i < len(by_place) else None)
            if lane is not None and (edit or self.lanes[lane].voice == track.voice):
                lanes[i] = lane
        taken = {lane for lane in lanes if lane is not None} | set(self._manual.values())
        for i, track in enumerate(tracks):
            if lanes[i] is not None:
                continue
            free = [lane for lane in self.lanes if lane.index not in taken]
            same_voice = [lane for lane in free if lane.voice == track.voice]
            silent = [lane for lane in free if lane.voice is None]
            lane = (same_voice or silent or free)[0]
            lanes[i] = lane.index
            taken.add(lane.index)
        return [lane for lane in lanes if lane is not None]

    def _release(self, lane_index: int) -> None:
        """Lane `lane_index` has lost its track: no more hits, and the note it sounds rings
        out with its pitch, accent and sound (poll_events stops the lane once it is silent)."""
        self.planner.release(self.lanes[lane_index].hits)
        self.lane_tracks[lane_index] = None
        self._releasing.add(lane_index)

    def _stop_silent(self) -> None:
        """Stop the lanes without a track whose last note has rung out."""
        silent = {index for index in self._releasing if self.lanes[index].silent()}
        if silent:
            self._releasing -= silent
            for index in silent:
                self.lanes[index].assign(None, None, ties=False, median_pitch=0.0)
            self._update_usage()

    def _update_pitch(self, indexes: Iterable[int]) -> None:
        """The median pitch of these lanes' tracks picks their oscillator's table."""
        for i in indexes:
            lane, track = self.lanes[i], self.lane_tracks[i]
            if track is None or lane.voice is None:
                continue
            values = self.params.values[lane.voice]
            median = track_pitch(track, values["freq"])
            if lane.median_pitch != median:
                lane.set_pitch(lane.ties, median, values)

    # -- parameter locks ----------------------------------------------------------------

    def _follow_locks(self, start: int) -> None:
        """Each lane's block-rate locks for the coming block: those of its latest hit before
        the block's end, until one step after its step's first hit (an amp lock is in the
        hit's level, to the sample)."""
        end = start + self.buffer
        for index in self._locking:
            hits = self.lanes[index].hits
            hit = hits.sounding
            for pending in hits.pending:
                if pending.sample >= end:
                    break
                hit = pending
            locks = hit.locks if hit is not None and hit.lock_until > start else NO_LOCKS
            if locks is not self._lock_source[index]:  # (hits of one step share their locks)
                self._lock_source[index] = locks
                self._set_locks(index, {k: v for k, v in locks.items() if k != "amp"}, start)

    def _set_locks(self, index: int, locks: dict[str, float], now: int) -> None:
        old = self._locks[index]
        if locks == old:
            return
        self._locks[index] = locks
        lane = self.lanes[index]
        if lane.voice is None:
            return
        values = self._lane_values(index)
        changed = {key for key in old.keys() | locks.keys() if not key.startswith(ACID_LOCK)}
        for param in changed:
            lane.apply_param(param, values)
        if changed & GAIN_PARAMS:
            lane.set_gains(self._levels[index], values, now, glide=True)
        if any(key.startswith(ACID_LOCK) for key in old.keys() | locks.keys()):
            self._lock_acid(index)

    def _lock_acid(self, index: int) -> None:
        """Lane `index` follows acid1, or its own acid1 values while its hit locks some."""
        acid = {key.removeprefix(ACID_LOCK): value for key, value in self._locks[index].items()
                if key.startswith(ACID_LOCK)}
        targets = control_targets("acid1", {**self.params.values["acid1"], **acid}, self.sr) if acid else None
        self.lanes[index].lock_acid(targets)

    def _lane_values(self, index: int) -> dict[str, float]:
        """Lane `index`'s voice parameter values, with its hit's locks on them."""
        values = self.params.values[self.lanes[index].voice]
        locks = self._locks[index]
        if not locks:
            return values
        return {**values, **{key: value for key, value in locks.items() if not key.startswith(ACID_LOCK)}}

    def _update_usage(self) -> None:
        """Stop what no lane plays: noise generators and lane submixes."""
        self.sources.use_noises({n for lane in self.lanes if (n := lane.uses_noise()) is not None})
        self.master.use_lanes({lane.index for lane in self.lanes if lane.voice})

    # -- events -----------------------------------------------------------------------

    def _advance_recording(self, start: int) -> None:
        """Begin a waiting recording on its sample (its bar line's, as the clock now puts it;
        at once if the transport stopped meanwhile); check that a running one is written."""
        recorder = self.recorder
        if recorder is None:
            return
        if recorder.began is None:
            if self._record_bar is not None:
                recorder.first = self.clock.onset(self._record_bar) + ENVELOPE_LATENCY \
                    if self.clock.playing else start
            if recorder.advance(start):
                self._events.append(RecordingStarted(recorder.path, recorder.first))
        elif (start - recorder.began) // self.buffer % RECORD_CHECK_BLOCKS == 0 and \
                (error := recorder.check(start)) is not None:
            self._error(error)
            self.stop_recording(error)

    def _report_switches(self, start: int) -> None:
        due = [r for r in self._reports if r[1] < start]
        if not due:
            return
        self._reports = [r for r in self._reports if r[1] >= start]
        for token, onset in due:
            self._events.append(Switched(token, onset + ENVELOPE_LATENCY))

    def _report_position(self) -> None:
        if not self.clock.playing:
            self._last_step = None
            return
        started = self.clock_graph.started
        if started is None:
            return
        step, onset = started
        if step < 0 or step == self._last_step or onset < self._started_at:
            return
        self._last_step = step
        bar, in_bar = bar_of(step, self.n0 if step >= self.n0 else self._previous_n0)
        self._events.append(Position(bar, in_bar, onset + ENVELOPE_LATENCY))

    def _error(self, message: str) -> None:
        log.error("%s", message)
        self._events.append(EngineMessage(message))
