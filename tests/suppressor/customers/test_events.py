"""Event idempotency: by tenant and event_id, for as long as events are kept, whatever the trim."""

from datetime import datetime, timedelta, timezone

from suppressor.customers import events, profiles
from suppressor.domain import Event
from suppressor.storage import keys

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def ev(eid, typ="opened", cid="c-1", at=None, channel="email"):
    return Event.model_validate({"event_id": eid, "customer_id": cid, "type": typ, "channel": channel,
                                 "ts": (at or NOW - timedelta(days=1)).isoformat()})


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
    e = ev("e-1", at=datetime(2026, 10, 31, 23, 0, tzinfo=timezone.utc))
    events.ingest(store, "acme", [e])
    key, field = events.claim_key("acme", "e-1", e.ts.timestamp())
    end_of_month = datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp()
    expected = end_of_month + store.settings.customer_ttl_days * 86400
    assert abs(store.bulk.ttl(key) + datetime.now(timezone.utc).timestamp() - expected) <= 2  # no EXPIRETIME on 6.2
    profiles.delete(store, "acme", "c-1")
    assert not store.bulk.hexists(key, field)


def test_a_batch_is_applied_in_its_order_whatever_the_claims_shards(store):
    # each customer: a delivery, then its open, in one batch; the open must clear the pending
    # delivery (fatigue counts what stays pending), though the two ids sit in different claims shards
    batch = []
    for i in range(40):
        at = NOW - timedelta(days=5, minutes=-i)
        for typ, later in (("delivered", 0), ("opened", 30)):
            batch.append(Event.model_validate({"event_id": f"c{i}-{typ}", "customer_id": f"c-{i}", "type": typ,
                                               "channel": "sms", "message_id": f"m-{i}",
                                               "ts": (at + timedelta(seconds=later)).isoformat()}))
    assert events.ingest(store, "acme", batch).accepted == 80
    assert [i for i in range(40) if store.bulk.zcard(keys.pending("acme", f"c-{i}"))] == []
