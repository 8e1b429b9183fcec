"""The edit journal's cost: an edit with the journal on and off, its bytes per hour, recovery of 100k records.

edit cost: (1) in one process, the same edits (a knob turned, steps toggled, the tempo) on
two Sessions holding a full 8 × 64 session, one journaling to a real JournalWriter and one
without a journal, taking turns, so a moment of load elsewhere falls on both; the added cost
is the difference of their p50s and p99s. (2) An OSC round trip (send, wait for /ok) against
two real `chronus --no-ui --audio null`, one journaling as always and one whose journal
folder is a file (so it runs without a journal, as it says at start), again taking turns.
The target: the journal adds under 0.2 ms to an edit.

bytes: a live set's edits at 50 a second (--rate): knob turns of a second or two (a run of
one value's changes is one history entry, but each change writes the entry again), step
toggles, track levels and mutes, tempo, an undo and redo now and then, a whole-pattern load
every --load-every seconds. The history's clock is simulated, so an hour takes seconds: the
journal's bytes over the first --seconds are scaled to an hour, and a whole simulated hour
is written to show the rebase at 8 MiB keeps the file bounded (its size is sampled every
simulated minute).

recovery: a journal of --records records of that mix (with fewer loads, so it stays under
the reader's 64 MiB), written by a JournalWriter, then the whole start-up recovery path
(recovery.read_recovery: read, check, replay every record) timed; the rebuilt session must
equal the one that wrote the journal. The target: under 1 s.

    .venv/bin/python benchmarks/bench_journal.py [--runs 1000] [--edits 3000] [--seconds 20]
        [--minutes 60] [--records 100000]

Prints a table and writes benchmarks/results/journal.json. Exits 1 when a check of
correctness fails (a recovered session that differs, a journal writer error), not for speed.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

from bench_osc import percentiles
from report import RESULTS, arguments, machine, print_rows, write_result
from support.fakes import FakeClock
from support.headless import Headless, ready
from support.osc import OscClient, free_udp_port
from support.patterns import full_pattern

from chronus_tui import patternfile
from chronus_tui.history import History
from chronus_tui.journalfile import JournalWriter, encode_line, journal_path, read_journal
from chronus_tui.recovery import JOURNAL_FOLDER, read_recovery
from chronus_tui.session import JOURNAL_REBASE_BYTES, Session, SessionError
from chronus_tui.store import AUTOSAVE_SLOT, SlotStore

TARGET_ADDED_MS = 0.2
TARGET_RECOVERY_S = 1.0
NOT_JOURNALED = "edits are not journaled this session"  # what chronus says when it cannot journal

Edit = Callable[[Session], object]
AGENT, UNDOER = "osc 127.0.0.1:9000", "osc 127.0.0.1:9001"  # an agent's edits; who undoes now and then


def added(on: dict[str, float], off: dict[str, float]) -> dict[str, float]:
    return {"p50_ms": on["p50_ms"] - off["p50_ms"], "p99_ms": on["p99_ms"] - off["p99_ms"]}


# -- a live set's edits -----------------------------------------------------------------


def live_edits(rng: random.Random, rate: float, load_every: float, slots: list[int]) -> Iterator[Edit]:
    """Endless edits as a live set makes them, one per 1/rate seconds of the set: mostly a
    knob turned for a second or two, then step toggles, track settings, the tempo; an undo
    and a redo about every 20 s; a load of a saved slot every load_every seconds."""
    tracks = [f"track{i + 1}" for i in range(8)]
    knobs = [("acid1", "cutoff", 80.0, 5000.0), ("voice1", "filter/freq", 50.0, 8000.0),
             ("delay1", "feedback", 0.0, 0.7), ("reverb1", "mix", 0.0, 1.0)]
    per_load = max(1, round(load_every * rate))
    count = 0
    while True:
        module, param, low, high = rng.choice(knobs)
        value = rng.uniform(low, high)
        for _ in range(rng.randint(round(rate), round(2 * rate))):  # a turn of 1–2 s, half the edits
            count += 1
            if count % per_load == 0:
                slot = slots[count // per_load % len(slots)]
                yield lambda s, slot=slot: s.load_slot(slot, "now", source=AGENT)
                continue
            if count % 2:
                value = min(max(value + rng.uniform(-0.02, 0.02) * (high - low), low), high)
                yield lambda s, m=module, p=param, v=value: s.set_param(m, p, v, source="ui")
                continue
            yield other_edit(rng, tracks, count, rate)


def other_edit(rng: random.Random, tracks: list[str], count: int, rate: float) -> Edit:
    if count % round(20 * rate) == 0:
        return lambda s: s.undo(everyone=True, source=UNDOER)
    if count % round(20 * rate) == 2:
        return lambda s: s.redo(everyone=True, source=UNDOER)
    track, roll, index, value = rng.choice(tracks), rng.random(), rng.randrange(16), rng.random()
    if roll < 0.7:
        return lambda s: s.set_step(track, index, on=not s.pattern.track(track).steps[index].on, source=AGENT)
    if roll < 0.9:
        return lambda s: s.set_level(track, value, source="ui")
    if roll < 0.97:
        return lambda s: s.set_mute(track, value < 0.5, source="ui")
    return lambda s: s.set_bpm(90 + 60 * value, source=AGENT)


def apply(session: Session, edit: Edit) -> None:
    with suppress(SessionError):  # nothing to undo or redo: a live set's undo can miss too
        edit(session)


def new_store(root: Path, name: str) -> SlotStore:
    """A patterns folder whose slot 0 and slots 1–3 hold full sessions (the live set's loads)."""
    store = SlotStore(root / name)
    for slot in (AUTOSAVE_SLOT, 1, 2, 3):
        store.save(slot, patternfile.pattern_to_dict(full_pattern(name=f"set {slot}")))
    return store


def session_on(store: SlotStore, clock: Callable[[], float] = time.monotonic) -> Session:
    session = Session(store, pattern=full_pattern())
    session.history = History(clock=clock)
    return session


def journaled(session: Session, path: Path) -> JournalWriter:
    writer = JournalWriter(path)
    writer.start(session.journal_header())
    session.journal = writer
    return writer


# -- (1) the cost of an edit --------------------------------------------------------------


def in_process(root: Path, edits: int) -> dict[str, Any]:
    """The same edits on a Session without a journal and one with, taking turns."""
    store = new_store(root, "in-process")
    off, on = session_on(store), session_on(store)
    writer = journaled(on, journal_path(root / "in-process-journal"))
    rng = random.Random(1)
    source = live_edits(rng, 50, 1e9, [1])  # no loads: their cost is the load's, not the journal's
    times: dict[str, list[float]] = {"off": [], "on": []}
    for i in range(edits + 200):
        edit = next(source)
        for name, session in (("off", off), ("on", on)) if i % 2 else (("on", on), ("off", off)):
            start = time.perf_counter()
            apply(session, edit)
            elapsed = (time.perf_counter() - start) * 1e3
            if i >= 200:  # the first ones warm caches
                times[name].append(elapsed)
    writer.flush()
    writer.close()
    same = off.snapshot() == on.snapshot()
    result = {"off": percentiles(times["off"]), "on": percentiles(times["on"]), "same_state": same,
              "writer_error": writer.error}
    result["added"] = added(result["on"], result["off"])
    return result


def osc_round_trips(root: Path, runs: int) -> dict[str, Any]:
    """Round trips of edits against a journaling chronus and one without a journal, in turns."""
    new_store(root, "osc-on")
    new_store(root, "osc-off")
    (root / "osc-off" / JOURNAL_FOLDER).write_text("a file where the journal's folder goes: no journal\n")
    with ready(Headless(root / "osc-on", root / "state-on", free_udp_port())) as on_process, \
            ready(Headless(root / "osc-off", root / "state-off", free_udp_port())) as off_process:
        if not any(NOT_JOURNALED in line for line in off_process.lines):
            raise RuntimeError("the chronus meant to run without a journal did not say so")
        clients = {"on": OscClient(on_process.port), "off": OscClient(off_process.port)}
        rng = random.Random(2)
        times: dict[str, list[float]] = {"off": [], "on": []}
        for i in range(runs + 100):
            kind = i % 3
            if kind == 0:
                message = ("/mod/acid1/cutoff", 80.0 + (i * 37) % 4900)
            elif kind == 1:
                message = ("/seq/step", f"track{rng.randint(1, 8)}", rng.randrange(16), rng.random() < 0.5)
            else:
                message = ("/seq/bpm", 90.0 + i % 60)
            for name in ("off", "on") if i % 2 else ("on", "off"):
                client = clients[name]
                start = time.perf_counter()
                client.send(*message)
                reply = client.recv(5.0)
                elapsed = (time.perf_counter() - start) * 1e3
                if reply[0] != "/ok":
                    raise RuntimeError(f"{message}: {reply}")
                if i >= 100:
                    times[name].append(elapsed)
        for client in clients.values():
            client.close()
        journal_bytes = journal_path(root / "osc-on" / JOURNAL_FOLDER).stat().st_size
    result = {"off": percentiles(times["off"]), "on": percentiles(times["on"]),
              "journal_bytes": journal_bytes}
    result["added"] = added(result["on"], result["off"])
    return result


# -- (2) bytes per hour -------------------------------------------------------------------


def bytes_per_hour(root: Path, seconds: float, minutes: float, rate: float,
                   load_every: float) -> dict[str, Any]:
    """A live set's edits on a simulated clock: the journal's bytes after `seconds` (scaled to
    an hour), then on to `minutes`, sampling the file's size every simulated minute."""
    store = new_store(root, "bytes")
    clock = FakeClock()
    session = session_on(store, clock)
    path = journal_path(root / "bytes-journal")
    writer = journaled(session, path)
    source = live_edits(random.Random(3), rate, load_every, [1, 2, 3])
    per_minute = round(60 * rate)
    early = None
    sizes: list[int] = []
    rebases = 0
    for count in range(1, round(minutes * 60 * rate) + 1):
        since_base = writer.bytes_since_base
        apply(session, next(source))
        clock.now += 1 / rate
        rebases += writer.bytes_since_base < since_base
        if count == round(seconds * rate):
            writer.flush(30)
            early = writer.bytes_written
        if count % per_minute == 0:
            writer.flush(30)
            sizes.append(path.stat().st_size)
    writer.flush(30)
    total = writer.bytes_written
    writer.close()
    back = read_journal(path)
    return {
        "rate_per_s": rate, "load_every_s": load_every, "seconds": seconds, "minutes": minutes,
        "bytes_first_seconds": early, "per_hour_scaled": early * 3600 / seconds if early else None,
        "written_bytes": total, "per_hour_measured": total * 60 / minutes, "rebases": rebases,
        "file_max_bytes": max(sizes, default=0), "file_mean_bytes": statistics.fmean(sizes) if sizes else 0,
        "file_end_bytes": path.stat().st_size, "rebase_at_bytes": JOURNAL_REBASE_BYTES,
        "history_entries": len(session.history), "writer_error": writer.error,
        "reads_back": back.header is not None and not back.torn and back.error is None and not back.skipped,
    }


# -- (3) recovery -------------------------------------------------------------------------


class Collected:
    """A JournalLink that keeps the records. Counting their bytes (`rebase_at_limit`), it is
    full when the Session would rebase; else it never asks for a rebase (one long journal)."""

    def __init__(self, rebase_at_limit: bool) -> None:
        self.records: list[dict[str, Any]] = []
        self.size = 0
        self.counts = rebase_at_limit
        self.full = False

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        self.size += len(encode_line(record)) if self.counts else 0

    def rebase(self, header: dict[str, Any]) -> None:
        self.full = True

    @property
    def bytes_since_base(self) -> int:
        return self.size


def recovery(root: Path, name: str, rate: float, repeat: int, records: int | None) -> dict[str, Any]:
    """Write a journal of `records` records of the live mix (None: as many as a journal holds
    before its rebase), then time read_recovery on it."""
    store = new_store(root, name)
    clock = FakeClock()
    session = session_on(store, clock)
    header = session.journal_header()
    collected = Collected(rebase_at_limit=records is None)
    session.journal = collected
    source = live_edits(random.Random(4), rate, 600, [1, 2, 3])
    while not collected.full and (records is None or len(collected.records) < records):
        apply(session, next(source))
        clock.now += 1 / rate
    path = journal_path(root / name / JOURNAL_FOLDER)
    writer = JournalWriter(path)
    writer.start(header)
    for record in collected.records:
        writer.append(record)
    writer.close()
    expected = session.snapshot()
    kinds = {kind: sum(kind in r for r in collected.records) for kind in ("edit", "undo", "redo")}
    timings, read_only = [], []
    found = None
    for _ in range(repeat):
        start = time.perf_counter()
        read_journal(path)
        read_only.append(time.perf_counter() - start)
        start = time.perf_counter()
        found = read_recovery(store, path)
        timings.append(time.perf_counter() - start)
    assert found is not None
    return {"records": len(collected.records), "kinds": kinds, "file_bytes": path.stat().st_size,
            "recovery_s": {"min": min(timings), "median": statistics.median(timings), "runs": repeat},
            "read_only_s": {"min": min(read_only), "median": statistics.median(read_only)},
            "skipped": found.skipped, "notice": found.notices[-1] if found.notices else "",
            "same_state": found.session is not None and found.session.snapshot() == expected}


def recovery_rows(label: str, r: dict[str, Any]) -> list[tuple[str, object]]:
    mib = 1 << 20
    return [
        (f"recovery of {label}{r['records']} records",
         f"{r['recovery_s']['median']:.3f} s median, {r['recovery_s']['min']:.3f} s min "
         f"({r['file_bytes'] / mib:.1f} MiB; target < {TARGET_RECOVERY_S:g} s: "
         f"{'ok' if r['recovery_s']['median'] < TARGET_RECOVERY_S else 'MISSED'})"),
        ("  of which reading the file", f"{r['read_only_s']['median']:.3f} s median"),
        ("  records: edits / undos / redos", "{edit} / {undo} / {redo}".format(**r["kinds"])),
        ("  recovered state equals the written", str(r["same_state"])),
    ]


def main() -> int:
    parser = arguments(__doc__, RESULTS / "journal.json")
    parser.add_argument("--runs", type=int, default=1000, help="OSC round trips per process")
    parser.add_argument("--edits", type=int, default=3000, help="in-process edits per session")
    parser.add_argument("--rate", type=float, default=50.0, help="edits a second of the live set")
    parser.add_argument("--load-every", type=float, default=20.0, help="seconds between whole-pattern loads")
    parser.add_argument("--seconds", type=float, default=20.0, help="simulated seconds measured, then scaled")
    parser.add_argument("--minutes", type=float, default=60.0, help="simulated minutes the file is watched")
    parser.add_argument("--records", type=int, default=100_000, help="records in the recovered journal")
    parser.add_argument("--repeat", type=int, default=3, help="recoveries timed")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="chronus-bench-journal-") as folder:
        root = Path(folder)
        direct = in_process(root, args.edits)
        osc = osc_round_trips(root, args.runs)
        size = bytes_per_hour(root, args.seconds, args.minutes, args.rate, args.load_every)
        recovered = recovery(root, "recovery", args.rate, args.repeat, args.records)
        full = recovery(root, "recovery-full", args.rate, args.repeat, None)

    print(f"edit cost, journal off / on / added (ms; {args.edits} in-process edits, "
          f"{args.runs} OSC round trips)")
    print(f"{'':<34}{'p50 off':>9}{'p50 on':>9}{'added':>8}{'p99 off':>9}{'p99 on':>9}{'added':>8}")
    for name, r in (("Session edit, in process", direct), ("OSC round trip, chronus --no-ui", osc)):
        print(f"{name:<34}{r['off']['p50_ms']:>9.3f}{r['on']['p50_ms']:>9.3f}{r['added']['p50_ms']:>8.3f}"
              f"{r['off']['p99_ms']:>9.3f}{r['on']['p99_ms']:>9.3f}{r['added']['p99_ms']:>8.3f}")
    worst = max(direct["added"]["p50_ms"], osc["added"]["p50_ms"])
    mib = 1 << 20
    print()
    print_rows([
        ("added p50, target", f"< {TARGET_ADDED_MS} ms: {'ok' if worst < TARGET_ADDED_MS else 'MISSED'}"),
        (f"journal bytes in {args.seconds:g} s at {args.rate:g} edits/s",
         f"{size['bytes_first_seconds']} (a load every {args.load_every:g} s)"),
        ("  scaled to an hour", f"{size['per_hour_scaled'] / mib:.1f} MiB"),
        (f"written in a simulated {args.minutes:g} min", f"{size['written_bytes'] / mib:.1f} MiB "
                                                         f"({size['per_hour_measured'] / mib:.1f} MiB/h), "
                                                         f"{size['rebases']} rebases"),
        ("file size, sampled each minute", f"mean {size['file_mean_bytes'] / mib:.1f} MiB, "
                                           f"max {size['file_max_bytes'] / mib:.1f} MiB "
                                           f"(rebase past {JOURNAL_REBASE_BYTES / mib:g} MiB)"),
        *recovery_rows("", recovered),
        *recovery_rows("the largest journal, ", full),
    ])
    facts = machine()
    print(f"load average (1 min) {facts['load_average_1min']:.2f} on {facts['cpus']} CPUs")
    results = {"benchmark": "journal", **facts, "in_process": direct, "osc": osc, "bytes": size,
               "recovery": recovered, "recovery_full_journal": full, "target_added_ms": TARGET_ADDED_MS,
               "target_recovery_s": TARGET_RECOVERY_S}
    print()
    write_result(args.output, results)
    ok = (direct["same_state"] and size["reads_back"]
          and all(r["same_state"] and not r["skipped"] for r in (recovered, full))
          and direct["writer_error"] is None and size["writer_error"] is None)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
