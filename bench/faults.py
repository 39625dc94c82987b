"""Answers under faults: a store that hangs, dies and comes back, and an embedded server killed.

    python bench/faults.py [--seconds 8] [--connections 16]

Each scenario starts `suppressor serve` (one worker, default 250 ms decision deadline) on its
own store, drives decisions with wrk (Debian's `wrk`, a C load generator: the load must not
starve the server of the two shared cores) over `connections` connections and ingests events
from one client for `seconds`, injects the fault from 1/4 to 1/2 of the run, and prints:
decisions answered, the share answered within the deadline, p99 latency, degraded answers,
5xx answers and socket errors, and events lost (events answered 200 that are not in the store
afterwards; a batch answered 503 was not accepted, and its client retries it).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' process harness

from suppressor.settings import Settings  # noqa: E402
from suppressor.storage import keys  # noqa: E402
from suppressor.storage.store import Store  # noqa: E402
from suppressor.tenants import apikeys  # noqa: E402
from tests.faults import Clock, RedisServer, serve  # noqa: E402

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "decisions.lua"


async def ingest_loop(url: str, key: str, seconds: float, clock: Clock) -> tuple[int, list[str]]:
    """POST batches of 50 new events until ``seconds``; returns (HTTP errors, event ids answered 200)."""
    accepted, errors = [], 0
    ids = (f"ev-{i}" for i in itertools.count())
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as c:
        while clock() < seconds:
            batch = [next(ids) for _ in range(50)]
            body = {
                "events": [
                    {
                        "event_id": e,
                        "customer_id": f"c-{int(e[3:]) % 20}",
                        "type": "opened",
                        "ts": "2026-11-20T10:00:00Z",
                        "channel": "email",
                    }
                    for e in batch
                ]
            }
            try:
                r = await c.post("/v1/events", json=body)
                if r.status_code == 200:
                    accepted += batch
                else:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            await asyncio.sleep(0.02)
    return errors, accepted


async def wrk(url: str, key: str, seconds: float, connections: int) -> dict:
    """wrk's figures for a decision load of ``seconds``."""
    proc = await asyncio.create_subprocess_exec(
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds:.0f}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
        url,
        env={**os.environ, "KEY": key, "DEADLINE_MS": "250"},
        stdout=subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    line = next(x for x in out.decode().splitlines() if x.startswith("RESULT"))
    n, degraded, server_errors, within, p99_ms, socket_errors = line.split()[1:]
    return {
        "decisions": int(n),
        "degraded": int(degraded),
        "5xx": int(server_errors),
        "within": float(within),
        "p99_ms": float(p99_ms),
        "failed": int(socket_errors),
    }


def scenario(name: str, settings: Settings, key: str, seconds: float, connections: int, fault, heal) -> dict:
    with serve(settings) as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
            c.put("/v1/policy", json={"failure_mode": "defer"})
        clock = Clock()

        async def run():
            load = asyncio.create_task(wrk(url, key, seconds, connections))
            ingest = asyncio.create_task(ingest_loop(url, key, seconds, clock))
            if fault:
                await asyncio.sleep(seconds / 4)
                fault()
                await asyncio.sleep(seconds / 4)
                heal()
            return await load, await ingest

        figures, (ingest_errors, accepted) = asyncio.run(run())
    st = Store(settings)
    stored = sum(st.bulk.zcard(keys.events_by_time("bench", f"c-{i}")) for i in range(20))
    st.close()
    return {
        "scenario": name,
        **figures,
        "events_accepted": len(accepted),
        "events_lost": max(0, len(accepted) - stored),
        "ingest_503": ingest_errors,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk: apt-get install wrk")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, kind in (
            ("healthy Redis server", None),
            ("Redis hung (SIGSTOP), then resumed", "stop"),
            ("Redis killed (SIGKILL), then restarted", "kill"),
        ):
            server = RedisServer(Path(tmp) / name[:5]).start()
            settings = Settings(redis_url=server.url, data_dir=Path(tmp) / "data", model_refresh_seconds=1.0)
            st = Store(settings)
            key = apikeys.create_key(st, "bench")
            st.close()
            fault, heal = {
                "stop": (server.pause, server.resume),
                "kill": (server.kill, server.start),
                None: (None, None),
            }[kind]
            rows.append(scenario(name, settings, key, args.seconds, args.connections, fault, heal))
            server.close()
        settings = Settings(redis_url=None, data_dir=Path(tmp) / "embedded", model_refresh_seconds=1.0)
        st = Store(settings)
        key = apikeys.create_key(st, "bench")
        rows.append(
            scenario(
                "embedded server killed (SIGKILL)",
                settings,
                key,
                args.seconds,
                args.connections,
                lambda: os.kill(st.embedded.pid, signal.SIGKILL),
                lambda: None,
            )
        )
        st.close()
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"wrk on {args.connections} connections + 1 ingest client, {args.seconds:.0f} s each, deadline 250 ms"
    )
    head = (
        "scenario",
        "decisions",
        "within 250 ms",
        "p99",
        "degraded",
        "5xx",
        "failed",
        "events ok",
        "lost",
        "ingest 503",
    )
    print(" | ".join(head))
    for r in rows:
        print(
            f"{r['scenario']} | {r['decisions']} | {r['within']:.2f}% | {r['p99_ms']:.0f} ms | {r['degraded']} | "
            f"{r['5xx']} | {r['failed']} | {r['events_accepted']} | {r['events_lost']} | {r['ingest_503']}"
        )


if __name__ == "__main__":
    main()
