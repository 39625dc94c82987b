"""A real local Redis Cluster (three masters from Debian's redis-server): the store finds it, and a
resharding under load loses no event and breaks no cap."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis

from suppressor.customers import events, profiles
from suppressor.decisions.decide import Decider
from suppressor.domain import CustomerIn, Event
from suppressor.policy import document as policy
from suppressor.settings import Settings
from suppressor.storage import keys
from suppressor.storage.store import Store, aclose_clients
from suppressor.tenants import apikeys
from suppressor.tenants.state import TenantStateCache
from tests import cluster
from tests.factories import codes, quiet_policy, req
from tests.faults import redis_server_or_skip

CUSTOMERS = [f"acme|{i}" for i in range(8)]  # ids with a delimiter: opaque to the layout
CAP = 3


@pytest.fixture
def local_cluster(tmp_path):
    redis_server_or_skip()
    c = cluster.start(tmp_path / "cluster", cluster.free_ports(3))
    yield c
    c.stop()


def cluster_store(c: cluster.LocalCluster, tmp_path, url: str | None = None) -> Store:
    return Store(
        Settings(
            redis_url=url or c.url, data_dir=tmp_path / "data", decision_deadline_ms=2000, model_refresh_seconds=0.0
        )
    )


def test_the_cluster_is_named_by_its_url_or_found_from_a_plain_one(local_cluster, tmp_path):
    for url in (local_cluster.url, f"redis://127.0.0.1:{local_cluster.ports[1]}"):
        store = cluster_store(local_cluster, tmp_path, url)
        try:
            assert store.cluster
            key = apikeys.create_key(store, "acme")  # one tenant's keys on one node, the key table on another
            resolver = apikeys.KeyResolver(store)
            assert resolver.tenant_for(key) == "acme"
            resolver.close()
            profiles.put(store, "acme", "c-1", CustomerIn(consent={"email": True}), None)
            assert profiles.get(store, "acme", "c-1", None).consent == {"email": True}
            slots = {redis.cluster.key_slot(k.encode()) for k in keys.customer_keys("acme", "c-1")}
            assert len(slots) == 1
        finally:
            store.bulk.flushdb()
            store.close()


def test_moving_slots_while_events_and_decisions_flow_loses_no_event_and_breaks_no_cap(local_cluster, tmp_path):
    store = cluster_store(local_cluster, tmp_path)
    policy.put(store, "acme", quiet_policy(caps=[{"channel": "any", "max": CAP, "window": "1d"}]), "test")
    for cid in CUSTOMERS:
        profiles.put(store, "acme", cid, CustomerIn(consent={"email": True}), None)
    now = datetime.now(UTC)
    # every slot this traffic touches: the customers', the tenant's and the event claims' shards
    touched = {redis.cluster.key_slot(k.encode()) for cid in CUSTOMERS for k in keys.customer_keys("acme", cid)}
    touched |= {redis.cluster.key_slot(keys.policy("acme").encode())}
    touched |= {
        redis.cluster.key_slot(events.claim_key("acme", f"e-{i}", now.timestamp())[0].encode()) for i in range(400)
    }
    done = threading.Event()
    moved: list[int] = []

    def reshard() -> None:
        try:
            for slot in sorted(touched):
                owner = local_cluster.slot_owner(slot)
                target = local_cluster.ports[(local_cluster.ports.index(owner) + 1) % 3]
                moved.append(local_cluster.move_slot(slot, target, pause=0.02))
        finally:
            done.set()

    sent: dict[str, int] = {cid: 0 for cid in CUSTOMERS}  # events each customer was sent, each accepted once
    retries = [0]

    def ingest() -> None:
        for n in itertools.count():
            if done.is_set():
                return
            batch = [
                Event(event_id=f"e-{n}-{cid}", customer_id=cid, type="visited", ts=now - timedelta(minutes=n))
                for cid in CUSTOMERS
            ]
            while True:  # a caller retries until the batch is accepted, as on a 503
                try:
                    events.ingest(store, "acme", batch)
                    break
                except redis.RedisError:
                    retries[0] += 1
                    time.sleep(0.05)
            for cid in CUSTOMERS:
                sent[cid] += 1

    verdicts: list = []

    async def decide() -> None:
        hot, bulk = store.async_clients()
        decider = Decider(store, TenantStateCache(store, 0.0), None)

        async def one_caller(cid: str) -> None:
            while not done.is_set():
                [d] = await decider.adecide("acme", [req(cid, "email", "value")], hot, bulk)
                verdicts.append((cid, d))
                await asyncio.sleep(0.01)

        try:
            await asyncio.gather(*(one_caller(cid) for cid in CUSTOMERS))
        finally:
            await aclose_clients(hot, bulk)

    threads = [threading.Thread(target=reshard), threading.Thread(target=ingest)]
    for t in threads:
        t.start()
    asyncio.run(decide())
    for t in threads:
        t.join()
    try:
        assert sum(moved) > 0 and len(moved) == len(touched)
        # no event lost, none stored twice, and every claim still knows its event
        for cid in CUSTOMERS:
            assert store.bulk.hlen(keys.events("acme", cid)) == sent[cid]
        again = [
            Event(event_id=f"e-{n}-{cid}", customer_id=cid, type="visited", ts=now - timedelta(minutes=n))
            for cid in CUSTOMERS
            for n in range(sent[cid])
        ]
        assert events.ingest(store, "acme", again).accepted == 0
        # no cap broken: each customer got at most CAP sends, and each one is on the ledger
        degraded = [d for _, d in verdicts if "degraded" in codes(d)]
        assert not degraded, [d.reasons for d in degraded[:3]]
        for cid in CUSTOMERS:
            sends = [d for c, d in verdicts if c == cid and d.action == "send"]
            assert len(sends) == min(CAP, len([1 for c, _ in verdicts if c == cid]))
            assert store.bulk.zcard(keys.sends("acme", cid)) == len(sends)
    finally:
        store.bulk.flushdb()
        store.close()
