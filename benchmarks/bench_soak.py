"""Soak: the real `chronus --no-ui` playing under valid and hostile OSC, its engine killed again and again.

`chronus --no-ui` runs on a private patterns folder and state folder with the transport
playing, for --duration seconds. --senders threads, each with UDP sockets of its own, send
--rate datagrams a second: valid requests (parameter sets, step edits, tempo, status queries,
saves and loads of slots 1–16, subscribe/unsubscribe), each waiting up to 2 s for its reply,
and hostile traffic (garbage bytes, bundles whose element sizes are negative, odd, oversize or
deeply nested, a bundle of thousands of elements, truncated payloads, an oversize message,
markup strings, subnormal numbers, forged /ok /error /notify/* messages, a subscription to the
server's own port). The engine child process is SIGKILLed every --kill-every seconds. A probe
asks /seq/status every second: a hang is a window of more than 5 s without its reply.

At the end the state is checked: the pattern the harness saved to slot 100 at the start loads
back identical, every slot file is parseable (or was moved aside as `*.unreadable-*`), the
process is alive, and SIGTERM ends it with exit 0 and an autosave of the live set.

    .venv/bin/python benchmarks/bench_soak.py [--duration 600] [--senders 4] [--kill-every 30]
        [--rate 40] [--seed 13] [--jack]

Prints a table and writes benchmarks/results/soak.json. The last line is the verdict,
"0 hangs, 0 state corruption" or what failed; the exit status is 1 when it failed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import random
import re
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg
from report import REPO, RESULTS, arguments, jack_missing, machine, print_rows, write_result
from support.jack import JackServer, missing_tools
from support.osc import OscClient, free_udp_port

from chronus_tui.model import MODULE_PARAMS
from chronus_tui.store import StoreError, load_file

RESULT = RESULTS / "soak.json"
READY = "listening for OSC on"  # the line `chronus --no-ui` logs once it answers OSC
ENGINE_MODULE = b"chronus_tui.synth.process"  # how the engine child shows in its command line
START_TIMEOUT = 60.0  # chronus up and answering, on a loaded machine
REPLY_TIMEOUT = 2.0  # a request without its reply by then counts as lost
HANG_WINDOW = 5.0  # no /seq/status reply for longer than this is a hang
PROBE_INTERVAL = 1.0
RECOVERY_TIMEOUT = 20.0  # a killed engine not playing again by then counts as not back
RENEW_INTERVAL = 10.0  # the monitor renews its subscription (they may be leased)
QUIET_TIMEOUT = 20.0  # after the senders stop: the server answers /seq/status again by then
STOP_TIMEOUT = 30.0  # SIGTERM to exit
KNOWN_SLOT = 100  # the harness's own pattern; the senders never touch it
SENDER_SLOTS = range(1, 17)
SLOT_FILE = re.compile(r"slot_(\d{3})\.json")
STDERR_TAIL = 40

Reply = tuple[str, list[Any]]


@dataclass(frozen=True)
class Settings:
    duration: float = 600.0
    senders: int = 4
    kill_every: float = 30.0
    rate: float = 40.0  # datagrams a second per sender
    seed: int = 13
    audio: str = "null"


# -- the chronus process ------------------------------------------------------------------


class Chronus:
    """The real `chronus --no-ui` on private folders. Its stderr is counted and only its tail
    kept: a flooded log must not fill the harness's memory."""

    def __init__(self, workdir: Path, port: int, audio: str, env: dict[str, str]) -> None:
        self.patterns = workdir / "patterns"
        self.state = workdir / "state"
        self.port = port
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chronus_tui", "--no-ui", "--audio", audio, "--osc-port", str(port),
             "--patterns-dir", str(self.patterns)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO,
            env={**os.environ, "PYO_GUI_WX": "0", "XDG_STATE_HOME": str(self.state), **env})
        self.stderr_bytes = 0
        self.tail: deque[str] = deque(maxlen=STDERR_TAIL)
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, name="chronus-stderr", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_bytes += len(line)
            text = line.decode("utf-8", "replace").rstrip("\n")
            self.tail.append(text[:500])
            if READY in text:
                self._ready.set()
        self._ready.set()  # it exited: wait_ready() stops waiting

    def wait_ready(self) -> None:
        if not self._ready.wait(START_TIMEOUT) or self.proc.poll() is not None:
            raise RuntimeError("chronus did not start; its stderr ends:\n" + "\n".join(self.tail))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def memory_kib(self, field: str) -> int | None:
        """A `Vm…` line of /proc/<pid>/status in KiB (VmRSS now, VmHWM the peak); None once gone."""
        try:
            lines = Path(f"/proc/{self.proc.pid}/status").read_text().splitlines()
        except OSError:
            return None
        for line in lines:
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return None

    def engine_pids(self) -> set[int]:
        """The engine processes among chronus's children (any of its threads may have started one)."""
        pids = set()
        for children in Path(f"/proc/{self.proc.pid}/task").glob("*/children"):
            with contextlib.suppress(OSError, ValueError):
                pids.update(int(pid) for pid in children.read_text().split())
        return {pid for pid in pids if _runs_engine(pid)}

    def log_bytes(self) -> dict[str, int]:
        """Bytes written to stderr, and what the log folder (under the state folder) holds."""
        folder = 0
        for root, _, files in os.walk(self.state):  # os.walk follows no links by default
            for name in files:
                with contextlib.suppress(OSError):
                    folder += os.lstat(os.path.join(root, name)).st_size
        return {"stderr": self.stderr_bytes, "log_folder": folder}

    def terminate(self) -> int | None:
        """SIGTERM; its exit status, or None if it did not end within STOP_TIMEOUT (then it is killed)."""
        if not self.alive():
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        self._reader.join(5)  # its last lines count too
        return code

    def kill(self) -> None:
        """SIGKILL it and the engine it started (which runs in a session of its own)."""
        engines = self.engine_pids() if self.alive() else set()
        self.proc.kill()
        self.proc.wait()
        for pid in engines:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._reader.join(5)


def _runs_engine(pid: int) -> bool:
    try:
        return ENGINE_MODULE in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


# -- OSC over UDP -------------------------------------------------------------------------


def osc_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return raw + b"\0" * (4 - len(raw) % 4)


def raw_message(address: str, tags: str, payload: bytes) -> bytes:
    """A message with exactly these type tags and payload bytes, true to them or not."""
    return osc_string(address) + osc_string(tags) + payload


def bundle(*elements: bytes, sizes: list[int] | None = None) -> bytes:
    """A bundle (timetag 0) of `elements`, each after its size, or after the size given in `sizes`."""
    sizes = sizes or [len(element) for element in elements]
    return b"#bundle\0" + bytes(8) + b"".join(struct.pack(">i", size) + element
                                               for size, element in zip(sizes, elements, strict=True))


def message(address: str, *args: Any) -> bytes:
    return build_msg(address, list(args)).dgram


_FOLLOW_UPS = {"switched", "replaced", "cancelled"}  # the second reply of a queued load


def answers(reply: Reply, address: str) -> bool:
    """Whether `reply` is the answer to a request to `address` (a query's reply, /ok or /error)."""
    name, args = reply
    if name == address:
        return True
    if name not in ("/ok", "/error") or not args or args[0] != address:
        return False
    return not (name == "/ok" and len(args) >= 3 and args[2] in _FOLLOW_UPS)


class Endpoint:
    """A UDP socket on loopback talking to chronus (the tests' OscClient's): requests wait for
    their answers, never raise; it counts what else it receives."""

    def __init__(self, port: int) -> None:
        self.client = OscClient(port)
        self.sock = self.client.sock
        self.received: Counter[str] = Counter()  # by kind: notification, other, unreadable, …

    def close(self) -> None:
        self.client.close()

    def send(self, data: bytes) -> None:
        with contextlib.suppress(OSError):  # e.g. ICMP unreachable from an earlier send
            self.client.send_raw(data)

    def receive(self, timeout: float) -> Reply | None:
        """The next datagram as (address, args), None after `timeout` s; unreadable ones are counted."""
        self.sock.settimeout(max(timeout, 1e-4))
        try:
            data = self.sock.recv(65536)
        except (TimeoutError, BlockingIOError):
            return None
        except OSError:  # ICMP port unreachable: chronus is not listening (any more)
            self.received["socket_error"] += 1
            return None
        try:
            parsed = OscMessage(data)
            return parsed.address, list(parsed.params)
        except Exception:  # a reply python-osc cannot read is a finding, not the harness's end
            self.received["unreadable"] += 1
            return None

    def request(self, data: bytes, address: str, timeout: float = REPLY_TIMEOUT) -> Reply | None:
        """Send, and wait for the answer to `address`; None when it did not come in time."""
        self.send(data)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            reply = self.receive(left)
            if reply is None:
                continue
            if answers(reply, address):
                return reply
            self.received["notification" if reply[0].startswith("/notify/") else "other"] += 1
        return None

    def query(self, address: str, timeout: float = REPLY_TIMEOUT) -> Any:
        """A query's JSON answer, or None (no reply, or not JSON)."""
        reply = self.request(message(address), address, timeout)
        if reply is None or reply[0] != address or not reply[1]:
            return None
        try:
            return json.loads(reply[1][0])
        except (TypeError, ValueError):
            return None

    def drain(self) -> int:
        """Read what is waiting without blocking; how many datagrams."""
        self.sock.setblocking(False)
        count = 0
        with contextlib.suppress(OSError):  # BlockingIOError: nothing more waits
            while True:
                self.sock.recv(65536)
                count += 1
        return count


# -- the traffic --------------------------------------------------------------------------


@dataclass(frozen=True)
class Datagram:
    kind: str  # the mix's name for it (the result counts each kind)
    data: bytes
    answer_to: str | None = None  # a request: the address its reply names
    forged: bool = False  # a forged reply or notification: it must get no answer at all


_PARAMS = [(module, spec) for module, specs in MODULE_PARAMS.items() for spec in specs]
_FORGED = (("/ok", "/seq/bpm", 120.0), ("/error", "/seq/bpm", "forged"), ("/notify/tempo", 99.0),
           ("/notify/engine", '{"event":"restarted"}'), ("/notify/position", 1, 2),
           ("/notify/param", "voice1", "amp", 0.5), ("/notify/error", "[bold]forged[/x]"))
_MARKUP = ("[bold]x[/x]", "[/x]", "[red]", "[/]", "[link=file:///etc/passwd]x")
_SUBNORMAL_DOUBLE = 5e-324
_SUBNORMAL_FLOAT_BITS = 1  # the smallest float32 subnormal, as its bit pattern
_ELEMENT = raw_message("/x", ",", b"")


class Traffic:
    """One sender's mix of valid requests and hostile datagrams, drawn from its own seed."""

    def __init__(self, rng: random.Random, index: int, server_port: int) -> None:
        self.rng = rng
        self.track = f"soak{index}"
        self.voice = f"voice{index % 8 + 1}"
        self.server_port = server_port
        kinds = [(name, weight, getattr(self, name)) for name, weight in MIX]
        self._names = [name for name, _, _ in kinds]
        self._weights = [weight for _, weight, _ in kinds]
        self._builders = {name: build for name, _, build in kinds}

    def next(self) -> Datagram:
        name = self.rng.choices(self._names, self._weights)[0]
        return self._builders[name]()

    def _request(self, kind: str, address: str, *args: Any) -> Datagram:
        return Datagram(kind, message(address, *args), address)

    def _steps(self) -> str:
        return "".join(self.rng.choice("Xx..") for _ in range(16))

    # valid
    def add_track(self) -> Datagram:
        return self._request("add_track", "/seq/add", self.track, self.voice, self._steps(),
                             "notes=C2 Eb2 G2")

    def param(self) -> Datagram:
        module, spec = self.rng.choice(_PARAMS)
        value = self.rng.randint(int(spec.low), int(spec.high)) if spec.integer else \
            self.rng.uniform(spec.low, spec.high)
        return self._request("param", f"/mod/{module}/{spec.name}", value)

    def step(self) -> Datagram:
        r = self.rng
        return self._request("step", "/seq/step", self.track, r.randrange(16), r.randint(0, 1),
                             r.randint(24, 84), r.randint(0, 1), r.randint(0, 1))

    def notes(self) -> Datagram:
        notes = self.rng.choice(["36,39,43", "A1 C2", ""])
        return self._request("notes", "/seq/update/notes", self.track, notes)

    def tempo(self) -> Datagram:
        if self.rng.random() < 0.5:
            return self._request("tempo", "/seq/bpm", self.rng.uniform(80, 180))
        return self._request("tempo", "/seq/swing", self.rng.uniform(0, 0.5))

    def track_setting(self) -> Datagram:
        address = self.rng.choice(["/seq/level", "/seq/gate"])
        return self._request("track_setting", address, self.track, self.rng.uniform(0.1, 1.0))

    def status(self) -> Datagram:
        return self._request("status", self.rng.choice(["/seq/status", "/engine/status"]))

    def save(self) -> Datagram:
        slot = self.rng.choice(SENDER_SLOTS)
        if self.rng.random() < 0.5:
            return self._request("save", "/pattern/save", slot)
        return self._request("save", "/pattern/save", slot, f"soak {self.track}")

    def load(self) -> Datagram:
        mode = self.rng.choice(["bar", "step", "now"])
        return self._request("load", "/pattern/load", self.rng.choice(SENDER_SLOTS), mode)

    def list_slots(self) -> Datagram:
        return self._request("list_slots", "/pattern/list")

    def subscribe(self) -> Datagram:
        return self._request("subscribe", self.rng.choice(["/notify/subscribe", "/notify/unsubscribe"]))

    # hostile, each answered
    def _one_of(self, kind: str, requests: list[tuple[str, bytes]]) -> Datagram:
        address, data = self.rng.choice(requests)
        return Datagram(kind, data, address)

    def markup(self) -> Datagram:
        text = self.rng.choice(_MARKUP)
        return self._one_of("markup", [
            ("/pattern/save", message("/pattern/save", self.rng.choice(SENDER_SLOTS), text)),
            ("/seq/add", message("/seq/add", text, "voice1", "x...")),
            ("/seq/update/notes", message("/seq/update/notes", self.track, text)),
            ("/seq/bpm", message("/seq/bpm", text)),
        ])

    def subnormal(self) -> Datagram:
        double = struct.pack(">d", _SUBNORMAL_DOUBLE)
        return self._one_of("subnormal", [
            ("/seq/step", raw_message("/seq/step", ",siid", osc_string(self.track) + struct.pack(">ii", 0, 1)
                                      + double)),
            ("/seq/bpm", raw_message("/seq/bpm", ",f", struct.pack(">I", _SUBNORMAL_FLOAT_BITS))),
            ("/mod/acid1/cutoff", raw_message("/mod/acid1/cutoff", ",d", double)),
        ])

    def truncated(self) -> Datagram:
        return self._one_of("truncated", [
            ("/seq/bpm", raw_message("/seq/bpm", ",f", b"\x42\xf6")),
            ("/seq/step", raw_message("/seq/step", ",siii", osc_string(self.track))),
            ("/mod/voice1/amp", raw_message("/mod/voice1/amp", ",d", b"\x3f\xe0\0\0")),
        ])

    def oversize_message(self) -> Datagram:
        return self._request("oversize_message", "/seq/add", self.track, self.voice, "x" * 60000)

    # hostile, fire and forget
    def garbage(self) -> Datagram:
        prefix = self.rng.choice([b"", b"/", b"#bundle\0"])
        return Datagram("garbage", prefix + self.rng.randbytes(self.rng.randint(1, 256)))

    def negative_bundle(self) -> Datagram:
        return Datagram("negative_bundle", b"#bundle\0" + bytes(8) + struct.pack(">i", -8) + b"/x\0\0")

    def odd_bundle(self) -> Datagram:
        return Datagram("odd_bundle", bundle(_ELEMENT, sizes=[len(_ELEMENT) - 1]))

    def oversize_bundle(self) -> Datagram:
        return Datagram("oversize_bundle", bundle(_ELEMENT, sizes=[1 << 30]))

    def nested_bundle(self) -> Datagram:
        data = message("/seq/status")
        for _ in range(self.rng.randint(20, 200)):
            data = bundle(data)
        return Datagram("nested_bundle", data)

    def crowded_bundle(self) -> Datagram:
        return Datagram("crowded_bundle", bundle(*[_ELEMENT] * 4000))

    def forged(self) -> Datagram:
        return Datagram("forged", message(*self.rng.choice(_FORGED)), forged=True)

    def self_subscribe(self) -> Datagram:
        return Datagram("self_subscribe", message("/notify/subscribe", self.server_port))


# (kind, weight): about 85 % valid requests, 15 % hostile datagrams
MIX: tuple[tuple[str, float], ...] = (
    ("param", 30), ("step", 12), ("tempo", 6), ("add_track", 3), ("notes", 3), ("track_setting", 3),
    ("status", 8), ("save", 6), ("load", 6), ("list_slots", 1), ("subscribe", 5),
    ("markup", 2), ("subnormal", 2), ("truncated", 2), ("oversize_message", 0.5),
    ("garbage", 2), ("negative_bundle", 1), ("odd_bundle", 1), ("oversize_bundle", 1),
    ("nested_bundle", 1), ("crowded_bundle", 0.3), ("forged", 2), ("self_subscribe", 0.5),
)


class Sender(threading.Thread):
    """Sends its mix at `rate` a second: requests on one socket (each waits for its answer),
    hostile datagrams on another, forged replies on a third (whatever reaches it is an answer
    to a reply)."""

    def __init__(self, index: int, settings: Settings, port: int, stop: threading.Event) -> None:
        super().__init__(name=f"soak-sender-{index}", daemon=True)
        self.traffic = Traffic(random.Random(settings.seed * 1000 + index), index, port)
        self.interval = 1.0 / settings.rate
        self.stop = stop
        self.requests, self.hostile, self.forger = Endpoint(port), Endpoint(port), Endpoint(port)
        self.sent: Counter[str] = Counter()  # by kind
        self.counts: Counter[str] = Counter()  # requests, answered, refused, lost, …

    def run(self) -> None:
        try:
            self._send(self.traffic.add_track())
            due = time.monotonic()
            while not self.stop.is_set():
                due = max(due + self.interval, time.monotonic() - self.interval)
                self.stop.wait(max(0.0, due - time.monotonic()))
                self._send(self.traffic.next())
            time.sleep(REPLY_TIMEOUT / 2)  # the last answers to hostile datagrams
            self._drain()
        finally:
            for endpoint in (self.requests, self.hostile, self.forger):
                endpoint.close()

    def _send(self, datagram: Datagram) -> None:
        self.sent[datagram.kind] += 1
        if datagram.forged:
            self.forger.send(datagram.data)
        elif datagram.answer_to is None:
            self.hostile.send(datagram.data)
        else:
            self.counts["requests"] += 1
            reply = self.requests.request(datagram.data, datagram.answer_to)
            if reply is None:
                self.counts["lost"] += 1
            else:
                self.counts["answered"] += 1
                self.counts["refused"] += reply[0] == "/error"
        self._drain()

    def _drain(self) -> None:
        self.counts["hostile_replies"] += self.hostile.drain()
        self.counts["forged_answered"] += self.forger.drain()


# -- watchers -----------------------------------------------------------------------------


class Probe(threading.Thread):
    """Asks /seq/status every second and notes when answers arrive; samples chronus's RSS."""

    def __init__(self, chronus: Chronus, stop: threading.Event) -> None:
        super().__init__(name="soak-probe", daemon=True)
        self.chronus = chronus
        self.stop = stop
        self.endpoint = Endpoint(chronus.port)
        self.sent = 0
        self.answers: list[float] = []  # monotonic times of the answers
        self.rss_kib: list[int] = []

    def run(self) -> None:
        due = time.monotonic()
        try:
            while not self.stop.is_set():
                self.sent += 1
                if self.endpoint.request(message("/seq/status"), "/seq/status", PROBE_INTERVAL) is not None:
                    self.answers.append(time.monotonic())
                if (rss := self.chronus.memory_kib("VmRSS")) is not None:
                    self.rss_kib.append(rss)
                due = max(due + PROBE_INTERVAL, time.monotonic())
                self.stop.wait(due - time.monotonic())
        finally:
            self.endpoint.close()


def hangs(answers: list[float], start: float, end: float) -> list[dict[str, float]]:
    """Every window longer than HANG_WINDOW without an answer between `start` and `end`."""
    found = []
    for before, after in itertools.pairwise([start, *answers, end]):
        if after - before > HANG_WINDOW:
            found.append({"at_s": round(before - start, 1), "silent_s": round(after - before, 1)})
    return found


class Monitor(threading.Thread):
    """A subscriber: counts notifications by address and the engine restarts they announce."""

    def __init__(self, port: int, stop: threading.Event) -> None:
        super().__init__(name="soak-monitor", daemon=True)
        self.stop = stop
        self.endpoint = Endpoint(port)
        self.notifications: Counter[str] = Counter()
        self.restarts = 0

    def run(self) -> None:
        renew = 0.0
        try:
            while not self.stop.is_set():
                if time.monotonic() >= renew:
                    self.endpoint.send(message("/notify/subscribe"))
                    renew = time.monotonic() + RENEW_INTERVAL
                reply = self.endpoint.receive(0.5)
                if reply is None or not reply[0].startswith("/notify/"):
                    continue
                self.notifications[reply[0]] += 1
                if reply[0] == "/notify/engine" and reply[1] and '"restarted"' in str(reply[1][0]):
                    self.restarts += 1
            self.endpoint.send(message("/notify/unsubscribe"))
        finally:
            self.endpoint.close()


class EngineKiller(threading.Thread):
    """SIGKILLs the engine child every `every` s, and times until a new one plays (position moves)."""

    def __init__(self, chronus: Chronus, every: float, stop: threading.Event) -> None:
        super().__init__(name="soak-killer", daemon=True)
        self.chronus = chronus
        self.every = every
        self.stop = stop
        self.endpoint = Endpoint(chronus.port)
        self.kills = 0
        self.missing = 0  # no engine process to kill: the last one never came back
        self.back_s: list[float] = []
        self.not_back = 0

    def run(self) -> None:
        try:
            while not self.stop.wait(self.every) and self.chronus.alive():
                killed = self.chronus.engine_pids()
                if not killed:
                    self.missing += 1
                    continue
                for pid in killed:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.kills += 1
                back = self._playing_again(killed)
                if back is None:
                    self.not_back += 1
                else:
                    self.back_s.append(back)
        finally:
            self.endpoint.close()

    def _playing_again(self, killed: set[int]) -> float | None:
        """Seconds until a new engine process runs and the playhead moves; None if not in time."""
        start = time.monotonic()
        seen = None
        while time.monotonic() - start < RECOVERY_TIMEOUT and self.chronus.alive():
            if self.chronus.engine_pids() - killed:
                status = self.endpoint.query("/engine/status") or {}
                position = (status.get("bar"), status.get("step"))
                if status.get("playing") and seen is not None and position != seen:
                    return time.monotonic() - start
                seen = position
            time.sleep(0.25)
        return None


# -- the soak -----------------------------------------------------------------------------


def _require_ok(endpoint: Endpoint, address: str, *args: Any) -> Reply:
    reply = endpoint.request(message(address, *args), address, REPLY_TIMEOUT * 5)
    if reply is None or reply[0] == "/error":
        raise RuntimeError(f"setting up: {address} {args} got {reply}")
    return reply


def _comparable(status: dict[str, Any] | None) -> dict[str, Any] | None:
    """What of /seq/status a pattern holds (not where the playhead is)."""
    if status is None:
        return None
    return {key: status.get(key) for key in ("name", "bpm", "swing", "tracks")}


def save_known_pattern(endpoint: Endpoint, chronus: Chronus) -> tuple[dict[str, Any] | None, bytes]:
    """Build a pattern over OSC and save it to KNOWN_SLOT; its /seq/status and its file's bytes."""
    _require_ok(endpoint, "/seq/clear")
    _require_ok(endpoint, "/seq/add", "known1", "voice1", "X...x...X...x..x", "notes=C2 Eb2 G2")
    _require_ok(endpoint, "/seq/add", "known2", "voice3", "x.x.x.x.", "notes=A1")
    _require_ok(endpoint, "/seq/step", "known2", 2, 1, 60, 1, 1)
    _require_ok(endpoint, "/seq/bpm", 123.5)
    _require_ok(endpoint, "/seq/swing", 0.1)
    _require_ok(endpoint, "/mod/acid1/cutoff", 1234.0)
    _require_ok(endpoint, "/pattern/save", KNOWN_SLOT)
    status = endpoint.query("/seq/status", REPLY_TIMEOUT * 5)
    return _comparable(status), (chronus.patterns / "slots" / f"slot_{KNOWN_SLOT:03d}.json").read_bytes()


def check_known_pattern(endpoint: Endpoint, chronus: Chronus, status: dict[str, Any] | None,
                        file_bytes: bytes) -> list[str]:
    """Load KNOWN_SLOT back over OSC: what differs from what was saved at the start."""
    faults = []
    path = chronus.patterns / "slots" / f"slot_{KNOWN_SLOT:03d}.json"
    if not path.is_file() or path.read_bytes() != file_bytes:
        faults.append(f"slot {KNOWN_SLOT}'s file changed during the soak")
    reply = endpoint.request(message("/pattern/load", KNOWN_SLOT, "now"), "/pattern/load", REPLY_TIMEOUT * 5)
    if reply is None or reply[0] != "/ok":
        return [*faults, f"/pattern/load {KNOWN_SLOT} now got {reply}"]
    loaded = _comparable(endpoint.query("/seq/status", REPLY_TIMEOUT * 5))
    if loaded != status:
        faults.append(f"slot {KNOWN_SLOT} loaded back as {loaded}, saved as {status}")
    return faults


def check_slot_files(chronus: Chronus, known_is_live: bool) -> tuple[list[str], list[str]]:
    """After chronus stopped: every slot file must read; returns (faults, files moved aside).
    When slot 100 was loaded back and SIGTERM ended chronus, the autosave must hold that set."""
    faults, aside = [], []
    slots = chronus.patterns / "slots"
    patterns = {}
    for entry in sorted(os.scandir(slots), key=lambda e: e.name):
        if ".unreadable-" in entry.name:
            aside.append(entry.name)
            continue
        match = SLOT_FILE.fullmatch(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            faults.append(f"slots/{entry.name}: not a slot file")
            continue
        try:
            patterns[int(match[1])] = load_file(Path(entry.path))
        except StoreError as exc:
            faults.append(f"slots/{entry.name}: {exc}")
        except Exception as exc:  # a reader that crashes on a file is a finding too
            faults.append(f"slots/{entry.name}: {type(exc).__name__}: {exc}")
    autosave, known = patterns.get(0), patterns.get(KNOWN_SLOT)
    if known_is_live and known is not None and (
            autosave is None
            or dataclasses.replace(autosave, saved_at=None) != dataclasses.replace(known, saved_at=None)):
        faults.append(f"the autosave is not the live set at SIGTERM (slot {KNOWN_SLOT} loaded back)")
    return faults, aside


def wait_quiet(endpoint: Endpoint) -> bool:
    """Whether the server answers /seq/status within QUIET_TIMEOUT (its backlog handled)."""
    deadline = time.monotonic() + QUIET_TIMEOUT
    while time.monotonic() < deadline:
        if endpoint.query("/seq/status", min(REPLY_TIMEOUT, deadline - time.monotonic())) is not None:
            return True
    return False


def run_soak(settings: Settings, workdir: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the soak in `workdir` (chronus's patterns and state folders go there); the result."""
    chronus = Chronus(workdir, free_udp_port(), settings.audio, env or {})
    try:
        chronus.wait_ready()
        return _soak(settings, chronus)
    finally:
        if chronus.alive():
            chronus.kill()


class Crew:
    """Everyone who talks to chronus during the soak: the senders, the probe, the monitor, the killer."""

    def __init__(self, settings: Settings, chronus: Chronus) -> None:
        self.stop = threading.Event()
        self.senders = [Sender(i + 1, settings, chronus.port, self.stop) for i in range(settings.senders)]
        self.probe, self.monitor = Probe(chronus, self.stop), Monitor(chronus.port, self.stop)
        self.killer = EngineKiller(chronus, settings.kill_every, self.stop)
        self.watchers: list[threading.Thread] = [self.probe, self.monitor, self.killer]

    def run(self, duration: float, chronus: Chronus) -> tuple[float, float]:
        """Start everyone, stop them after `duration` s (or when chronus exits); (start, end) times."""
        start = time.monotonic()
        for thread in [*self.watchers, *self.senders]:
            thread.start()
        while (left := duration - (time.monotonic() - start)) > 0 and chronus.alive():
            time.sleep(min(1.0, left))
        end = time.monotonic()
        self.stop.set()
        for thread in [*self.senders, *self.watchers]:  # the killer may still wait for a restart
            thread.join(RECOVERY_TIMEOUT + REPLY_TIMEOUT * 2)
        return start, end

    def messages(self) -> dict[str, Any]:
        sent: Counter[str] = Counter()
        counts: Counter[str] = Counter()
        for sender in self.senders:
            sent.update(sender.sent)
            counts.update(sender.counts)
            counts["notifications"] += sender.requests.received["notification"]
        return {"sent": sum(sent.values()), "by_kind": dict(sorted(sent.items())), **counts}


def _soak(settings: Settings, chronus: Chronus) -> dict[str, Any]:
    control = Endpoint(chronus.port)
    crew = Crew(settings, chronus)
    try:
        known_status, known_file = save_known_pattern(control, chronus)
        _require_ok(control, "/seq/start")
        rss_start = chronus.memory_kib("VmRSS")
        start, end = crew.run(settings.duration, chronus)
        alive = chronus.alive()
        faults = [] if alive else [f"chronus exited with status {chronus.proc.returncode} during the soak"]
        if alive and not wait_quiet(control):
            faults.append(f"no answer to /seq/status within {QUIET_TIMEOUT:g} s after the senders stopped")
        loaded_back = alive and not faults
        if loaded_back:
            faults += check_known_pattern(control, chronus, known_status, known_file)
            loaded_back = not faults
        engine = control.query("/engine/status") if alive else None
        rss = {"start": rss_start, "end": chronus.memory_kib("VmRSS"),
               "peak": max([chronus.memory_kib("VmHWM") or 0, *crew.probe.rss_kib])}
    finally:
        control.close()
    code = chronus.terminate()
    if code != 0:
        faults.append(f"SIGTERM ended chronus with status {code}" if code is not None
                      else f"SIGTERM did not end chronus within {STOP_TIMEOUT:g} s")
    file_faults, aside = check_slot_files(chronus, loaded_back and code == 0)
    faults += file_faults
    found_hangs = hangs(crew.probe.answers, start, end)
    killer = crew.killer
    return {
        "settings": dataclasses.asdict(settings), "seconds": round(end - start, 1),
        "messages": crew.messages(),
        "probe": {"sent": crew.probe.sent, "answered": len(crew.probe.answers)},
        "engine": {"kills": killer.kills, "playing_again": len(killer.back_s), "not_back": killer.not_back,
                   "missing_at_kill": killer.missing, "playing_again_s": _spread(killer.back_s),
                   "restarts_notified": crew.monitor.restarts,
                   "restarts_in_status": (engine or {}).get("restarts"), "status_at_end": engine},
        "notifications": dict(sorted(crew.monitor.notifications.items())),
        "rss_kib": {**rss, "growth": None if None in rss.values() else rss["end"] - rss["start"]},
        "log_bytes": chronus.log_bytes(),
        "hangs": found_hangs, "corruption": faults, "moved_aside": aside,
        "sigterm_status": code, "stderr_tail": list(chronus.tail),
        "verdict": verdict(found_hangs, faults), "ok": not found_hangs and not faults,
    }


def verdict(found_hangs: list[dict[str, float]], faults: list[str]) -> str:
    if not found_hangs and not faults:
        return "0 hangs, 0 state corruption"
    parts = [f"{len(found_hangs)} hangs"]
    if found_hangs:
        parts[0] += " (" + ", ".join(f"{h['silent_s']:g} s silent from {h['at_s']:g} s"
                                     for h in found_hangs) + ")"
    parts.append(f"{len(faults)} state corruption" + (": " + "; ".join(faults) if faults else ""))
    return "FAILED: " + ", ".join(parts)


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"p50": round(statistics.median(values), 2), "max": round(max(values), 2)}


# -- the command line ---------------------------------------------------------------------


def print_result(result: dict[str, Any]) -> None:
    s, m, e, rss = result["settings"], result["messages"], result["engine"], result["rss_kib"]
    print(f"soak: {result['seconds']:g} s, audio {s['audio']}, {s['senders']} senders × {s['rate']:g}/s, "
          f"engine killed every {s['kill_every']:g} s")
    print_rows([
        ("datagrams sent (valid + hostile)", m["sent"]),
        ("requests answered / sent", f"{m.get('answered', 0)} / {m.get('requests', 0)} "
                                     f"({m.get('refused', 0)} with /error)"),
        ("replies lost (none within 2 s)", m.get("lost", 0)),
        ("answers to hostile datagrams", m.get("hostile_replies", 0)),
        ("answers to forged replies", m.get("forged_answered", 0)),
        ("notifications received", f"{sum(result['notifications'].values())} (monitor), "
                                   f"{m.get('notifications', 0)} (senders)"),
        ("/seq/status probes answered", f"{result['probe']['answered']} / {result['probe']['sent']}"),
        ("engine kills / playing again", f"{e['kills']} / {e['playing_again']}"
                                         + (f" (not back: {e['not_back']})" if e["not_back"] else "")),
        ("  playing again after, p50 / max s", "-" if e["playing_again_s"] is None
         else f"{e['playing_again_s']['p50']} / {e['playing_again_s']['max']}"),
        ("  restarts notified / in status", f"{e['restarts_notified']} / {e['restarts_in_status']}"),
        ("RSS start / end / peak", f"{_mib(rss['start'])} / {_mib(rss['end'])} / {_mib(rss['peak'])}"),
        ("RSS growth", _mib(rss["growth"])),
        ("log bytes: stderr / log folder", f"{result['log_bytes']['stderr']} / "
                                           f"{result['log_bytes']['log_folder']}"),
        ("slot files moved aside", len(result["moved_aside"])),
        ("SIGTERM exit status", result["sigterm_status"]),
    ])
    if not result["ok"]:
        print("chronus's stderr ends:\n  " + "\n  ".join(result["stderr_tail"][-10:]))
    print(result["verdict"])


def _mib(kib: int | None) -> str:
    return "?" if kib is None else f"{kib / 1024:.1f} MiB"


def main() -> int:
    parser = arguments(__doc__, RESULT)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of soak (default 600)")
    parser.add_argument("--senders", type=int, default=4, help="concurrent senders (default 4)")
    parser.add_argument("--kill-every", type=float, default=30.0, help="seconds between engine kills")
    parser.add_argument("--rate", type=float, default=40.0, help="datagrams a second per sender")
    parser.add_argument("--seed", type=int, default=13, help="the traffic's random seed")
    parser.add_argument("--jack", action="store_true", help="--audio jack on a private JACK dummy server")
    args = parser.parse_args()
    settings = Settings(args.duration, args.senders, args.kill_every, args.rate, args.seed,
                        "jack" if args.jack else "null")

    with tempfile.TemporaryDirectory(prefix="chronus-soak-") as tmp, contextlib.ExitStack() as stack:
        env: dict[str, str] = {}
        if args.jack:
            if jack_missing(missing_tools()):
                return 2
            env = stack.enter_context(JackServer(Path(tmp) / "jackd.log")).env
        result = run_soak(settings, Path(tmp), env)
    result.update(machine())
    print_result(result)
    write_result(args.output, result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
