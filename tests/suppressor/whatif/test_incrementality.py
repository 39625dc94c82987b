"""Incrementality: a planted campaign effect is found without attribution, and none where there is none."""

from datetime import UTC, datetime, timedelta

import numpy as np

from suppressor.policy import document as policies
from suppressor.whatif.incrementality import grouped, incrementality
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


def test_a_small_control_group_without_a_sale_does_not_make_the_revenue_certain(store):
    """100 delivered, 10 of them followed by a 1,000 sale; 10 withheld, none: Welch's variance alone
    (the withheld arm's is 0) would put the difference at 100 [+41, +159]; the pooled variance,
    9e6 / 108 x (1/100 + 1/10), keeps 0 inside: 100 [-88, +288]."""
    policies.put(store, "acme", policies.Policy(), "test")
    evs = []
    for i in range(110):
        cid, withheld = f"rare-{i}", i < 10
        base = {"customer_id": cid, "channel": "email", "kind": "sales", "campaign_id": "rare", "topics": []}
        evs.append(
            {**base, "event_id": f"{cid}-x", "message_id": "rare-m", "type": "withheld" if withheld else "delivered"}
            | {"ts": T0.isoformat()}
        )
        if not withheld and i % 10 == 0:
            evs.append(
                {
                    "event_id": f"{cid}-p",
                    "customer_id": cid,
                    "type": "purchased",
                    "ts": (T0 + timedelta(days=1)).isoformat(),
                    "properties": {"amount": 1000.0},
                }
            )
    ingest(store, "acme", evs)
    [rare] = incrementality(store, "acme", window_s=7 * 86400)["campaigns"]
    half = 1.959964 * (9e6 / 108 * (1 / 100 + 1 / 10)) ** 0.5
    assert rare["revenue_per_exposure"] == {"diff": 100.0, "low": round(100 - half, 2), "high": round(100 + half, 2)}


def test_any_grouping_of_the_exposures_in_one_read(store):
    """``grouped`` counts an exposure in every group its key names: a campaign and a segment at once."""
    policies.put(store, "acme", policies.Policy(), "test")
    plant(store, "moves", 400, 0.30, 0.20, seed=4)
    plant(store, "nothing", 400, 0.20, 0.20, seed=5)
    odd = lambda cid: "odd" if int(cid.rsplit("-", 1)[1]) % 2 else "even"  # noqa: E731
    rows = grouped(store, "acme", lambda cid, x: (x.campaign, odd(cid)), window_s=14 * 86400)
    assert set(rows) == {"moves", "nothing", "odd", "even"}
    by_campaign = {c["campaign_id"]: c for c in incrementality(store, "acme", window_s=14 * 86400)["campaigns"]}
    for name in ("moves", "nothing"):
        assert rows[name] == {k: v for k, v in by_campaign[name].items() if k != "campaign_id"}
    assert sum(rows[g][arm]["exposures"] for g in ("odd", "even") for arm in ("delivered", "withheld")) == 800
