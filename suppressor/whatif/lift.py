"""Holdout lift: the customers suppressor governs vs the holdout that gets every message.

Holdout membership is per customer (a stable hash), so customers are the unit: the share of
customers who engaged, unsubscribed, complained, converted (a ``converted`` or ``purchased``
event) or came in for service, per group, with 95% Wilson intervals, and the governed-minus-holdout
difference with Newcombe's interval; and revenue per customer (the amounts on purchased,
converted and service_visit events) with a 95% normal interval, its difference with Welch's;
overall and per time bucket.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from suppressor.decisions.decide import in_holdout
from suppressor.domain import MONEY_EVENTS
from suppressor.policy import document as policies
from suppressor.storage.store import Store
from suppressor.whatif.history import CONVERSIONS, ENGAGED, History, amount, iso, load_history

Z = 1.959964  # 95%
OUTCOMES = {
    "engaged": ENGAGED,
    "unsubscribed": frozenset({"unsubscribed"}),
    "complained": frozenset({"complained"}),
    "converted": CONVERSIONS,
    "service_visit": frozenset({"service_visit"}),
}


def wilson(k: int, n: int, z: float = Z) -> tuple[float, float, float]:
    """(rate, low, high): the Wilson score interval of k successes in n trials."""
    if n == 0:
        return 0.0, 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return p, max(0.0, centre - half), min(1.0, centre + half)


def newcombe(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float, float]:
    """(difference, low, high) of rate 1 minus rate 2, Newcombe's hybrid score interval."""
    p1, l1, u1 = wilson(k1, n1)
    p2, l2, u2 = wilson(k2, n2)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def mean_and_variance(total: float, total_sq: float, n: int) -> tuple[float, float]:
    """The mean of ``n`` values from their sum and sum of squares, and the variance of that mean."""
    if n == 0:
        return 0.0, 0.0
    mean = total / n
    var = max(0.0, total_sq / n - mean * mean) * n / (n - 1) if n > 1 else 0.0
    return mean, var / n


@dataclass
class _Tally:
    customers: int = 0
    sends: int = 0
    engaged: int = 0
    unsubscribed: int = 0
    complained: int = 0
    converted: int = 0
    service_visit: int = 0
    revenue: float = 0.0
    revenue_sq: float = 0.0  # sum of squared per-customer revenue, for the interval

    def add(self, sends: int, seen: set[str], revenue: float) -> None:
        self.customers += 1
        self.sends += sends
        for name in seen:
            setattr(self, name, getattr(self, name) + 1)
        self.revenue += revenue
        self.revenue_sq += revenue * revenue

    def mean_and_var(self) -> tuple[float, float]:
        """Revenue per customer and the variance of that mean."""
        return mean_and_variance(self.revenue, self.revenue_sq, self.customers)

    def view(self) -> dict:
        out: dict = {
            "customers": self.customers,
            "sends_per_customer": round(self.sends / self.customers, 3) if self.customers else None,
        }
        for name in OUTCOMES:
            rate, lo, hi = wilson(getattr(self, name), self.customers)
            out[name] = {
                "count": getattr(self, name),
                "rate": round(rate, 5),
                "low": round(lo, 5),
                "high": round(hi, 5),
            }
        mean, var = self.mean_and_var()
        half = Z * math.sqrt(var)
        out["revenue_per_customer"] = {
            "total": round(self.revenue, 2),
            "mean": round(mean, 2),
            "low": round(max(0.0, mean - half), 2),
            "high": round(mean + half, 2),
        }
        return out


def _difference(gov: _Tally, hold: _Tally) -> dict:
    out = {}
    for name in OUTCOMES:
        d, lo, hi = newcombe(getattr(gov, name), gov.customers, getattr(hold, name), hold.customers)
        out[name] = {"diff": round(d, 5), "low": round(lo, 5), "high": round(hi, 5)}
    (m1, v1), (m2, v2) = gov.mean_and_var(), hold.mean_and_var()
    half = Z * math.sqrt(v1 + v2)  # Welch: the groups' variances apart
    out["revenue_per_customer"] = {
        "diff": round(m1 - m2, 2),
        "low": round(m1 - m2 - half, 2),
        "high": round(m1 - m2 + half, 2),
    }
    return out


def holdout_groups(history: History, fraction: float) -> dict[str, bool]:
    """Customer -> in the holdout (logged as such, or assigned by the current fraction)."""
    held = {
        d.customer_id for d in history.decisions if any(r["code"] == "holdout" for r in d.record.get("reasons") or [])
    }
    return {cid: cid in held or in_holdout(history.tenant, cid, fraction) for cid in history.events}


def lift(
    store: Store,
    tenant: str,
    bucket_days: float = 7.0,
    since: datetime | None = None,
    until: datetime | None = None,
    max_decisions: int = 500_000,
    segments: Mapping[str, str] | None = None,
) -> dict:
    """Engagement, unsubscribes, complaints, conversions, service visits and revenue per customer of
    governed vs holdout customers, over time; with ``segments`` (customer -> name, e.g. the arms of
    a test of policies), also each segment's governed customers against the whole holdout."""
    current = policies.get(store, tenant)
    history = load_history(store, tenant, since, until, max_decisions, recent_events=True)
    groups = holdout_groups(history, current.holdout_fraction)
    if not history.decisions:
        return {
            "bucket_days": bucket_days,
            "holdout_fraction": current.holdout_fraction,
            "currency": current.currency,
            "customers": {},
            "overall": None,
            "buckets": [],
        }
    start = min(d.at_ms for d in history.decisions)
    end = max(d.at_ms for d in history.decisions)
    width = int(bucket_days * 86_400_000)
    n_buckets = (end - start) // width + 1
    # (bucket or -1 for overall, customer) -> [sends, outcomes seen, revenue]
    active: dict[tuple[int, str], list] = {}
    for d in history.decisions:
        for b in ((d.at_ms - start) // width, -1):
            active.setdefault((b, d.customer_id), [0, set(), 0.0])[0] += d.sent
    for cid, evs in history.events.items():
        for e in evs:
            if not start <= e["_ms"] < start + n_buckets * width:
                continue
            for b in ((e["_ms"] - start) // width, -1):
                slot = active.get((b, cid))
                if slot is None:
                    continue  # no decision for the customer in this bucket: not part of it
                for name, types in OUTCOMES.items():
                    if e["type"] in types:
                        slot[1].add(name)
                if e["type"] in MONEY_EVENTS:
                    slot[2] += amount(e)
    tallies: dict[tuple[int, bool], _Tally] = {}
    for (b, cid), (sends, seen, revenue) in active.items():
        tallies.setdefault((b, groups[cid]), _Tally()).add(sends, seen, revenue)

    def block(b: int) -> dict:
        gov, hold = tallies.get((b, False), _Tally()), tallies.get((b, True), _Tally())
        return {"governed": gov.view(), "holdout": hold.view(), "difference": _difference(gov, hold)}

    extra = {}
    if segments is not None:
        parts: dict[str, _Tally] = {}
        for (b, cid), (sends, seen, revenue) in active.items():
            if b == -1 and not groups[cid] and cid in segments:
                parts.setdefault(segments[cid], _Tally()).add(sends, seen, revenue)
        hold = tallies.get((-1, True), _Tally())
        extra["segments"] = {
            name: {"governed": t.view(), "difference": _difference(t, hold)} for name, t in sorted(parts.items())
        }
    return {
        "bucket_days": bucket_days,
        "holdout_fraction": current.holdout_fraction,
        "currency": current.currency,
        "customers": {"governed": sum(not g for g in groups.values()), "holdout": sum(groups.values())},
        "window": {"from": iso(start), "to": iso(end)},
        "overall": block(-1),
        "buckets": [
            {"from": iso(start + b * width), "to": iso(start + (b + 1) * width), **block(b)} for b in range(n_buckets)
        ],
        **extra,
    }
