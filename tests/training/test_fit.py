"""Known answers: plant a preference, check the trained model finds it."""

import numpy as np
import pytest

from suppressor.api import synthetic
from suppressor.customers import profiles
from suppressor.domain import CustomerIn, Signature
from suppressor.model import exported as models
from suppressor.training.fit import TrainConfig, TrainingError, train_tenant
from suppressor.training.metrics import auc, fit_platt
from tests.factories import auth, fan_events, ingest, message


def test_yankees_fan_gets_yankees_and_not_red_sox(client, key, store):
    ingest(store, "acme", fan_events())
    train_tenant(store, "acme", TrainConfig())
    client.put("/v1/policy", json={"relevance_threshold": 0.5}, headers=auth(key))

    def verdict(cid, team):
        body = {"customer_id": cid, "message": message(f"new-{team}", [f"team:{team}", "offer:tickets"])}
        return client.post("/v1/decisions", json=body, headers=auth(key)).json()

    yes, no = verdict("yankees-fan-3", "yankees"), verdict("yankees-fan-3", "red-sox")
    assert yes["action"] == "send" and yes["score"] > 0.5
    assert no["action"] == "suppress" and no["score"] < 0.5
    assert [r["code"] for r in no["reasons"]] == ["irrelevant"]
    assert verdict("red-sox-fan-3", "red-sox")["action"] == "send"
    assert verdict("red-sox-fan-3", "yankees")["action"] == "suppress"

    profile = client.get("/v1/customers/yankees-fan-3", headers=auth(key)).json()
    assert profile["interests"][0]["name"] == "team:yankees"
    # readable: a calibrated chance per topic the tenant sends, with the customer's own evidence
    chance = {i["name"]: i for i in profile["interests"]}
    assert 0.5 < chance["team:yankees"]["chance"] <= 1 and chance["team:red-sox"]["chance"] < 0.5
    assert (
        chance["team:yankees"]["evidence"] == chance["team:red-sox"]["evidence"] == 16
    )  # 8 weeks x delivered + reaction
    assert [c["name"] for c in profile["channel_affinities"]] == ["email"] and profile["channel_affinities"][0][
        "evidence"
    ] == 32
    assert profile["model_version"] == "v1"


def test_planted_interests_and_channels_are_recovered(store):
    dealer = synthetic.generate(600, weeks=12, seed=3)
    for c in dealer.customers:
        profiles.put(store, "acme", c.customer_id, CustomerIn.model_validate(c.profile()), None)
    ingest(store, "acme", dealer.events)
    model = train_tenant(store, "acme", TrainConfig())
    assert model.metrics["holdout"] and model.metrics["auc"] > 0.7

    rng = np.random.default_rng(0)
    truth, scores, right_channel = [], [], 0
    for c in dealer.customers:
        user = model.user_vector(c.attributes)  # attributes only: a customer seen for the first time
        for _ in range(5):
            m, ch = dealer.messages[rng.integers(len(dealer.messages))], synthetic.CHANNELS[rng.integers(4)]
            item = model.item_vector(Signature.of(ch, m.kind, m.topics))
            scores.append(float(item[:-1] @ user[:-1] + item[-1] + user[-1]))
            truth.append(dealer.p_engage(c, m, ch))
    outcome = rng.random(len(truth)) < np.array(truth)
    # a new customer scored from attributes alone still ranks far better than chance
    assert auc(np.array(scores), outcome) > 0.65

    from suppressor.customers.profiles import learned_affinities
    from suppressor.model.exported import unpack
    from suppressor.storage import keys

    for c in dealer.customers:
        vec = unpack(store.bulk.hget(keys.vectors("acme", c.customer_id), model.version))
        right_channel += learned_affinities(model, vec)[1][0].name == c.true_channel
    assert right_channel / len(dealer.customers) > 0.5  # chance is 0.25


def test_too_little_behavior_is_a_clear_error(store):
    ingest(store, "acme", fan_events(n_fans=1, weeks=1))
    with pytest.raises(TrainingError, match="not enough behavior"):
        train_tenant(store, "acme", TrainConfig())
    assert models.active_version(store, "acme") is None


def test_calibration_matches_observed_rates():
    rng = np.random.default_rng(0)
    raw = rng.normal(size=20_000)
    y = rng.random(20_000) < 1 / (1 + np.exp(-(2 * raw - 1)))
    a, b = fit_platt(raw, y)
    assert a == pytest.approx(2, abs=0.15) and b == pytest.approx(-1, abs=0.1)


def test_auc_known_values():
    assert auc(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1])) == 1.0
    assert auc(np.array([0.9, 0.8, 0.2, 0.1]), np.array([0, 0, 1, 1])) == 0.0
    assert auc(np.array([1, 1, 1, 1]), np.array([0, 1, 0, 1])) == 0.5
    assert auc(np.array([1, 2]), np.array([1, 1])) is None


def test_a_model_below_the_quality_floor_is_kept_but_not_activated(store):
    ingest(store, "acme", fan_events())
    m = train_tenant(store, "acme", TrainConfig(min_auc=1.01))
    assert "below the floor" in m.metrics["rejected"]
    assert models.active_version(store, "acme") is None
    assert models.list_models(store, "acme")[0]["status"] == "rejected"
    with pytest.raises(ValueError, match="rejected by the quality gate"):
        models.activate(store, "acme", m.version)


def test_a_model_worse_than_the_active_one_is_not_activated(store):
    import json

    from suppressor.storage import keys

    ingest(store, "acme", fan_events())
    first = train_tenant(store, "acme", TrainConfig())
    row = json.loads(store.bulk.hget(keys.models("acme"), first.version))
    row["metrics"]["auc"] = 1.5  # pretend the active model was far better
    store.bulk.hset(keys.models("acme"), first.version, json.dumps(row))
    second = train_tenant(store, "acme", TrainConfig())
    assert "worse than the active v1" in second.metrics["rejected"]
    assert models.active_version(store, "acme") == "v1"


def test_precision_at_k():
    from suppressor.training.metrics import precision_at_k

    scores = np.array([0.9, 0.8, 0.1, 0.7, 0.6, 0.5, 0.2])
    y = np.array([1, 0, 1, 1, 1, 0, 0])
    groups = np.array([1, 1, 1, 2, 2, 2, 3])
    assert precision_at_k(scores, y, groups, 2) == pytest.approx((0.5 + 1.0) / 2)  # customer 3 has < 2 pairs
