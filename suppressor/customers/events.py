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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, NamedTuple

from suppressor.domain import Event, IngestResult
from suppressor.storage import keys
from suppressor.storage.store import Store, evalsha, run

SHARDS = 16
CUSTOMERS_PER_PART = 500  # a big batch is stored in parts, Python preparing one while Redis runs another
# one customer script call stores up to this many customers or events (each call's overhead, paid once
# for many; short enough that a decision never waits long behind one)
CUSTOMERS_PER_CALL = 64
EVENTS_PER_CALL = 256


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


class Incoming(NamedTuple):
    """An event as ingest stores it: the six values the customer script takes, in its order, then the
    customer and what the route checks against the policy."""

    event_id: str
    ts: float  # unix seconds
    type: str
    channel: str  # "" for none
    message_id: str  # "" for none
    body: bytes  # the stored JSON: the event without its customer_id
    customer_id: str
    currency: Any = None  # properties.currency, when given


def incoming(ev: Event) -> Incoming:
    """A validated event as ingest stores it."""
    return Incoming(
        ev.event_id,
        ev.ts.timestamp(),
        ev.type.value,
        ev.channel or "",
        ev.message_id or "",
        ev.model_dump_json(exclude_none=True, exclude={"customer_id"}).encode(),
        ev.customer_id,
        ev.properties.get("currency") if ev.properties else None,
    )


def ingest(
    store: Store, tenant: str, events: Sequence[Event | Incoming], changed: set[str] | None = None
) -> IngestResult:
    """Store validated events; an event_id this tenant already stored (for any customer) is a duplicate.

    Customers who got at least one new event are added to ``changed`` (when given)."""
    unique: list[Incoming] = []
    seen: set[str] = set()
    for ev in events:
        if ev.event_id not in seen:
            seen.add(ev.event_id)
            unique.append(ev if isinstance(ev, Incoming) else incoming(ev))

    settings = store.settings
    # one claim script per claims hash (a shard and a month): a few dozen calls for 10,000 events
    rows_of: dict[str, list[int]] = defaultdict(list)
    pairs_of: dict[str, list[bytes]] = defaultdict(list)
    mine_of: dict[str, bytes] = {}
    claims_of: dict[tuple[int, int], str] = {}  # (shard, day) -> claims hash
    fields: list[bytes] = []
    for i, ev in enumerate(unique):
        field = _digest(ev.event_id, 12)
        fields.append(field)
        where = (field[0] % SHARDS, int(ev.ts // 86400))  # a UTC day lies in one month: claim_key's hash
        key = claims_of.get(where)
        if key is None:
            key = claims_of[where] = claim_key(tenant, ev.event_id, ev.ts)[0]
        mine = mine_of.get(ev.customer_id)
        if mine is None:
            mine = mine_of[ev.customer_id] = b"p" + _digest(ev.customer_id, 8)
        rows_of[key].append(i)
        pairs_of[key] += (field, mine)
    now = time.time()
    expire_at = {key: _expire_at(key.rsplit(":", 1)[1], settings.customer_ttl_days, now) for key in rows_of}
    answers = run(store, evalsha(store, "claim", [([key], [expire_at[key], *pairs_of[key]]) for key in rows_of]))

    verdicts = [0] * len(unique)
    key_of: list[str] = [""] * len(unique)
    for (key, rows), answer in zip(rows_of.items(), answers, strict=True):
        for i, verdict in zip(rows, answer, strict=True):
            verdicts[i], key_of[i] = verdict, key
    by_customer: dict[str, list[Incoming]] = defaultdict(list)
    to_settle: dict[str, list[bytes]] = defaultdict(list)
    reused: list[str] = []
    for i, ev in enumerate(unique):  # in the batch's order: state depends on it (a delivery before its open)
        verdict = verdicts[i]
        if verdict == 1:  # ours now, or ours from an attempt that stopped before settling
            by_customer[ev.customer_id].append(ev)
            to_settle[key_of[i]] += (fields[i], b"s" + mine_of[ev.customer_id][1:])
        elif verdict == 2 and len(reused) < 10:
            reused.append(ev.event_id)

    head = [settings.max_events_per_customer, settings.customer_ttl_days * 86400]
    cids = list(by_customer)
    together = 1 if store.slot_per_call else CUSTOMERS_PER_CALL  # a call's keys may have to share a slot

    def scripts(part: list[str]) -> list[tuple[list[str], list]]:
        calls: list[tuple[list[str], list]] = []
        ks: list[str] = []
        args: list = []
        for cid in part:
            evs = by_customer[cid]
            ks += keys.ingest_keys(tenant, cid)
            args.append(len(evs))
            for ev in evs:
                args += ev[:6]
            if len(ks) >= 6 * together or len(args) >= 6 * EVENTS_PER_CALL:
                calls.append((ks, head + args))
                ks, args = [], []
        if ks:
            calls.append((ks, head + args))
        return calls

    accepted = 0
    if cids:
        # the index first: a customer must be findable by training once any event is stored
        store.bulk.sadd(keys.customers_index(tenant), *cids)
        parts = [cids[k : k + CUSTOMERS_PER_PART] for k in range(0, len(cids), CUSTOMERS_PER_PART)]
        if len(parts) == 1:
            runs = [run(store, evalsha(store, "ingest", scripts(parts[0])))]
        else:  # a thread runs part k in Redis while this one prepares part k+1 (each customer is in one part)
            with ThreadPoolExecutor(1, thread_name_prefix="ingest") as runner:
                futures = [runner.submit(run, store, evalsha(store, "ingest", scripts(part))) for part in parts]
                runs = [f.result() for f in futures]
        added = [n for ran in runs for counts in ran for n in counts]
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
        _tell_households(store, tenant, by_customer)
    return IngestResult(accepted=accepted, duplicates=len(events) - accepted, reused_ids=reused)


def _tell_households(store: Store, tenant: str, by_customer: dict[str, list[Incoming]]) -> None:
    """A member's purchase starts the household's quiet period (the household's own slot)."""
    bought: dict[str, float] = {}
    for cid, evs in by_customer.items():
        for e in evs:
            if e.type == "purchased" and e.ts > bought.get(cid, -1.0):
                bought[cid] = e.ts
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
