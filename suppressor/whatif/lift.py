"""Holdout lift: the customers suppressor governs vs the holdout that gets every message.

Holdout membership is per customer (a stable hash), so customers are the unit: the share of
customers who engaged, unsubscribed or complained, per group, with 95% Wilson intervals, and
the governed-minus-holdout difference with Newcombe's interval, overall and per time bucket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from suppressor.decisions.decide import in_holdout
from suppressor.policy import document as policies
from suppressor.storage.store import Store
from suppressor.whatif.history import ENGAGED, History, iso, load_history

Z = 1.959964  # 95%
OUTCOMES = {"engaged": ENGAGED, "unsubscribed": frozenset({"unsubscribed"}), "complained": frozenset({"complained"})}


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


@dataclass
class _Tally:
    customers: int = 0
    sends: int = 0
    engaged: int = 0
    unsubscribed: int = 0
    complained: int = 0

    def view(self) -> dict:
        out: dict = {"customers": self.customers,
                     "sends_per_customer": round(self.sends / self.customers, 3) if self.customers else None}
        for name in OUTCOMES:
            rate, lo, hi = wilson(getattr(self, name), self.customers)
            out[name] = {"count": getattr(self, name), "rate": round(rate, 5), "low": round(lo, 5), "high": round(hi, 5)}
        return out


def _difference(gov: _Tally, hold: _Tally) -> dict:
    out = {}
    for name in OUTCOMES:
        d, lo, hi = newcombe(getattr(gov, name), gov.customers, getattr(hold, name), hold.customers)
        out[name] = {"diff": round(d, 5), "low": round(lo, 5), "high": round(hi, 5)}
    return out


def holdout_groups(history: History, fraction: float) -> dict[str, bool]:
    """Customer -> in the holdout (logged as such, or assigned by the current fraction)."""
    held = {d.customer_id for d in history.decisions
            if any(r["code"] == "holdout" for r in d.record.get("reasons") or [])}
    return {cid: cid in held or in_holdout(history.tenant, cid, fraction) for cid in history.events}


def lift(store: Store, tenant: str, bucket_days: float = 7.0, since: datetime | None = None,
         until: datetime | None = None, max_decisions: int = 500_000) -> dict:
    """Engagement, unsubscribe and complaint rates of governed vs holdout customers, over time."""
    current = policies.get(store, tenant)
    history = load_history(store, tenant, since, until, max_decisions)
    groups = holdout_groups(history, current.holdout_fraction)
    if not history.decisions:
        return {"bucket_days": bucket_days, "holdout_fraction": current.holdout_fraction, "customers": {},
                "overall": None, "buckets": []}
    start = min(d.at_ms for d in history.decisions)
    end = max(d.at_ms for d in history.decisions)
    width = int(bucket_days * 86_400_000)
    n_buckets = (end - start) // width + 1
    # (bucket or -1 for overall, customer) -> [sends, outcomes seen]
    active: dict[tuple[int, str], list] = {}
    for d in history.decisions:
        for b in ((d.at_ms - start) // width, -1):
            slot = active.setdefault((b, d.customer_id), [0, set()])
            slot[0] += d.sent
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
    tallies: dict[tuple[int, bool], _Tally] = {}
    for (b, cid), (sends, seen) in active.items():
        t = tallies.setdefault((b, groups[cid]), _Tally())
        t.customers += 1
        t.sends += sends
        for name in seen:
            setattr(t, name, getattr(t, name) + 1)

    def block(b: int) -> dict:
        gov, hold = tallies.get((b, False), _Tally()), tallies.get((b, True), _Tally())
        return {"governed": gov.view(), "holdout": hold.view(), "difference": _difference(gov, hold)}

    return {
        "bucket_days": bucket_days,
        "holdout_fraction": current.holdout_fraction,
        "customers": {"governed": sum(not g for g in groups.values()), "holdout": sum(groups.values())},
        "window": {"from": iso(start), "to": iso(end)},
        "overall": block(-1),
        "buckets": [{"from": iso(start + b * width), "to": iso(start + (b + 1) * width), **block(b)}
                    for b in range(n_buckets)],
    }
