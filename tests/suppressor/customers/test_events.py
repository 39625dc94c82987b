"""Event idempotency: by tenant and event_id, for as long as events are kept, whatever the trim."""

from datetime import UTC, datetime, timedelta

from suppressor.customers import events, profiles
from suppressor.domain import Event
from suppressor.storage import keys

NOW = datetime.now(UTC).replace(microsecond=0)


def ev(eid, typ="opened", cid="c-1", at=None, channel="email"):
    return Event.model_validate(
        {
            "event_id": eid,
            "customer_id": cid,
            "type": typ,
            "channel": channel,
            "ts": (at or NOW - timedelta(days=1)).isoformat(),
        }
    )


def delivered_then_opened(prefix: str, n: int, days_ago: int) -> list[Event]:
    """For each of ``n`` customers, an SMS delivery and its open half a minute later."""
    batch = []
    for i in range(n):
        at = NOW - timedelta(days=days_ago, minutes=-i)
        for typ, later in (("delivered", 0), ("opened", 30)):
            batch.append(
                Event.model_validate(
                    {
                        "event_id": f"{prefix}{i}-{typ}",
                        "customer_id": f"{prefix}-{i}",
                        "type": typ,
                        "channel": "sms",
                        "message_id": f"m-{i}",
                        "ts": (at + timedelta(seconds=later)).isoformat(),
                    }
                )
            )
    return batch


def streak(store, cid="c-1", channel="email"):
    return int(store.bulk.hget(keys.state("acme", cid), f"ign:{channel}") or 0)


def test_an_old_event_retried_after_the_trim_is_still_a_duplicate(store):
    limit = store.settings.max_events_per_customer
    first = ev("old-ignore", "ignored", at=NOW - timedelta(days=30))
    assert events.ingest(store, "acme", [first]).accepted == 1
    newer = [ev(f"visit-{i}", "visited", channel="push", at=NOW - timedelta(days=20, seconds=-i)) for i in range(limit)]
    assert events.ingest(store, "acme", newer).accepted == limit
    assert not store.bulk.hexists(keys.events("acme", "c-1"), "old-ignore")  # trimmed away
    again = events.ingest(store, "acme", [first])
    assert (again.accepted, again.duplicates) == (0, 1)
    assert streak(store) == 1  # the retry did not extend the fatigue streak


def test_an_event_id_is_unique_per_tenant_not_per_customer(store):
    r = events.ingest(store, "acme", [ev("e-1", cid="c-1"), ev("e-1", cid="c-2")])
    assert (r.accepted, r.duplicates) == (1, 1)
    r = events.ingest(store, "acme", [ev("e-1", cid="c-2")])  # a later batch: same answer
    assert (r.accepted, r.duplicates, r.reused_ids) == (0, 1, ["e-1"])
    assert events.ingest(store, "acme", [ev("e-1", cid="c-1")]).reused_ids == []  # a plain retry
    assert store.bulk.zcard(keys.events_by_time("acme", "c-2")) == 0
    assert events.ingest(store, "globex", [ev("e-1", cid="c-2")]).accepted == 1  # other tenants are apart


def test_an_event_claimed_but_not_stored_is_stored_by_the_retry(store):
    e = ev("e-crash")
    key, field = events.claim_key("acme", "e-crash", e.ts.timestamp())
    store.bulk.hset(key, field, b"p" + events._digest("c-1", 8))  # a crash between claim and store
    assert events.ingest(store, "acme", [e]).accepted == 1
    assert events.ingest(store, "acme", [e]).accepted == 0
    assert store.bulk.hget(key, field)[:1] == b"s"


def test_claims_expire_with_the_retention_and_go_with_the_customer(store):
    now = datetime.now(UTC)
    e = ev("e-1", at=now - timedelta(minutes=1))
    events.ingest(store, "acme", [e])
    key, field = events.claim_key("acme", "e-1", e.ts.timestamp())
    at = e.ts
    end_of_month = datetime(at.year + (at.month == 12), at.month % 12 + 1, 1, tzinfo=UTC).timestamp()
    expected = end_of_month + store.settings.customer_ttl_days * 86400
    assert abs(store.bulk.ttl(key) + now.timestamp() - expected) <= 2  # no EXPIRETIME on 6.2
    profiles.delete(store, "acme", "c-1")
    assert not store.bulk.hexists(key, field)


def test_a_backfilled_event_is_claimed_for_the_retention_from_now(store):
    """An event older than the retention is stored (and kept) from now on: its claim lasts as long, in
    a claims hash that expires like any other (a 1970 claim once stayed forever)."""
    old = ev("e-1970", at=datetime(1970, 1, 2, tzinfo=UTC))
    assert events.ingest(store, "acme", [old]).accepted == 1
    key, field = events.claim_key("acme", "e-1970", old.ts.timestamp())
    assert key.endswith(":claims:197001") and store.bulk.hget(key, field)[:1] == b"s"
    assert abs(store.bulk.ttl(key) - store.settings.customer_ttl_days * 86400) <= 2
    assert events.ingest(store, "acme", [old]).accepted == 0  # still a duplicate


def test_a_batch_is_applied_in_its_order_whatever_the_claims_shards(store):
    # each customer: a delivery, then its open, in one batch; the open must clear the pending
    # delivery (fatigue counts what stays pending), though the two ids sit in different claims shards
    batch = delivered_then_opened("c", 40, days_ago=5)
    assert events.ingest(store, "acme", batch).accepted == 80
    assert [i for i in range(40) if store.bulk.zcard(keys.pending("acme", f"c-{i}"))] == []


def test_a_batch_stored_in_parts_keeps_each_customers_order_and_counts_once(store, monkeypatch):
    # a big batch goes to Redis in parts while the next is prepared: with one customer per part,
    # every customer's delivery is still cleared by the open that follows it, and a retry of the
    # whole batch (parts and all) stores nothing twice
    monkeypatch.setattr(events, "CUSTOMERS_PER_PART", 1)
    batch = delivered_then_opened("p", 30, days_ago=3)
    stale = [ev(f"s{i}", "ignored", cid=f"s-{i}", channel="sms") for i in range(30)]
    changed: set[str] = set()
    r = events.ingest(store, "acme", batch + stale, changed)
    assert (r.accepted, r.duplicates) == (90, 0)
    assert changed == {f"p-{i}" for i in range(30)} | {f"s-{i}" for i in range(30)}
    assert [i for i in range(30) if store.bulk.zcard(keys.pending("acme", f"p-{i}"))] == []
    assert [streak(store, f"s-{i}", "sms") for i in range(30)] == [1] * 30
    changed.clear()
    again = events.ingest(store, "acme", batch + stale, changed)
    assert (again.accepted, again.duplicates, changed) == (0, 90, set())
    assert [streak(store, f"s-{i}", "sms") for i in range(30)] == [1] * 30


def test_events_either_side_of_a_month_end_are_claimed_in_their_own_months(store):
    late, early = datetime(2026, 8, 31, 23, 59, 59, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC)
    batch = [ev("m-aug", at=late), ev("m-sep", at=early)]
    assert events.ingest(store, "acme", batch).accepted == 2
    for e in batch:
        key, field = events.claim_key("acme", e.event_id, e.ts.timestamp())
        assert store.bulk.hget(key, field)[:1] == b"s"
    profiles.delete(store, "acme", "c-1")  # erasure finds each claim where ingest put it
    for e in batch:
        key, field = events.claim_key("acme", e.event_id, e.ts.timestamp())
        assert not store.bulk.hexists(key, field)
