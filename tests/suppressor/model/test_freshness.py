"""Fresh between retrains: new behavior moves a customer's scores before the next training."""

from datetime import UTC, datetime, timedelta

import numpy as np

from suppressor.customers import events
from suppressor.decisions.decide import Decider
from suppressor.domain import DecisionRequest, Event
from suppressor.model.freshness import Refresher, fold_in
from suppressor.tenants.state import TenantStateCache
from suppressor.training.fit import TrainConfig, train_tenant
from tests.factories import fan_events, ingest, message


def test_fold_in_moves_toward_the_behavior_and_the_prior_holds_it_back():
    items = np.array([[1.0, 0.0, 0.0]] * 5)  # dim 2 + item bias
    y = np.ones(5)
    weak = fold_in(np.zeros(3), items, y, np.ones(5), strength=10.0)
    strong = fold_in(np.zeros(3), items, y, np.ones(5), strength=0.1)
    assert 0 < weak[0] < strong[0]
    assert fold_in(np.zeros(3), items, -y, np.ones(5), strength=1.0)[0] < 0


def score(decider, cid, team):
    [d] = decider.decide(
        "acme",
        [
            DecisionRequest(
                customer_id=cid,
                message=message("m", [f"team:{team}", "offer:tickets"]),
                allow_reroute=False,
                dry_run=True,
            )
        ],
    )
    return d.score


def new_events(cid, team, typ, n, start):
    return [
        Event.model_validate(
            {
                "event_id": f"new-{cid}-{team}-{typ}-{k}",
                "customer_id": cid,
                "type": typ,
                "ts": (start + timedelta(minutes=k)).isoformat(),
                "channel": "email",
                "kind": "sales",
                "message_id": f"fresh-{team}-{k}",
                "topics": [f"team:{team}", "offer:tickets"],
            }
        )
        for k in range(n)
    ]


def test_new_clicks_and_a_fresh_unsubscribe_move_scores_before_the_next_retrain(store):
    ingest(store, "acme", fan_events())
    train_tenant(store, "acme", TrainConfig())
    states = TenantStateCache(store, 0.0)
    decider = Decider(store, states, None)
    refresher = Refresher(store, lambda t: states.get(t).model, interval=3600)
    try:
        now = datetime.now(UTC) - timedelta(hours=1)
        before_sox, before_yankees = (
            score(decider, "yankees-fan-1", "red-sox"),
            score(decider, "yankees-fan-1", "yankees"),
        )

        changed: set[str] = set()
        events.ingest(store, "acme", new_events("yankees-fan-1", "red-sox", "clicked", 6, now), changed)
        assert changed == {"yankees-fan-1"}
        refresher.enqueue("acme", changed)
        assert refresher.flush() == 1
        after_sox = score(decider, "yankees-fan-1", "red-sox")
        assert after_sox > before_sox + 0.1  # six clicks on the rival team count at once

        events.ingest(
            store,
            "acme",
            [
                Event.model_validate(
                    {
                        "event_id": "unsub-1",
                        "customer_id": "yankees-fan-2",
                        "type": "unsubscribed",
                        "ts": now.isoformat(),
                        "channel": "email",
                        "kind": "sales",
                        "message_id": "fresh-y",
                        "topics": ["team:yankees", "offer:tickets"],
                    }
                )
            ],
            changed,
        )
        refresher.enqueue("acme", {"yankees-fan-2"})
        refresher.flush()
        assert score(decider, "yankees-fan-2", "yankees") < before_yankees - 0.05
        assert score(decider, "yankees-fan-1", "yankees") > 0.5  # others unaffected
    finally:
        refresher.close()


def test_fold_in_from_far_away_converges_instead_of_oscillating():
    rng = np.random.default_rng(0)
    item = np.append(rng.normal(size=8) * 0.3, 0.4)
    prior = np.append(-3 * item[:-1], 0.0)  # a customer who strongly dislikes this message
    before = item[:-1] @ prior[:-1] + item[-1]
    u = fold_in(prior, np.array([item] * 6), np.ones(6), np.full(6, 2.0))
    after = item[:-1] @ u[:-1] + item[-1] + u[-1]
    assert after > before + 1.0
