"""A decision record made from a standing verdict (its log copy lost with the process) says what the verdict
says: the uplift and the value too."""

from suppressor.decisions.log import recent
from suppressor.model import exported as models
from suppressor.policy import document as policies
from tests.factories import one, req, tiny_uplift_model


def test_a_recovered_record_keeps_the_uplift_and_value_of_its_verdict(store, decider):
    """``decider`` logs nothing: its records are lost, as a process killed before its log wrote loses them."""
    models.save(store, "acme", tiny_uplift_model("v1"))
    models.activate(store, "acme", "v1")
    policies.put(
        store, "acme", policies.Policy(objective="value", relevance_threshold=0.0, unsubscribe_cost=1.0), "test"
    )
    lost = one(decider, req("c-1", topics=("a",)))
    assert lost.uplift == 0.012 and lost.value == 0.592  # 1.2 points x 50 per outcome - 0.8% x 1
    [made] = recent(store, "acme", customer_id="c-1")
    assert made["recovered"] is True and made["decision_id"] == lost.decision_id
    assert (made.get("uplift"), made.get("value")) == (lost.uplift, lost.value), made
