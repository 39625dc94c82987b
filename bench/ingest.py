"""Event ingest throughput, stage by stage, on the embedded Redis (or REDIS_URL).

Generates the quickstart dealership's behavior, then measures in one run, on fresh stores:
validating 10,000-event batches (pydantic, as the route does), storing validated batches
(suppressor.customers.events.ingest: claims, customer scripts, settling), and the whole
POST /v1/events path over HTTP against `suppressor serve` (one client, 10,000-event batches).
With --profile, prints where the storing stage spends its time.

    python bench/ingest.py [--customers 3000] [--weeks 16] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import http.client
import json
import os
import platform
import pstats
import shutil
import tempfile
import time
from pathlib import Path

from server import start as start_server  # bench/server.py (scripts run from bench/)

from suppressor.api import synthetic
from suppressor.customers import events
from suppressor.domain import EventBatch
from suppressor.settings import Settings
from suppressor.storage.store import BATCH_TIMEOUT, Store
from suppressor.tenants import apikeys

BATCH = 10_000


def batches(evs: list[dict]) -> list[list[dict]]:
    return [evs[i : i + BATCH] for i in range(0, len(evs), BATCH)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=3000)
    ap.add_argument("--weeks", type=int, default=16)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    dealer = synthetic.generate(args.customers, weeks=args.weeks, seed=7)
    raw = [json.loads(json.dumps(e, default=str)) for e in dealer.events]  # as a caller sends them
    n = len(raw)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; store: {'REDIS_URL' if os.environ.get('REDIS_URL') else 'embedded'}"
    )
    print(f"{n:,} events of {args.customers:,} customers, in batches of {BATCH:,}")

    t = time.perf_counter()
    validated = [EventBatch.model_validate({"events": b}).events for b in batches(raw)]
    v = time.perf_counter() - t
    print(f"validate (pydantic), collector as is: {n / v:>8,.0f} events/s  ({v:.1f} s)")
    del validated
    gc.collect()
    gc.freeze()  # what the server does once started (api/app.py): long-lived objects out of full collections
    t = time.perf_counter()
    validated = [EventBatch.model_validate({"events": b}).events for b in batches(raw)]
    f = time.perf_counter() - t
    print(f"validate (pydantic), after gc.freeze(): {n / f:>6,.0f} events/s  ({v / f:.2f}x)")

    tmp = Path(tempfile.mkdtemp(prefix="sup-bench-ingest-"))
    try:
        store = Store(Settings(data_dir=tmp / "core"), bulk_timeout=BATCH_TIMEOUT)
        store.bulk.flushdb()
        prof = cProfile.Profile() if args.profile else None
        t = time.perf_counter()
        if prof:
            prof.enable()
        accepted = sum(events.ingest(store, "bench", b).accepted for b in validated)
        if prof:
            prof.disable()
        s = time.perf_counter() - t
        print(f"store (events.ingest): {n / s:>8,.0f} events/s  ({s:.1f} s, {accepted:,} accepted)")
        t = time.perf_counter()
        again = sum(events.ingest(store, "bench", b).duplicates for b in validated)
        r = time.perf_counter() - t
        print(f"store a retry (all duplicates): {n / r:>8,.0f} events/s  ({again:,} duplicates)")
        store.bulk.flushdb()
        store.close()
        if prof:
            pstats.Stats(prof).sort_stats("cumulative").print_stats(18)

        proc, port = start_server(tmp / "http")
        try:
            hstore = Store(Settings(data_dir=tmp / "http"), bulk_timeout=BATCH_TIMEOUT)
            key = apikeys.create_key(hstore, "bench")
            hstore.close()
            bodies = [json.dumps({"events": b}).encode() for b in batches(raw)]
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            t = time.perf_counter()
            for body in bodies:
                conn.request(
                    "POST", "/v1/events", body, {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
                )
                answer = conn.getresponse()
                assert answer.status == 200, answer.read()[:300]
                answer.read()
            h = time.perf_counter() - t
            print(f"POST /v1/events over HTTP: {n / h:>6,.0f} events/s  ({h:.1f} s)")
        finally:
            proc.terminate()
            proc.wait(30)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
