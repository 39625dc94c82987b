"""A real local Redis Cluster (three masters from Debian's redis-server): the store finds it, a
cluster that does not answer fails as a plain server does, and a resharding under load loses no event
and breaks no cap."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from redis.exceptions import CrossSlotTransactionError, RedisClusterException

from suppressor.customers import events, profiles
from suppressor.decisions.decide import Decider
from suppressor.domain import CustomerIn, Event
from suppressor.policy import document as policy
from suppressor.settings import Settings
from suppressor.storage import keys
from suppressor.storage.store import Store, aclose_clients, arun, run
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


def test_a_cluster_no_node_answers_is_a_connection_error_on_every_client(local_cluster, tmp_path):
    """redis-py says RedisClusterException when it cannot map the slots; every handler here knows a
    store that does not answer as redis.ConnectionError (degraded verdicts, 503s, the monitor)."""
    store = cluster_store(local_cluster, tmp_path)
    hot, bulk = store.async_clients()
    probe = store._client(redis.Redis, socket_timeout=0.2, socket_connect_timeout=0.2)

    async def each_async(client) -> list:
        out = []
        for call in (
            lambda: client.get("k"),
            lambda: arun(store, client, [("GET", "k")], 5),
        ):
            try:
                await call()
                out.append(None)
            except Exception as exc:
                out.append(exc)
        return out

    async def mapped() -> None:
        await hot.get("k")  # the slot map is read before the cluster goes
        await bulk.get("k")

    def each_sync() -> list:
        out = []
        for call in (
            lambda: store.bulk.get("k"),
            lambda: store.bulk.pipeline(transaction=False).get("k").execute(),
            lambda: store.bulk.pipeline(transaction=True).get("k").execute(),
            lambda: run(store, [("GET", "k")]),
            lambda: probe.ping(target_nodes=redis.cluster.RedisCluster.PRIMARIES),
        ):
            try:
                call()
                out.append(None)
            except Exception as exc:
                out.append(exc)
        return out

    async def down() -> list:
        try:
            await mapped()
            await asyncio.to_thread(local_cluster.kill)
            return await each_async(hot) + await each_async(bulk) + await asyncio.to_thread(each_sync)
        finally:
            await aclose_clients(hot, bulk)

    try:
        failures = asyncio.run(down())
        assert failures and all(isinstance(f, redis.ConnectionError) for f in failures), failures
    finally:
        probe.close()
        store.close()


def test_a_write_on_a_connection_another_request_closed_is_a_connection_error(module_cluster, tmp_path):
    """redis-py's asyncio cluster client disconnects connections other requests are writing on when a
    node fails: the write must fail as ConnectionError (redis-py leaks AttributeError from it)."""
    store = cluster_store(module_cluster, tmp_path)
    hot, bulk = store.async_clients()

    async def race() -> tuple[list, BaseException | None]:
        try:
            await hot.get("k")
            nodes = hot.get_nodes()
            conn = nodes[0].connection_class(host=nodes[0].host, port=nodes[0].port, socket_timeout=1)
            await conn.connect()
            write = asyncio.ensure_future(conn.send_packed_command(b"*1\r\n$4\r\nPING\r\n", check_health=False))
            await asyncio.sleep(0)  # the write's task is under way, its bytes not yet written
            await conn.disconnect(nowait=True)  # what another request's failure does to a pooled connection
            try:
                await write
                failed = None
            except BaseException as exc:
                failed = exc
            return [n.connection_class for n in nodes], failed
        finally:
            await aclose_clients(hot, bulk)

    try:
        classes, failed = asyncio.run(race())
        assert len(classes) == 3 and all(getattr(c, "checks_writes", False) for c in classes)
        assert isinstance(failed, redis.ConnectionError), repr(failed)
    finally:
        store.close()


def test_a_call_redis_py_refuses_before_sending_it_stays_a_mistake_not_an_outage(module_cluster, tmp_path):
    store = cluster_store(module_cluster, tmp_path)
    try:
        with pytest.raises(RedisClusterException, match="Missing key"):
            store.bulk.execute_command("GET")
        with pytest.raises(CrossSlotTransactionError):
            store.bulk.pipeline(transaction=True).set("a", 1).set("b", 1).execute()
    finally:
        store.close()


def test_a_sync_pipeline_is_built_as_redis_py_builds_its_own(module_cluster, tmp_path):
    """The sync client's pipeline repeats redis-py's own ``pipeline`` (to be a subclass that reports an
    unmapped cluster): it must hand over the same shared parts of the client, on any redis-py."""
    store = cluster_store(module_cluster, tmp_path)
    try:
        client = store.bulk
        for transaction in (False, True):
            ours = client.pipeline(transaction=transaction)
            theirs = redis.cluster.RedisCluster.pipeline(client, transaction=transaction)
            assert type(theirs) is redis.cluster.ClusterPipeline and isinstance(ours, redis.cluster.ClusterPipeline)
            assert vars(ours).keys() == vars(theirs).keys()
            shared = [*vars(client).values(), *vars(client.nodes_manager).values()]
            for name, value in vars(theirs).items():
                if any(value is v for v in shared):  # a part of the client itself
                    assert vars(ours)[name] is value, name
                else:  # made for the pipeline (its queue, strategy, encoder, callbacks)
                    assert shape(vars(ours)[name]) == shape(value), name
    finally:
        store.close()


def shape(value: object) -> object:
    """What must match between two pipelines' own parts: a setting's value, a table's keys, a part's type."""
    if isinstance(value, (bool, int, float, str, type(None))):
        return value
    if isinstance(value, dict):
        return type(value), sorted(map(repr, value))
    return type(value)


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
