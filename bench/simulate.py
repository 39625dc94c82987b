"""What-if speed: replaying logged decisions under candidate policies, and the holdout lift.

    python bench/simulate.py [--customers 3000] [--days 14] [--points 12]

A synthetic dealership (16 weeks of history, trained) is governed for `days` days of daily
campaigns (half the customers each day, 10% holdout) in a fresh embedded Redis; then the
same questions a marketer asks in the studio are timed: simulate one candidate (the current
policy and the candidate replayed), a threshold sweep of `points` policies, and the lift.
Redis time is read from INFO commandstats, so the Lua share is reported apart from Python's.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from suppressor.api import synthetic
from suppressor.policy import document as policies
from suppressor.settings import Settings
from suppressor.storage.store import Store
from suppressor.tenants import apikeys
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


def main() -> int:
    """Build the world, time the what-ifs, print the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=3000)
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--points", type=int, default=12)
    args = p.parse_args()
    from suppressor.training.fit import TrainConfig, train_tenant

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Settings(data_dir=Path(tmp), redis_url=None))
        try:
            t, now = time.time(), datetime.now(UTC)
            apikeys.create_key(store, "bench")
            dealer = synthetic.generate(args.customers, weeks=16, seed=5, end=now - timedelta(days=args.days + 1))
            synthetic.load(store, "bench", dealer)
            train_tenant(store, "bench", TrainConfig(), progress=lambda s: None)
            policies.put(store, "bench", policies.Policy(relevance_threshold=0.08, holdout_fraction=0.1), "bench")
            counts = synthetic.govern(store, "bench", dealer, now - timedelta(days=args.days + 1), args.days)
            print(
                f"world: {args.customers} customers, {len(dealer.events)} events of history, "
                f"{counts['decisions']} governed decisions over {args.days} days, {counts['events']} events after "
                f"them ({time.time() - t:.0f} s to build)\n",
                flush=True,
            )

            n = counts["decisions"]
            prepared = timed(
                store, "load the log and the customers' events", lambda: reports.prepare(store, "bench"), 0
            )
            cand = reports.vary(prepared.current, "relevance_threshold", 0.12)
            timed(
                store,
                "simulate one candidate (2 policies)",
                lambda: reports.simulate(store, "bench", cand, prepared),
                2 * n,
            )
            values = [round(0.02 * i, 2) for i in range(args.points)]
            timed(
                store,
                f"trade-off sweep ({args.points} points + current)",
                lambda: reports.tradeoff(store, "bench", "relevance_threshold", values, prepared),
                (args.points + 1) * n,
            )
            small = timed(
                store,
                f"load a {STUDIO_SAMPLE:,}-decision sample (the studio's)",
                lambda: reports.prepare(store, "bench", max_decisions=STUDIO_SAMPLE),
                0,
            )
            k = len(small.history.decisions)
            timed(
                store,
                f"  its sweep ({args.points} points + current)",
                lambda: reports.tradeoff(store, "bench", "relevance_threshold", values, small),
                (args.points + 1) * k,
            )
            timed(store, "holdout lift (weekly)", lambda: lift.lift(store, "bench"), 0)
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
