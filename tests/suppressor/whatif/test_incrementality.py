"""Incrementality: a planted campaign effect is found without attribution, and none where there is none."""

from datetime import UTC, datetime, timedelta

import numpy as np

from suppressor.policy import document as policies
from suppressor.whatif.incrementality import incrementality
from tests.factories import ingest

T0 = datetime(2026, 10, 1, 15, 0, tzinfo=UTC)


def plant(store, campaign: str, n: int, treated_rate: float, control_rate: float, seed: int) -> None:
    """n customers, half delivered and half withheld at random; visits (naming no message) follow
    within a week at the planted rates, and an unrelated visit 30 days later for everyone."""
    rng = np.random.default_rng(seed)
    evs = []
    for i in range(n):
        cid = f"{campaign}-{i}"
        withheld = bool(rng.random() < 0.5)
        base = {
            "customer_id": cid,
            "channel": "email",
            "kind": "sales",
            "message_id": f"{campaign}-m",
            "campaign_id": campaign,
            "topics": ["segment:suv"],
        }
        evs.append(
            {**base, "event_id": f"{cid}-x", "type": "withheld" if withheld else "delivered", "ts": T0.isoformat()}
        )
        if rng.random() < (control_rate if withheld else treated_rate):
            evs.append(
                {
                    "event_id": f"{cid}-v",
                    "customer_id": cid,
                    "type": "visited",
                    "channel": "web",
                    "ts": (T0 + timedelta(days=float(rng.uniform(0.1, 6.9)))).isoformat(),
                }
            )
        evs.append(
            {
                "event_id": f"{cid}-late",
                "customer_id": cid,
                "type": "purchased",
                "channel": "web",
                "ts": (T0 + timedelta(days=30)).isoformat(),
                "properties": {"amount": 30000.0, "currency": "USD"},
            }
        )
    ingest(store, "acme", evs)


def test_a_planted_effect_is_measured_from_unattributed_outcomes_and_a_null_one_is_not(store):
    policies.put(store, "acme", policies.Policy(), "test")
    plant(store, "moves", 4000, 0.30, 0.20, seed=1)
    plant(store, "nothing", 4000, 0.20, 0.20, seed=2)
    report = incrementality(store, "acme", window_s=14 * 86400)
    by = {c["campaign_id"]: c for c in report["campaigns"]}
    moves, nothing = by["moves"], by["nothing"]
    assert moves["delivered"]["exposures"] + moves["withheld"]["exposures"] == 4000
    d = moves["difference"]
    assert d["low"] < 0.10 < d["high"] and d["low"] > 0.05  # found, and the interval excludes zero
    assert nothing["difference"]["low"] < 0 < nothing["difference"]["high"]
    # the purchase 30 days on is outside the window: no revenue is credited to either arm
    assert moves["delivered"]["revenue_per_exposure"] == 0.0 == moves["withheld"]["revenue_per_exposure"]
    assert report["overall"]["campaigns"] == 2
    pooled = report["overall"]["difference"]
    assert pooled["low"] < 0.05 < pooled["high"]  # (0.10 + 0.00) / 2, each weighted by its exposures


def test_a_window_long_enough_credits_the_later_purchase(store):
    policies.put(store, "acme", policies.Policy(), "test")
    plant(store, "moves", 400, 0.30, 0.20, seed=3)
    c = incrementality(store, "acme", window_s=31 * 86400)["campaigns"][0]
    assert c["delivered"]["revenue_per_exposure"] == 30000.0 == c["withheld"]["revenue_per_exposure"]
    assert c["revenue_per_exposure"]["diff"] == 0.0
