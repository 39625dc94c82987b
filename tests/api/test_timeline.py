"""The agent's view: what a customer (and their household) was offered, told and did."""

from urllib.parse import quote

from tests.factories import auth, iso


def setup_household(client, h):
    client.put("/v1/policy", headers=h, json={"quiet_hours": {"enabled": False}, "balance": {"enabled": False}})
    for cid in ("ann", "bob/2 x"):
        client.put(
            f"/v1/customers/{quote(cid, safe='')}",
            headers=h,
            json={"household_id": "hh-1", "consent": {"email": True, "direct_mail": True}},
        )


def ask(client, h, cid, mid, channel, apr, campaign="loans"):
    body = {
        "customer_id": cid,
        "message": {
            "message_id": mid,
            "campaign_id": campaign,
            "channel": channel,
            "kind": "sales",
            "topics": ["offer:auto-loan"],
            "offer": {"key": "auto-loan", "terms": {"apr": apr}},
        },
    }
    return client.post("/v1/decisions", headers=h, json=body).json()


def test_the_agent_sees_the_households_offer_and_why_the_other_was_refused(client, key):
    h = auth(key)
    setup_household(client, h)
    assert ask(client, h, "ann", "loan-mail", "direct_mail", 2.9)["action"] == "send"
    refused = ask(client, h, "bob/2 x", "loan-email", "email", 3.9)
    assert refused["action"] == "suppress"
    client.post(
        "/v1/events",
        headers=h,
        json={
            "events": [
                {"event_id": "o-1", "customer_id": "bob/2 x", "type": "opened", "ts": iso(0), "channel": "email"}
            ]
        },
    )

    bob = quote("bob/2 x", safe="")
    view = client.get(f"/v1/timeline/{bob}", headers=h).json()
    [offer] = view["offers"]
    assert offer["key"] == "auto-loan" and offer["terms"] == {"apr": 2.9} and offer["channel"] == "direct_mail"
    assert offer["held_by"] == "ann" and offer["household_id"] == "hh-1"
    kinds = [i["type"] for i in view["items"]]
    assert sorted(kinds) == ["decision", "event"]
    [decision] = [i for i in view["items"] if i["type"] == "decision"]
    assert decision["decision_id"] == refused["decision_id"] and decision["offer"]["terms"] == {"apr": 3.9}
    assert "holds a auto-loan offer (apr 2.9" in decision["reasons"][-1]["message"]

    first = client.get(f"/v1/timeline/{bob}?limit=1", headers=h).json()
    assert len(first["items"]) == 1 and first["next_before"]
    rest = client.get(f"/v1/timeline/{bob}", headers=h, params={"limit": 1, "before": first["next_before"]}).json()
    assert [i["type"] for i in first["items"] + rest["items"]] == kinds

    # the profile shows the standing offers too
    assert client.get(f"/v1/customers/{bob}", headers=h).json()["offers"][0]["held_by"] == "ann"
    assert client.get("/v1/timeline/nobody", headers=h).status_code == 404


def test_the_decision_log_filters_by_customer_and_campaign_and_refuses_unknown_filters(client, key, other_key):
    h = auth(key)
    setup_household(client, h)
    ask(client, h, "ann", "m-1", "email", 2.9, campaign="loans")
    ask(client, h, "ann", "m-2", "email", 2.9, campaign="other")
    ask(client, h, "bob/2 x", "m-3", "email", 2.9, campaign="loans")

    def ids(**params):
        r = client.get("/v1/decisions", headers=h, params=params)
        assert r.status_code == 200, r.text
        return [d["message_id"] for d in r.json()["decisions"]]

    assert ids(customer_id="ann") == ["m-2", "m-1"]
    assert ids(campaign_id="loans") == ["m-3", "m-1"]
    assert ids(customer_id="ann", campaign_id="loans") == ["m-1"]
    r = client.get("/v1/decisions", headers=h, params={"customer": "ann"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "customer"
    # another tenant's view of the same customer id is empty
    assert client.get("/v1/decisions", headers=auth(other_key), params={"customer_id": "ann"}).json()["decisions"] == []
