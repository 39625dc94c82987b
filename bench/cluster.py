"""Decisions per second on one Redis server, a one-node Redis Cluster and a three-node Redis Cluster,
side by side in one run (private servers from Debian's redis-server, nothing persisted).

The same core path the batch endpoint takes (Decider.decide on batches of 1,000 requests, one pipeline
of decide scripts per batch; a cluster client splits each pipeline by node), every rule on, no model
(rules only), on the same customers. Every node is a process on this machine's cores, beside the client.

    python bench/cluster.py [--customers 20000] [--batches 20]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.cluster: the same local cluster as CI

from suppressor.decisions.decide import Decider  # noqa: E402
from suppressor.domain import DecisionRequest  # noqa: E402
from suppressor.policy import document as policy  # noqa: E402
from suppressor.settings import Settings  # noqa: E402
from suppressor.storage import keys as K  # noqa: E402
from suppressor.storage.store import Store, aclose_clients  # noqa: E402
from suppressor.tenants.state import TenantStateCache  # noqa: E402
from tests import cluster  # noqa: E402

CHANNELS = ("email", "sms", "push")
ALL_RULES = {
    "relevance_threshold": 0.08,
    "min_gap": "1h",
    "holdout_fraction": 0.05,
    "lifecycle": {"thresholds_by_stage": {"researching": 0.12, "ready": 0.04}},
}


def load(store: Store, n: int) -> None:
    """``n`` consenting customers and the all-rules policy."""
    for start in range(0, n, 5000):
        pipe = store.bulk.pipeline(transaction=False)
        for i in range(start, min(n, start + 5000)):
            pipe.hset(
                K.profile("bench", f"c-{i:06d}"),
                mapping={
                    "attributes": json.dumps({"lead_stage": random.choice(["researching", "ready"])}),
                    "consent": json.dumps({ch: True for ch in CHANNELS}),
                    "timezone": "America/Chicago",
                },
            )
        pipe.execute()
    policy.put(store, "bench", policy.Policy.model_validate(ALL_RULES), "bench")


def measure(store: Store, n: int, batches: int, size: int) -> tuple[float, float]:
    """Decisions per second over ``batches`` batches of ``size`` (after two warm-up batches): on the
    sync clients (CLI, training, ingest) and on the asyncio ones (the HTTP API's path)."""
    decider = Decider(store, TenantStateCache(store, 1.0), None)
    mids = itertools.count()
    rng = random.Random(7)

    def batch() -> list[DecisionRequest]:
        return [
            DecisionRequest(
                customer_id=f"c-{rng.randrange(n):06d}",
                message={
                    "message_id": f"m-{next(mids)}",
                    "channel": rng.choice(CHANNELS),
                    "kind": rng.choice(["sales", "value"]),
                    "topics": ["segment:suv"],
                },
            )
            for _ in range(size)
        ]

    def check(out) -> None:
        assert not any(r.code == "degraded" for d in out for r in d.reasons)

    for _ in range(2):
        decider.decide("bench", batch())
    work = [batch() for _ in range(batches)]
    t = time.perf_counter()
    for b in work:
        check(decider.decide("bench", b))
    sync = batches * size / (time.perf_counter() - t)

    async def on_asyncio() -> float:
        hot, bulk = store.async_clients()
        work = [batch() for _ in range(batches + 2)]
        for b in work[:2]:
            await decider.adecide("bench", b, hot, bulk)
        t = time.perf_counter()
        for b in work[2:]:
            check(await decider.adecide("bench", b, hot, bulk))
        rate = batches * size / (time.perf_counter() - t)
        await aclose_clients(hot, bulk)
        return rate

    return sync, asyncio.run(on_asyncio())


def single_server(root: Path) -> tuple[subprocess.Popen, str]:
    """A plain redis-server on a free port."""
    port = cluster.free_ports(1)[0]
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(root),
        ],
        stdout=subprocess.DEVNULL,
    )
    cluster._wait(lambda: cluster.redis.Redis(port=port).ping())
    return proc, f"redis://127.0.0.1:{port}/0"


def main() -> None:
    """Run each topology in turn and print the figures."""
    p = argparse.ArgumentParser()
    p.add_argument("--customers", type=int, default=20_000)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--size", type=int, default=1000)
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="suppressor-bench-cluster-"))
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{args.customers} customers, batches of {args.size}, every rule on, no model",
        flush=True,
    )
    rows = []
    try:
        proc, url = single_server(root)
        try:
            rows.append(("one redis-server", run(url, root / "s", args)))
        finally:
            proc.terminate()
            proc.wait()
        for masters in (1, 3):
            c = cluster.start(root / f"c{masters}", cluster.free_ports(masters))
            try:
                rows.append(
                    (f"Redis Cluster, {masters} node{'s' * (masters > 1)}", run(c.url, root / f"d{masters}", args))
                )
            finally:
                c.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    (_, (base_sync, base_async)), *_ = rows
    print(f"\n{'store':<28}{'sync clients':>22}{'asyncio (the API)':>24}")
    for name, (rate_sync, rate_async) in rows:
        print(
            f"{name:<28}{rate_sync:>10,.0f}/s {rate_sync / base_sync:>8.2f}x"
            f"{rate_async:>12,.0f}/s {rate_async / base_async:>8.2f}x"
        )


def run(url: str, data: Path, args: argparse.Namespace) -> tuple[float, float]:
    """Load and measure on the store at ``url``."""
    store = Store(Settings(redis_url=url, data_dir=data, decision_deadline_ms=2000))
    try:
        load(store, args.customers)
        return measure(store, args.customers, args.batches, args.size)
    finally:
        store.close()


if __name__ == "__main__":
    main()
