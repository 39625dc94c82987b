"""Vehicles feed the model and the lifecycle rules: planted owners of old cars who answer trade-in
offers, owners due for service who answer service reminders; the model finds both for customers
it has never seen behave, and the rules make those messages relevant whatever the score."""

from datetime import UTC, datetime, timedelta

import pytest

from suppressor.customers import events, profiles
from suppressor.domain import CustomerIn, Event
from suppressor.model import features
from suppressor.policy import document as policy
from tests.factories import codes, one, quiet_policy, reaction, req

NOW = datetime.now(UTC).replace(microsecond=0)
TRADE_IN, LEASE, SERVICE = ["offer:trade-in"], ["offer:lease"], ["content:service-reminder"]


def vehicle(year: int, due_in_days: float, make: str = "ford") -> dict:
    return {
        "vin": f"VIN{year}{make}",
        "year": year,
        "make": make,
        "model": "F-150",
        "segment": "truck",
        "next_service_due": (NOW + timedelta(days=due_in_days)).isoformat(),
    }


def owner(store, cid: str, year: int, due_in_days: float, model=None) -> None:
    """PUT a one-vehicle customer (as the API does: with the active model, which sets their vector)."""
    profiles.put(store, "acme", cid, CustomerIn(consent={"email": True}, vehicles=[vehicle(year, due_in_days)]), model)


def planted() -> list[dict]:
    """Old cars click trade-in offers and ignore leases, new cars the opposite; due soon clicks
    service reminders, due later ignores them. Six weekly rounds of each message."""
    out = []
    for i in range(60):
        old, due_soon = i % 2 == 0, i % 4 < 2
        cid = f"owner-{i}"
        for w in range(6):
            at = NOW - timedelta(days=7 * w + 3)
            for name, topics, kind, answered in (
                ("t", TRADE_IN, "sales", old),
                ("l", LEASE, "sales", not old),
                ("s", SERVICE, "service", due_soon),
            ):
                out += reaction(
                    cid,
                    f"{w}-{name}",
                    at,
                    answered,
                    timedelta(hours=2),
                    channel="email",
                    message_id=f"m-{name}-{w}",
                    kind=kind,
                    topics=topics,
                )
    return out


@pytest.fixture
def vehicle_world(store):
    from suppressor.training.fit import TrainConfig, train_tenant

    for i in range(60):
        owner(store, f"owner-{i}", 2014 if i % 2 == 0 else NOW.year - 1, 15 if i % 4 < 2 else 150)
    evs = planted()
    events.ingest(store, "acme", [Event.model_validate(e) for e in evs])
    return train_tenant(store, "acme", TrainConfig(threads=1))


def test_vehicle_facts_become_model_attributes():
    now = datetime(2026, 11, 28, tzinfo=UTC).timestamp()
    attrs = features.model_attributes(
        {"zip": "60614"},
        [
            {"year": 2017, "make": "Chevrolet", "segment": "Minivan", "next_service_due": "2026-12-10T00:00:00+00:00"},
            {"year": 2025, "make": "Ford"},
        ],
        now,
    )
    assert attrs == {
        "zip": "60614",
        "vehicle_make": ["chevrolet", "ford"],
        "vehicle_segment": ["minivan"],
        "vehicle_age": "9y+",
        "service_due": "within 1 month",
    }
    assert features.model_attributes({"zip": "1"}, None) == {"zip": "1"}


def test_the_model_learns_from_vehicles_for_customers_it_never_saw_behave(store, decider, vehicle_world):
    policy.put(store, "acme", quiet_policy(relevance_threshold=0.0), "test")
    owner(store, "new-old-car", 2013, 200, vehicle_world)
    owner(store, "new-new-car", NOW.year, 200, vehicle_world)
    owner(store, "new-due-soon", NOW.year, 10, vehicle_world)

    def score(cid, kind, topics):
        return one(decider, req(cid, kind=kind, topics=topics, dry_run=True), NOW).score

    assert score("new-old-car", "sales", TRADE_IN) > score("new-old-car", "sales", LEASE) + 0.1
    assert score("new-new-car", "sales", LEASE) > score("new-new-car", "sales", TRADE_IN) + 0.1
    assert score("new-due-soon", "service", SERVICE) > score("new-new-car", "service", SERVICE) + 0.1


def test_service_due_soon_and_an_old_car_make_the_message_relevant_whatever_the_score(store, decider, vehicle_world):
    policy.put(store, "acme", quiet_policy(relevance_threshold=0.99), "test")  # nothing clears it on score alone
    owner(store, "due", NOW.year, 12)
    owner(store, "not-due", NOW.year, 120)
    owner(store, "old", 2015, 200)
    owner(store, "young", NOW.year - 2, 200)

    d = one(decider, req("due", kind="service", topics=SERVICE), NOW)
    assert d.action == "send" and codes(d)[-1] == "service_due"
    assert "service due in 12 days" in d.reasons[-1].message and "threshold 0.990" in d.reasons[-1].message
    assert one(decider, req("not-due", kind="service", topics=SERVICE), NOW).action == "suppress"
    assert one(decider, req("due", kind="sales", topics=LEASE), NOW).action == "suppress"  # only service messages

    d = one(decider, req("old", kind="sales", topics=TRADE_IN), NOW)
    assert d.action == "send" and codes(d)[-1] == "trade_in_age"
    assert "11-year-old vehicle" in d.reasons[-1].message or "12-year-old vehicle" in d.reasons[-1].message
    assert one(decider, req("old", kind="sales", topics=LEASE), NOW).action == "suppress"
    assert one(decider, req("young", kind="sales", topics=TRADE_IN), NOW).action == "suppress"

    policy.put(
        store,
        "acme",
        quiet_policy(
            relevance_threshold=0.99,
            lifecycle={"service_due_within": 0, "trade_in_age_years": 0, "post_purchase_quiet": 0},
        ),
        "test",
    )
    assert one(decider, req("due", kind="service", topics=SERVICE), NOW).action == "suppress"  # rules off
    assert one(decider, req("old", kind="sales", topics=TRADE_IN), NOW).action == "suppress"
