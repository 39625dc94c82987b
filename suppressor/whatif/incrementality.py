"""What each campaign adds: outcomes after the messages delivered against outcomes after the ones
withheld at random (the policy's control, reason ``control``, or an imported campaign's ``withheld``
events), with no attribution needed.

An exposure is one message to one customer: delivered (a ``delivered`` event, or a logged send
without one) or withheld (a ``withheld`` event, or a logged ``control`` verdict). An outcome
(``visited``, ``converted``, ``purchased``, ``service_visit``, ``attended``, ``replied``, or a click
on the message itself) counts for every exposure of the customer in the window before it, whether
or not it names a message. Per campaign: the outcome rate of each arm with its 95% Wilson interval,
the difference (Newcombe's interval), and revenue per exposure (a normal interval on the
difference, its variance Welch's or the pooled one, whichever is larger); overall, the campaigns
with both arms, weighted by their exposures. ``grouped`` measures the same per any grouping of the
exposures (a segment, a test arm).
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from suppressor.decisions import decide
from suppressor.domain import MONEY_EVENTS, Signature, format_duration
from suppressor.policy import document as policies
from suppressor.storage import keys
from suppressor.storage.store import Store
from suppressor.whatif.history import SENT, _records, amount, iso, read_events
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

    def squares(self) -> float:
        """The sum of squared deviations of the revenue from its mean."""
        return max(0.0, self.revenue_sq - self.revenue * self.revenue / self.exposures) if self.exposures else 0.0

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


def exposures(
    records: list[tuple[dict, int]], events: dict[str, list[dict]], released: set[str] | frozenset[str] = frozenset()
) -> dict[str, list[Exposure]]:
    """Every customer's exposures (from their events and the logged verdicts, one per message; a logged send
    the caller ``released`` did not go out, and is none)."""
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
        if rec.get("decision_id") in released:
            continue
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


def revenue_variance(sent: _Arm, held: _Arm) -> float:
    """The variance of the difference of the arms' revenue per exposure: Welch's, or the pooled one
    when larger. A sale is rare and large: a small control group that happens to hold none has a
    variance near 0, and Welch's alone would call the difference certain."""
    (_, v1), (_, v2) = sent.mean_var(), held.mean_var()
    n1, n2 = sent.exposures, held.exposures
    if n1 + n2 <= 2 or not n1 or not n2:
        return v1 + v2
    pooled = (sent.squares() + held.squares()) / (n1 + n2 - 2) * (1 / n1 + 1 / n2)
    return max(v1 + v2, pooled)


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
        (m1, _), (m2, _) = a.mean_var(), b.mean_var()
        revenue += w * (m1 - m2)
        revenue_var += w * w * revenue_variance(a, b)
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


def _arms(
    store: Store,
    tenant: str,
    key: Callable[[str, Exposure], Iterable[str]],
    window: int,
    since: datetime | None,
    until: datetime | None,
    max_customers: int,
) -> tuple[dict[str, tuple[_Arm, _Arm]], int]:
    """The delivered and withheld arms of each group ``key`` (customer id, exposure) names the
    exposure in, and the customers read."""
    lo = since.timestamp() * 1000 if since else -math.inf
    hi = until.timestamp() * 1000 if until else math.inf
    customers = _customers(store, tenant, max_customers)
    events = read_events(store, tenant, customers, None if since is None else lo)  # what came before counts for nothing
    arms: dict[str, tuple[_Arm, _Arm]] = defaultdict(lambda: (_Arm(), _Arm()))
    gone = decide.released(store, tenant, customers)
    for cid, xs in exposures(_records(store, tenant, since, until), events, gone).items():
        credit(xs, events.get(cid, []), window * 1000)
        for x in xs:
            if lo <= x.at_ms <= hi:
                for name in key(cid, x):
                    arms[name][1 if x.withheld else 0].add(x)
    return arms, len(customers)


def _row(sent: _Arm, held: _Arm) -> dict:
    d, dlo, dhi = newcombe(sent.outcomes, sent.exposures, held.outcomes, held.exposures)
    (m1, _), (m2, _) = sent.mean_var(), held.mean_var()
    measured = sent.exposures > 0 and held.exposures > 0
    half = Z * math.sqrt(revenue_variance(sent, held)) if measured else 0.0
    return {
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


def grouped(
    store: Store,
    tenant: str,
    key: Callable[[str, Exposure], Iterable[str]],
    window_s: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    max_customers: int = 50_000,
) -> dict[str, dict]:
    """Per group, outcomes after delivered against withheld messages, with 95% intervals (each group
    shaped like a campaign of ``incrementality``); ``key`` (customer id, exposure) names the groups an
    exposure counts in (none, one or several: a campaign and a segment in one read)."""
    window = window_s if window_s is not None else policies.get(store, tenant).incrementality.window
    arms, _ = _arms(store, tenant, key, window, since, until, max_customers)
    return {name: _row(sent, held) for name, (sent, held) in sorted(arms.items())}


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
    arms, customers = _arms(store, tenant, lambda _cid, x: (x.campaign,), window, since, until, max_customers)
    campaigns = [{"campaign_id": name, **_row(sent, held)} for name, (sent, held) in sorted(arms.items())]
    overall = _stratified([(sent, held) for sent, held in arms.values() if sent.exposures and held.exposures])
    return {
        "window": format_duration(window),
        "control_share": policy.incrementality.control_share,
        "currency": policy.currency,
        "customers": customers,
        "since": iso(int(since.timestamp() * 1000)) if since else None,
        "until": iso(int(until.timestamp() * 1000)) if until else None,
        "overall": overall,
        "campaigns": campaigns,
    }
