"""Training speed on 1,000,000 interactions, and serving memory with 10,000 vs 1,000,000 customers.

    python bench/train_speed.py [--customers 100000] [--per-customer 10] [--skip-memory]

Training: N customers with a few attributes get `per-customer` messages each (delivered, then
clicked or ignored by a planted truth), stored through the ingestion path into a fresh
embedded Redis; then `train_tenant` runs as `suppressor train` would, and the phases are timed.
Memory: customer vectors for 10,000 and then 1,000,000 customers are stored, a server decides
for random customers, and its resident memory is read from /proc: it must not grow with
customers, because their vectors live in Redis.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from server import start as start_server  # bench/server.py (scripts run from bench/)

from suppressor.customers import events
from suppressor.domain import Event, EventType, Kind
from suppressor.model.exported import pack
from suppressor.settings import Settings
from suppressor.storage import keys
from suppressor.storage.store import Store
from suppressor.tenants import apikeys

SEGMENTS = ("suv", "sedan", "truck", "ev", "minivan")
CHANNELS = ("email", "sms", "push")


def load(store: Store, n: int, per: int, seed: int = 1) -> int:
    """Customers, messages and outcomes with a planted segment preference; returns interactions."""
    rng = np.random.default_rng(seed)
    start = datetime.now(UTC) - timedelta(days=120)
    want = rng.integers(0, 5, n)
    age = rng.integers(0, 3, n)
    pipe = store.bulk.pipeline(transaction=False)
    for i in range(n):
        pipe.hset(
            keys.profile("bench", f"c{i}"),
            mapping={
                "attributes": json.dumps({"age_band": int(age[i]), "household": int(1 + want[i] % 4)}),
                "consent": "{}",
            },
        )
        if i % 10_000 == 9_999:
            pipe.execute()
    pipe.execute()
    batch: list[Event] = []
    total = 0
    for i in range(n):
        for k in range(per):
            seg = int(rng.integers(0, 5))
            ch = CHANNELS[int(rng.integers(0, 3))]
            p = 0.35 if seg == want[i] else 0.05
            ts = start + timedelta(minutes=int(rng.integers(0, 115 * 1440)))
            # already valid: skip per-event validation so loading does not dominate the benchmark
            base = dict(
                customer_id=f"c{i}",
                channel=ch,
                kind=Kind.sales,
                message_id=f"m-{seg}-{ch}-{ts:%W}",
                topics=[f"segment:{SEGMENTS[seg]}"],
                properties={},
            )
            outcome = EventType.clicked if rng.random() < p else EventType.ignored
            batch.append(Event.model_construct(event_id=f"c{i}-{k}-d", type=EventType.delivered, ts=ts, **base))
            batch.append(
                Event.model_construct(event_id=f"c{i}-{k}-o", type=outcome, ts=ts + timedelta(hours=5), **base)
            )
            total += 1
        if len(batch) >= 20_000:
            events.ingest(store, "bench", batch)
            batch = []
    if batch:
        events.ingest(store, "bench", batch)
    return total


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def memory(data_dir: Path, store: Store, key: str, version: str, dim: int) -> None:
    """Server RSS after deciding for random customers, with 10k and then 1M stored customer vectors."""
    server, port = start_server(data_dir)
    rng = np.random.default_rng(3)
    stored = 0
    try:
        headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
        for target in (10_000, 1_000_000):
            pipe = store.bulk.pipeline(transaction=False)
            for i in range(stored, target):
                pipe.hset(
                    keys.vectors("bench", f"m{i}"), version, pack(rng.normal(size=dim + 1).astype(np.float32) * 0.1)
                )
                if i % 20_000 == 19_999:
                    pipe.execute()
            pipe.execute()
            stored = target
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # loading outlived keep-alive
            for _ in range(3000):
                body = {
                    "customer_id": f"m{int(rng.integers(target))}",
                    "dry_run": True,
                    "message": {"message_id": "x", "channel": "email", "kind": "sales", "topics": ["segment:suv"]},
                }
                conn.request("POST", "/v1/decisions", json.dumps(body), headers)
                r = conn.getresponse()
                r.read()
                assert r.status == 200
            print(
                f"serving process with {target:>9,} customers' vectors in Redis: {rss_mb(server.pid):.0f} MB resident",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    """Run the benchmark."""
    from suppressor.training.fit import TrainConfig, train_tenant

    p = argparse.ArgumentParser()
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--per-customer", type=int, default=10)
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs, help="before the large-data reduction")
    p.add_argument("--skip-memory", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="suppressor-train-bench-") as tmp:
        data_dir = Path(tmp)
        store = Store(Settings(data_dir=data_dir, redis_url=None))
        try:
            key = apikeys.create_key(store, "bench")
            t = time.time()
            n = load(store, args.customers, args.per_customer)
            print(
                f"loaded {n:,} interactions ({args.customers:,} customers) through ingestion in {time.time() - t:.0f} s",
                flush=True,
            )
            # the read phase side by side: Python's cyclic collector running (as before), then paused (as
            # train_tenant now does); each read's result is dropped before the next
            from suppressor.training import dataset as ds_mod
            from suppressor.training.fit import collector_paused

            gc.collect()
            t = time.time()
            ds_mod.read(store, "bench")
            running = time.time() - t
            gc.collect()
            with collector_paused():
                t = time.time()
                ds_mod.read(store, "bench")
                paused = time.time() - t
            print(
                f"reading the events: {running:.1f} s with the collector running, {paused:.1f} s paused "
                f"({running / paused:.2f}x, same run)",
                flush=True,
            )
            marks = [time.time()]
            phases = []

            def progress(msg: str) -> None:
                now = time.time()
                phases.append((msg, now - marks[-1]))
                marks.append(now)

            t = time.time()
            model = train_tenant(store, "bench", TrainConfig(epochs=args.epochs), progress=progress)
            total = time.time() - t
            m = model.metrics
            print(
                f"trained {model.version} on {m['n_pairs']:,} pairs in {total:.1f} s "
                f"(holdout AUC {m.get('auc'):.3f}; {m.get('epochs')} epochs on 80%, then a warm start on all)"
            )
            for label, needle in (
                ("read events", "read "),
                ("build pairs", " pairs, "),
                ("holdout fit", "holdout fit"),
                ("final fit", "final fit"),
                ("write vectors", "wrote vectors"),
                ("activate", "activated"),
            ):
                secs = sum(s for msg, s in phases if needle in msg)
                print(f"  {label:<14} {secs:6.1f} s")
            if not args.skip_memory:
                memory(data_dir, store, key, model.version, model.dim)
        finally:
            store.close()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
