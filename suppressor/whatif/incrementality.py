"""What each campaign adds: outcomes after the messages delivered against outcomes after the ones
withheld at random (the policy's control, reason ``control``, or an imported campaign's ``withheld``
events), with no attribution needed.

An exposure is one message to one customer: delivered (a ``delivered`` event, or a logged send
without one) or withheld (a ``withheld`` event, or a logged ``control`` verdict). An outcome
(``visited``, ``converted``, ``purchased``, ``service_visit``, ``attended``, ``replied``, or a click
on the message itself) counts for every exposure of the customer in the window before it, whether
or not it names a message. Per campaign: the outcome rate of each arm with its 95% Wilson interval,
the difference (Newcombe's interval), and revenue per exposure (Welch's interval on the
difference); overall, the campaigns with both arms, weighted by their exposures.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import orjson

from suppressor.domain import MONEY_EVENTS, Signature, format_duration
from suppressor.policy import document as policies
from suppressor.storage import keys
from suppressor.storage.store import Store
from suppressor.whatif.history import SENT, _ms, _records, amount, iso
from suppressor.whatif.lift import Z, mean_and_variance, newcombe, wilson

OUTCOMES = frozenset({"visited", "converted", "purchased", "service_visit", "attended", "replied"})
HARMS = frozenset({"unsubscribed", "complained"})
NO_CAMPAIGN = "(no campaign)"


@dataclass
class Exposure:
    """One message delivered to (or withheld from) one customer."""

    at_ms: int
    withheld: bool
    campaign: str
    message_id: str
    message: Signature | None = None  # its channel, kind and topics, where known
    outcome: bool = False
    revenue: float = 0.0
    harm: bool = False  # an unsubscribe or complaint followed a delivered one within the window


@dataclass
class _Arm:
    exposures: int = 0
    outcomes: int = 0
    revenue: float = 0.0
    revenue_sq: float = 0.0

    def add(self, x: Exposure) -> None:
        self.exposures += 1
        self.outcomes += x.outcome
        self.revenue += x.revenue
        self.revenue_sq += x.revenue * x.revenue

    def mean_var(self) -> tuple[float, float]:
        return mean_and_variance(self.revenue, self.revenue_sq, self.exposures)

    def view(self) -> dict:
        rate, lo, hi = wilson(self.outcomes, self.exposures)
        mean, _ = self.mean_var()
        return {
            "exposures": self.exposures,
            "outcomes": self.outcomes,
            "rate": round(rate, 5),
            "low": round(lo, 5),
            "high": round(hi, 5),
            "revenue_per_exposure": round(mean, 2),
        }


def exposures(records: list[tuple[dict, int]], events: dict[str, list[dict]]) -> dict[str, list[Exposure]]:
    """Every customer's exposures (from their events and the logged verdicts, one per message)."""
    out: dict[str, dict[str, Exposure]] = defaultdict(dict)
    for cid, evs in events.items():
        for e in evs:
            if e["type"] in ("delivered", "withheld") and e.get("message_id"):
                mine = out[cid].get(e["message_id"])
                if mine is None or e["_ms"] < mine.at_ms:
                    out[cid][e["message_id"]] = Exposure(
                        e["_ms"],
                        e["type"] == "withheld",
                        e.get("campaign_id") or NO_CAMPAIGN,
                        e["message_id"],
                        _signature(e.get("channel"), e.get("kind"), e.get("topics")),
                    )
    for rec, at in records:
        req = rec["request"]
        cid, mid = str(req.get("customer_id")), str(req["message"].get("message_id"))
        withheld = any(r.get("code") == "control" for r in rec.get("reasons") or [])
        if (withheld or rec.get("action") in SENT) and cid in events and mid not in out[cid]:
            msg = req["message"]
            sig = _signature(rec.get("channel") or msg.get("channel"), msg.get("kind"), msg.get("topics"))
            out[cid][mid] = Exposure(at, withheld, msg.get("campaign_id") or NO_CAMPAIGN, mid, sig)
    return {cid: sorted(xs.values(), key=lambda x: x.at_ms) for cid, xs in out.items()}


def _signature(channel: object, kind: object, topics: object) -> Signature | None:
    if not isinstance(channel, str) or not isinstance(kind, str):
        return None
    return Signature.of(channel, kind, [t for t in topics if isinstance(t, str)] if isinstance(topics, list) else [])


def credit(xs: list[Exposure], evs: list[dict], window_ms: int) -> None:
    """Mark each exposure followed by an outcome within ``window_ms`` (and the revenue that came), and each
    delivered one followed by an unsubscribe or complaint (its harm)."""
    for e in evs:
        typ = e["type"]
        if typ in HARMS:
            for x in xs:
                if not x.withheld and x.at_ms < e["_ms"] <= x.at_ms + window_ms:
                    x.harm = True
            continue
        if typ not in OUTCOMES and typ != "clicked":
            continue
        for x in xs:
            if x.at_ms < e["_ms"] <= x.at_ms + window_ms and (typ != "clicked" or e.get("message_id") == x.message_id):
                x.outcome = True
                if typ in MONEY_EVENTS:
                    x.revenue += amount(e)


def _customers(store: Store, tenant: str, most: int) -> list[str]:
    """A stable sample of the tenant's customers (all of them up to ``most``)."""
    ids = [c.decode() for c in store.bulk.sscan_iter(keys.customers_index(tenant), count=5000)]
    if len(ids) <= most:
        return ids
    return sorted(ids, key=lambda c: hashlib.blake2b(f"incr:{tenant}:{c}".encode(), digest_size=8).digest())[:most]


def _events(store: Store, tenant: str, customers: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for i in range(0, len(customers), 500):
        part = customers[i : i + 500]
        pipe = store.bulk.pipeline(transaction=False)
        for cid in part:
            pipe.hgetall(keys.events(tenant, cid))
        for cid, raw in zip(part, pipe.execute(), strict=True):
            evs = orjson.loads(b"[" + b",".join(raw.values()) + b"]") if raw else []
            for e in evs:
                e["_ms"] = _ms(e["ts"])
            out[cid] = sorted(evs, key=lambda e: e["_ms"])
    return out


def _stratified(pairs: list[tuple[_Arm, _Arm]]) -> dict | None:
    """The campaigns' differences pooled, each weighted by its exposures, with a normal 95% interval
    (each campaign is its own randomized experiment: pooling the arms directly would mix shares)."""
    total = sum(a.exposures + b.exposures for a, b in pairs)
    if not total:
        return None
    diff = var = revenue = revenue_var = 0.0
    for a, b in pairs:
        w = (a.exposures + b.exposures) / total
        p1, p2 = a.outcomes / a.exposures, b.outcomes / b.exposures
        diff += w * (p1 - p2)
        var += w * w * (p1 * (1 - p1) / a.exposures + p2 * (1 - p2) / b.exposures)
        (m1, v1), (m2, v2) = a.mean_var(), b.mean_var()
        revenue += w * (m1 - m2)
        revenue_var += w * w * (v1 + v2)
    half, rhalf = Z * math.sqrt(var), Z * math.sqrt(revenue_var)
    return {
        "campaigns": len(pairs),
        "exposures": total,
        "difference": {"diff": round(diff, 5), "low": round(diff - half, 5), "high": round(diff + half, 5)},
        "revenue_per_exposure": {
            "diff": round(revenue, 2),
            "low": round(revenue - rhalf, 2),
            "high": round(revenue + rhalf, 2),
        },
    }


def incrementality(
    store: Store,
    tenant: str,
    window_s: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    max_customers: int = 50_000,
) -> dict:
    """Per campaign, outcomes after delivered against withheld messages, with 95% intervals."""
    policy = policies.get(store, tenant)
    window = window_s if window_s is not None else policy.incrementality.window
    lo = since.timestamp() * 1000 if since else -math.inf
    hi = until.timestamp() * 1000 if until else math.inf
    customers = _customers(store, tenant, max_customers)
    events = _events(store, tenant, customers)
    arms: dict[str, tuple[_Arm, _Arm]] = defaultdict(lambda: (_Arm(), _Arm()))
    for cid, xs in exposures(_records(store, tenant, since, until), events).items():
        credit(xs, events.get(cid, []), window * 1000)
        for x in xs:
            if lo <= x.at_ms <= hi:
                arms[x.campaign][1 if x.withheld else 0].add(x)
    campaigns = []
    for name, (sent, held) in sorted(arms.items()):
        d, dlo, dhi = newcombe(sent.outcomes, sent.exposures, held.outcomes, held.exposures)
        (m1, v1), (m2, v2) = sent.mean_var(), held.mean_var()
        half = Z * math.sqrt(v1 + v2)
        measured = sent.exposures > 0 and held.exposures > 0
        campaigns.append(
            {
                "campaign_id": name,
                "delivered": sent.view(),
                "withheld": held.view(),
                "difference": {"diff": round(d, 5), "low": round(dlo, 5), "high": round(dhi, 5)} if measured else None,
                "revenue_per_exposure": {
                    "diff": round(m1 - m2, 2),
                    "low": round(m1 - m2 - half, 2),
                    "high": round(m1 - m2 + half, 2),
                }
                if measured
                else None,
                "measured": measured,
            }
        )
    overall = _stratified([(sent, held) for sent, held in arms.values() if sent.exposures and held.exposures])
    return {
        "window": format_duration(window),
        "control_share": policy.incrementality.control_share,
        "currency": policy.currency,
        "customers": len(customers),
        "since": iso(int(lo)) if since else None,
        "until": iso(int(hi)) if until else None,
        "overall": overall,
        "campaigns": campaigns,
    }
