"""Decision latency and throughput over HTTP, on the embedded Redis, and batches against their floor.

The tenant is the quickstart's dealership (bench/world.py: every customer with 16 weeks of
history, a trained model, 14 days of governed campaigns; `--data DIR` keeps it for the next run);
`suppressor serve` runs in its own process and is measured with the policy rules off, then with
every rule on: single-decision latency (p50/p99, sequential), single-decision throughput
(concurrent clients) and decisions per second through /v1/decisions:batch, each batch side by
side with its floor: the same requests through a minimal decide-shaped script (the decision's
keys, one read of each of three, a one-word verdict) pipelined from this process.

Every timed request asks about a message id never asked before (a counter per run and policy
phase), so every answer is a real decision, never a standing verdict replayed; each figure is
printed with the count of replays among the answers it timed, which must be 0.

    python bench/decisions.py [--customers 3000] [--seconds 10] [--data DIR]
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
import orjson
from server import start as start_server  # bench/server.py (scripts run from bench/)
from world import TENANT, build

from suppressor.api import synthetic
from suppressor.settings import Settings
from suppressor.storage import keys as K
from suppressor.storage import store as stores
from suppressor.storage.store import Store

# the floor's script: what every decision reads at least (the profile, the vectors, the sends
# ledger), then a one-word verdict
FLOOR = """
local p = redis.call('HMGET', KEYS[1], 'consent', 'timezone')
local v = redis.call('HLEN', KEYS[2])
local n = redis.call('ZCARD', KEYS[3])
return 'send'
"""


_fresh = itertools.count()
RUN = f"{os.getpid()}-{int(time.time())}"  # message ids differ between runs on kept data (--data)


def request(rng: np.random.Generator, n: int, messages) -> dict:
    """A random decision request about a message id nobody asked about before (a real decision)."""
    m = messages[rng.integers(len(messages))]
    message = dict(m.on(synthetic.CHANNELS[rng.integers(4)]))
    message["message_id"] = f"{message['message_id']}-{RUN}-{next(_fresh)}"
    return {"customer_id": f"c-{int(rng.integers(n)):06d}", "message": message}


def replays(answers: list[dict]) -> str:
    """'0 replays' (as it must be), or the count, loudly; and any degraded answer (the store missed the
    deadline: no decision was made either)."""
    n = sum(1 for a in answers if a.get("replayed"))
    out = "0 replays" if n == 0 else f"{n} REPLAYS (the figure is not of real decisions)"
    degraded = sum(1 for a in answers if any(r.get("code") == "degraded" for r in a.get("reasons", [])))
    return out + (f", {degraded} DEGRADED" if degraded else "")


def main() -> None:
    """Run the benchmark."""
    p = argparse.ArgumentParser()
    p.add_argument("--customers", type=int, default=3000)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--data", type=Path, help="keep the world here and reuse it on the next run")
    args = p.parse_args()

    data_dir = args.data or Path(tempfile.mkdtemp(prefix="suppressor-bench-"))
    try:
        world = build(data_dir, args.customers)
        args.customers = world.customers
        print(world.describe(), flush=True)
        server, port = start_server(data_dir)
        store = Store(Settings(data_dir=data_dir, redis_url=None))
        try:
            run(port, world.key, store, args)
        finally:
            store.close()
            server.terminate()
            server.wait(timeout=30)
    finally:
        if not args.data:
            shutil.rmtree(data_dir, ignore_errors=True)


def floor(store: Store, items: list[dict]) -> float:
    """Decisions per second of ``items`` through the floor's script: their calls built, pipelined in
    one round trip, the verdicts answered as JSON."""
    sha = store.bulk.script_load(FLOOR)
    vector = b"\x00" * 132  # a packed item vector, as the decide call carries one per channel
    t = time.perf_counter()
    calls = [
        (K.decision_keys(TENANT, r["customer_id"]), [orjson.dumps(r), r["message"]["channel"], vector]) for r in items
    ]
    verdicts = stores.run(store, [("EVALSHA", sha, len(ks), *ks, *args) for ks, args in calls])
    orjson.dumps(
        {
            "results": [
                {"customer_id": r["customer_id"], "message_id": r["message"]["message_id"], "action": v.decode()}
                for r, v in zip(items, verdicts, strict=True)
            ]
        }
    )
    return len(items) / (time.perf_counter() - t)


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


def run(port: int, key: str, store: Store, args) -> None:
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
        measure(port, key, store, args)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; client and server share the machine"
    )


def measure(port: int, key: str, store: Store, args) -> None:
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
        rates, floors, answers, in_redis = [], [], [], []
        for _ in range(3):  # three batches, each of fresh messages, each beside its floor
            items = [request(rng, n, messages) for _ in range(size)]
            store.bulk.config_resetstat()
            t = time.perf_counter()
            res = c.post("/v1/decisions:batch", {"items": items})
            rates.append(size / (time.perf_counter() - t))
            in_redis.append(store.bulk.info("commandstats").get("cmdstat_evalsha", {}).get("usec", 0) / size)
            answers += res["results"]
            floors.append(floor(store, items))
        ratio = statistics.median(r / f for r, f in zip(rates, floors, strict=True))
        print(
            f"batch of {size} over HTTP: {statistics.median(rates):.0f} decisions/s ({replays(answers)}); "
            f"floor {statistics.median(floors):.0f} decisions/s; {ratio:.2f}x of it (target: 0.6x); "
            f"{statistics.median(in_redis):.0f} µs of scripts in Redis per decision",
            flush=True,
        )
    actions: dict[str, int] = {}
    for r in res["results"]:
        actions[r["action"]] = actions.get(r["action"], 0) + 1
    print(f"verdicts in the last batch: {actions}")


if __name__ == "__main__":
    main()
