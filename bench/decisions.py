"""Decision latency and throughput over HTTP, on the embedded Redis.

Loads N customers (default 100,000) with profiles and behavior into a fresh data
directory, trains a model, starts `suppressor serve` in its own process, then measures:
single-decision latency (p50/p99, sequential), single-decision throughput (concurrent
clients) and decisions per second through /v1/decisions:batch.

Every timed request asks about a message id never asked before (a counter per run and policy
phase), so every answer is a real decision, never a standing verdict replayed; each figure is
printed with the count of replays among the answers it timed, which must be 0.

    python bench/decisions.py [--customers 100000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from server import start as start_server  # bench/server.py (scripts run from bench/)

from suppressor.api import synthetic
from suppressor.customers import events
from suppressor.domain import EventBatch
from suppressor.policy import document as policy
from suppressor.settings import Settings
from suppressor.storage import keys as K
from suppressor.storage.store import Store
from suppressor.tenants import apikeys


def load(data_dir: Path, n: int, trained_share: float) -> str:
    """Profiles for ``n`` customers, behavior for a share of them, a trained active model."""
    from suppressor.training.fit import TrainConfig, train_tenant

    store = Store(Settings(data_dir=data_dir, redis_url=None))
    try:
        key = apikeys.create_key(store, "bench")
        t = time.time()
        n_hist = int(n * trained_share)
        dealer = synthetic.generate(n_hist, weeks=8, sends_per_week=2.0, seed=1)
        everyone = dealer.customers + [synthetic.make_customer(i, dealer.rng) for i in range(n_hist, n)]
        for start in range(0, n, 5000):  # profiles, pipelined (the PUT path costs 2 round trips each)
            pipe = store.bulk.pipeline(transaction=False)
            for c in everyone[start : start + 5000]:
                pipe.hset(
                    K.profile("bench", c.customer_id),
                    mapping={
                        "attributes": json.dumps(c.attributes),
                        "consent": json.dumps(c.consent),
                        "timezone": c.timezone,
                    },
                )
                pipe.sadd(K.customers_index("bench"), c.customer_id)
            pipe.execute()
        for i in range(0, len(dealer.events), 10_000):
            events.ingest(store, "bench", EventBatch.model_validate({"events": dealer.events[i : i + 10_000]}).events)
        print(
            f"loaded {n} customers ({n_hist} with {len(dealer.events)} events) in {time.time() - t:.0f} s", flush=True
        )
        t = time.time()
        m = train_tenant(store, "bench", TrainConfig(), progress=lambda s: None)
        print(f"trained {m.version} in {time.time() - t:.0f} s (holdout AUC {m.metrics.get('auc'):.3f})", flush=True)
        policy.put(store, "bench", policy.Policy(relevance_threshold=0.08), "bench")
        return key
    finally:
        store.close()


_fresh = itertools.count()
RUN = f"{os.getpid()}-{int(time.time())}"  # message ids differ between runs on kept data (--data)


def request(rng: np.random.Generator, n: int, messages) -> dict:
    """A random decision request about a message id nobody asked about before (a real decision)."""
    m = messages[rng.integers(len(messages))]
    message = dict(m.on(synthetic.CHANNELS[rng.integers(4)]))
    message["message_id"] = f"{message['message_id']}-{RUN}-{next(_fresh)}"
    return {"customer_id": f"c-{int(rng.integers(n)):06d}", "message": message}


def replays(answers: list[dict]) -> str:
    """'0 replays' (as it must be), or the count, loudly."""
    n = sum(1 for a in answers if a.get("replayed"))
    return "0 replays" if n == 0 else f"{n} REPLAYS (the figure is not of real decisions)"


def main() -> None:
    """Run the benchmark."""
    p = argparse.ArgumentParser()
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--trained-share", type=float, default=0.2, help="share of customers with behavior")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--data", type=Path, help="keep the loaded data here and reuse it on the next run")
    args = p.parse_args()

    data_dir = args.data or Path(tempfile.mkdtemp(prefix="suppressor-bench-"))
    try:
        key_file = data_dir / "bench-key.txt"
        if args.data and key_file.exists():
            key = key_file.read_text().strip()
            print(f"reusing the data in {data_dir}", flush=True)
        else:
            key = load(data_dir, args.customers, args.trained_share)
            key_file.write_text(key)
        server, port = start_server(data_dir)
        try:
            run(port, key, args)
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        if not args.data:
            shutil.rmtree(data_dir, ignore_errors=True)


class Client:
    """A keep-alive HTTP/1.1 client from the standard library (lighter than httpx, so the
    figures measure the server, not the client)."""

    def __init__(self, port: int, key: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}

    def post(self, path: str, body: dict) -> dict:
        """POST JSON, return the decoded answer."""
        self.conn.request("POST", path, json.dumps(body), self.headers)
        r = self.conn.getresponse()
        data = r.read()
        assert r.status == 200, data
        return json.loads(data)


ALL_RULES = {  # every rule on (defaults plus the optional ones)
    "relevance_threshold": 0.08,
    "min_gap": "1h",
    "holdout_fraction": 0.05,
    "lifecycle": {"thresholds_by_stage": {"researching": 0.12, "ready": 0.04}},
}
RULES_OFF = {
    "relevance_threshold": 0.08,
    "caps": [],
    "fatigue": {"enabled": False},
    "balance": {"enabled": False},
    "offers": {"enabled": False},
    "channels": {"learned_reroute": False},
    "quiet_hours": {"enabled": False},
    "lifecycle": {"post_purchase_quiet": 0, "block_sales_while_service_open": False},
}


def put_policy(port: int, key: str, body: dict) -> None:
    """Replace the tenant policy over HTTP."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "PUT", "/v1/policy", json.dumps(body), {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    )
    r = conn.getresponse()
    assert r.status == 200, r.read()
    r.read()


def run(port: int, key: str, args) -> None:
    """Measure with the rules off, then with every rule on."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "PUT",
        "/v1/content/clinic",
        json.dumps({"title": "Winter safety clinic", "topics": ["content:safety-clinic"]}),
        {"Authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    conn.getresponse().read()
    for name, body in (("rules off", RULES_OFF), ("every rule on", ALL_RULES)):
        put_policy(port, key, body)
        time.sleep(1.5)  # the server picks the policy up within a second
        print(f"-- policy: {name}", flush=True)
        measure(port, key, args)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; client and server share the machine"
    )


def measure(port: int, key: str, args) -> None:
    """Single-decision latency and throughput, then batch throughput."""
    rng = np.random.default_rng(7)
    messages = synthetic.catalog(np.random.default_rng(0))
    n = args.customers

    c = Client(port, key)
    for _ in range(300):  # warm up (model load, connections, policy)
        c.post("/v1/decisions", request(rng, n, messages))
    bodies = [request(rng, n, messages) for _ in range(5000)]
    lat, answers = [], []
    for body in bodies:
        t = time.perf_counter()
        answers.append(c.post("/v1/decisions", body))
        lat.append(time.perf_counter() - t)
    lat_ms = np.array(lat) * 1000
    print(
        f"single decision over HTTP, one client: p50 {np.percentile(lat_ms, 50):.2f} ms, "
        f"p99 {np.percentile(lat_ms, 99):.2f} ms, {len(lat) / sum(lat):.0f} decisions/s ({replays(answers)})",
        flush=True,
    )

    done = [0] * args.clients
    replayed = [0] * args.clients
    stop = time.time() + args.seconds

    def worker(i: int) -> None:
        r_ = np.random.default_rng(100 + i)
        cl = Client(port, key)
        mine = [request(r_, n, messages) for _ in range(20_000)]  # more than a client gets through
        k = 0
        while time.time() < stop and k < len(mine):
            replayed[i] += bool(cl.post("/v1/decisions", mine[k]).get("replayed"))
            k += 1
        done[i] = k

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.clients)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(
        f"single decision over HTTP, {args.clients} concurrent clients: "
        f"{sum(done) / (time.time() - t0):.0f} decisions/s ({sum(replayed)} replays)",
        flush=True,
    )

    c = Client(port, key)  # the first connection idled past the server's keep-alive
    for size in (1000, 10_000):
        rates, answers = [], []
        for _ in range(2):  # two batches, each of fresh messages
            items = [request(rng, n, messages) for _ in range(size)]
            t = time.perf_counter()
            res = c.post("/v1/decisions:batch", {"items": items})
            rates.append(size / (time.perf_counter() - t))
            answers += res["results"]
        print(f"batch of {size} over HTTP: {statistics.median(rates):.0f} decisions/s ({replays(answers)})", flush=True)
    actions: dict[str, int] = {}
    for r in res["results"]:
        actions[r["action"]] = actions.get(r["action"], 0) + 1
    print(f"verdicts in the last batch: {actions}")


if __name__ == "__main__":
    main()
