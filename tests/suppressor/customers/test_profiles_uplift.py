"""A profile written after training is scored by the uplift from its own attributes, as it is by engagement:
the uplift heads see customers' attributes only, so what a customer is (a persuadable, a sure thing) is all
they know of them."""

import numpy as np
import pytest

from suppressor.domain import Signature
from suppressor.model import exported as models
from tests.factories import auth, message, tiny_uplift_model
from tests.training.test_own_uplift import planted  # noqa: F401  (the fixture: a trained known-answer world)

LEASE = Signature.of("email", "sales", ["offer:lease"])


def uplift(client, key, cid: str, mid: str) -> float:
    body = {"customer_id": cid, "message": message(mid, ["offer:lease"]), "dry_run": True}
    got = client.post("/v1/decisions", json=body, headers=auth(key))
    assert got.status_code == 200, got.text
    return got.json()["uplift"]


@pytest.fixture
def by_uplift(planted, client, key):  # noqa: F811
    kinds, model = planted
    policy = {"objective": "uplift", "relevance_threshold": 0.0, "incrementality": {"window": "3d"}}
    client.put("/v1/policy", json=policy, headers=auth(key))
    return kinds, model


def test_a_customer_created_after_training_gets_the_uplift_of_their_attributes(by_uplift, client, key):
    kinds, model = by_uplift
    trained = [uplift(client, key, f"c{i}", "lease-x") for i, k in enumerate(kinds) if k == "persuadable"][:10]
    assert np.mean(trained) == pytest.approx(0.45, abs=0.15)  # planted 0.5 - 0.05
    for cid, segment in (("new-p", "persuadable"), ("new-s", "sure_thing")):
        body = {"attributes": {"segment": segment}, "consent": {"email": True}}
        assert client.put(f"/v1/customers/{cid}", json=body, headers=auth(key)).status_code == 200
    expected = float(model.uplift.score([{"segment": "persuadable"}], LEASE)[0])  # the model's own numpy scorer
    assert expected == pytest.approx(0.45, abs=0.15)
    # a new persuadable is a persuadable: not the population's average, not the same as a new sure thing
    assert uplift(client, key, "new-p", "lease-x") == pytest.approx(expected, abs=1e-4)
    assert uplift(client, key, "new-s", "lease-x") < 0.15


def test_a_customer_whose_attributes_change_is_scored_by_the_uplift_as_they_are_now(by_uplift, client, key):
    kinds, model = by_uplift
    cid = next(f"c{i}" for i, k in enumerate(kinds) if k == "sure_thing")
    assert abs(uplift(client, key, cid, "lease-x")) < 0.15
    body = {"attributes": {"segment": "persuadable"}, "consent": {"email": True}}
    assert client.put(f"/v1/customers/{cid}", json=body, headers=auth(key)).status_code == 200
    # engagement is rescored from the new attributes at once; the uplift must be too, not kept from training
    expected = float(model.uplift.score([{"segment": "persuadable"}], LEASE)[0])
    assert uplift(client, key, cid, "lease-y") == pytest.approx(expected, abs=1e-4)


def test_the_uplift_of_a_profile_put_after_activation_is_the_model_own_score(client, key, store):
    """The tiny model by hand: a customer of age 30 adds the age feature's embedding to the heads' (0.0122);
    the message alone gives 0.0120."""
    model = tiny_uplift_model("v1")
    models.save(store, "acme", model)
    models.activate(store, "acme", "v1")
    client.put("/v1/policy", json={"objective": "uplift", "relevance_threshold": 0.0}, headers=auth(key))
    body = {"attributes": {"age": 30}, "consent": {"email": True}}
    assert client.put("/v1/customers/c-30", json=body, headers=auth(key)).status_code == 200
    expected = float(model.uplift.score([{"age": 30}], Signature.of("email", "sales", ["a"]))[0])
    assert expected == pytest.approx(0.012215, abs=1e-6)
    got = client.post(
        "/v1/decisions",
        json={"customer_id": "c-30", "message": message("m1", ["a"]), "dry_run": True},
        headers=auth(key),
    ).json()
    assert got["uplift"] == pytest.approx(expected, abs=1e-6), got
