"""The benchmarks' tenant: the quickstart's dealership (api/synthetic.py), every customer with history.

Profiles and 16 weeks of behavior through the ingest path, a trained model, the quickstart's policy
(relevance threshold 0.08, a 10% holdout), then 14 days of daily campaigns decided by suppressor
and logged (what the studio replays). Built once into an embedded store's data directory; a
directory that already holds one is reused (`--data DIR` in the scripts)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from suppressor.api import synthetic
from suppressor.policy import document as policies
from suppressor.settings import Settings
from suppressor.storage.store import BATCH_TIMEOUT, Store
from suppressor.tenants import apikeys

TENANT = "bench"
POLICY = policies.Policy(relevance_threshold=0.08, holdout_fraction=0.1)


@dataclass
class World:
    """What a benchmark needs to know of the tenant."""

    key: str
    customers: int
    events: int
    decisions: int

    def describe(self) -> str:
        """One line for the benchmark's header."""
        return (
            f"tenant: the quickstart's dealership, {self.customers:,} customers, every one with history "
            f"({self.events:,} events over 16 weeks, a trained model), {self.decisions:,} governed decisions logged"
        )


def build(data_dir: Path, customers: int = 3000, days: int = 14) -> World:
    """The world in ``data_dir`` (built there unless it already is); its API key and sizes."""
    made = data_dir / "bench-world.txt"
    if made.exists():
        key, n, events, decisions = made.read_text().split()
        return World(key, int(n), int(events), int(decisions))
    from suppressor.training.fit import TrainConfig, train_tenant

    data_dir.mkdir(parents=True, exist_ok=True)
    t, now = time.time(), datetime.now(UTC)
    store = Store(Settings(data_dir=data_dir, redis_url=None), bulk_timeout=BATCH_TIMEOUT)
    try:
        key = apikeys.create_key(store, TENANT)
        dealer = synthetic.generate(customers, weeks=16, seed=5, end=now - timedelta(days=days + 1))
        synthetic.load(store, TENANT, dealer)
        train_tenant(store, TENANT, TrainConfig(), progress=lambda s: None)
        policies.put(store, TENANT, POLICY, "bench")
        counts = synthetic.govern(store, TENANT, dealer, now - timedelta(days=days + 1), days)
    finally:
        store.close()
    world = World(key, customers, len(dealer.events) + counts["events"], counts["decisions"])
    made.write_text(f"{world.key} {world.customers} {world.events} {world.decisions}")
    print(f"built the world in {time.time() - t:.0f} s", flush=True)
    return world
