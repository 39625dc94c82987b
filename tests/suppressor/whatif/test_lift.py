"""Holdout lift: governed customers vs the holdout, with intervals, over time."""

import math
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from suppressor.customers import events, profiles
from suppressor.decisions.decide import Decider, in_holdout
from suppressor.decisions.log import DecisionLog
from suppressor.domain import CustomerIn, Event
from suppressor.policy import document as policies
from suppressor.tenants.state import TenantStateCache
from suppressor.whatif import lift, reports
from tests.factories import GOVERNED_TENANT as T
from tests.factories import quiet_policy, req


def test_wilson_interval_known_values():
    assert lift.wilson(5, 10) == pytest.approx((0.5, 0.2366, 0.7634), abs=1e-4)
    rate, lo, hi = lift.wilson(0, 10)
    assert rate == 0 and lo == 0 and hi == pytest.approx(0.2775, abs=1e-4)
    assert lift.wilson(0, 0) == (0.0, 0.0, 1.0)  # no customers: we know nothing


def test_newcombe_difference_known_values():
    # Newcombe (1998), example (a): 56/70 vs 48/80 -> 0.2000 [0.0524, 0.3339]
    assert lift.newcombe(56, 70, 48, 80) == pytest.approx((0.2, 0.0524, 0.3339), abs=1e-4)


def test_the_holdout_gets_more_messages_and_unsubscribes_more(store, governed):
    r = lift.lift(store, T, bucket_days=7)
    gov, hold = r["overall"]["governed"], r["overall"]["holdout"]
    assert r["holdout_fraction"] == 0.1
    assert 0.04 < hold["customers"] / (hold["customers"] + gov["customers"]) < 0.2
    # the holdout is sent everything: more sends per customer, and (the planted truth) more unsubscribes
    assert hold["sends_per_customer"] > 1.5 * gov["sends_per_customer"]
    assert hold["unsubscribed"]["rate"] > gov["unsubscribed"]["rate"]
    d = r["overall"]["difference"]["unsubscribed"]
    assert d["diff"] < 0 and d["low"] < d["diff"] < d["high"]
    for group in (gov, hold):
        for outcome in ("engaged", "unsubscribed", "complained"):
            x = group[outcome]
            assert x["low"] <= x["rate"] <= x["high"]


def test_lift_over_time_buckets_add_up(store, governed):
    r = lift.lift(store, T, bucket_days=7)
    assert len(r["buckets"]) == 2  # 14 days of campaigns
    assert all(b["from"] < b["to"] for b in r["buckets"])
    for g in ("governed", "holdout"):
        # a customer active in both weeks counts in each week, once overall
        weekly = sum(b[g]["customers"] for b in r["buckets"])
        assert r["overall"][g]["customers"] <= weekly <= 2 * r["overall"][g]["customers"]


def test_segments_split_the_governed_and_each_meets_the_whole_holdout(store, governed):
    """An A/B of policies: each arm's governed customers against the same holdout."""
    arm = {c.customer_id: "a" if i % 2 else "b" for i, c in enumerate(governed.dealer.customers)}
    r = lift.lift(store, T, segments=arm)
    gov, hold, parts = r["overall"]["governed"], r["overall"]["holdout"], r["segments"]
    assert set(parts) == {"a", "b"}
    assert parts["a"]["governed"]["customers"] + parts["b"]["governed"]["customers"] == gov["customers"]
    sends = sum(p["governed"]["sends_per_customer"] * p["governed"]["customers"] for p in parts.values())
    assert sends == pytest.approx(gov["sends_per_customer"] * gov["customers"], abs=1)  # each rounded to 0.001
    for p in parts.values():
        d = p["difference"]["unsubscribed"]
        assert d["diff"] == pytest.approx(
            p["governed"]["unsubscribed"]["rate"] - hold["unsubscribed"]["rate"], abs=1e-4
        )
        assert d["low"] <= d["diff"] <= d["high"]
    assert "segments" not in lift.lift(store, T)


def test_holdout_membership_is_the_stable_hash(store, governed):
    from suppressor.whatif.history import load_history

    h = load_history(store, T)
    groups = lift.holdout_groups(h, 0.1)
    assert all(groups[c] == in_holdout(T, c, 0.1) for c in groups)


def test_no_decisions_no_lift(store):
    r = lift.lift(store, "nobody")
    assert r["overall"] is None and r["buckets"] == []


def _shop(store, tenant: str, n: int, sales: dict[str, list[tuple[str, float | None]]], holdout: float = 0.5):
    """``n`` customers each sent one message yesterday, then the planted sales: customer -> [(type, amount)]."""
    now = datetime.now(UTC).replace(microsecond=0)
    policies.put(store, tenant, quiet_policy(holdout_fraction=holdout, relevance_threshold=0.0), "test")
    log = DecisionLog(store)
    decider = Decider(store, TenantStateCache(store, 0.0), log)
    cids = [f"c-{i}" for i in range(n)]
    for cid in cids:
        profiles.put(store, tenant, cid, CustomerIn(consent={"email": True}), None)
    decider.decide(tenant, [req(cid, mid=f"m-{cid}") for cid in cids], now=now - timedelta(days=1))
    log.close()
    evs = [
        Event(
            event_id=f"{cid}-{k}",
            customer_id=cid,
            type=typ,
            ts=now - timedelta(hours=2),
            message_id=f"m-{cid}",
            properties={} if amt is None else {"amount": amt},
        )
        for cid, planted in sales.items()
        for k, (typ, amt) in enumerate(planted)
    ]
    events.ingest(store, tenant, evs)
    return cids


def test_revenue_per_customer_and_its_interval_known_answer(store):
    """Every holdout customer buys for 1,000; governed customers alternate a 200 service bill and
    nothing: revenue per customer 1,000 vs 100, and the intervals are the textbook ones."""
    tenant = "shop"
    cids = [f"c-{i}" for i in range(60)]
    held = [c for c in cids if in_holdout(tenant, c, 0.5)]
    gov = [c for c in cids if c not in held]
    sales = {c: [("purchased", 1000.0)] for c in held}
    sales.update({c: [("service_visit", 200.0)] for c in gov[::2]})
    _shop(store, tenant, 60, sales)
    r = lift.lift(store, tenant)
    assert r["currency"] == "USD"
    g, h, d = r["overall"]["governed"], r["overall"]["holdout"], r["overall"]["difference"]
    assert (g["customers"], h["customers"]) == (len(gov), len(held))
    assert h["revenue_per_customer"] == {"total": 1000.0 * len(held), "mean": 1000.0, "low": 1000.0, "high": 1000.0}
    visited = len(gov[::2])
    mean = 200 * visited / len(gov)
    sd = statistics.stdev([200.0 if c in gov[::2] else 0.0 for c in gov])
    half = lift.Z * sd / math.sqrt(len(gov))
    assert g["revenue_per_customer"]["mean"] == pytest.approx(mean, abs=0.01)
    assert g["revenue_per_customer"]["high"] == pytest.approx(mean + half, abs=0.01)
    assert d["revenue_per_customer"]["diff"] == pytest.approx(mean - 1000, abs=0.01)
    assert d["revenue_per_customer"]["low"] == pytest.approx(mean - 1000 - half, abs=0.01)
    assert (h["converted"]["count"], g["converted"]["count"]) == (len(held), 0)
    assert (h["service_visit"]["count"], g["service_visit"]["count"]) == (0, visited)
    assert d["converted"]["diff"] == pytest.approx(-1.0)


def test_simulate_credits_a_purchase_to_the_message_and_counts_what_a_stricter_policy_loses(store):
    """A purchase that names the message is that send's revenue: a policy that would not have sent
    it loses the sale (observed), and the report says so in the tenant's currency."""
    tenant = "shop"
    _shop(store, tenant, 10, {"c-1": [("purchased", 30000.0)], "c-2": [("service_visit", 250.0)]}, holdout=0.0)
    no_sales = reports.vary(policies.get(store, tenant), "relevance_threshold", 0.0)
    no_sales = policies.as_candidate(
        policies.get(store, tenant), policies.with_changes(no_sales, {"allowed_kinds": ["value", "service"]})
    )
    r = reports.simulate(store, tenant, no_sales)
    assert r["currency"] == "USD"
    assert r["current"]["revenue"] == 30250.0 and r["current"]["conversions"] == 1
    assert r["current"]["service_visits"] == 1
    assert r["candidate"]["revenue"] == 0 and r["candidate"]["conversions"] == 0
    assert r["change"]["revenue_kept_pct"] == 0.0 and r["change"]["revenue_per_customer_change"] == -3025.0
