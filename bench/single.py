"""Single decisions against a bare FastAPI endpoint of the same shapes, side by side in one run.

The tenant is the quickstart's dealership (bench/world.py: 3,000 customers, every one with 16
weeks of history, trained, 14 days of governed campaigns; `--data DIR` keeps it for the next
run); the script starts `suppressor serve` (one worker, embedded store) and the bare
app of bench/bare.py (one uvicorn worker, the same uvloop and httptools), then drives each with
wrk (Debian's `wrk`) on the same two cores: the most each answers on `--connections`
connections, every rule on, and suppressor's latency paced at 70% of the most it answered.

    python bench/single.py [--data DIR] [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from decisions import ALL_RULES, put_policy  # bench/decisions.py (scripts run from bench/)
from server import free_port, start, wait_ready
from world import build

HERE = Path(__file__).resolve().parent
RUNS = (f"{os.getpid()}.{time.time():.0f}.{k}" for k in itertools.count())  # message ids new in every wrk run
SCRIPT = HERE / "wrk" / "single.lua"


def wrk(port: int, key: str, customers: int, seconds: float, connections: int, delay_ms: float = 0) -> dict:
    """One wrk run against POST /v1/decisions: requests/s, non-200 answers, p50 and p99 (ms)."""
    env = dict(os.environ, KEY=key, CUSTOMERS=str(customers), DELAY_MS=str(int(delay_ms)), RUN=f"{next(RUNS)}")
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "-s",
            str(SCRIPT),
            f"http://127.0.0.1:{port}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    _, requests, bad, replayed, p50, p99 = next(line for line in out.splitlines() if line.startswith("RESULT")).split()
    return {
        "rps": int(requests) / seconds,
        "bad": int(bad),
        "replayed": int(replayed),
        "p50": float(p50),
        "p99": float(p99),
    }


def main() -> None:
    """Run both servers and print the figures."""
    p = argparse.ArgumentParser()
    p.add_argument("--customers", type=int, default=3000)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--data", type=Path, help="keep the loaded data here and reuse it on the next run")
    args = p.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs Debian's wrk (apt-get install wrk)")
    data = args.data or Path(tempfile.mkdtemp(prefix="suppressor-bench-"))
    world = build(data, args.customers)
    key, args.customers = world.key, world.customers
    bare_port = free_port()
    bare = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare:app",
            "--port",
            str(bare_port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=HERE,
    )
    server, port = start(data)
    try:
        wait_ready(bare_port, path="/openapi.json")  # the bare app has no /readyz
        put_policy(port, key, ALL_RULES)
        time.sleep(1.5)  # the server picks the policy up within a second
        wrk(port, key, args.customers, 3, args.connections)  # warm up: the model, connections, caches
        wrk(bare_port, key, args.customers, 3, args.connections)
        ref = wrk(bare_port, key, args.customers, args.seconds, args.connections)
        ours = wrk(port, key, args.customers, args.seconds, args.connections)
        one = wrk(port, key, args.customers, args.seconds, 1)
        # paced: each connection waits between requests so the total is ~70% of the most suppressor
        # answered (a service's p99 is read at 70% of its capacity); a request's own time is about
        # the one-connection p50 at that load
        target = 0.7 * ours["rps"]
        delay = max(0.0, args.connections / target * 1000 - one["p50"])
        paced = wrk(port, key, args.customers, args.seconds, args.connections, delay)
    finally:
        server.terminate()
        bare.terminate()
        server.wait(timeout=30)
        bare.wait(timeout=30)
        if not args.data:
            shutil.rmtree(data, ignore_errors=True)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; wrk shares the "
        f"cores; store: embedded\n{world.describe()}"
    )
    print(f"{'POST /v1/decisions':<44}{'requests/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'non-200':>9}{'replays':>9}")
    for name, r in (
        (f"bare FastAPI, {args.connections} connections", ref),
        (f"suppressor, every rule on, {args.connections} connections", ours),
        (f"suppressor paced at {paced['rps'] / ours['rps']:.0%} of its most", paced),
        ("suppressor, one connection", one),
    ):
        print(f"{name:<44}{r['rps']:>12,.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['bad']:>9}{r['replayed']:>9}")
    print("every request asks about a new message id: a replayed verdict would be counted above (0 is right)")
    print(f"suppressor / bare: {ours['rps'] / ref['rps']:.2f}x (the target is at least 0.6x)")


if __name__ == "__main__":
    main()
