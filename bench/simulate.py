"""What-if speed: replaying logged decisions under candidate policies, the holdout lift, and the
studio's trade-off curve over HTTP.

    python bench/simulate.py [--customers 3000] [--days 14] [--points 12] [--data DIR]

The tenant is the quickstart's dealership (bench/world.py: 16 weeks of history for every customer,
trained, then `days` days of daily campaigns decided and logged, 10% holdout); then the same
questions a marketer asks are timed in-process: simulate one candidate (the current policy and the
candidate replayed), a threshold sweep of `points` policies, and the lift; Redis time is read from
INFO commandstats, so the Lua share is reported apart from Python's. Last, the studio's curve as
the studio asks for it (`POST /v1/policy:tradeoff {}` against `suppressor serve`), three times,
each after a policy PUT so that none is answered from the curve cache (target: 3 s).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from server import start as start_server  # bench/server.py (scripts run from bench/)
from world import POLICY, TENANT, build

from suppressor.settings import Settings
from suppressor.storage import keys
from suppressor.storage.store import Store
from suppressor.whatif import lift, reports
from suppressor.whatif.questions import TradeoffRequest

STUDIO_SAMPLE = TradeoffRequest.model_fields["max_decisions"].default  # what the studio's curve replays


def lua_seconds(store: Store) -> float:
    """Seconds Redis spent in EVALSHA since the last reset."""
    stats = store.bulk.info("commandstats").get("cmdstat_evalsha", {})
    return stats.get("usec", 0) / 1e6


def timed(store: Store, label: str, fn, replayed: int):
    """Run ``fn``; print wall time, Redis time and decision-replays per second."""
    store.bulk.config_resetstat()
    t = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t
    lua = lua_seconds(store)
    rate = f"{replayed / wall:9,.0f} replays/s, {1e6 * lua / replayed:5.0f} µs Redis each" if replayed else ""
    print(f"{label:44} {wall:6.1f} s wall, {lua:6.1f} s in Redis  {rate}", flush=True)
    return out


def studio_curve(data: Path, key: str, rounds: int = 3) -> list[float]:
    """Seconds of each uncached POST /v1/policy:tradeoff {} (what the studio sends) over HTTP."""
    server, port = start_server(data)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    took = []
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        for _ in range(rounds):
            conn.request(
                "PUT", "/v1/policy", POLICY.model_dump_json(exclude={"version", "campaigns"}), headers
            )  # a new stamp
            answer = conn.getresponse()
            assert answer.status == 200, answer.read()
            answer.read()
            t = time.perf_counter()
            conn.request("POST", "/v1/policy:tradeoff", b"{}", headers)
            answer = conn.getresponse()
            body = answer.read()
            took.append(time.perf_counter() - t)
            assert answer.status == 200, body[:300]
            points = len(json.loads(body)["points"])
        print(
            f"studio's curve over HTTP ({points} points, {STUDIO_SAMPLE:,}-decision sample, uncached): "
            + ", ".join(f"{s:.1f} s" for s in took)
            + " (target: 3 s)"
        )
    finally:
        server.terminate()
        server.wait(30)
    return took


def main() -> int:
    """Build the world, time the what-ifs, print the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=3000)
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--points", type=int, default=12)
    p.add_argument("--data", type=Path, help="keep the world here and reuse it on the next run")
    args = p.parse_args()
    data = args.data or Path(tempfile.mkdtemp(prefix="sup-bench-whatif-"))
    try:
        world = build(data, args.customers, args.days)
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
            f"store: embedded\n{world.describe()}\n",
            flush=True,
        )
        store = Store(Settings(data_dir=data, redis_url=None))
        logged = store.bulk.xlen(keys.decision_log(TENANT))
        if logged > world.decisions:  # the studio's sample is the latest decisions: another bench's, then
            store.close()
            raise SystemExit(
                f"{data} holds {logged - world.decisions:,} decisions logged by another benchmark after the world's "
                "governed campaigns: the replays would be of those; run this on a fresh --data"
            )
        try:
            prepared = timed(store, "load the log and the customers' events", lambda: reports.prepare(store, TENANT), 0)
            n = len(prepared.history.decisions)
            cand = reports.vary(prepared.current, "relevance_threshold", 0.12)
            timed(
                store,
                "simulate one candidate (2 policies)",
                lambda: reports.simulate(store, TENANT, cand, prepared),
                2 * n,
            )
            values = [round(0.02 * i, 2) for i in range(args.points)]
            timed(
                store,
                f"trade-off sweep ({args.points} points + current)",
                lambda: reports.tradeoff(store, TENANT, "relevance_threshold", values, prepared),
                (args.points + 1) * n,
            )
            small = timed(
                store,
                f"load a {STUDIO_SAMPLE:,}-decision sample (the studio's)",
                lambda: reports.prepare(store, TENANT, max_decisions=STUDIO_SAMPLE),
                0,
            )
            k = len(small.history.decisions)
            timed(
                store,
                f"  its sweep ({args.points} points + current)",
                lambda: reports.tradeoff(store, TENANT, "relevance_threshold", values, small),
                (args.points + 1) * k,
            )
            timed(store, "holdout lift (weekly)", lambda: lift.lift(store, TENANT), 0)
        finally:
            store.close()
        studio_curve(data, world.key)
    finally:
        if not args.data:
            shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
