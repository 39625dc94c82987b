"""Every key expires or is bounded, and an erased customer leaves nothing behind, the store's files included."""

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from suppressor.api.app import create_app
from tests.factories import GOVERNED_TENANT, auth

# keys without a TTL are allowed only where they are bounded per tenant (or global and tiny)
BOUNDED = [
    r"sup:apikeys",
    r"sup:apikeys:used",
    r"sup:\{[a-z0-9_-]+\}:policy",
    r"sup:\{[a-z0-9_-]+\}:policy:history",  # LTRIM 200
    r"sup:\{[a-z0-9_-]+\}:decisions",  # XADD MAXLEN
    r"sup:\{[a-z0-9_-]+\}:model:active",
    r"sup:\{[a-z0-9_-]+\}:model:seq",
    r"sup:\{[a-z0-9_-]+\}:models",
    r"sup:\{[a-z0-9_-]+\}:model:v\d+",  # pruned to SUPPRESSOR_MODELS_KEPT
    r"sup:\{[a-z0-9_-]+\}:content",
    r"sup:\{[a-z0-9_-]+\}:content:version",
    r"sup:\{[a-z0-9_-]+\}:limits",
    r"sup:\{[a-z0-9_-]+\}:customers",  # customers whose data expired leave it at the next training
]


def test_after_a_realistic_run_every_growing_key_has_a_ttl(settings, store, governed):
    with TestClient(create_app(settings, store)) as c:
        h = auth(governed.key)
        evs = [
            {
                "event_id": f"late-{i}",
                "customer_id": f"newcomer-{i}",
                "type": "clicked",
                "channel": "email",
                "ts": "2026-11-22T10:00:00Z",
                "topics": ["segment:suv"],
            }
            for i in range(20)
        ]
        assert c.post("/v1/events", json={"events": evs}, headers=h).json()["accepted"] == 20
        c.app.state.services.refresher.flush()  # fold-in writes vectors of customers the model never saw
        for i in range(20):
            c.post(
                "/v1/decisions",
                json={
                    "customer_id": f"newcomer-{i}",
                    "message": {"message_id": f"m-{i}", "channel": "email", "kind": "value", "topics": ["segment:suv"]},
                },
                headers=h,
            )
        c.put("/v1/customers/walk-in", json={"consent": {"email": True}}, headers=h)
        c.get("/v1/decisions", headers=h)
    unbounded = []
    for k in store.bulk.scan_iter(count=1000):
        name = k.decode()
        if store.bulk.ttl(k) == -1 and not any(re.fullmatch(p, name) for p in BOUNDED):
            unbounded.append(name)
    assert unbounded == [], f"{len(unbounded)} keys grow without a TTL, e.g. {unbounded[:5]}"


def test_an_erased_customer_is_gone_from_the_append_only_file(tmp_path):
    from suppressor.settings import Settings
    from suppressor.tenants import apikeys

    settings = Settings(redis_url=None, data_dir=tmp_path / "embedded", erasure_rewrite_seconds=0.0)
    marker = "erase-me-7f3a9c@example.com"
    app = create_app(settings)
    with TestClient(app) as c:
        store = app.state.services.store
        key = apikeys.create_key(store, GOVERNED_TENANT)
        h = auth(key)
        c.put(f"/v1/customers/{marker}", json={"attributes": {"email": marker}}, headers=h)
        c.post(
            "/v1/events",
            json={
                "events": [
                    {
                        "event_id": f"{marker}-1",
                        "customer_id": marker,
                        "type": "opened",
                        "ts": "2026-11-22T10:00:00Z",
                        "channel": "email",
                    }
                ]
            },
            headers=h,
        )
        store.bulk.save()  # a snapshot holding the customer, beside the append-only file
        time.sleep(1.2)  # appendfsync everysec: the writes are in the file
        files = [p for p in Path(settings.data_dir).rglob("*") if p.is_file() and p.suffix in (".aof", ".db")]
        assert {p.suffix for p in files if marker.encode() in p.read_bytes()} == {".aof", ".db"}
        assert c.delete(f"/v1/customers/{marker}", headers=h).status_code == 204
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            files = [
                p for p in Path(settings.data_dir).rglob("*") if p.is_file() and p.suffix in (".aof", ".db", ".rdb")
            ]
            info = store.bulk.info("persistence")
            if not info["aof_rewrite_in_progress"] and not any(marker.encode() in p.read_bytes() for p in files):
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the customer's data is still in the store's files")


# what each key serves: the claims of an event id are kept for the retention after the event's month
# ends (so up to a month more than it); every other key holds a customer's (or a household's) data
CLAIMS = re.compile(r"sup:\{[a-z0-9_-]+~eid~\d+\}:claims:\d{6}")
DAY_MS = 86_400_000

hostile_ts = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC))
far_expiry = st.datetimes(
    min_value=datetime.now() + timedelta(days=1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)


# no shrinking: every example is a whole scenario over HTTP, and a failure names its keys anyway
@settings_(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(
    stamps=st.lists(
        st.one_of(hostile_ts.filter(lambda ts: ts < datetime.now(UTC)), hostile_ts), min_size=1, max_size=6
    ),
    expiries=st.lists(far_expiry, min_size=1, max_size=3),
)
def test_no_key_outlives_the_retention_it_serves(settings, store, key, stamps, expiries):
    """Backfilled events from 1970 on (and events from the future, refused), offers that expire in year
    9999 and a policy whose windows are longer than the retention: every key still expires within the
    retention it serves."""
    retention_ms = settings.customer_ttl_days * DAY_MS
    with TestClient(create_app(settings, store)) as c:
        h = auth(key)
        longest = "366d"  # the longest windows a policy takes, and an offer window of a century
        r = c.put(
            "/v1/policy",
            headers=h,
            json={
                "caps": [{"channel": "any", "max": 1000, "window": longest}],
                "verdict_window": "30d",
                "offers": {"window": "36500d"},
                "quiet_hours": {"enabled": False},
                "balance": {"enabled": False},
                "household": {"caps": [{"channel": "any", "max": 1000, "window": longest}]},
            },
        )
        assert r.status_code == 200, r.text
        for cid in ("ann", "bob"):
            assert (
                c.put(
                    f"/v1/customers/{cid}",
                    headers=h,
                    json={
                        "household_id": "hh-1",
                        "consent": {"email": True},
                        "emails": [f"{cid}@example.com"],
                        "phones": ["+15550102030"],
                    },
                ).status_code
                == 200
            )
        evs = [
            {
                "event_id": f"old-{ts.isoformat()}-{i}",
                "customer_id": ("ann", "bob")[i % 2],
                "type": ("unsubscribed", "purchased", "delivered", "clicked")[i % 4],
                "channel": "email",
                "topics": ["segment:suv"],
                "ts": ts.isoformat(),
            }
            for i, ts in enumerate(stamps)
        ]
        r = c.post("/v1/events", json={"events": evs}, headers=h)
        future = any(ts > datetime.now(UTC) + timedelta(days=1) for ts in stamps)
        assert r.status_code == (422 if future else 200), r.text  # behavior from the future is refused whole
        for j, until in enumerate(expiries):
            r = c.post(
                "/v1/decisions",
                headers=h,
                json={
                    "customer_id": ("ann", "bob")[j % 2],
                    "message": {
                        "message_id": f"m-{until.isoformat()}-{j}",
                        "channel": "email",
                        "kind": "value",
                        "topics": ["segment:suv"],
                        "offer": {"key": f"offer-{j}", "terms": {"apr": j}, "expires": until.isoformat()},
                    },
                },
            )
            assert r.status_code == 200, r.text
    too_long, unbounded = [], []
    for k in store.bulk.scan_iter(count=1000):
        name, ttl = k.decode(), store.bulk.pttl(k)
        if ttl == -1:
            if not any(re.fullmatch(p, name) for p in BOUNDED):
                unbounded.append(name)
            continue
        bound = retention_ms + 31 * DAY_MS if CLAIMS.fullmatch(name) else retention_ms
        if ttl > bound:
            too_long.append((name, ttl // DAY_MS))
    assert unbounded == [], f"keys without a TTL: {unbounded[:5]}"
    assert too_long == [], f"keys that outlive the retention ({settings.customer_ttl_days} days): {too_long[:5]}"
