"""Playing a chain: each entry is queued, with the length of the entry before it as its
launch quantum, as soon as that entry starts, so the engine switches on the exact step
(chain.py says what a play is).

The Session owns one ChainPlayer and reaches it through its chain methods. The player
listens to the Session: the switch into a queued entry starts the next one's queue, and the
playhead counts the entry's plays. A load, a cancel or a stop by anyone else ends the chain,
and what is playing plays on. Slot files are read by the player's own thread, never by the
listener: it runs on the engine's reader thread and must not block. Lock order: the session's
lock, then the player's; the player never asks the session for anything while it holds its own.
A queued load's token is recorded under the session lock (apply_snapshot's `queued`), so the
switch into it, which the engine may report at once, is never missed.

At the end of a chain that does not loop, a copy of the last entry without its tracks is
queued: the music stops exactly on the line, then the transport stops and the last entry is
put back as it was.

A slot's follow action (model.Follow) is a chain made on the fly, while no chain runs: when a
pattern with one starts playing (it switches in, loads while playing, or the transport starts)
or its follow action changes, what follows it is queued with `after` plays of it as the launch
quantum. A load, a cancel or a stop by anyone else ends it as it ends a chain; a pattern that
then starts playing follows its own action.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from chronus_tui.chain import Chain, ChainEntry, ChainError, entry_pattern, entry_quantum, play_steps
from chronus_tui.model import FOLLOW_ACTIONS, STEPS_PER_BAR, Follow, Pattern, check_follow
from chronus_tui.store import SLOT_COUNT, StoreError, parse_slot, slot_label

if TYPE_CHECKING:
    from chronus_tui.session import Change, LoadAt, PendingLoad, Session

log = logging.getLogger(__name__)

CHAIN_SOURCE = "chain"  # the author of the loads a chain makes
FOLLOW_SOURCE = "follow"  # the author of the loads a follow action makes
FOLLOW_OFF = "off"
FOLLOW_USAGE = f"{FOLLOW_OFF}, or AFTER ACTION [SLOT …]: 4 next, 2 slot A03, 1 random A03 B07 (AFTER: plays)"


def follow_words(follow: Follow) -> str:
    """A follow action as parse_follow reads it: `4 next`, `2 slot A05`, `1 random A03 B07`."""
    return " ".join([str(follow.after), follow.action, *map(slot_label, follow.slots)])


def parse_follow(text: str) -> Follow | None:
    """A follow action as typed (`4 next`, `2 previous`, `1 slot A03`, `2 random A03 B07 21`;
    slots as A01–H16 or 1–128), or None for `off`; ChainError or PatternError says what is wrong."""
    words = text.split() if isinstance(text, str) else []
    if [word.lower() for word in words] == [FOLLOW_OFF]:
        return None
    if len(words) < 2 or not (words[0].isascii() and words[0].isdigit() and len(words[0]) <= 3):
        raise ChainError(f"{text!r} is not a follow action: {FOLLOW_USAGE}")
    action = words[1].lower()
    if action not in FOLLOW_ACTIONS:
        raise ChainError(f"{words[1]!r} is not one of {', '.join(FOLLOW_ACTIONS)}")
    slots = []
    for word in words[2:]:
        slot = parse_slot(word)
        if slot is None:
            raise ChainError(f"{word!r} is not a slot (A01–H16 or 1–{SLOT_COUNT})")
        slots.append(slot)
    return check_follow(int(words[0]), action, slots)


@dataclass
class _Run:
    """One start of a chain, until it ends."""

    chain: Chain
    queued_index: int | None  # the entry the queued load is (None: the silent end)
    index: int | None = None  # the entry playing (None: the first is still queued)
    repeat: int = 0  # plays of it begun before this one
    bar: int = 0  # the playhead's bar in it
    steps: int = STEPS_PER_BAR  # one play of it
    token: int | None = None  # the queued load (the next entry, or the end)
    last: tuple[Pattern, int] | None = None  # at the end: the last entry and its slot, put back
    ending: Pattern | None = None  # the silent end as the session plays it, once queued


def _follows_edit(run: _Run, chain: Chain, moved: dict[int, int]) -> bool:
    """Move `run` onto the edited `chain`; False (unchanged) if the entry it plays is gone, or
    the first one, still queued. A queued entry that is gone becomes the one now after the entry
    playing (which is queued again)."""
    if run.index is None:
        if run.queued_index not in moved:
            return False
        run.chain, run.queued_index = chain, moved[run.queued_index]
        return True
    if run.index not in moved:
        return False
    index = moved[run.index]
    queued = run.queued_index
    run.chain, run.index = chain, index
    if queued is not None:
        run.queued_index = moved[queued] if queued in moved else chain.next_index(index)
    return True


class ChainPlayer:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._lock = threading.Lock()
        self.chain: Chain | None = None
        self.song: str | None = None  # the song the chain came from, if it did
        self._run: _Run | None = None
        self._jobs: queue.SimpleQueue[tuple[_Run | None, str]] = queue.SimpleQueue()
        # The pattern, follow action and transport start the follow action was last played for
        # (queued, or said to be unplayable): each is played once, however many changes ask.
        self._followed: tuple[Pattern, Follow | None, int] | None = None
        self._starts = 0  # transport starts: after a stop and a start the pattern follows again
        self._worker: threading.Thread | None = None
        session.subscribe(self._on_change)

    # -- what the Session asks ------------------------------------------------------

    def set(self, chain: Chain | None, song: str | None, source: str) -> None:
        """Make `chain` the one to play (None: none); a chain playing stops (what plays, plays on)."""
        with self._lock:
            self.chain, self.song = chain, song
        self._end()
        self._announce(source)

    def start(self, at: LoadAt | None, entry: int, source: str) -> PendingLoad | None:
        """Queue entry `entry` (0-based) with the launch quantize `at`; while stopped it
        loads at once and the transport starts."""
        chain = self.chain
        if chain is None:
            raise ChainError("no chain is set: set one first (/chain/set A01x4 A02x2)")
        if not 0 <= entry < len(chain.entries):
            raise ChainError(f"entry {entry + 1}: the chain has {len(chain.entries)} entries")
        first = chain.entries[entry]
        pattern = self._read(first)  # in the caller's thread: a bad slot is its error
        self._end()
        run = _Run(chain, entry)
        with self._lock:
            self._run = run
        session = self._session

        def queued(pending: PendingLoad) -> None:  # under the session lock: before its switch is heard
            with self._lock:
                run.token = pending.token

        try:
            pending = session.apply_snapshot(pattern, at, slot=first.slot, source=CHAIN_SOURCE, queued=queued)
        except ValueError:
            self._end()
            raise
        if pending is None:  # loaded at once (stopped): the entry begins with the transport
            if not session.transport.playing:
                session.start(source)
            self._begin(run, entry)
            self._queue_next(run)
        self._announce(source)
        return pending

    def stop(self, source: str) -> bool:
        """End the chain; its queued next entry is dropped and what plays, plays on."""
        stopped = self._end()
        if stopped:
            self._announce(source)
        return stopped

    def edit(self, chain: Chain, song: str | None, moved: dict[int, int], source: str) -> None:
        """The chain set changed in place (a song's entries edited, added, removed or moved;
        `moved` maps each old entry's index to its new one). A chain playing goes on with it
        from the entry it plays, at its new place, and what follows it is queued again as the
        edited chain has it (its slot, tempo, mutes, the plays before it); if the entry playing,
        or the first one still queued, is gone it ends, and what plays, plays on."""
        with self._lock:
            run = self._run
            edited = run is not None and run.chain != chain
            self.chain, self.song = chain, song
            ended = run is not None and not _follows_edit(run, chain, moved)
        if ended:
            self._end()
        elif edited and run is not None and run.index is not None:
            self._jobs_put(run, "next")
        self._announce(source)

    def status(self) -> dict[str, Any]:
        with self._lock:
            chain, run, song = self.chain, self._run, self.song
        data: dict[str, Any] = {
            "chain": chain.text() if chain is not None else "", "loop": bool(chain and chain.loop),
            "song": song, "entries": len(chain.entries) if chain is not None else 0,
            "running": run is not None, "entry": None, "slot": None, "repeat": None, "repeats": None,
            "bar": None, "next": None,
        }
        if run is None:
            return data
        # what is queued; between an entry's switch and its successor's queue, what will be
        upcoming = (run.queued_index if run.token is not None or run.index is None
                    else run.chain.next_index(run.index))
        if run.index is not None:
            playing = run.chain.entries[run.index]
            data.update(entry=run.index + 1, slot=slot_label(playing.slot), repeat=run.repeat + 1,
                        repeats=playing.repeats, bar=run.bar + 1)
        if upcoming is not None:
            data["next"] = slot_label(run.chain.entries[upcoming].slot)
        return data

    # -- the session's changes (any thread: quick, never blocking) ----------------------

    def _on_change(self, change: Change) -> None:
        run = self._run
        if run is None:
            self._follow_change(change)
            return
        kind, data = change.kind, change.data
        if kind == "position":
            self._count(run, data["bar"] * STEPS_PER_BAR + data["step"])
        elif kind == "pattern" and change.source == CHAIN_SOURCE:
            if not (data.get("switched") and data.get("token") == run.token):
                return
            if run.queued_index is None:
                self._jobs_put(run, "finish")
            else:
                self._begin(run, run.queued_index)
                self._announce(CHAIN_SOURCE)
                self._jobs_put(run, "next")
        elif self._taken_over(change) and self._end():
            self._announce(change.source)
            self._follow_change(change)  # what took over may have a follow action

    @staticmethod
    def _taken_over(change: Change) -> bool:
        """Someone else's load or cancel takes over; a stop ends the chain where it is."""
        if change.kind in ("pattern", "queued"):
            return change.source != CHAIN_SOURCE
        return change.kind == "transport" and not change.data.get("playing")

    def _begin(self, run: _Run, index: int) -> None:
        """Entry `index` plays from its step 0 (the live pattern is its pattern)."""
        with self._lock:
            if self._run is run:
                run.index, run.repeat, run.bar, run.token = index, 0, 0, None
                run.steps = play_steps(self._session.pattern)

    def _count(self, run: _Run, step: int) -> None:
        """The playhead at `step` of the entry playing: a new play or bar begun is news."""
        with self._lock:  # a song edit moves the run onto its new chain and index at once
            if run.index is None:
                return
            repeat = min(step // run.steps, run.chain.entries[run.index].repeats - 1)
            bar = step // STEPS_PER_BAR
            if (repeat, bar) == (run.repeat, run.bar):
                return
            run.repeat, run.bar = repeat, bar
        self._announce(CHAIN_SOURCE)

    # -- the worker: reads slots, queues entries ------------------------------------------

    def _jobs_put(self, run: _Run | None, job: str) -> None:
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="chronus-chain", daemon=True)
            self._worker.start()
        self._jobs.put((run, job))

    def _work(self) -> None:
        while True:
            run, job = self._jobs.get()
            try:
                if self._run is not run:
                    continue
                if job == "follow":
                    self._follow()
                elif job == "next" and run is not None:
                    self._queue_next(run)
                elif run is not None:
                    self._finish(run)
            except Exception:  # the chain ends; the music and the process go on
                log.exception("the chain failed")
                with contextlib.suppress(Exception):  # nothing may end this thread: it plays every chain
                    self._end()
                    self._session.report_error("the chain stopped: see the log", CHAIN_SOURCE)

    def _queue_next(self, run: _Run) -> None:
        """Queue the entry after the one playing for the line after its plays (the engine
        counts them from this entry's start); after the last, the silent end."""
        index, chain = run.index, run.chain
        assert index is not None
        session = self._session
        every = entry_quantum(chain.entries[index], run.steps)
        candidate = chain.next_index(index)
        for _ in chain.entries:  # pass over a bad slot, up to the chain's end if it does not loop
            if candidate is None:
                break
            entry = chain.entries[candidate]
            try:
                pattern = self._read(entry)
            except (ValueError, StoreError) as exc:
                session.report_error(f"chain entry {candidate + 1} passed over: {exc}", CHAIN_SOURCE)
                candidate = chain.next_index(candidate)
                continue
            self._queue(run, pattern, entry.slot, candidate, every, None)
            return
        if candidate is not None:  # no slot of the chain can be read
            self._end()
            return
        last = session.pattern.copy()
        # no tracks rather than muted ones: a muted lane's level glides down, and would still
        # sound the hit on the line; a lane without a track plays no more hits, its note rings out
        ending = replace(last, tracks=[])
        slot = chain.entries[index].slot
        self._queue(run, ending, slot, None, every, (last, slot))

    def _queue(self, run: _Run, pattern: Pattern, slot: int, index: int | None, every: int,
               last: tuple[Pattern, int] | None) -> None:
        session = self._session

        def still_ours() -> bool:  # asked under the session lock: no other load or stop comes between
            pending = session.pending
            return (self._run is run and session.transport.playing
                    and (pending is None or pending.source == CHAIN_SOURCE))

        def queued(pending: PendingLoad) -> None:  # under the session lock: before its switch is heard
            with self._lock:
                run.token, run.queued_index, run.last = pending.token, index, last
                run.ending = pending.pattern if last is not None else None

        try:
            session.apply_snapshot(pattern, "bar", slot=slot, source=CHAIN_SOURCE, every=every,
                                   only_if=still_ours, queued=queued)
        except ValueError:
            return  # overtaken: whoever took over, or the stop, ends the chain

    def _finish(self, run: _Run) -> None:
        """The silent end switched in on the line: stop, and put the last entry back (unless
        someone loaded a pattern meanwhile: theirs stays)."""
        with self._lock:
            if self._run is not run:
                return
            self._run = None
        session = self._session
        session.stop(CHAIN_SOURCE)
        if run.last is not None:
            pattern, slot = run.last
            with contextlib.suppress(ValueError):  # refused: someone's load came first
                session.apply_snapshot(pattern, "now", slot=slot, source=CHAIN_SOURCE,
                                       only_if=lambda: session.pattern is run.ending)
        self._announce(CHAIN_SOURCE)

    # -- follow actions (no chain running) ---------------------------------------------------

    def _follow_change(self, change: Change) -> None:
        """A pattern that may start playing, or a follow action changed: the worker looks."""
        kind = change.kind
        if kind == "transport" and change.data.get("playing"):
            with self._lock:
                self._starts += 1
        if kind in ("pattern", "follow", "transport"):
            self._jobs_put(None, "follow")

    def _follow(self) -> None:
        """Queue what follows the playing pattern, for the line after `after` plays of it
        (counted from its start); a follow load queued for what it no longer is is cancelled."""
        session = self._session
        pattern = session.pattern
        follow, slot, starts = pattern.follow, session.transport.playing_slot, self._starts
        followed = self._followed
        if followed is not None and followed[0] is pattern and followed[1:] == (follow, starts):
            return  # played already (and a load, cancel or stop by anyone else since ended it)
        pending = session.pending
        if pending is not None and pending.source != FOLLOW_SOURCE:
            return  # someone's load comes next: once it plays, its own action follows
        if pending is not None:  # queued for another pattern or action than this one
            session.cancel_queued(FOLLOW_SOURCE, token=pending.token)
        if not session.transport.playing:
            return
        with self._lock:
            self._followed = (pattern, follow, starts)
        if follow is None:
            return
        try:
            target = self._follow_target(follow, slot)
            following = session.store.load(target)
        except (ValueError, StoreError) as exc:
            where = f" of {slot_label(slot)}" if slot else ""
            session.report_error(f"follow action{where} ({follow_words(follow)}): {exc}; "
                                 "the pattern plays on", FOLLOW_SOURCE)
            return

        def still_playing() -> bool:  # asked under the session lock: no other load comes between
            return (self._run is None and session.pattern is pattern and pattern.follow == follow
                    and session.transport.playing and session.engine is not None and session.pending is None)

        every = follow.after * play_steps(pattern)
        try:
            session.apply_snapshot(following, "bar", slot=target, source=FOLLOW_SOURCE, every=every,
                                   only_if=still_playing)
        except ValueError:
            return  # overtaken: what took over follows its own action

    def _follow_target(self, follow: Follow, slot: int | None) -> int:
        if follow.action == "slot":
            return follow.slots[0]
        if follow.action == "random":
            return self._session.follow_random.choice(follow.slots)
        if not slot:
            raise ChainError(f"{follow.action}: the pattern playing is from no slot")
        return (slot - 1 + (1 if follow.action == "next" else -1)) % SLOT_COUNT + 1

    # -- helpers ---------------------------------------------------------------------------

    def _read(self, entry: ChainEntry) -> Pattern:
        return entry_pattern(entry, self._session.store.load(entry.slot))

    def _end(self) -> bool:
        """Forget the run; a queued load of its own is cancelled."""
        with self._lock:
            run, self._run = self._run, None
        if run is None:
            return False
        pending = self._session.pending
        if pending is not None and pending.source == CHAIN_SOURCE:
            self._session.cancel_queued(CHAIN_SOURCE, token=pending.token)
        return True

    def _announce(self, source: str) -> None:
        self._session.announce_chain(self.status(), source)
