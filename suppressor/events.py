"""Ingesting behavior events: idempotent by event_id, per customer, bounded."""

from __future__ import annotations

from collections import defaultdict

from . import keys
from .domain import Event, IngestResult
from .store import Store, run_scripts


def ingest(store: Store, tenant: str, events: list[Event], changed: set[str] | None = None) -> IngestResult:
    """Store validated events; an event_id already stored for its customer is a duplicate.

    Customers who got at least one new event are added to ``changed`` (when given)."""
    by_customer: dict[str, list[Event]] = defaultdict(list)
    seen: set[str] = set()
    for ev in events:
        if ev.event_id in seen:
            continue
        seen.add(ev.event_id)
        by_customer[ev.customer_id].append(ev)

    settings = store.settings
    ttl = settings.customer_ttl_days * 86400
    calls = []
    for cid, evs in by_customer.items():
        args: list = [settings.max_events_per_customer, ttl]
        for ev in evs:
            args += [ev.event_id, ev.ts.timestamp(), ev.model_dump_json(exclude_none=True, exclude={"customer_id"})]
        calls.append(([keys.events(tenant, cid), keys.events_by_time(tenant, cid), keys.profile(tenant, cid),
                       keys.state(tenant, cid), keys.pending(tenant, cid), keys.blocked_topics(tenant, cid)], args))
    # the index first: a customer must be findable by training once any event is stored
    store.bulk.sadd(keys.customers_index(tenant), *by_customer)
    added = run_scripts(store, "ingest", calls, hot=False)
    if changed is not None:
        changed.update(cid for cid, n in zip(by_customer, added) if n)
    accepted = sum(added)
    return IngestResult(accepted=accepted, duplicates=len(events) - accepted)
