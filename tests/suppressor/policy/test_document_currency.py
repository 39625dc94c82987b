"""The currency is the tenant's: the revenue an outcome brings is measured in it at training, so no campaign
says a value in another."""

from suppressor.model import exported as models
from tests.factories import auth, message, tiny_uplift_model


def test_a_campaign_cannot_say_the_tenant_measured_value_in_another_currency(client, key, store):
    """The model measured 50 USD per outcome and 120 USD per customer (the tenant's currency). A campaign override
    naming EUR would relabel those amounts as euros, unconverted: refused, or the value still said in USD."""
    models.save(store, "acme", tiny_uplift_model("v1"))
    models.activate(store, "acme", "v1")
    client.put("/v1/policy", json={"objective": "value", "relevance_threshold": 0.0}, headers=auth(key))
    put = client.put("/v1/campaigns/eu/policy", json={"currency": "EUR"}, headers=auth(key))
    if put.status_code == 422:
        assert "currency" in put.text
        return
    body = {"customer_id": "c1", "message": {**message("m1", ["a"]), "campaign_id": "eu"}, "dry_run": True}
    d = client.post("/v1/decisions", json=body, headers=auth(key)).json()
    said = next(r["message"] for r in d["reasons"] if r["code"] in ("worth", "not_worth"))
    assert "50.00 USD per outcome" in said, said
