"""The dealership's complaint, over HTTP: a household gets one trade-in mailer, and one loan rate."""

from tests.factories import auth


def test_one_mailer_and_one_rate_per_household(client, key):
    h = auth(key)
    client.put("/v1/policy", headers=h, json={"household": {"caps": [
        {"channel": "direct_mail", "max": 1, "window": "30d", "per_offer": True}]}, "quiet_hours": {"enabled": False},
        "balance": {"enabled": False}})
    for cid, vin in (("ann", "1FTFW1E50JFA00001"), ("bob", None)):
        r = client.put(f"/v1/customers/{cid}", headers=h, json={
            "household_id": "smith-42 Elm St", "consent": {"email": True, "direct_mail": True},
            "vehicles": [{"vin": vin, "year": 2013, "make": "chevrolet", "model": "Express", "segment": "van"}] if vin else []})
        assert r.status_code == 200, r.text
    got = client.get("/v1/customers/ann", headers=h).json()
    assert got["household_id"] == "smith-42 Elm St" and got["vehicles"][0]["make"] == "chevrolet"

    def ask(cid, mid, channel, offer):
        body = {"customer_id": cid, "message": {"message_id": mid, "channel": channel, "kind": "sales",
                                                 "topics": ["offer:trade-in"], "offer": offer}}
        return client.post("/v1/decisions", headers=h, json=body).json()

    trade_in = {"key": "trade-in", "terms": {"trade_in_bonus": 1500}}
    assert ask("ann", "mailer-1", "direct_mail", trade_in)["action"] == "send"
    second = ask("bob", "mailer-1", "direct_mail", trade_in)
    assert second["action"] == "suppress" and second["reasons"][-1]["code"] == "household"

    assert ask("ann", "loan-mail", "direct_mail", {"key": "auto-loan", "terms": {"apr": 2.9}})["action"] == "send"
    other_rate = ask("bob", "loan-email", "email", {"key": "auto-loan", "terms": {"apr": 3.9}})
    assert other_rate["action"] == "suppress"
    assert "holds a auto-loan offer (apr 2.9, sent on direct_mail" in other_rate["reasons"][-1]["message"]
    # asked again (platforms retry): the same refusal, nothing counted twice
    again = ask("bob", "loan-email", "email", {"key": "auto-loan", "terms": {"apr": 3.9}})
    assert again["replayed"] and again["decision_id"] == other_rate["decision_id"]
