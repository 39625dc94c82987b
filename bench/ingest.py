"""Event ingest over HTTP against its floor, side by side in one run.

The tenant is the quickstart's dealership (`api/synthetic.py`: 3,000 customers, 16 weeks, every
customer with history, their profiles stored first). Each round POSTs all of its events to
`/v1/events` of `suppressor serve` (one worker) in 10,000-event batches, from one client, then
writes the same events into another tenant the cheapest way there is: the yardstick, one pipeline
per batch from redis-py of an HSET (event id -> JSON) and a ZADD (by time) per customer, with
their TTLs, and nothing else (no idempotency, no behavior state). Every round's event ids are new
(a retried id is a duplicate, which costs far less than a stored event), and every timed answer is
checked to have stored all it was sent; a retried batch after the rounds must store nothing.

    python bench/ingest.py [--customers 3000] [--weeks 16] [--rounds 3] [--profile]

With --profile, py-spy (`pip install py-spy`) samples the server through one more round and the
functions it spent the most time in are printed.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import http.client
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import orjson
from server import start as start_server  # bench/server.py (scripts run from bench/)

from suppressor.api import synthetic
from suppressor.settings import Settings
from suppressor.storage import keys
from suppressor.storage.store import BATCH_TIMEOUT, Store, run
from suppressor.tenants import apikeys

BATCH = 10_000
TENANT, FLOOR = "dealer", "floor"
FRAME = re.compile(r"(\S+) \((?:.*/)?([^/:]+)")  # py-spy's "function (path/file.py:line)"
RUN = f"{os.getpid()}-{int(time.time())}"  # ids differ between runs too


def fresh(events: list[dict], label: str) -> list[list[dict]]:
    """The events with ids never sent before, in batches of BATCH."""
    evs = [{**e, "event_id": f"{e['event_id']}~{RUN}-{label}"} for e in events]
    return [evs[i : i + BATCH] for i in range(0, len(evs), BATCH)]


def post(conn: http.client.HTTPConnection, key: str, body: bytes) -> dict:
    """POST one batch; its answer."""
    conn.request("POST", "/v1/events", body, {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    answer = conn.getresponse()
    data = answer.read()
    assert answer.status == 200, data[:500]
    return orjson.loads(data)


def over_http(port: int, key: str, batches: list[list[dict]], clients: int = 1) -> tuple[float, int, int]:
    """Seconds to POST every batch (encoded beforehand) from ``clients`` concurrent clients, events
    accepted, duplicates among them."""
    bodies = [orjson.dumps({"events": b}) for b in batches]
    answers: list[dict] = []

    def client(mine: list[bytes]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        answers.extend(post(conn, key, body) for body in mine)
        conn.close()

    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, [bodies[i::clients] for i in range(clients)]))
    seconds = time.perf_counter() - t
    return seconds, sum(a["accepted"] for a in answers), sum(a["duplicates"] for a in answers)


def redis_cpu(store: Store) -> float:
    """CPU seconds the Redis server has used so far (INFO cpu: commands, scripts, sockets)."""
    cpu = store.bulk.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def floor(store: Store, batches: list[list[dict]]) -> float:
    """Seconds to write the same events the cheapest way: per customer an HSET, a ZADD and their TTLs."""
    ttl = store.settings.customer_ttl_days * 86400
    t = time.perf_counter()
    for batch in batches:
        mine: dict[str, list[dict]] = collections.defaultdict(list)
        for e in batch:
            mine[e["customer_id"]].append(e)
        commands: list[tuple] = []
        for cid, evs in mine.items():
            stored, by_time = keys.events(FLOOR, cid), keys.events_by_time(FLOOR, cid)
            hset: list = ["HSET", stored]
            zadd: list = ["ZADD", by_time]
            for e in evs:
                hset += [e["event_id"], orjson.dumps(e)]
                zadd += [datetime.fromisoformat(e["ts"]).timestamp(), e["event_id"]]
            commands += [tuple(hset), tuple(zadd), ("EXPIRE", stored, ttl), ("EXPIRE", by_time, ttl)]
        run(store, commands)
    return time.perf_counter() - t


def profile(pid: int, port: int, key: str, batches: list[list[dict]], top: int = 25) -> None:
    """Sample the server with py-spy through one round; print where its time went."""
    if shutil.which("py-spy") is None:
        print("--profile needs py-spy (pip install py-spy)")
        return
    out = Path(tempfile.mkdtemp(prefix="sup-bench-spy-")) / "stacks.txt"
    spy = subprocess.Popen(
        ["py-spy", "record", "--pid", str(pid), "--format", "raw", "--output", str(out), "--rate", "250", "--gil"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    seconds, accepted, _ = over_http(port, key, batches)
    spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled on an interrupt
    spy.wait(60)
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f"{m[1]} ({m[2]})" for m in map(FRAME.match, stack.split(";")) if m]
        if not frames:
            continue
        n = int(count)
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    print(
        f"\nprofile of the server over one more round ({accepted / seconds:,.0f} events/s under py-spy), {total} samples holding the GIL"
    )
    print(f"{'function (file)':<64}{'own':>8}{'incl.':>8}")
    for name, n in own.most_common(top):
        print(f"{name[:63]:<64}{n / total:>8.0%}{inclusive[name] / total:>8.0%}")


def main() -> None:
    """Load the world, then measure both ways in rounds and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=3000)
    ap.add_argument("--weeks", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    dealer = synthetic.generate(args.customers, weeks=args.weeks, seed=7)
    events = orjson.loads(orjson.dumps(dealer.events))  # as a caller sends them
    tmp = Path(tempfile.mkdtemp(prefix="sup-bench-ingest-"))
    server, port = start_server(tmp)
    try:
        store = Store(Settings(data_dir=tmp, redis_url=None), bulk_timeout=BATCH_TIMEOUT)
        key = apikeys.create_key(store, TENANT)
        synthetic.load(store, TENANT, dataclasses.replace(dealer, events=[]))  # the profiles, no behavior yet
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores (shared with the client and the store), Python "
            f"{platform.python_version()}; store: {store.location}, Redis {store.bulk.info('server')['redis_version']}"
        )
        print(
            f"tenant: the quickstart's dealership, {args.customers:,} customers each with history, {len(events):,} "
            f"events per round ({args.weeks} weeks), batches of {BATCH:,}, one worker, one client\n"
        )
        post(http.client.HTTPConnection("127.0.0.1", port, timeout=300), key, orjson.dumps({"events": events[:100]}))
        print(
            f"{'round':<7}{'clients':>8}{'POST /v1/events':>18}{'Redis':>10}{'yardstick':>14}{'Redis':>10}{'ratio':>8}"
        )
        got: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
        for r in range(args.rounds):
            for clients in (1, 2):
                before = redis_cpu(store)
                seconds, accepted, duplicates = over_http(port, key, fresh(events, f"h{r}-{clients}"), clients)
                assert (accepted, duplicates) == (len(events), 0), (
                    f"round {r}: {accepted:,} stored, {duplicates:,} dup."
                )
                ours = (redis_cpu(store) - before) / len(events) * 1e6
                before = redis_cpu(store)
                low = floor(store, fresh(events, f"f{r}-{clients}"))
                theirs = (redis_cpu(store) - before) / len(events) * 1e6
                got[clients].append((len(events) / seconds, len(events) / low))
                rate, yard = got[clients][-1]
                print(
                    f"{r + 1:<7}{clients:>8}{rate:>12,.0f} ev/s{ours:>7.1f} µs{yard:>10,.0f} ev/s{theirs:>7.1f} µs"
                    f"{rate / yard:>7.2f}x"
                )
        for clients, runs in got.items():
            print(
                f"{'median':<7}{clients:>8}{statistics.median(a for a, _ in runs):>12,.0f} ev/s{'':>10}"
                f"{statistics.median(b for _, b in runs):>10,.0f} ev/s{'':>10}"
                f"{statistics.median(a / b for a, b in runs):>7.2f}x"
            )
        print("(Redis: the CPU time the Redis server spent per event stored, from INFO cpu)")
        again = post(
            http.client.HTTPConnection("127.0.0.1", port, timeout=300),
            key,
            orjson.dumps({"events": fresh(events, "h0-1")[0]}),
        )
        print(
            f"every timed answer stored every event it was sent (0 duplicates); the first batch sent again: "
            f"{again['accepted']} stored, {again['duplicates']:,} duplicates"
        )
        assert again["accepted"] == 0
        if args.profile:
            profile(server.pid, port, key, fresh(events, "profile"))
        store.close()
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
