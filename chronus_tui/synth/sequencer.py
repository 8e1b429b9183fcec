"""The sample-exact sequencer: the pyo graph of the clock, and each lane's hits.

The clock's line (chronus_tui/timing.py, ClockMath, double precision) says on which
sample each step starts; Python moves it only at block boundaries. The graph counts
samples (ClockGraph), and each lane's hits are written as counts of that counter.

Each lane plays hits the same way (LaneHits): HitPlanner decides, a few steps ahead and
at block boundaries, which steps play (chronus_tui/trigs.py: probability, conditions,
fill) and where their hits fall (micro-timing, ratchets), and writes each hit's sample
into the lane's hit table and its values (level, pitch, tie, gate, accent) into the
next entry of the lane's ring. In the graph the lane's trigger fires on exactly those
samples and a Counter of its hits moves the ring's readers on the same sample, so no
Python runs in the per-hit path and a hit sounds where it was planned, to the sample.
A lane reads the entry of its latest hit until its next one: an edit rewrites only the
hits still to come, so a note sounding keeps its pitch, level and accent.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from chronus_tui.model import BPM_RANGE, MICRO_DIVISIONS, MICRO_SPEC, Step, Track, midi_to_hz
from chronus_tui.timing import ClockMath, closest_steps, step_samples
from chronus_tui.trigs import TrigState, decide, hit_level, hit_offsets

ACCENT_BRIGHTNESS = 0.75  # how much unfiltered source an accented hit lets into acid1 (voice2)
HELD_GATE = 1e9  # gate length of a slide's hit, in seconds: held until the next hit
PERIOD_STEPS = 4  # the graph's sample counter wraps after at least this many steps at the slowest tempo
SCHEDULE_AHEAD = 16  # steps noted ahead (ClockGraph), and decisions kept behind (HitPlanner)
MIN_HIT_GAP = 32  # samples: a hit closer than this after its lane's previous one is dropped
GATE_GAP = 2  # samples: a gate closes at least this long before its lane's next hit (a retrigger)
RING = 128  # entries of hit values per lane: more than the hits written ahead and the one sounding
HIT_FIELDS = ("level", "freq", "tie", "gate", "bright", "accent")
EARLIEST = math.ceil(-MICRO_SPEC.low / MICRO_DIVISIONS * 1e6) / 1e6  # steps a hit can come early


@dataclass(slots=True)
class Hit:
    """One planned hit of a lane: where, and what it plays."""

    sample: int
    step: int  # the step (count of the clock) it belongs to
    ratchet: int  # its place among its step's ratchets (0: the step's first hit)
    voice: str  # its track's
    level: float  # velocity × an amp lock's share of the voice's amp
    note_hz: float  # 0: the voice's own freq
    accent: bool
    slide: bool  # held until the lane's next hit, which glides to its pitch
    gate: float  # samples, before it is cut short by the next hit
    locks: dict[str, float]  # its step's parameter locks (block-rate ones applied by the engine)
    lock_until: int  # the sample its step's locks end on: one step after the step's first hit
    index: int = 0  # its entry in the lane's ring, once written


def clock_period(sr: int) -> int:
    """Samples the graph's counter counts before it wraps: a power of two of at least
    PERIOD_STEPS steps at the slowest tempo (3 s; 262144 samples at 48 kHz). A float32 counts
    them exactly, each lane's hit table has an entry for each (1 MB at 48 kHz), and the hits
    written ahead span far less (a block and about a step and a half)."""
    return 1 << math.ceil(math.log2(PERIOD_STEPS * step_samples(BPM_RANGE[0], sr)))


def _sample_of(hit: Hit) -> int:
    return hit.sample


def step_hz(step: Step) -> float:
    """The pitch of a step's note (Hz); 0: it has none (it plays its voice's freq)."""
    return midi_to_hz(step.note + step.cents / 100) if step.note is not None else 0.0


def first_pitch(track: Track, voice_freq: float) -> float:
    """The pitch (Hz) a track sounds on its first step: that step's, or if it rests, its last
    hit's (the one before it, round the loop)."""
    hits = [s for s in track.steps if s.on]
    step = track.steps[0] if track.steps[0].on else hits[-1] if hits else None
    return (step_hz(step) if step is not None else 0.0) or voice_freq


def track_pitch(track: Track, voice_freq: float) -> float:
    """The median pitch (Hz) of what a track sounds, by steps played (a rest counts the hit
    before it): it picks the oscillator's table."""
    freqs = [step_hz(s) or voice_freq for s in track.steps if s.on]
    if not freqs:
        return voice_freq
    sounding, k = [], -1
    for step in track.steps:
        k += step.on
        sounding.append(freqs[k % len(freqs)])
    return statistics.median(sounding)


def slides(track: Track) -> bool:
    """Whether some hit of the track glides into the next (its lane then runs the glide)."""
    return any(s.on and s.slide for s in track.steps)


def track_levels(tracks: list[Track]) -> list[float]:
    """Each track's level after mute and solo (any solo silences the tracks without it)."""
    soloing = any(t.solo for t in tracks)
    return [0.0 if t.mute or (soloing and not t.solo) else float(t.level) for t in tracks]


class LaneHits:
    """A lane's trigger and ring of hit values in the graph, and what Python wrote there.

    The trigger reads the lane's hit table at the clock's sample count: 1 where a hit
    is written, else 0. A Counter of its triggers (from 1; 0 before the first) indexes
    the ring's DataTables, entry 0 being what a lane without hits reads (a hand-held
    voice's freq).
    """

    def __init__(self, pyo, clock: ClockGraph) -> None:
        self._clock = clock
        self.onsets = pyo.DataTable(clock.period)  # 1 on the count of each hit written (zeros)
        self.trig = pyo.TableIndex(self.onsets, clock.samples)
        self.counter = pyo.Counter(self.trig, min=1, max=RING + 1)
        self.objects = [self.trig, self.counter]  # run while the lane plays
        self.tables = {name: pyo.DataTable(RING + 1) for name in HIT_FIELDS}
        self._put_onset = self.onsets._base_objs[0].put  # without pyo's argument checks
        self._puts = {name: table._base_objs[0].put for name, table in self.tables.items()}
        self.pending: deque[Hit] = deque()  # written, still to fire, in order
        self.sounding: Hit | None = None  # the latest hit fired (the entry read now)
        self.current = 0  # the ring entry read now
        self.planned: list[Hit] = []  # decided, not yet written, in order of sample
        self.sounded_through = -1  # the latest step whose hit has fired (it is not played again)

    def reader(self, pyo, name: str, **kwargs: Any) -> Any:
        """A TableIndex of the ring's `name` values, on the entry of the latest hit."""
        return pyo.TableIndex(self.tables[name], self.counter, **kwargs)

    def fire(self, start: int) -> None:
        """At the block boundary before `start`: the hits before it have fired."""
        while self.pending and self.pending[0].sample < start:
            hit = self.sounding = self.pending.popleft()
            self.current = hit.index
            self.sounded_through = max(self.sounded_through, hit.step)
            self._put_onset(0.0, self._clock.count_of(hit.sample))

    def previous(self) -> Hit | None:
        """The latest hit written or fired."""
        return self.pending[-1] if self.pending else self.sounding

    def write(self, hit: Hit, values: tuple[float, ...]) -> None:
        """Hit `hit`, playing `values` (HIT_FIELDS), after the ones written."""
        previous = self.previous()
        hit.index = (previous.index if previous is not None else self.current) % RING + 1
        for put, value in zip(self._puts.values(), values, strict=True):
            put(value, hit.index)
        self._put_onset(1.0, self._clock.count_of(hit.sample))
        self.pending.append(hit)

    def unwrite(self) -> list[Hit]:
        """Take back every hit written that has not fired; returns them, in order."""
        self.fire(self._clock.processed())  # (a command comes before the block's advance)
        for hit in self.pending:
            self._put_onset(0.0, self._clock.count_of(hit.sample))
        taken, self.pending = list(self.pending), deque()
        return taken

    def put(self, name: str, value: float) -> None:
        """Change the value the lane reads now (its latest hit's)."""
        self.fire(self._clock.processed())
        self._puts[name](value, self.current)


class HitPlanner:
    """Decides each lane's hits a few steps ahead and writes them (LaneHits), at block
    boundaries: which steps play (trigs.decide), where their hits fall, and their values.

    Steps are planned in order, all tracks at once (NEI reads the track before). A hit
    is written once no hit still to be planned can come before it, nor within a step
    after it (so its gate, which closes GATE_GAP samples before the lane's next hit,
    knows that hit): steps are planned until that holds for the coming block.
    Rules: a step's hits fall at its swung onset + round(offset × one unswung step)
    for each trigs.hit_offsets; none before `floor` (the pattern's first step, or now
    after an edit); a step's ratchets after its first stop at the first hit of a later
    played step of the lane; a hit within MIN_HIT_GAP samples after the lane's
    previous one is dropped. An edit, a tempo change, fill or a new seed plans again
    from the next step (replan): hits written that have not fired are taken back, and a
    step whose hit has fired is not played again.
    """

    def __init__(self, lanes: Sequence[LaneHits], clock: ClockMath, sr: int,
                 voice_values: Callable[[str], dict[str, float]]) -> None:
        self.lanes = lanes
        self.clock = clock
        self.sr = sr
        self._voice_values = voice_values
        self.tracks: list[Track] = []
        self.lane_of: list[int] = []
        self.silent: set[int] = set()  # lanes whose track plays no hits (muted, unsoloed)
        self.seed = 0
        self.fill = False
        self.n0 = 0  # the step the pattern started on: the decisions count from it
        self._limit: int | None = None
        self._due: float | None = None  # the end of the blocks whose hits are all written (None: plan)
        self.floor = 0  # no hit before this sample
        self._next = 0  # the next step to plan
        self._states: dict[int, TrigState] = {}  # the decisions' state before each step planned
        self.bpm = 120.0

    def install(self, tracks: list[Track], lane_of: list[int], silent: set[int]) -> None:
        """The tracks playing, the lane of each, and the lanes that play no hits."""
        self.tracks, self.lane_of = tracks, lane_of
        self.silent = silent | {index for track, index in zip(tracks, lane_of, strict=True)
                                if not any(step.on for step in track.steps)}

    def restart(self, n0: int, floor: int) -> None:
        """The pattern (re)starts on step n0: decisions count from it, in a fresh state;
        the hits written from `floor` on are taken back."""
        self.n0 = n0
        self._states = {n0: TrigState()}
        for lane in self.lanes:
            lane.planned = [hit for hit in self._taken_back(lane) if hit.sample < floor and hit.step < n0]
            lane.sounded_through = -1
        self.floor, self._next, self._due = floor, n0, None

    def replan(self, step: int, floor: int) -> None:
        """Plan again from `step` on (the hits of earlier steps stay), no hit before `floor`."""
        if step < self.n0 or step not in self._states:
            step = max(self.n0, min(step, self._next))
        for lane in self.lanes:
            lane.planned = [hit for hit in self._taken_back(lane) if hit.step < step]
        self.floor, self._next, self._due = max(self.floor, floor), step, None

    def stop(self) -> None:
        """The transport stopped: nothing more plays, and each lane's sounding hit lets go."""
        for lane in self.lanes:
            lane.unwrite()
            lane.planned = []
            lane.put("level", 0.0)
        self._states = {}

    def release(self, lane: LaneHits) -> None:
        """A lane lost its track: no more hits, and its sounding one lets go (rings out)."""
        lane.unwrite()
        lane.planned = []
        lane.put("level", 0.0)

    def _taken_back(self, lane: LaneHits) -> list[Hit]:
        return [*lane.unwrite(), *lane.planned]

    @property
    def limit(self) -> int | None:
        """No step from this one on is planned (a queued pattern starts there)."""
        return self._limit

    @limit.setter
    def limit(self, step: int | None) -> None:
        self._limit, self._due = step, None

    def advance(self, start: int, end: int) -> None:
        """At the block boundary before sample `start`: note the hits fired, plan steps
        until every hit before `end` is known, and write those that are due."""
        for lane in self.lanes:
            if lane.pending and lane.pending[0].sample < start:
                lane.fire(start)
        if not self.clock.playing or (self._due is not None and end < self._due):
            return  # (most blocks: the hits of this one are written, and no step is due)
        self.floor = max(self.floor, start)  # (a step held back by a load since cancelled is due now)
        step = step_samples(self.bpm, self.sr)
        early = math.ceil(EARLIEST * step)  # no hit of a step still to plan comes before its onset - this
        room = math.ceil(step) + GATE_GAP  # a hit this far before that knows its gate's end
        while (self.limit is None or self._next < self.limit) and \
                self.clock.onset(self._next) - early - room <= end:
            self._plan(self._next, step)
            self._next += 1
        if self.limit is not None and self._next >= self.limit:  # the next pattern's hits follow
            bound, after = None, self.clock.onset(self.limit)
            self._due = math.inf
        else:
            after = self.clock.onset(self._next) - early
            bound = self._due = after - room
        for index in set(self.lane_of):
            self._write(self.lanes[index], bound, after)
        for n in [n for n in self._states if n < self._next - SCHEDULE_AHEAD]:
            del self._states[n]

    def _plan(self, n: int, step: float) -> None:
        state = self._states.get(n, TrigState())
        plays, self._states[n + 1] = decide(self.tracks, n - self.n0, self.seed, self.fill, state)
        onset = self.clock.onset(n)
        for track, index, played in zip(self.tracks, self.lane_of, plays, strict=True):
            lane = self.lanes[index]
            if index in self.silent:
                self._let_go(lane, max(onset, self.floor))
                continue
            if not played or n <= lane.sounded_through:
                continue
            s = track.steps[(n - self.n0) % track.length]
            samples = [max(onset + math.floor(offset * step + 0.5), self.floor) for offset in hit_offsets(s)]
            first = samples[0]
            planned = lane.planned
            if planned and planned[-1].sample >= first:  # a step before runs late: its ratchets stop here
                planned = lane.planned = [hit for hit in planned if hit.ratchet == 0 or hit.sample < first]
            level = hit_level(s, self._voice_values(track.voice)["amp"])
            note_hz = step_hz(s)
            last = len(samples) - 1
            span = track.gate * step / s.ratchet
            for j, sample in enumerate(samples):
                bisect.insort(planned, Hit(sample, n, j, track.voice, level, note_hz, s.accent,
                                           s.slide and j == last, span, s.locks, first + round(step)),
                              key=_sample_of)

    @staticmethod
    def _let_go(lane: LaneHits, sample: int) -> None:
        """A silent lane whose last hit slides (held until a next hit, which will not come)
        lets go on `sample`: a hit of level 0 there, with the note's pitch and accent."""
        last = lane.planned[-1] if lane.planned else lane.previous()
        if last is not None and last.slide:
            bisect.insort(lane.planned, replace(last, sample=sample, ratchet=0, level=0.0, slide=False,
                                                gate=1.0, locks={}, lock_until=sample), key=_sample_of)

    def _write(self, lane: LaneHits, bound: int | None, after: int) -> None:
        """Write the lane's planned hits before `bound` (None: all); no hit still to plan
        comes before `after`."""
        planned = lane.planned
        while planned and (bound is None or planned[0].sample < bound):
            hit = planned.pop(0)
            previous = lane.previous()
            if previous is not None and hit.sample - previous.sample < MIN_HIT_GAP:
                continue
            following = planned[0].sample if planned else after
            lane.write(hit, self._values(hit, previous, following))

    def _values(self, hit: Hit, previous: Hit | None, following: int) -> tuple[float, ...]:
        """The ring's values of `hit` (HIT_FIELDS)."""
        if hit.slide:
            gate = HELD_GATE
        else:
            gate = max(1.0, min(hit.gate, following - hit.sample - GATE_GAP)) / self.sr
        tie = previous is not None and previous.slide
        return (hit.level, hit.note_hz or self._voice_values(hit.voice)["freq"], float(tie), gate,
                ACCENT_BRIGHTNESS if hit.accent else 0.0, float(hit.accent))


class ClockGraph:
    """The graph's sample count, at which the lanes' hit triggers read their tables, and the steps
    started (Python's record, for Position events).

    The graph counts samples modulo `period`; ClockMath, in double precision, works
    out where steps start, and HitPlanner writes each lane's hits as counts of this
    counter (count_of), ahead of time: the graph plays them on its own, with no
    arithmetic that could round a hit onto a neighbouring sample in any precision or
    over any length of time.
    """

    def __init__(self, pyo, server: Any) -> None:
        if server.getIsStarted():
            raise ValueError("build the graph before the server starts: its counter starts with it")
        if closest_steps(int(server.getSamplingRate())) <= MIN_HIT_GAP:
            raise ValueError(f"two steps could start within {MIN_HIT_GAP} samples at this sample rate")
        self._elapsed = server.getCurrentTimeInSamples
        self._origin = int(self._elapsed())  # the sample the counter reads 0 on
        self.period = clock_period(int(server.getSamplingRate()))
        self.samples = pyo.Counter(pyo.Sig(1), min=0, max=self.period)
        self._scheduled: deque[tuple[int, int]] = deque()  # (step, sample) ahead, not yet started
        self.started: tuple[int, int] | None = None  # (step, sample) of the latest step started

    def processed(self) -> int:
        """Samples computed so far: the index of the first sample of the next block."""
        return int(self._elapsed())

    def count_of(self, sample: int) -> int:
        """The counter's value on `sample`."""
        return (sample - self._origin) % self.period

    def schedule(self, clock: ClockMath, start: int, moved: bool = False) -> None:
        """At the block boundary before sample `start`: note the steps started, and keep
        the next ones noted; when the clock's line has `moved`, note those anew."""
        scheduled = self._scheduled
        while scheduled and scheduled[0][1] < start:
            self.started = scheduled.popleft()
        if moved:
            scheduled.clear()
        if not clock.playing:
            return
        step = scheduled[-1][0] + 1 if scheduled else clock.step_at(start - 1) + 1
        while len(scheduled) < SCHEDULE_AHEAD:  # all after a move, else one a step
            scheduled.append((step, clock.onset(step)))
            step += 1
