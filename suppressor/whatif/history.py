"""The logged decisions a what-if replays, and the behavior that followed them: a stable sample
of whole customers, their stored events, and which sends each reaction is credited to."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import orjson
from pydantic import ValidationError

from suppressor.domain import MONEY_EVENTS, DecisionRequest
from suppressor.model import features
from suppressor.model.labels import epoch
from suppressor.storage import keys
from suppressor.storage.store import Store

ATTRIBUTION_DAYS = 7  # behavior this long after a send is credited to it
SENT = ("send", "reroute")
ENGAGED = frozenset(t for t, w in features.EVENT_WEIGHTS.items() if w > 0)
CONVERSIONS = frozenset({"converted", "purchased"})  # a customer who converted, in the lift and what-ifs


@dataclass
class Logged:
    """One logged decision: what was asked, what was answered, when."""

    record: dict
    request: DecisionRequest
    at_ms: int

    @property
    def customer_id(self) -> str:
        return self.request.customer_id

    @property
    def sent(self) -> bool:
        """True when the verdict let the message go out (as far as we know, it did)."""
        return self.record["action"] in SENT


@dataclass
class Outcome:
    """What a customer did about one message that really went out."""

    engaged: bool = False
    unsubscribed: bool = False
    complained: bool = False
    converted: bool = False  # a converted or purchased event that names the message
    service_visit: bool = False
    revenue: float = 0.0  # the amounts on those events


@dataclass
class History:
    """The logged decisions to replay (by customer, in time order) and each customer's behavior."""

    tenant: str
    decisions: list[Logged]
    events: dict[str, list[dict]]
    customers_total: int
    decisions_total: int

    @property
    def customers(self) -> int:
        return len(self.events)


def _ms(ts: str) -> int:
    return int(epoch(ts) * 1000)


def _sample_order(tenant: str, customer_id: str) -> bytes:
    # salted: unsalted, this is the holdout hash, and a sample would take the holdout first
    return hashlib.blake2b(f"sample:{tenant}:{customer_id}".encode(), digest_size=8).digest()


def _records(
    store: Store, tenant: str, since: datetime | None, until: datetime | None, chunk: int = 5_000
) -> list[tuple[dict, int]]:
    """Every logged record in the window that can be replayed (it carries its request), with its time."""
    lo = since.timestamp() * 1000 if since else -np.inf
    hi = until.timestamp() * 1000 if until else np.inf
    out, start, key = [], "-", keys.decision_log(tenant)
    while True:
        rows = store.bulk.xrange(key, min=start, max="+", count=chunk)
        for _, fields in rows:
            rec = orjson.loads(fields[b"d"])
            if "request" not in rec or rec.get("dry_run"):
                continue
            at = _ms(rec["decided_at"])
            if lo <= at <= hi:
                out.append((rec, at))
        if len(rows) < chunk:
            return out
        start = "(" + rows[-1][0].decode()


def _logged(rec: dict, at: int) -> Logged | None:
    try:
        return Logged(rec, DecisionRequest.model_validate(rec["request"]), at)
    except ValidationError:  # logged by a version that accepted what this one does not
        return None


def read_log(store: Store, tenant: str, since: datetime | None = None, until: datetime | None = None) -> list[Logged]:
    """Every logged decision in the window that can be replayed (it carries its request)."""
    return [d for d in (_logged(rec, at) for rec, at in _records(store, tenant, since, until)) if d]


def load_history(
    store: Store,
    tenant: str,
    since: datetime | None = None,
    until: datetime | None = None,
    max_decisions: int = 50_000,
    recent_events: bool = False,
) -> History:
    """The logged decisions of a sample of customers (all of each one's) and their stored events:
    all of them, or with ``recent_events`` only those from the first sampled decision on (what came
    before does not count for the lift, and a long history is then not read at all)."""
    by_customer: dict[str, list[tuple[dict, int]]] = defaultdict(list)
    logged = _records(store, tenant, since, until)
    for rec, at in logged:
        by_customer[str(rec["request"].get("customer_id"))].append((rec, at))
    decisions: list[Logged] = []
    chosen: list[str] = []
    # a stable pseudo-random sample of whole customers: caps need each customer's full sequence;
    # only the sample's requests are validated (the costliest step of reading the log)
    for cid in sorted(by_customer, key=lambda c: _sample_order(tenant, c)):
        if decisions and len(decisions) + len(by_customer[cid]) > max_decisions:
            break
        mine = [d for d in (_logged(rec, at) for rec, at in sorted(by_customer[cid], key=lambda r: r[1])) if d]
        if mine:
            chosen.append(cid)
            decisions.extend(mine)
    first = min((d.at_ms for d in decisions), default=None) if recent_events else None
    return History(tenant, decisions, read_events(store, tenant, chosen, first), len(by_customer), len(logged))


def read_events(
    store: Store, tenant: str, customers: list[str], since_ms: float | None = None, chunk: int = 500
) -> dict[str, list[dict]]:
    """Each customer's stored events in time order, each with ``event_id``, ``_raw`` (the stored JSON)
    and ``_ms``; with ``since_ms``, only those from then on (read by the time index, so the older
    ones are never sent or parsed)."""
    out: dict[str, list[dict]] = {}
    for i in range(0, len(customers), chunk):
        part = customers[i : i + chunk]
        pipe = store.bulk.pipeline(transaction=False)
        if since_ms is None:
            for cid in part:
                pipe.hgetall(keys.events(tenant, cid))
            stored = [list(raw.items()) for raw in pipe.execute()]
        else:
            for cid in part:
                pipe.zrangebyscore(keys.events_by_time(tenant, cid), since_ms / 1000, "+inf")
            ids = pipe.execute()
            pipe = store.bulk.pipeline(transaction=False)
            for cid, mine in zip(part, ids, strict=True):
                if mine:
                    pipe.hmget(keys.events(tenant, cid), mine)
            bodies = iter(pipe.execute())
            # an id the trim dropped between the two reads has no body: it is gone
            stored = [[(e, b) for e, b in zip(mine, next(bodies), strict=True) if b] if mine else [] for mine in ids]
        for cid, pairs in zip(part, stored, strict=True):
            evs = orjson.loads(b"[" + b",".join(b for _, b in pairs) + b"]")  # one parse per customer, not per event
            for e, (eid, body) in zip(evs, pairs, strict=True):
                e["event_id"], e["_raw"], e["_ms"] = eid.decode(), body, _ms(e["ts"])
            out[cid] = sorted(evs, key=lambda e: e["_ms"])
    return out


def amount(event: dict) -> float:
    """The sale's value a stored event carries (0 when it names none)."""
    value = (event.get("properties") or {}).get("amount")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def iso(ms: int) -> str:
    """Milliseconds since the epoch as ISO-8601 UTC text."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def observed(history: History, window_days: float = ATTRIBUTION_DAYS) -> list[Outcome | None]:
    """What followed each really sent decision (None for the ones that did not go out)."""
    window = window_days * 86_400_000
    out: list[Outcome | None] = [Outcome() if d.sent else None for d in history.decisions]
    sends_of: dict[str, list[int]] = defaultdict(list)
    for i, d in enumerate(history.decisions):
        if d.sent:
            sends_of[d.customer_id].append(i)
    for cid, idx in sends_of.items():
        for e in history.events.get(cid, []):
            typ = e["type"]
            if typ not in ENGAGED and typ not in ("unsubscribed", "complained"):
                continue
            mid, ch = e.get("message_id"), e.get("channel")
            if not mid and typ in ENGAGED:
                continue  # organic behavior is not a reaction to a send
            best = None
            for i in idx:  # the latest send of that message (or on that channel) before the event
                d = history.decisions[i]
                if d.at_ms > e["_ms"] or e["_ms"] - d.at_ms > window:
                    continue
                hit = d.request.message.message_id == mid if mid else (ch and d.record.get("channel") == ch)
                if hit and (best is None or d.at_ms >= history.decisions[best].at_ms):
                    best = i
            if best is not None:
                o = out[best]
                assert o is not None  # best is one of sends_of: a sent decision has an Outcome
                if typ in ENGAGED:
                    o.engaged = True
                    o.converted = o.converted or typ in CONVERSIONS
                    o.service_visit = o.service_visit or typ == "service_visit"
                    if typ in MONEY_EVENTS:
                        o.revenue += amount(e)
                elif typ == "unsubscribed":
                    o.unsubscribed = True
                else:
                    o.complained = True
    return out
