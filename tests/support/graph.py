"""An EngineGraph driven block by block on an offline pyo server, and the checks a run of
random commands keeps: no error, no exception, each lane's hits accounted for."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from chronus_tui.engine.protocol import Command, EngineMessage, Switched
from chronus_tui.synth import sequencer
from support.render import SR


@contextmanager
def offline_server() -> Iterator[Any]:
    """A booted offline server of 256-sample blocks, stopped and shut down afterwards."""
    from chronus_tui.synth.pyolib import pyo

    server = pyo.Server(sr=SR, nchnls=2, buffersize=256, duplex=0, audio="offline")
    server.setVerbosity(1)
    server.boot()
    try:
        yield server
    finally:
        server.stop()
        server.shutdown()


def run_graph(tmp_path, lanes: int, blocks: int, per_block: Callable[[Any, int], None]) -> None:
    """An EngineGraph of `lanes` lanes on an offline server computes `blocks` blocks of
    256 samples; per_block(graph, block) is called before each."""
    from chronus_tui.synth.graph import EngineGraph

    with offline_server() as server:
        graph = EngineGraph(server, lanes=lanes)
        block = [0]

        def callback() -> None:
            per_block(graph, block[0])
            block[0] += 1

        server.setCallback(callback)
        server.recordOptions(dur=blocks * 256 / SR, filename=str(tmp_path / "graph.wav"), fileformat=0)
        server.start()


def run_random_commands(tmp_path, lanes: int, blocks: int,
                        command: Callable[[Any], Command | None]) -> tuple[list[str], int]:
    """Run the graph for `blocks` blocks, handling command(graph) before each (None: no
    command), and check after each: each lane's hit counter in the graph reads the ring
    entry Python holds for its latest hit; the hits written are in order, to come, at least
    MIN_HIT_GAP samples apart, and none while stopped; no EngineMessage; nothing raises.
    Returns the problems found and the number of patterns switched to."""
    problems: list[str] = []
    switches = [0]
    running = [False] * lanes  # each lane ran through the block before

    def per_block(graph, block):
        try:
            for lane in graph.lanes:  # through the block just computed (no command since)
                hits = lane.hits
                hits.fire(graph.clock_graph.processed())
                if running[lane.index] and round(hits.counter.get()) != hits.current:
                    problems.append(f"block {block}: lane {lane.index} reads entry {hits.counter.get()}, "
                                    f"Python holds {hits.current}")
            if (next_command := command(graph)) is not None:
                graph.handle(next_command)
            for event in graph.poll_events():
                problems.extend([event.message] if isinstance(event, EngineMessage) else [])
                switches[0] += isinstance(event, Switched)
            start = graph.clock_graph.processed()
            for lane in graph.lanes:
                hits = lane.hits
                samples = [hit.sample for hit in hits.pending]
                if samples and (samples[0] < start or any(b - a < sequencer.MIN_HIT_GAP
                                                          for a, b in itertools.pairwise(samples))):
                    problems.append(f"block {block}: lane {lane.index} has hits {samples} from {start}")
                if samples and not graph.clock.playing:
                    problems.append(f"block {block}: lane {lane.index} has hits while stopped")
                running[lane.index] = lane.voice is not None
        except Exception as exc:  # pyo would print it and go on
            problems.append(f"block {block}: {exc!r}")

    run_graph(tmp_path, lanes, blocks, per_block)
    return problems, switches[0]
