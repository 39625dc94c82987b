"""The hot path's connection: redis-py's asyncio pool against the multiplexed connection, side by side.

32 coroutines each run a decide-shaped script call (EVALSHA, two keys, a JSON argument and a
packed vector; the script answers at once, so Redis's own time is small) 2,000 times, each
call under a deadline as the decision path bounds it; prints calls per second and the event
loop's CPU time per call. On the embedded Redis, or REDIS_URL.

    python bench/mux.py [--calls 2000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
from pathlib import Path

import redis.asyncio
import uvloop

from suppressor.settings import Settings
from suppressor.storage.mux import Multiplexer
from suppressor.storage.store import Store

SCRIPT = "return {ARGV[1], '', 0}"


async def pooled_call(client: redis.asyncio.Redis, command: tuple, budget: float) -> list:
    """How the decision path called Redis before the multiplexer: a pooled connection, the deadline
    as a task and a wait."""
    task = asyncio.ensure_future(client.execute_command(*command))
    done, _ = await asyncio.wait((task,), timeout=budget)
    return [task.result()]


async def run(store: Store, calls: int, concurrency: int) -> None:
    """Both paths, twice each, alternating."""
    url = store.url or f"unix://{store.embedded.socket_file}"
    pool = redis.asyncio.BlockingConnectionPool.from_url(url, max_connections=50)
    pooled = redis.asyncio.Redis(connection_pool=pool)
    mux = Multiplexer.for_url(store.url, store.embedded.socket_file if store.embedded else None, 5.0)
    sha = await pooled.script_load(SCRIPT)
    command = (
        "EVALSHA",
        sha,
        2,
        "sup:{bench:c}:a",
        "sup:{bench:c}:b",
        '{"now":1,"mid":"m-1","kind":"sales"}',
        "email",
        b"\x00" * 132,
    )

    async def via_pool() -> None:
        for _ in range(calls):
            await pooled_call(pooled, command, 0.25)

    async def via_mux() -> None:
        for _ in range(calls):
            await store.bounded(mux.call([command]), 0.25)

    for name, worker in (("redis-py asyncio pool", via_pool), ("multiplexed", via_mux)) * 2:
        t, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
        n = calls * concurrency
        print(f"{name:24} {n / wall:10,.0f} calls/s  {1e6 * cpu / n:6.1f} µs of the loop's CPU per call", flush=True)
    mux.close()
    await pooled.aclose()


def main() -> None:
    """Print the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=32)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Settings(data_dir=Path(tmp), redis_url=os.environ.get("REDIS_URL")))
        try:
            print(
                f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
                f"store: {store.location}"
            )
            uvloop.run(run(store, args.calls, args.concurrency))
        finally:
            store.close()


if __name__ == "__main__":
    main()
