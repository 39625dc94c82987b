"""Ingesting behavior events: idempotent by (tenant, event_id) for as long as events are kept.

Each customer's events are stored by one script on the customer's slot (``HSETNX`` by event id,
trimmed to the newest ``max_events_per_customer``). That alone forgets an id once the trim drops
its event, and cannot see the same id under another customer; so every event id is also
*claimed* tenant-wide, in shards on slots of their own (cluster-safe), for the customer retention:

1. claim: ``HSETNX`` the id's digest -> ``p`` + the customer's digest (pending);
2. store: the customer script, for ids newly claimed, or pending for this same customer (a
   retry after a crash between 1 and 3; the script's own ``HSETNX`` keeps it single);
3. settle: the claim becomes ``s`` + the customer's digest (stored).

An id already settled, or claimed for another customer, is a duplicate; nothing is stored twice.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from suppressor.domain import Event, IngestResult
from suppressor.storage import keys
from suppressor.storage.store import Store, evalsha, run

SHARDS = 16
CUSTOMERS_PER_PART = 500  # a big batch is stored in parts, Python preparing one while Redis runs another


def _digest(text: str, size: int) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=size).digest()


def claim_key(tenant: str, event_id: str, ts: float) -> tuple[str, bytes]:
    """The claims hash of one event id (by shard and by the event's month) and its field there."""
    field = _digest(event_id, 12)
    at = datetime.fromtimestamp(ts, UTC)
    month = f"{at.year:04d}{at.month:02d}"  # strftime's %Y is not zero-padded before year 1000
    return keys.event_claims(tenant, field[0] % SHARDS, month), field


def _expire_at(month: str, retention_days: int, now: float) -> int:
    """When a month's claims can go: the customer retention after the month ends, or after now for a
    month that ended longer ago (a backfill: its events are stored, and kept, from now on)."""
    y, m = int(month[:4]), int(month[4:])
    end = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=UTC)
    return int(max(end.timestamp(), now)) + retention_days * 86400


def ingest(store: Store, tenant: str, events: list[Event], changed: set[str] | None = None) -> IngestResult:
    """Store validated events; an event_id this tenant already stored (for any customer) is a duplicate.

    Customers who got at least one new event are added to ``changed`` (when given)."""
    unique: list[Event] = []
    seen: set[str] = set()
    for ev in events:
        if ev.event_id not in seen:
            seen.add(ev.event_id)
            unique.append(ev)

    settings = store.settings
    # one claim script per claims hash (a shard and a month): a few dozen calls for 10,000 events
    by_key: dict[str, list[tuple[int, bytes, bytes]]] = defaultdict(list)
    mine_of: dict[str, bytes] = {}
    claims_of: dict[tuple[int, int], str] = {}  # (shard, day) -> claims hash
    times = []
    for i, ev in enumerate(unique):
        ts = ev.ts.timestamp()
        times.append(ts)
        field = _digest(ev.event_id, 12)
        where = (field[0] % SHARDS, int(ts // 86400))  # a UTC day lies in one month: claim_key's hash
        key = claims_of.get(where)
        if key is None:
            key = claims_of[where] = claim_key(tenant, ev.event_id, ts)[0]
        mine = mine_of.get(ev.customer_id)
        if mine is None:
            mine = mine_of[ev.customer_id] = b"p" + _digest(ev.customer_id, 8)
        by_key[key].append((i, field, mine))
    now = time.time()
    expire_at = {key: _expire_at(key.rsplit(":", 1)[1], settings.customer_ttl_days, now) for key in by_key}
    calls = [
        ([key], [expire_at[key], *(x for _, field, mine in rows for x in (field, mine))])
        for key, rows in by_key.items()
    ]
    answers = run(store, evalsha(store, "claim", calls))

    verdict_of = {
        i: (key, field, mine, verdict)
        for (key, rows), verdicts in zip(by_key.items(), answers, strict=True)
        for (i, field, mine), verdict in zip(rows, verdicts, strict=True)
    }
    by_customer: dict[str, list[int]] = defaultdict(list)
    to_settle: dict[str, list[bytes]] = defaultdict(list)
    reused: list[str] = []
    for i, ev in enumerate(unique):  # in the batch's order: state depends on it (a delivery before its open)
        key, field, mine, verdict = verdict_of[i]
        if verdict == 1:  # ours now, or ours from an attempt that stopped before settling
            by_customer[ev.customer_id].append(i)
            to_settle[key] += [field, b"s" + mine[1:]]
        elif verdict == 2 and len(reused) < 10:
            reused.append(ev.event_id)

    ttl = settings.customer_ttl_days * 86400
    cids = list(by_customer)

    def scripts(part: list[str]) -> list[tuple[list[str], list]]:
        calls = []
        for cid in part:
            args: list = [settings.max_events_per_customer, ttl]
            for i in by_customer[cid]:
                ev = unique[i]
                args += [ev.event_id, times[i], ev.model_dump_json(exclude_none=True, exclude={"customer_id"})]
            calls.append(
                (
                    [
                        keys.events(tenant, cid),
                        keys.events_by_time(tenant, cid),
                        keys.profile(tenant, cid),
                        keys.state(tenant, cid),
                        keys.pending(tenant, cid),
                        keys.blocked_topics(tenant, cid),
                    ],
                    args,
                )
            )
        return calls

    accepted = 0
    if cids:
        # the index first: a customer must be findable by training once any event is stored
        store.bulk.sadd(keys.customers_index(tenant), *cids)
        parts = [cids[k : k + CUSTOMERS_PER_PART] for k in range(0, len(cids), CUSTOMERS_PER_PART)]
        if len(parts) == 1:
            added = run(store, evalsha(store, "ingest", scripts(parts[0])))
        else:  # a thread runs part k in Redis while this one prepares part k+1 (each customer is in one part)
            with ThreadPoolExecutor(1, thread_name_prefix="ingest") as runner:
                runs = [runner.submit(run, store, evalsha(store, "ingest", scripts(part))) for part in parts]
                added = [n for ran in runs for n in ran.result()]
        if changed is not None:
            changed.update(cid for cid, n in zip(cids, added, strict=True) if n)
        accepted = sum(added)
        # EXPIREAT again: a settle must never leave a claims hash without a TTL
        run(
            store,
            [
                cmd
                for key, pairs in to_settle.items()
                for cmd in (("HSET", key, *pairs), ("EXPIREAT", key, expire_at[key]))
            ],
        )
        _tell_households(store, tenant, {cid: [unique[i] for i in idx] for cid, idx in by_customer.items()})
    return IngestResult(accepted=accepted, duplicates=len(events) - accepted, reused_ids=reused)


def _tell_households(store: Store, tenant: str, by_customer: dict[str, list[Event]]) -> None:
    """A member's purchase starts the household's quiet period (the household's own slot)."""
    bought = {
        cid: max(e.ts.timestamp() for e in evs if e.type == "purchased")
        for cid, evs in by_customer.items()
        if any(e.type == "purchased" for e in evs)
    }
    if not bought:
        return
    pipe = store.bulk.pipeline(transaction=False)
    for cid in bought:
        pipe.hget(keys.profile(tenant, cid), "hh")
    ttl_ms = store.settings.customer_ttl_days * 86_400_000
    calls = [
        (
            keys.household_keys(tenant, hh.decode()),
            [json.dumps({"op": "purchase", "cid": cid, "at": int(at * 1000), "ttl_ms": ttl_ms})],
        )
        for (cid, at), hh in zip(bought.items(), pipe.execute(), strict=True)
        if hh
    ]
    if calls:
        run(store, evalsha(store, "household", calls))


def forget(store: Store, tenant: str, stored: list[tuple[bytes, float]]) -> None:
    """Drop the claims of a customer's stored events (erasure): (event_id, ts seconds) pairs."""
    pipe = store.bulk.pipeline(transaction=False)
    for eid, ts in stored:
        key, field = claim_key(tenant, eid.decode() if isinstance(eid, bytes) else eid, ts)
        pipe.hdel(key, field)
    pipe.execute()
