"""Decision latency and throughput over HTTP, on the embedded Redis.

Loads N customers (default 100,000) with profiles and behavior into a fresh data
directory, trains a model, starts `suppressor serve` in its own process, then measures:
single-decision latency (p50/p99, sequential), single-decision throughput (concurrent
clients) and decisions per second through /v1/decisions:batch.

    python bench/decisions.py [--customers 100000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from suppressor import events, synthetic, tenants
from suppressor import keys as K
from suppressor import policy
from suppressor.domain import EventBatch
from suppressor.settings import Settings
from suppressor.store import Store


def load(data_dir: Path, n: int, trained_share: float) -> str:
    """Profiles for ``n`` customers, behavior for a share of them, a trained active model."""
    from training.fit import TrainConfig, train_tenant

    store = Store(Settings(data_dir=data_dir, redis_url=None))
    try:
        key = tenants.create_key(store, "bench")
        t = time.time()
        n_hist = int(n * trained_share)
        dealer = synthetic.generate(n_hist, weeks=8, sends_per_week=2.0, seed=1)
        everyone = dealer.customers + [synthetic._customer(i, dealer.rng) for i in range(n_hist, n)]
        for start in range(0, n, 5000):  # profiles, pipelined (the PUT path costs 2 round trips each)
            pipe = store.bulk.pipeline(transaction=False)
            for c in everyone[start:start + 5000]:
                import json
                pipe.hset(K.profile("bench", c.customer_id), mapping={
                    "attributes": json.dumps(c.attributes), "consent": json.dumps(c.consent),
                    "timezone": c.timezone})
                pipe.sadd(K.customers_index("bench"), c.customer_id)
            pipe.execute()
        for i in range(0, len(dealer.events), 10_000):
            events.ingest(store, "bench", EventBatch.model_validate({"events": dealer.events[i:i + 10_000]}).events)
        print(f"loaded {n} customers ({n_hist} with {len(dealer.events)} events) in {time.time() - t:.0f} s", flush=True)
        t = time.time()
        m = train_tenant(store, "bench", TrainConfig(), progress=lambda s: None)
        print(f"trained {m.version} in {time.time() - t:.0f} s (holdout AUC {m.metrics.get('auc'):.3f})", flush=True)
        policy.put(store, "bench", policy.Policy(relevance_threshold=0.08), "bench")
        return key
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(rng: np.random.Generator, n: int, messages) -> dict:
    m = messages[rng.integers(len(messages))]
    return {"customer_id": f"c-{int(rng.integers(n)):06d}",
            "message": m.on(synthetic.CHANNELS[rng.integers(4)])}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--trained-share", type=float, default=0.2, help="share of customers with behavior")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--clients", type=int, default=8)
    args = p.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="suppressor-bench-"))
    try:
        key = load(data_dir, args.customers, args.trained_share)
        port = free_port()
        env = dict(os.environ, SUPPRESSOR_DATA_DIR=str(data_dir), SUPPRESSOR_LOG_LEVEL="warning")
        env.pop("REDIS_URL", None)
        server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            run(base, key, args)
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def run(base: str, key: str, args) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    for _ in range(100):
        try:
            if httpx.get(f"{base}/readyz").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    rng = np.random.default_rng(7)
    messages = synthetic.catalog(np.random.default_rng(0))
    n = args.customers

    with httpx.Client(base_url=base, headers=headers) as c:
        for _ in range(200):  # warm up (model load, connections)
            c.post("/v1/decisions", json=request(rng, n, messages))
        lat = []
        for _ in range(3000):
            body = request(rng, n, messages)
            t = time.perf_counter()
            r = c.post("/v1/decisions", json=body)
            lat.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
    lat_ms = np.array(lat) * 1000
    print(f"single decision, sequential: p50 {np.percentile(lat_ms, 50):.2f} ms, p99 {np.percentile(lat_ms, 99):.2f} ms, "
          f"{len(lat) / sum(lat):.0f}/s")

    done = [0] * args.clients
    stop = time.time() + args.seconds

    def worker(i: int) -> None:
        r_ = np.random.default_rng(100 + i)
        with httpx.Client(base_url=base, headers=headers) as c:
            while time.time() < stop:
                c.post("/v1/decisions", json=request(r_, n, messages))
                done[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.clients)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"single decision, {args.clients} concurrent clients: {sum(done) / (time.time() - t0):.0f} decisions/s")

    with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
        rates = []
        for size in (1000, 10_000):
            items = [request(rng, n, messages) for _ in range(size)]
            for _ in range(3):
                t = time.perf_counter()
                r = c.post("/v1/decisions:batch", json={"items": items})
                rates.append((size, size / (time.perf_counter() - t)))
                assert r.status_code == 200
            best = statistics.median([rt for s, rt in rates if s == size])
            print(f"batch of {size}: {best:.0f} decisions/s")
        actions = {}
        for res in r.json()["results"]:
            actions[res["action"]] = actions.get(res["action"], 0) + 1
        print(f"verdicts in the last batch: {actions}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}")


if __name__ == "__main__":
    main()
