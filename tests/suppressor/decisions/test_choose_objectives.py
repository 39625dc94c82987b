"""A choice ranks its candidates by the objective their verdicts were decided by, also when a lead stage or a
campaign override sets that objective (the tenant policy's being engagement)."""

import pytest

from suppressor.model import exported as models
from tests.factories import auth, message, tiny_uplift_model


@pytest.fixture
def two_messages(store):
    """m-a is likelier to be answered (score 0.73 against 0.5); m-b adds more (uplift 10.1 points against 1.2)."""
    model = tiny_uplift_model("v1", topic_b=4.0)
    model.item_bias[1] = 2.0
    models.save(store, "acme", model)
    models.activate(store, "acme", "v1")


def choose(client, key, cid: str, **extra) -> dict:
    cands = [{**message(m, [m[-1]]), **extra} for m in ("m-a", "m-b")]
    got = client.post(
        "/v1/decisions:choose", json={"customer_id": cid, "candidates": cands, "dry_run": True}, headers=auth(key)
    )
    assert got.status_code == 200, got.text
    return got.json()


def test_a_lead_stage_deciding_by_uplift_chooses_by_uplift(two_messages, client, key):
    policy = {"relevance_threshold": 0.0, "stages": {"hot": {"objective": "uplift"}}}
    assert client.put("/v1/policy", json=policy, headers=auth(key)).status_code == 200
    body = {"attributes": {"lead_stage": "hot"}, "consent": {"email": True}}
    assert client.put("/v1/customers/c-hot", json=body, headers=auth(key)).status_code == 200
    out = choose(client, key, "c-hot")
    got = {d["message_id"]: d for d in out["results"]}
    assert any(r["code"] == "adds" for r in got["m-b"]["reasons"])  # decided by what it adds
    assert out["chosen"] == ["m-b"], out
    said = got["m-a"]["reasons"][-1]["message"]
    assert "x uplift" in said, said


def test_a_campaign_deciding_by_uplift_chooses_by_uplift(two_messages, client, key):
    assert client.put("/v1/policy", json={"relevance_threshold": 0.0}, headers=auth(key)).status_code == 200
    assert client.put("/v1/campaigns/spring/policy", json={"objective": "uplift"}, headers=auth(key)).status_code == 200
    out = choose(client, key, "c-1", campaign_id="spring")
    got = {d["message_id"]: d for d in out["results"]}
    assert any(r["code"] == "adds" for r in got["m-b"]["reasons"])
    assert out["chosen"] == ["m-b"], out


def test_a_receipt_is_never_outranked_by_a_sales_message_that_adds_more(two_messages, client, key):
    """A transactional receipt (priority 100, exempt from relevance) against m-b, a sales message adding 10.1
    points (priority 30 x 0.101 = 3.0, the receipt's 100 x 0.012 = 1.2): by engagement the receipt goes out;
    by uplift it must too, since what it adds was never what it is sent for."""
    client.put("/v1/policy", json={"objective": "uplift", "relevance_threshold": 0.0}, headers=auth(key))
    cands = [message("receipt", ["a"], kind="transactional"), message("m-b", ["b"])]
    out = client.post(
        "/v1/decisions:choose", json={"customer_id": "c-1", "candidates": cands, "dry_run": True}, headers=auth(key)
    ).json()
    assert out["chosen"] == ["receipt"], out


def test_a_receipt_among_the_candidates_leaves_the_others_ranked_by_value(two_messages, client, key):
    """Under ``value`` a receipt has no value (relevance never weighs it); the sales messages still rank by theirs:
    m-b is worth 5.05, m-a 0.59, so with room for two the receipt and m-b go out."""
    client.put(
        "/v1/policy", json={"objective": "value", "relevance_threshold": 0.0, "unsubscribe_cost": 1}, headers=auth(key)
    )
    cands = [message("receipt", ["a"], kind="transactional"), message("m-a", ["a"]), message("m-b", ["b"])]
    body = {"customer_id": "c-1", "candidates": cands, "pick": 2, "dry_run": True}
    out = client.post("/v1/decisions:choose", json=body, headers=auth(key)).json()
    got = {d["message_id"]: d for d in out["results"]}
    assert got["m-b"]["value"] > got["m-a"]["value"] + 4
    assert sorted(out["chosen"]) == ["m-b", "receipt"], out
