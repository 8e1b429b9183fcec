"""The sample-exact sequencer: compiled step tables, and the pyo graph of the clock.

The clock's line (chronus_tui/timing.py, ClockMath, double precision) says on which
sample each step starts; Python moves it only at block boundaries. From the line this
module schedules the samples of the next steps in the graph (ClockGraph), a bar ahead:
the graph counts samples and fires the step trigger on exactly those, on its own, so no
Python runs in the per-step path.

Every track is a lane: a Counter of step triggers modulo the track's length (shared
by the lanes of that length) indexes DataTables of its steps (on, level, note, tie,
gate length, brightness, accent); the counter only moves on a trigger, so the values
it reads change on the trigger sample.
So the engine knows a block ahead on which sample a bar line or step falls, and can
apply a queued pattern at the boundary of the block that holds it: no trigger falls
between that boundary and the switch, so the new tables and restarted counters are
in place for exactly the first step that plays them.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from chronus_tui.model import MAX_TRACKS, PLAIN_VELOCITY, Track, midi_to_hz
from chronus_tui.synth import pyolib
from chronus_tui.timing import ClockMath, closest_steps, step_samples

MAX_STEPS = 64
HOLD_SLOTS = 1  # row entry 0: a lane's hold slot (see StepTables); step k is entry k + 1
ACCENT_BRIGHTNESS = 0.75  # how much unfiltered source an accented hit lets into acid1 (voice2)
HELD_GATE = 1e9  # gate length of a slide step (a fraction, and seconds): held until the next hit
# the graph's sample counter wraps after this many: a float32 counts them exactly, and the
# steps scheduled ahead span less (16 steps at 20 bpm and 192 kHz: 2.3 M)
CLOCK_PERIOD = 1 << 23
SCHEDULE_CHUNK = 512  # samples: each holds at most one step start (closest_steps is more from 22050 Hz)
SCHEDULE_AHEAD = 16  # steps the graph has scheduled ahead (at least a bar: 0.56 s at 300 bpm)
NO_ONSET = -1.0  # a chunk without a step start (the counter never reads it)


TABLE_FIELDS = ("on", "level", "freq", "tie", "gate", "bright", "accent")


@dataclass
class LaneSteps:
    """One track compiled into table rows (length = the track's length).

    A rest repeats the row of the hit before it (cyclically), so a table read holds
    the sounding note's values until the next hit without a sample-and-hold.
    """

    on: list[float]  # 1 on a hit
    level: list[float]  # the gate's level: the hit's velocity, and through the rests a slide holds; else 0
    note_hz: list[float]  # 0: the voice's own freq (written into the freq table)
    tie: list[float]  # 1 = tied from a previous slide step: no retrigger, glide
    gate: list[float]  # fraction of a step (0 on rests); HELD_GATE: held until the next hit (a slide)
    bright: list[float]  # the unfiltered share ahead of acid1: ACCENT_BRIGHTNESS while an accent sounds
    accent: list[float]  # 1 while an accented hit sounds

    @property
    def length(self) -> int:
        return len(self.on)


def compile_track(track: Track, silent: bool = False) -> LaneSteps:
    """Table rows for one track; a `silent` one (muted, or another track soloed) triggers
    nothing, so a pattern that switches in with it silent is silent from its first step
    (its level's glide to 0 would let that step's hit through)."""
    steps = track.steps
    hits = [i for i, s in enumerate(steps) if s.on]
    rows = LaneSteps([], [], [], [], [], [], [])
    if not hits or silent:
        for values in (rows.on, rows.level, rows.note_hz, rows.tie, rows.gate, rows.bright, rows.accent):
            values.extend([0.0] * len(steps))
        return rows
    gate = float(track.gate)
    # the hit sounding at step i: i itself, or the latest before it (wrapping round)
    count = len(hits)
    k = -1  # the index in hits of that hit (-1: the last one, before the first hit)
    for i in range(len(steps)):
        if steps[i].on:
            k += 1
        step = steps[hits[k % count]]
        previous = steps[hits[(k - 1) % count]]
        sounds = i == hits[k % count] or step.slide  # a hit, or held by a slide
        rows.on.append(1.0 if i == hits[k % count] else 0.0)
        rows.level.append((1.0 if step.accent else PLAIN_VELOCITY) if sounds else 0.0)
        rows.bright.append(ACCENT_BRIGHTNESS if step.accent else 0.0)
        rows.accent.append(1.0 if step.accent else 0.0)
        rows.note_hz.append(midi_to_hz(step.note + step.cents / 100) if step.note is not None else 0.0)
        rows.tie.append(1.0 if previous.slide else 0.0)
        rows.gate.append(HELD_GATE if step.slide else gate if sounds else 0.0)
    return rows


def gate_seconds(fraction: float, bpm: float, swing: float, sr: int) -> float:
    """A gate length in seconds; it closes two samples before the next step can start
    (at worst one: pyo's TrigEnv steps through it by a float increment), so the
    envelope sees the gate fall and retriggers."""
    if fraction >= HELD_GATE:
        return HELD_GATE
    step = step_samples(bpm, sr)
    return max(1.0, min(fraction * step, (1 - swing / 2) * step - 2)) / sr


def track_levels(tracks: list[Track]) -> list[float]:
    """Each track's level after mute and solo (any solo silences the tracks without it)."""
    soloing = any(t.solo for t in tracks)
    return [0.0 if t.mute or (soloing and not t.solo) else float(t.level) for t in tracks]


class StepTables:
    """Each lane's step rows as DataTables, read through one step counter per track length.

    Lanes of the same length are always on the same step (all count from the same
    restart step), so they share a Counter: a busy pattern of equal-length tracks runs
    one counter, not one per track. Each lane registers the TableIndex objects that
    read its rows (add_reader); positioning a lane points them at the counter of its length.

    Row entry 0 is a lane's hold slot and step k is entry k + 1 (counters count from
    1). New rows take effect on the next step trigger, not before: a lane rewritten
    while playing (keep_playing, then write, then position with the lane `held`) first
    copies the values it reads now into its hold slot and reads that through a counter
    of its own that still outputs 0 (a counter outputs 0 until its first trigger);
    on the trigger that counter moves on to the new rows, and settle() hands the lane
    back to the shared counter of its length. So a note still sounding keeps its
    pitch, level and accent until the next step, on the very sample the new rows start.
    Counters between uses are parked at 0: reset to 0, they output 0 from their next
    trigger, and are stopped then.
    """

    def __init__(self, pyo, step_trig, lanes: int = MAX_TRACKS) -> None:
        self._value = pyolib.value_reader
        self._setter = pyolib.attribute_setter
        entries = HOLD_SLOTS + MAX_STEPS
        self.tables = [{f: pyo.DataTable(entries) for f in TABLE_FIELDS}  # (zeros)
                       for _ in range(lanes)]
        self._rows = [{f: [0.0] * entries for f in TABLE_FIELDS} for _ in range(lanes)]  # what tables hold
        with pyolib.created_stopped():
            # shared counters (one more than lanes, as a new one starts before an old
            # one stops) and a lane's own ones, all parked at 0 (never triggered yet)
            self._parked = [pyo.Counter(step_trig, min=HOLD_SLOTS, max=HOLD_SLOTS + 1)
                            for _ in range(2 * lanes + 1)]
            # never started, so always 0: what lanes without steps read (their hold
            # slot, which holds a hand-held voice's freq)
            self.idle = pyo.Counter(step_trig, min=HOLD_SLOTS, max=HOLD_SLOTS + 1)
        self._parking: list[Any] = []  # reset to 0, running until they output it
        self._counters: dict[int, Any] = {}  # length -> the counter lanes of that length read
        self._lengths: list[int | None] = [None] * lanes  # the length each lane reads at
        self._reading: list[Any] = [self.idle] * lanes  # the counter each lane reads
        self._own: dict[int, Any] = {}  # lane -> its own counter, until its first trigger has passed
        # each lane's TableIndex objects, as setters of their index (without pyo's argument checks)
        self._index_setters: list[list[Callable[[Any], None]]] = [[] for _ in range(lanes)]
        self.median_pitch = [0.0] * lanes  # each lane's median pitch (Hz), by time played
        self.stopped = True  # the transport: while stopped, no lane's gate has a level (stop())

    def add_reader(self, index: int, reader: Any) -> None:
        """A TableIndex of lane `index`'s rows: positioning the lane points it at its counter."""
        self._index_setters[index].append(self._setter(reader, "index"))

    def write(self, lanes: dict[int, LaneSteps | None], voices: dict[int, dict[str, float] | None],
              bpm: float, swing: float, sr: int, fields: tuple[str, ...] = TABLE_FIELDS) -> None:
        """The rows of `fields` of the lanes given: lanes[i] played by a voice with parameter
        values voices[i]; other lanes keep theirs. A lane with steps keeps its hold slot.

        A lane without steps but with a voice (held by the "gate" command) gets that
        voice's freq; a lane with neither is silent.
        """
        for index, steps in lanes.items():
            voice = voices[index]
            count = steps.length if steps is not None else 0
            freq = voice["freq"] if voice is not None else 0.0
            for field in fields:
                if steps is None:
                    values = []
                elif field == "freq":
                    values = [hz or freq for hz in steps.note_hz]
                elif field == "gate":  # a track has one or two gate lengths: each computed once
                    seconds = {g: gate_seconds(g, bpm, swing, sr) for g in set(steps.gate)}
                    values = [seconds[g] for g in steps.gate]
                else:
                    values = getattr(steps, field)
                fill = freq if field == "freq" else 0.0
                if field == "freq":
                    self.median_pitch[index] = statistics.median(values) if values else freq
                held = self._rows[index][field][0] if steps is not None else fill
                self._replace(index, field, [held, *values, *[fill] * (MAX_STEPS - count)])

    def hold(self, index: int) -> None:
        """Lane `index` plays no more hits, and the note it sounds sounds on as it is (its
        pitch, glide, accent and brightness): every entry of its rows holds the values
        it reads now, with no hit, no level and no gate."""
        now = self._entry_read(index)
        for field, row in self._rows[index].items():
            value = 0.0 if field in ("on", "level", "gate") else row[now]
            self._replace(index, field, [value] * len(row))
        self.position({index: None}, 0)  # every entry is the same: it needs no counter

    def stop(self, indexes: Iterable[int]) -> None:
        """The transport stopped: no next hit will end a gate, so these lanes' notes end
        theirs now (a slide's, held until the next hit, would sound on forever) and ring
        out with their pitch, glide, accent and brightness: each lane reads its hold slot,
        those values with no hit, no level and no gate. Until start(), position() keeps
        every lane it sets there too, so no load or edit gives a gate its level back."""
        self.stopped = True
        for index in indexes:
            self._hold_entry(index, self._entry_read(index))
            self._silence_hold_slot(index)
            self.position({index: None}, 0)  # the idle counter reads the hold slot

    def start(self, lanes: dict[int, LaneSteps | None]) -> None:
        """The transport started: the lanes play from step 0 on the next trigger."""
        self.stopped = False
        self.position(lanes, 0)

    def _silence_hold_slot(self, index: int) -> None:
        for field in ("on", "level", "gate"):
            self._rows[index][field][0] = 0.0
            self.tables[index][field]._base_objs[0].put(0.0, 0)

    def keep_playing(self, indexes: Iterable[int]) -> None:
        """Before rewriting these lanes' rows: copy the values each reads now to its hold slot."""
        for index in indexes:
            self._hold_entry(index, self._entry_read(index))

    def _hold_entry(self, index: int, entry: int) -> None:
        for field, row in self._rows[index].items():
            row[0] = row[entry]
            self.tables[index][field]._base_objs[0].put(row[entry], 0)

    def position(self, lanes: dict[int, LaneSteps | None], next_step: int,
                 held: Collection[int] = ()) -> None:
        """Set the given lanes so the next trigger plays step `next_step` mod their length.
        The lanes in `held` (while playing, after keep_playing) read their hold slots
        until that trigger, as do those still waiting for it since an earlier call."""
        for index, steps in lanes.items():
            own = self._own.pop(index, None)
            if own is not None:
                self._park(own)
                held = {*held, index}
            if steps is None:
                length, counter = None, self.idle
            elif self.stopped:  # the first step's values wait in the hold slot, silent
                self._hold_entry(index, next_step % steps.length + HOLD_SLOTS)
                self._silence_hold_slot(index)
                length, counter = None, self.idle
            else:
                length = steps.length
                first = next_step % length + HOLD_SLOTS
                shared = self._counters.get(length)
                if shared is not None:  # its lanes are on the same step as this one
                    shared.reset(first)
                if index in held and self._parked:  # a counter of its own, still at 0
                    counter = self._own[index] = self._take(length)
                else:  # a counter just started reads the hold slot until its first trigger:
                    self._hold_entry(index, first)  # the first step's pitch is there before its hit
                    counter = shared or self._start_counter(length)
                counter.reset(first)
            self._lengths[index] = length
            self._point(index, counter)
        for length in set(self._counters) - set(self._lengths):
            self._park(self._counters.pop(length))

    def settle(self) -> None:
        """Once per block: lanes whose own counter has had its first trigger go back to the
        shared counter of their length (or theirs becomes it); parked counters stop."""
        if not self._own and not self._parking:
            return
        for index, counter in list(self._own.items()):
            if self._value(counter)() == 0.0:
                continue  # its first trigger is still to come
            del self._own[index]
            length = self._lengths[index]
            shared = self._counters.get(length)
            if shared is None:
                self._counters[length] = counter
            else:  # both count the same steps from the same sample on
                self._point(index, shared)
                self._park(counter)
        parking, self._parking = self._parking, []
        for counter in parking:
            if self._value(counter)() == 0.0:
                counter.stop()
                self._parked.append(counter)
            else:
                self._parking.append(counter)

    def _entry_read(self, index: int) -> int:
        return round(self._value(self._reading[index])())

    def _point(self, index: int, counter: Any) -> None:
        if self._reading[index] is not counter:
            self._reading[index] = counter
            for set_index in self._index_setters[index]:
                set_index(counter._base_objs[0])

    def _replace(self, index: int, field: str, values: list[float]) -> None:
        self._rows[index][field] = values
        self.tables[index][field]._base_objs[0].setTable(values)  # without pyo's argument checks

    def _take(self, length: int) -> Any:
        """A counter from the pool (parked ones first), counting `length` steps."""
        counter = self._parked.pop() if self._parked else self._parking.pop()
        counter.max = length + HOLD_SLOTS
        counter.play()
        return counter

    def _start_counter(self, length: int) -> Any:
        counter = self._counters[length] = self._take(length)
        return counter

    def _park(self, counter: Any) -> None:
        # (`is`, not `in`: a pyo object's == makes a Compare object, which is true)
        if any(read is counter for read in (*self._counters.values(), *self._own.values())):
            return  # still read
        if self._value(counter)() == 0.0:  # not triggered since it was parked
            counter.stop()
            self._parked.append(counter)
        else:
            counter.reset(0)
            self._parking.append(counter)


class ClockGraph:
    """The step trigger: 1 on exactly the sample a step starts, 0 elsewhere.

    The graph counts samples (modulo CLOCK_PERIOD) and compares the count with the
    step start written in a table for the SCHEDULE_CHUNK-sample chunk it is in (one
    entry per chunk of the whole period; a chunk holds at most one start). ClockMath,
    in double precision, works out the starts, and schedule() keeps the next
    SCHEDULE_AHEAD steps written, ahead of time: the graph plays them on its own, with
    no arithmetic that could round a step onto a neighbouring sample in any precision
    or over any length of time. When the clock's line moves (start, stop, tempo,
    switch) the steps to come are written anew, at that block boundary.
    """

    def __init__(self, pyo, server: Any) -> None:
        if server.getIsStarted():
            raise ValueError("build the graph before the server starts: its counter starts with it")
        if closest_steps(int(server.getSamplingRate())) <= SCHEDULE_CHUNK:
            raise ValueError(f"two steps could start within {SCHEDULE_CHUNK} samples at this sample rate")
        self._elapsed = server.getCurrentTimeInSamples
        self._origin = int(self._elapsed())  # the sample the counter reads 0 on
        self.samples = pyo.Counter(pyo.Sig(1), min=0, max=CLOCK_PERIOD)
        self.onsets = pyo.DataTable(CLOCK_PERIOD // SCHEDULE_CHUNK)  # the counter's value of a step start
        self.onsets.add(NO_ONSET)
        chunk = pyo.Sig(self.samples, mul=1.0 / SCHEDULE_CHUNK)  # TableIndex takes its integer part
        self.trig = pyo.Compare(self.samples, pyo.TableIndex(self.onsets, chunk), "==")
        self._put = self.onsets._base_objs[0].put  # without pyo's argument checks
        self._scheduled: deque[tuple[int, int]] = deque()  # (step, sample) written, not yet started
        self.started: tuple[int, int] | None = None  # (step, sample) of the latest step started

    def processed(self) -> int:
        """Samples computed so far: the index of the first sample of the next block."""
        return int(self._elapsed())

    def schedule(self, clock: ClockMath, start: int, moved: bool = False) -> None:
        """At the block boundary before sample `start`: note the steps started, and keep
        the next ones written; when the clock's line has `moved`, write those anew."""
        scheduled = self._scheduled
        while scheduled and scheduled[0][1] < start:
            self.started = scheduled.popleft()
            self._write(self.started[1], on=False)
        if moved:
            for _, sample in scheduled:
                self._write(sample, on=False)
            scheduled.clear()
        if not clock.playing:
            return
        step = scheduled[-1][0] + 1 if scheduled else clock.step_at(start - 1) + 1
        while len(scheduled) < SCHEDULE_AHEAD:  # all after a move, else one a step
            sample = clock.onset(step)
            scheduled.append((step, sample))
            self._write(sample, on=True)
            step += 1

    def _write(self, sample: int, on: bool) -> None:
        """Schedule a step start on `sample` in its chunk (`on`), or clear the chunk."""
        count = (sample - self._origin) % CLOCK_PERIOD  # the counter's value on that sample
        self._put(float(count) if on else NO_ONSET, count // SCHEDULE_CHUNK)
