"""Crash recovery against the real `chronus --no-ui`: killed at random moments, hung up, and
started on a torn journal, it comes back with every edit acknowledged before the crash.

The edits go over OSC, each to the real process and to a shadow: an in-process Session
behind its own OSC server, so the shadow's state after each `/ok` is the state that edit
acknowledged. After each restart the recovered state (saved to a spare slot over OSC, read
from its file) must be one of the acknowledged states: the last one acknowledged more than
250 ms before the kill, or one acknowledged after it (the journal is synced every 100 ms,
so these may or may not have reached the disk), or that of an edit the kill cut short.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.headless import Headless, ready
from support.osc import OscClient, Reply, free_udp_port

from chronus_tui.osc.server import serve_in_thread
from chronus_tui.session import Session
from chronus_tui.store import SlotStore, factory_patterns

KILLS = 100
GRACE = 0.25  # seconds: an edit acknowledged this long before a crash must survive it
# A machine loaded by other work can starve the journal's writer thread past the grace. A
# round whose recovery is an acknowledged state from within LATE_GRACE of the kill, but older
# than GRACE, is late, not lost: a few are noise; more, or anything else, fail.
LATE_GRACE = 2.0
MAX_LATE_ROUNDS = 3
KILL_AFTER = (0.0, 0.5)  # seconds after the first edit of a round, uniformly
SPARE_SLOT = 128  # where a round saves the recovered state to read it whole
LOADABLE = {1: "techno", 2: "acid", 3: "house"}
Acked = list[tuple[float, dict[str, Any]]]  # (when an edit was acknowledged, the state it left)
TRACKS = ("kick", "hats", "bass", "stab", "lead")
PARAMS = (("voice1", "amp", 0.0, 1.0), ("voice2", "filter/freq", 100.0, 5000.0),
          ("acid1", "cutoff", 100.0, 4000.0), ("reverb1", "mix", 0.0, 1.0), ("delay1", "feedback", 0.0, 0.9))


def factory(name: str) -> dict[str, Any]:
    path = next(path for path in factory_patterns() if path.stem == name)
    return json.loads(path.read_text())


def live_state(snapshot: dict[str, Any], playing_slot: int | None) -> dict[str, Any]:
    return {"pattern": snapshot, "slot": playing_slot}


def unstamped(state: dict[str, Any]) -> dict[str, Any]:
    """A state as a saved copy of it shows it: every save stamps its own `saved_at` (the live
    pattern keeps that of the file it was loaded from)."""
    return {**state, "pattern": {**state["pattern"], "saved_at": None}}


def random_edit(rng: random.Random, undo_round: bool) -> tuple[Any, ...]:
    """One OSC edit; some name tracks that may not be there (both sides then refuse them).

    A round has undo and redo, or edits of one value that coalesce into runs (knobs, tempo,
    swing), never both: whether a run goes on depends on time (0.5 s of quiet), which the
    shadow and the real process may see differently under load, and undoing a run of one
    length or another leaves different states."""
    track = rng.choice(TRACKS)
    edits: list[tuple[Any, ...]] = [
        ("/seq/step", track, rng.randrange(16), rng.random() < 0.5, rng.randrange(36, 72)),
        ("/seq/add", track, f"voice{rng.randrange(1, 9)}", "".join(rng.choice("xX..") for _ in range(16))),
        ("/seq/remove", track),
        ("/seq/length", track, rng.randrange(1, 65)),
        ("/seq/mute", track, rng.random() < 0.5),
        ("/pattern/load", rng.choice(list(LOADABLE)), "now"),
    ]
    if undo_round:
        edits += [("/undo", rng.randrange(1, 3)), ("/redo",)]
    else:
        module, param, low, high = rng.choice(PARAMS)
        edits += [(f"/mod/{module}/{param}", round(rng.uniform(low, high), 2))] * 3
        edits += [("/seq/bpm", float(rng.randrange(60, 200))), ("/seq/swing", round(rng.uniform(0, 0.6), 2))]
    return rng.choice(edits)


@dataclass
class Shadow:
    """The in-process Session that gets every edit the real process gets."""

    session: Session
    client: OscClient

    def state(self) -> dict[str, Any]:
        return live_state(self.session.snapshot(), self.session.transport.playing_slot)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """The real process's patterns folder and the shadow's: the same slots in each."""
    patterns, shadow = tmp_path / "patterns", tmp_path / "shadow"
    store = SlotStore(patterns)
    store.save(0, factory("demo"))
    for slot, name in LOADABLE.items():
        store.save(slot, factory(name))
    shutil.copytree(patterns / "slots", shadow / "slots")
    return patterns, shadow


@pytest.fixture
def shadow(folders: tuple[Path, Path]) -> Iterator[Shadow]:
    session = Session(SlotStore(folders[1]), pattern=SlotStore(folders[0]).load(0))
    with serve_in_thread(session) as server:
        client = OscClient(server.port)
        try:
            yield Shadow(session, client)
        finally:
            client.close()


def start(patterns: Path, tmp_path: Path) -> Headless:
    process = Headless(patterns, tmp_path / "state", free_udp_port())
    process.wait_for("listening for OSC on", timeout=60)
    return process


def reply(client: OscClient, process: Headless, killed: threading.Event) -> Reply | None:
    """The reply to what was sent (/ok or /error); None if the process died first."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            got = client.recv(0.05)
        except TimeoutError:
            if killed.is_set() or process.proc.poll() is not None:
                return None
            continue
        if got[0] in ("/ok", "/error"):
            return got
    raise AssertionError("no reply in 30 s from a running chronus")


def edit_both(edit: tuple[Any, ...], shadow: Shadow, client: OscClient, process: Headless,
              killed: threading.Event) -> tuple[str | None, dict[str, Any]]:
    """Send one edit to the shadow, then to the real process; the real one's reply (None if it
    was killed first) and the state the edit leaves."""
    expected = shadow.client.ask(*edit)
    client.send(*edit)
    got = reply(client, process, killed)
    assert got is None or got[0] == expected[0], f"{edit}: the real chronus said {got}, the shadow {expected}"
    return None if got is None else got[0], shadow.state()


def recovered_state(process: Headless, patterns: Path) -> dict[str, Any]:
    """The live state of the running process: saved to the spare slot over OSC, read whole."""
    client = OscClient(process.port)
    try:
        client.ok("/pattern/save", SPARE_SLOT)
        status = client.query("/engine/status")
    finally:
        client.close()
    saved = json.loads((patterns / "slots" / f"slot_{SPARE_SLOT:03d}.json").read_text())
    return unstamped(live_state(saved, status["playing_slot"]))


def acceptable(acked: Acked, base: dict[str, Any], killed_at: float,
               cut_short: dict[str, Any] | None, grace: float = GRACE) -> list[dict[str, Any]]:
    """The states a recovery may come back with (see the module)."""
    before = [state for when, state in acked if when < killed_at - grace]
    states = [before[-1] if before else base]
    states += [state for when, state in acked if when >= killed_at - grace]
    return states + ([cut_short] if cut_short is not None else [])


def test_edits_acknowledged_before_a_kill_survive_it(
        folders: tuple[Path, Path], shadow: Shadow, tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    patterns = folders[0]
    # A new client each round is a new author, whose undo reaches only its own edits; every
    # client stays open, so no later one gets an earlier one's port (and with it its edits).
    clients: list[OscClient] = []
    process = start(patterns, tmp_path)
    base = shadow.state()
    late: list[str] = []
    try:
        for round_number in range(KILLS):
            clients += [OscClient(process.port), OscClient(shadow.client.target[1])]
            client, shadow.client = clients[-2:]
            undo_round = round_number % 2 == 1
            acked, cut_short, killed_at = kill_during_edits(rng, undo_round, shadow, client, process)
            process.proc.wait(30)

            process = start(patterns, tmp_path)
            found = recovered_state(process, patterns)
            context = f"seed {seed}, round {round_number}, {len(acked)} edits acknowledged"
            matching = [state for state in acceptable(acked, base, killed_at, cut_short)
                        if unstamped(state) == found]
            if not matching:
                matching = [state for state in acceptable(acked, base, killed_at, cut_short, LATE_GRACE)
                            if unstamped(state) == found]
                late.append(context)
            assert matching, explain(found, acked, base, killed_at, context)
            assert len(late) <= MAX_LATE_ROUNDS, (f"{len(late)} rounds lost edits acknowledged more than "
                                                  f"{GRACE} s before the kill (not {LATE_GRACE} s): {late}")
            assert any("(unclean exit)" in line for line in process.lines), context
            autosave = json.loads((patterns / "slots" / "slot_000.json").read_text())
            assert {**autosave, "saved_at": None} == found["pattern"], context  # recovery saved it
            # the shadow goes on from what was recovered (its saved_at too, which loads compare)
            shadow.session.apply_snapshot(matching[0]["pattern"], "now", slot=matching[0]["slot"])
            base = shadow.state()
        assert process.stop(signal.SIGTERM) == 0
    finally:
        if process.proc.poll() is None:
            process.proc.kill()
        for client in clients:
            client.close()


def differences(found: dict[str, Any], state: dict[str, Any]) -> list[str]:
    """What differs between two live states, in a few words each (for a failure message)."""
    said = [f"slot {found['slot']} != {state['slot']}"] if found["slot"] != state["slot"] else []
    for part in ("sequencer", "modules"):
        mine, theirs = found["pattern"][part], state["pattern"][part]
        said += [f"{part}.{key}" for key in sorted(mine.keys() | theirs.keys())
                 if mine.get(key) != theirs.get(key)]
    if found["pattern"]["name"] != state["pattern"]["name"]:
        said.append("name")
    return said


def explain(found: dict[str, Any], acked: Acked, base: dict[str, Any],
            killed_at: float, context: str) -> str:
    """How the recovered state differs from the round's base and each acknowledged state."""
    lines = [context, f"base: {differences(found, unstamped(base))}"]
    lines += [f"acknowledged {when - killed_at:+.3f} s from the kill: {differences(found, unstamped(state))}"
              for when, state in acked]
    return "\n".join(lines)


def kill_during_edits(rng: random.Random, undo_round: bool, shadow: Shadow, client: OscClient,
                      process: Headless) -> tuple[Acked, dict[str, Any] | None, float]:
    """Random edits until a timer kills the process at a random moment: the acknowledged
    states with their times, the state of an edit the kill cut short, and when it was killed."""
    killed, killed_at = threading.Event(), [0.0]

    def kill() -> None:
        killed_at.append(time.monotonic())
        killed.set()
        process.proc.kill()

    acked: Acked = []
    cut_short = None
    timer = threading.Timer(rng.uniform(*KILL_AFTER), kill)
    timer.start()
    try:
        while not killed.is_set():
            got, state = edit_both(random_edit(rng, undo_round), shadow, client, process, killed)
            if got == "/ok":
                acked.append((time.monotonic(), state))
            elif got is None:
                cut_short = state
    finally:
        timer.join()
    return acked, cut_short, killed_at[-1]


def quiet_edits(process: Headless, edits: list[tuple[Any, ...]]) -> None:
    client = OscClient(process.port)
    try:
        for edit in edits:
            client.ok(*edit)
    finally:
        client.close()
    time.sleep(GRACE * 2)  # past the grace: every one of them is on disk


def test_a_hang_up_is_recovered_like_a_kill(folders: tuple[Path, Path], tmp_path: Path) -> None:
    patterns = folders[0]
    with ready(start(patterns, tmp_path)) as process:
        quiet_edits(process, [("/pattern/load", 2, "now"), ("/seq/bpm", 97.0), ("/seq/remove", "clap"),
                              ("/seq/swing", 0.25)])
        assert process.stop(signal.SIGHUP) == -signal.SIGHUP
    with ready(start(patterns, tmp_path)) as process:
        found = recovered_state(process, patterns)
        sequencer = found["pattern"]["sequencer"]
        assert found["slot"] == 2 and found["pattern"]["name"] == "Acid Line"
        assert (sequencer["bpm"], sequencer["swing"]) == (97.0, 0.25)
        assert [track["name"] for track in sequencer["tracks"]] == ["kick", "hats", "acid"]
        assert any("recovered 4 edits from the session of " in line for line in process.lines), process.lines
        assert process.stop(signal.SIGTERM) == 0
    assert not (patterns / "journal" / "journal.jsonl").exists()  # a clean quit compacts it into slot 0


def test_a_torn_journal_recovers_every_whole_record_and_the_start_goes_on(
        folders: tuple[Path, Path], tmp_path: Path) -> None:
    patterns = folders[0]
    # bpm and swing by turns: no run of one value, so each edit is a record of its own
    edits = [("/seq/bpm", 101.0), ("/seq/swing", 0.125), ("/seq/bpm", 102.0), ("/seq/swing", 0.25)]
    with ready(start(patterns, tmp_path)) as process:
        quiet_edits(process, edits)
        process.proc.kill()
    journal = patterns / "journal" / "journal.jsonl"
    whole = journal.read_bytes()
    last = whole.splitlines()[-1]
    assert json.loads(last)["edit"]["ops"] == [[["swing"], 0.125, 0.25]]  # the last edit's record
    journal.write_bytes(whole[: len(whole) - len(last) // 2])
    with ready(start(patterns, tmp_path)) as process:
        sequencer = recovered_state(process, patterns)["pattern"]["sequencer"]
        assert (sequencer["bpm"], sequencer["swing"]) == (102.0, 0.125)
        said = [line for line in process.lines if "recovered 3 edits from the session of " in line]
        assert said, process.lines
        assert said[0].endswith("(unclean exit); the last record was cut off by the crash")


def test_a_start_that_fails_leaves_a_crashed_sessions_journal_for_the_next(
        folders: tuple[Path, Path], tmp_path: Path) -> None:
    patterns = folders[0]
    with ready(start(patterns, tmp_path)) as process:
        quiet_edits(process, [("/seq/bpm", 88.0)])
        process.proc.kill()
    journal = patterns / "journal" / "journal.jsonl"
    before = (journal.read_bytes(), (patterns / "slots" / "slot_000.json").read_bytes())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        failed = Headless(patterns, tmp_path / "state", taken.getsockname()[1])
        assert failed.proc.wait(60) == 1
    assert (journal.read_bytes(), (patterns / "slots" / "slot_000.json").read_bytes()) == before
    with ready(start(patterns, tmp_path)) as process:
        assert recovered_state(process, patterns)["pattern"]["sequencer"]["bpm"] == 88.0


def test_a_file_that_is_no_journal_is_moved_aside_and_chronus_starts(
        folders: tuple[Path, Path], tmp_path: Path) -> None:
    patterns = folders[0]
    journal = patterns / "journal" / "journal.jsonl"
    journal.parent.mkdir()
    journal.write_bytes(b"\x89PNG not a journal")
    with ready(start(patterns, tmp_path)) as process:
        [aside] = journal.parent.glob("journal.jsonl.unreadable-*")
        assert aside.read_bytes() == b"\x89PNG not a journal"
        assert any(f"moved aside to {aside.name}" in line for line in process.lines), process.lines
        assert process.stop(signal.SIGTERM) == 0
