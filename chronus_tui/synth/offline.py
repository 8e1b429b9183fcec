"""Offline rendering through the same EngineGraph, for `chronus render` and the tests.

pyo's offline server computes block after block as fast as it can and calls the same
per-block callback as the real-time engine, so a render is deterministic: same
pattern, sample rate and buffer size give the same samples (noise is seeded). The
file holds N bars, from step 0 to the first sample of bar N, and then a tail: the
sequencer stopped (no new notes) while the notes, the reverb and the delay ring out.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from chronus_tui.engine.protocol import Command, Event, Gate, Position, ReplacePattern, SetTransport, Switched
from chronus_tui.model import MAX_TRACKS, STEPS_PER_BAR, Pattern
from chronus_tui.synth.graph import ENVELOPE_LATENCY, EngineGraph
from chronus_tui.synth.pyolib import collector_paused, pyo
from chronus_tui.timing import ClockMath, buffer_problem, max_buffer

MAX_BARS = 1000
SAMPLE_RATES = (22050, 44100, 48000, 88200, 96000)
SEED = 1
PREROLL_SECONDS = 0.01
MAX_TAIL = 10.0  # seconds
QUIET_LEVEL = 10 ** (-90 / 20)  # an automatic tail ends once the output stays below −90 dBFS …
QUIET_SECONDS = 0.1  # … this long


@dataclass
class RenderResult:
    path: Path
    frames: int  # samples per channel in the file: the bars and the tail
    sr: int
    events: list[Event] = field(default_factory=list)


class RenderError(Exception):
    """The render could not be done; the message says why."""


def render_length(pattern: Pattern, bars: int, sr: int) -> int:
    """Samples from step 0 to the first sample of bar `bars`, as the clock plays them."""
    clock = ClockMath(sr)
    clock.start_at(0, pattern.bpm)
    clock.swing = pattern.swing
    return clock.onset(bars * STEPS_PER_BAR)


def render(pattern: Pattern, path: Path | str, *, bars: int | None = None, sr: int = 48000,
           buffer: int | None = None, schedule: dict[int, list[Command]] | None = None,
           float32: bool = False, progress: Callable[[int, int], None] | None = None,
           tail: float | None = 0.0, react: Callable[[Event], list[Command]] | None = None,
           loads: Sequence[Pattern] = (), frames: int | None = None) -> RenderResult:
    """Render `bars` bars of `pattern` to a stereo WAV (24-bit, or float32 for analysis).

    `buffer`: the block size; by default the longest the sequencer allows at `sr`
    (offline, longer blocks only save per-block overhead: the timing is the same).

    `schedule` maps a block index (0 = the block where step 0 plays) to protocol
    commands handed to the graph before that block is computed (e.g. a "bar" load
    queued mid-bar); event samples count from the file's first frame. The pattern and
    the commands' patterns are played as they are: the caller validated them (a file
    through the store, say).
    `react(event)` is called for each event the result keeps, right after its block's events
    are polled; the commands it returns are handled there, as the engine handles commands
    that arrive between blocks (a chain queues its next entry when one switches in). `loads`:
    the patterns those commands may load (the graph's lanes are built for them).
    `frames`: the render's length in samples instead of `bars` bars of `pattern` (a chain's,
    whose tempo changes: chain.entry_onsets).
    `progress(frames_done, total)` is called from the render loop (the bars: the tail
    shows as done).
    `tail`: seconds rendered after the last bar with the sequencer stopped (0: the file
    ends exactly on bar N's first sample); None: until the output stays below −90 dBFS
    for QUIET_SECONDS, at most MAX_TAIL seconds.
    """
    if (bars is None) == (frames is None):
        raise RenderError("give the render's length as bars or as frames, one of them")
    if bars is not None and not (1 <= bars <= MAX_BARS):
        raise RenderError(f"--bars {bars} is out of range 1–{MAX_BARS}")
    if frames is not None and frames < 1:
        raise RenderError(f"a render of {frames} frames is empty")
    if tail is not None and not (0 <= tail <= MAX_TAIL):  # NaN too
        raise RenderError(f"--tail {tail} is out of range 0–{MAX_TAIL:g} seconds")
    if sr not in SAMPLE_RATES:
        raise RenderError(f"--sr {sr} is not one of {', '.join(map(str, SAMPLE_RATES))}")
    if buffer is None:
        buffer = max_buffer(sr)
    elif (problem := buffer_problem(sr, buffer)) is not None:
        raise RenderError(problem)
    path = Path(path)
    if bars is not None:
        frames = render_length(pattern, bars, sr)
    tail_frames = round((MAX_TAIL if tail is None else tail) * sr)
    # pyo fades its output in over the first few ms after start: let that pass first.
    preroll = -(-int(PREROLL_SECONDS * sr) // buffer)
    origin = preroll * buffer + ENVELOPE_LATENCY  # the sample where step 0 sounds
    raw = path.with_name(f".{path.name}.{os.getpid()}.raw.wav")
    # Python's cycle collector stays off until the graph is gone again (so its objects
    # take back the count they added, and no collection of the heap follows either)
    with collector_paused():
        try:
            raw.open("wb").close()  # a folder that cannot be written fails here, saying why (not pyo)
            events, length = _record(pattern, schedule or {}, raw, sr=sr, buffer=buffer, origin=origin,
                                     frames=frames, tail=tail_frames, measure=tail is None,
                                     float32=float32, progress=progress, react=react, loads=loads)
            _finish_wav(raw, path, origin, length)
        finally:
            raw.unlink(missing_ok=True)
    return RenderResult(path, length, sr, events)


def _record(pattern: Pattern, schedule: dict[int, list[Command]], raw: Path, *, sr: int,
            buffer: int, origin: int, frames: int, tail: int, measure: bool, float32: bool,
            progress: Callable[[int, int], None] | None, react: Callable[[Event], list[Command]] | None,
            loads: Sequence[Pattern]) -> tuple[list[Event], int]:
    """Play the pattern through an offline EngineGraph, recording pyo's WAV to `raw`: the
    preroll blocks, then step 0, which sounds from sample `origin` (the file's first
    frame), `frames` frames from there and up to `tail` more, with the sequencer stopped
    (`measure`: the tail ends early once the output is quiet); `react` answers events with
    commands, `loads` the patterns they may load. Returns the graph's
    events, their samples counted from `origin`, and the frames to keep from `origin`."""
    preroll = origin // buffer  # blocks before step 0's
    end = origin + frames  # the first sample of the bar after the last
    blocks = -(-(end + tail) // buffer)
    kept = [frames + tail]
    server = pyo.Server(sr=sr, nchnls=2, buffersize=buffer, duplex=0, audio="offline")
    server.setVerbosity(1)  # errors only
    server.boot()
    events: list[Event] = []
    try:
        server.setGlobalSeed(SEED)
        graph = EngineGraph(server, lanes=_lanes_needed(pattern, schedule, loads))
        pending = {preroll + k: list(commands) for k, commands in schedule.items()}
        pending.setdefault(preroll, []).insert(0, SetTransport(True))
        # the sequencer stops where the next bar's first step would be triggered (in the
        # block of the sample before it sounds; at most one step starts in a block, so the
        # last bar's steps are all triggered before it)
        stop_block = (end - ENVELOPE_LATENCY) // buffer if tail else None
        graph.handle(ReplacePattern(pattern, "now"))
        meter = pyo.PeakAmp(graph.master.output) if tail and measure else None
        quiet_since: list[int | None] = [None]
        block = [0]

        def measure_tail() -> None:
            """After each block of the tail: end the render once the output has stayed
            quiet for QUIET_SECONDS, at the sample where it fell quiet."""
            done = block[0] * buffer  # samples computed so far
            if meter is None or done <= end:
                return
            if max(meter.get(all=True)) >= QUIET_LEVEL:
                quiet_since[0] = None
            elif quiet_since[0] is None:
                quiet_since[0] = max(done - buffer, end)
            elif done - quiet_since[0] >= QUIET_SECONDS * sr:
                kept[0] = quiet_since[0] - origin
                server.stop()  # this block is still computed: the file holds every kept frame

        def per_block() -> None:
            measure_tail()
            for command in pending.pop(block[0], []):
                graph.handle(command)
            if block[0] == stop_block:
                graph.handle(ReplacePattern(_without_tracks(graph, pattern), "now"))
            for event in graph.poll_events():
                if isinstance(event, (Position, Switched)):
                    event = replace(event, sample=event.sample - origin)
                    if event.sample >= frames:
                        continue  # after the end of the file
                events.append(event)
                for command in react(event) if react is not None else ():
                    graph.handle(command)
            if progress is not None:
                progress(min(max(block[0] - preroll, 0) * buffer, frames), frames)
            block[0] += 1

        server.setCallback(per_block)
        server.recordOptions(dur=(blocks * buffer + 0.5) / sr, filename=str(raw), fileformat=0,
                             sampletype=3 if float32 else 1)
        server.start()
    finally:
        server.stop()
        server.shutdown()
        server.setCallback(_idle)  # pyo keeps its last server and callback: let go of the graph
    return events, kept[0]


def _without_tracks(graph: EngineGraph, pattern: Pattern) -> Pattern:
    """The graph's pattern as it plays, without its tracks: installed, it stops the
    sequencer: every lane's note rings out from there (a slide's held one released, as
    when its track loses its hits), and it sets nothing else."""
    modules = {module: dict(values) for module, values in graph.params.values.items()}
    return replace(pattern, bpm=graph.bpm, swing=graph.swing, tracks=[], modules=modules)


def _idle() -> None:
    """A server callback that holds nothing."""


def _lanes_needed(pattern: Pattern, schedule: dict[int, list[Command]], loads: Sequence[Pattern] = ()) -> int:
    """Lanes for the render's patterns (each one built costs set-up time): the most tracks
    of one, or with scheduled loads or `loads`, of two at once (the notes of a pattern's
    tracks ring out on their lanes while the next one's tracks start on others), and one
    to spare for a scheduled hand-held Gate command."""
    commands = [command for block in schedule.values() for command in block]
    scheduled = [command.pattern for command in commands if isinstance(command, ReplacePattern)]
    counts = [len(p.tracks) for p in (pattern, *scheduled, *loads)]
    spare = any(isinstance(command, Gate) for command in commands)
    return min(MAX_TRACKS, max(1, sum(sorted(counts)[-2:]) + spare))


def _finish_wav(raw: Path, path: Path, first: int, frames: int) -> None:
    """Make pyo's WAV `raw` hold frames first … first+frames-1, and move it to `path`
    (atomically: both are in the same folder).

    The samples stay where pyo wrote them: a new header ends just before frame `first`,
    its JUNK chunk (zeros, which WAV readers skip) covering pyo's header and the frames
    before, and the file is cut after the last frame: copying the samples to a new file
    instead, and deleting this one, would cost the kernel a share of a busy render.
    """
    with open(raw, "r+b") as wav:
        if wav.read(12)[8:12] != b"WAVE":
            raise RenderError(f"pyo did not write a WAV file ({raw})")
        fmt = data_offset = data_size = None
        while (head := wav.read(8)) and len(head) == 8:
            name, size = head[:4], struct.unpack("<I", head[4:])[0]
            if name == b"fmt ":
                fmt = wav.read(size)
                wav.seek(size & 1, os.SEEK_CUR)
            elif name == b"data":
                data_offset, data_size = wav.tell(), size
                break
            else:
                wav.seek(size + (size & 1), os.SEEK_CUR)
        if fmt is None or data_offset is None or data_size is None:
            raise RenderError("pyo's WAV file has no fmt or data chunk")
        block_align = struct.unpack("<H", fmt[12:14])[0]
        if data_size < (first + frames) * block_align:
            raise RenderError(f"the render stopped short, {data_size // block_align} of {first + frames} "
                              "frames written: is the disk full?")
        start, length = data_offset + first * block_align, frames * block_align
        fact = b"fact" + struct.pack("<II", 4, frames) if struct.unpack("<H", fmt[:2])[0] != 1 else b""
        chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + fact
        junk = start - 12 - len(chunks) - 16  # after RIFF…WAVE, the chunks, and JUNK's and data's heads
        if junk < 0 or junk % 2:  # chunks start on even bytes
            raise RenderError(f"pyo's WAV file has no room for the header before frame {first}")
        header = b"WAVE" + chunks + b"JUNK" + struct.pack("<I", junk) + bytes(junk) + \
            b"data" + struct.pack("<I", length)
        wav.seek(0)
        wav.write(b"RIFF" + struct.pack("<I", len(header) + length) + header)
        wav.truncate(start + length)
    os.chmod(raw, 0o666 & ~_umask())  # a WAV is for sharing
    os.replace(raw, path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
