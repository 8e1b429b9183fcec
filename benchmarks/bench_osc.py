"""OSC throughput without loss, and round-trip time of /pattern/save and /pattern/load.

burst: one client sends N `/mod/acid1/cutoff` sets back to back as fast as it can (no
pacing; the original needed 10–20 messages a second). The server must handle all of
them (each answered with /ok) and end with the last value applied. Messages per second
= N / time from the first send to the last message handled.

round trip: a client sends `/pattern/save 1` or `/pattern/load 1` (a full session: 8
tracks × 64 steps) and waits for its `/ok`; p50 and p99 over many runs. The load is
applied at once (transport stopped), so its reply includes reading, validating and
applying the slot.

    .venv/bin/python benchmarks/bench_osc.py [--burst 20000] [--rounds 3] [--runs 300]

Prints a table and writes benchmarks/results/osc.json.
"""

from __future__ import annotations

import multiprocessing
import socket
import statistics
import tempfile
import time
from collections.abc import Callable

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg
from report import RESULTS, arguments, machine, percentile, write_result
from support.patterns import full_pattern  # the session the tests prove

from chronus_tui.osc.server import OscServer, serve_in_thread
from chronus_tui.session import Session
from chronus_tui.store import SlotStore

TARGET_P50_MS = 3.0  # the code we started from took several times that (benchmarks/README.md)


def client_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def send_all(port: int, datagrams: list[bytes]) -> None:
    """The sender, in its own process as a real client is (in ours it would fight for the GIL)."""
    with client_socket() as sock:
        for data in datagrams:
            sock.sendto(data, ("127.0.0.1", port))


def burst(server: OscServer, session: Session, count: int) -> dict[str, float]:
    """Send `count` parameter sets without waiting; time until the server handled them all."""
    values = [80.0 + (i % 4900) for i in range(count)]
    datagrams = [build_msg("/mod/acid1/cutoff", [v]).dgram for v in values]
    handled_before = server.handled
    sender = multiprocessing.get_context("fork").Process(target=send_all, args=(server.port, datagrams))
    start = time.perf_counter()
    sender.start()
    sender.join()
    sent = time.perf_counter()
    deadline = sent + 10
    while server.handled - handled_before < count and time.perf_counter() < deadline:
        time.sleep(0.0005)
    done = time.perf_counter()
    handled = server.handled - handled_before
    last = session.pattern.modules["acid1"]["cutoff"]
    return {"messages": count, "handled": handled, "lost": count - handled,
            "last_value_applied": last == values[-1], "send_s": sent - start, "total_s": done - start,
            "per_second": handled / (done - start)}


def percentiles(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": statistics.median(samples), "p99_ms": percentile(samples, 0.99),
            "max_ms": max(samples), "runs": len(samples)}


def round_trips(server: OscServer, address: str, args: list, runs: int) -> dict[str, float]:
    data = build_msg(address, args).dgram
    target = ("127.0.0.1", server.port)
    samples = []
    with client_socket() as sock:
        sock.settimeout(5)
        for i in range(runs + 20):
            start = time.perf_counter()
            sock.sendto(data, target)
            reply = OscMessage(sock.recv(65536))
            elapsed = (time.perf_counter() - start) * 1e3
            if reply.address != "/ok":
                raise RuntimeError(f"{address}: {reply.address} {reply.params}")
            if i >= 20:  # the first ones warm caches
                samples.append(elapsed)
    return percentiles(samples)


def direct(call: Callable[[], object], runs: int) -> dict[str, float]:
    """The same work called on the Session directly: the round trip minus this is what OSC adds."""
    samples = []
    for i in range(runs + 20):
        start = time.perf_counter()
        call()
        if i >= 20:
            samples.append((time.perf_counter() - start) * 1e3)
    return percentiles(samples)


def main() -> int:
    parser = arguments(__doc__, RESULTS / "osc.json")
    parser.add_argument("--burst", type=int, default=20000, help="messages per burst")
    parser.add_argument("--rounds", type=int, default=3, help="bursts (the table shows each)")
    parser.add_argument("--runs", type=int, default=300, help="round trips per route")
    args = parser.parse_args()

    session = Session(SlotStore(tempfile.mkdtemp(prefix="chronus-bench-osc-")), pattern=full_pattern())
    with serve_in_thread(session) as server:
        bursts = [burst(server, session, args.burst) for _ in range(args.rounds)]
        session.save_slot(1)
        save = round_trips(server, "/pattern/save", [1], args.runs)
        load = round_trips(server, "/pattern/load", [1], args.runs)
        save_direct = direct(lambda: session.save_slot(1), args.runs)
        load_direct = direct(lambda: session.load_slot(1), args.runs)
        receive_buffer = server.receive_buffer

    print(f"OSC burst: {args.burst} x /mod/acid1/cutoff, server receive buffer {receive_buffer} bytes")
    print(f"{'round':>5} {'handled':>8} {'lost':>5} {'last applied':>12} {'send s':>7} {'total s':>8} "
          f"{'msg/s':>9}")
    for i, b in enumerate(bursts, 1):
        print(f"{i:>5} {b['handled']:>8} {b['lost']:>5} {b['last_value_applied']!s:>12} {b['send_s']:>7.3f} "
              f"{b['total_s']:>8.3f} {b['per_second']:>9.0f}")
    print(f"\nround trip (full session, {args.runs} runs)   p50 ms   p99 ms   max ms   target p50")
    for name, r in (("/pattern/save", save), ("/pattern/load", load)):
        print(f"{name:<38} {r['p50_ms']:>6.2f} {r['p99_ms']:>8.2f} {r['max_ms']:>8.2f}   "
              f"< {TARGET_P50_MS:g} {'ok' if r['p50_ms'] < TARGET_P50_MS else 'MISSED'}")
    for name, r in (("  Session.save_slot, no OSC", save_direct),
                    ("  Session.load_slot, no OSC", load_direct)):
        print(f"{name:<38} {r['p50_ms']:>6.2f} {r['p99_ms']:>8.2f} {r['max_ms']:>8.2f}")
    facts = machine()
    print(f"load average (1 min) {facts['load_average_1min']:.2f} on {facts['cpus']} CPUs")

    results = {
        "benchmark": "osc", **facts,
        "receive_buffer_bytes": receive_buffer, "bursts": bursts,
        "round_trip": {"save": save, "load": load, "target_p50_ms": TARGET_P50_MS},
        "session_direct": {"save": save_direct, "load": load_direct},
    }
    print()
    write_result(args.output, results)
    ok = all(b["lost"] == 0 and b["last_value_applied"] for b in bursts)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
