"""Holdout lift: governed customers vs the holdout, with intervals, over time."""

import pytest

from suppressor.decisions.decide import in_holdout
from suppressor.whatif import lift
from tests.factories import GOVERNED_TENANT as T


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


def test_holdout_membership_is_the_stable_hash(store, governed):
    from suppressor.whatif.history import load_history

    h = load_history(store, T)
    groups = lift.holdout_groups(h, 0.1)
    assert all(groups[c] == in_holdout(T, c, 0.1) for c in groups)


def test_no_decisions_no_lift(store):
    r = lift.lift(store, "nobody")
    assert r["overall"] is None and r["buckets"] == []
