"""Time to export a 128-bar song as a Standard MIDI File: a chain of 8 entries of 16 bars each
over the factory patterns (each entry's repeats × its pattern's play, a song's tempo on every
entry, as `chronus export-midi SONG` hands them to the exporter), then the file's bytes written
as the exporter writes them (temporary file, fsync, rename); then the same song with every hit
expressive (a 50 % probability, two ratchets, micro-timing and an amp lock on each), whose every
step the exporter decides with trigs.decide and splits into hits.

    .venv/bin/python benchmarks/bench_midi_export.py [--runs 30]

Prints a table and writes benchmarks/results/midi_export.json.
"""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import replace
from pathlib import Path

from bench_store import timed  # warm up, then p50 / p99 / max in ms
from report import RESULTS, arguments, machine, write_result

from chronus_tui import midiexport
from chronus_tui.chain import Chain, ChainEntry, chain_steps, play_steps, played_entries
from chronus_tui.model import STEPS_PER_BAR, Pattern
from chronus_tui.store import factory_patterns, load_file

ENTRIES, BARS = 8, 16


def expressive(pattern: Pattern) -> Pattern:
    """The pattern with every hit at 50 %, ratcheted twice, 3/24 late and locked to half its voice's amp."""
    tracks = [replace(track, steps=[replace(step, prob=50, ratchet=2, micro=3,
                                            locks={"amp": pattern.modules[track.voice]["amp"] / 2})
                                    if step.on else step for step in track.steps])
              for track in pattern.tracks]
    return replace(pattern, tracks=tracks)


def main() -> int:
    parser = arguments(__doc__, RESULTS / "midi_export.json")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    patterns = [load_file(path) for path in factory_patterns()]
    slots = list(itertools.islice(itertools.cycle(range(1, len(patterns) + 1)), ENTRIES))
    song = Chain(tuple(ChainEntry(slot, BARS * STEPS_PER_BAR // play_steps(patterns[slot - 1]),
                                  bpm=120.0 + 4 * k) for k, slot in enumerate(slots)), loop=False)
    played = played_entries(song, lambda slot: patterns[slot - 1])
    entries = [midiexport.ExportEntry(pattern, steps)
               for (_, pattern), steps in zip(played, chain_steps(played), strict=True)]
    assert sum(entry.steps for entry in entries) == ENTRIES * BARS * STEPS_PER_BAR
    midi = midiexport.export_midi(entries)
    expressive_entries = [replace(entry, pattern=expressive(entry.pattern)) for entry in entries]
    expressive_notes = midiexport.note_count(midiexport.export_midi(expressive_entries))
    with tempfile.TemporaryDirectory(prefix="chronus-bench-") as folder:
        path = Path(folder) / "song.mid"
        results = {
            "export (model → SMF)": timed(lambda: midiexport.export_midi(entries), args.runs),
            "save (write + fsync + rename)": timed(lambda: midiexport.save(midi, path), args.runs),
            "export, every hit expressive": timed(lambda: midiexport.export_midi(expressive_entries),
                                                  args.runs),
        }
        size = path.stat().st_size

    facts = machine()
    notes = midiexport.note_count(midi)
    print(f"a song of {ENTRIES} entries × {BARS} bars ({', '.join(p.name for p in patterns)}), a tempo "
          f"each: {len(midi.tracks)} tracks, {notes} notes ({expressive_notes} expressive), {size} bytes; "
          f"{args.runs} runs; load average "
          f"{facts['load_average_1min']:.2f} on {facts['cpus']} CPUs")
    print(f"{'operation':32} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, r in results.items():
        print(f"{name:32} {r['p50']:8.2f} {r['p99']:8.2f} {r['max']:8.2f}")
    write_result(args.output, {
        "benchmark": "midi_export", "entries": ENTRIES, "bars": ENTRIES * BARS, "notes": notes,
        "expressive_notes": expressive_notes,
        "tracks": len(midi.tracks), "file_bytes": size, **facts, "results_ms": results,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
