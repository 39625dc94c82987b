"""The trade-off curve of another objective's threshold than the policy's: the threshold only weighs under its
own objective, so the sweep says so or sweeps under that objective, never a flat curve that looks like an answer."""

from suppressor.model import exported as models
from tests.factories import auth, message, tiny_uplift_model


def test_sweeping_the_uplift_threshold_under_the_engagement_objective_is_not_a_flat_answer(client, key, store):
    """30 logged e-mails, half adding 1.2 points (topic a) and half 10.1 (topic b), all sent by engagement:
    an uplift threshold of 0.05 would keep the half that adds 10.1 points."""
    models.save(store, "acme", tiny_uplift_model("v1", topic_b=4.0))
    models.activate(store, "acme", "v1")
    h = auth(key)
    client.put("/v1/policy", json={"objective": "engagement", "relevance_threshold": 0.0}, headers=h)
    for i in range(30):
        body = {"customer_id": f"c{i}", "message": message(f"m{i}", ["a"] if i % 2 else ["b"])}
        assert client.post("/v1/decisions", json=body, headers=h).json()["action"] == "send"
    got = client.post("/v1/policy:tradeoff", json={"param": "uplift_threshold", "values": [0.0, 0.05, 0.5]}, headers=h)
    if got.status_code == 422:  # refused, naming what the threshold needs
        assert "objective" in got.text and "uplift_threshold" in got.text, got.text
        return
    assert got.status_code == 200, got.text
    sends = [p["sends"] for p in got.json()["points"]]
    assert sends == [30, 15, 0], sends


def test_the_default_sweep_just_after_switching_to_value_spans_the_values(client, key, store):
    """The same 30 e-mails logged under engagement; the policy then decides by value (m-a's kind worth 0.59,
    m-b's 5.05). The curve's default points are the deciles of the value: more than the one point at 0."""
    models.save(store, "acme", tiny_uplift_model("v1", topic_b=4.0))
    models.activate(store, "acme", "v1")
    h = auth(key)
    client.put("/v1/policy", json={"objective": "engagement", "relevance_threshold": 0.0}, headers=h)
    for i in range(30):
        body = {"customer_id": f"c{i}", "message": message(f"m{i}", ["a"] if i % 2 else ["b"])}
        assert client.post("/v1/decisions", json=body, headers=h).status_code == 200
    policy = {"objective": "value", "relevance_threshold": 0.0, "unsubscribe_cost": 1}
    assert client.put("/v1/policy", json=policy, headers=h).status_code == 200
    curve = client.post("/v1/policy:tradeoff", json={}, headers=h).json()
    assert curve["param"] == "value_threshold"
    values = [p["value"] for p in curve["points"]]
    assert len(values) > 2 and max(values) > 1.0, values
