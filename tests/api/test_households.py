"""The dealership's complaint, over HTTP: a household gets one trade-in mailer, and one loan rate."""

import time

from tests.factories import auth, iso


def test_one_mailer_and_one_rate_per_household(client, key):
    h = auth(key)
    client.put(
        "/v1/policy",
        headers=h,
        json={
            "household": {"caps": [{"channel": "direct_mail", "max": 1, "window": "30d", "per_offer": True}]},
            "quiet_hours": {"enabled": False},
            "balance": {"enabled": False},
        },
    )
    for cid, vin in (("ann", "1FTFW1E50JFA00001"), ("bob", None)):
        r = client.put(
            f"/v1/customers/{cid}",
            headers=h,
            json={
                "household_id": "smith-42 Elm St",
                "consent": {"email": True, "direct_mail": True},
                "vehicles": [{"vin": vin, "year": 2013, "make": "chevrolet", "model": "Express", "segment": "van"}]
                if vin
                else [],
            },
        )
        assert r.status_code == 200, r.text
    got = client.get("/v1/customers/ann", headers=h).json()
    assert got["household_id"] == "smith-42 Elm St" and got["vehicles"][0]["make"] == "chevrolet"

    def ask(cid, mid, channel, offer):
        body = {
            "customer_id": cid,
            "message": {
                "message_id": mid,
                "channel": channel,
                "kind": "sales",
                "topics": ["offer:trade-in"],
                "offer": offer,
            },
        }
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


def test_the_dual_track_complaint_end_to_end(client, key):
    """The complaint this product was born from: a direct-mail 3.9% loan offer to Ann, an e-mailed
    2.9% offer to her husband Bob, and the phone agent knowing neither. Now the second offer is
    held back, the agent sees the standing offer with its terms and why Bob got nothing, and
    Ann's purchase quiets sales asks to Bob, with its amount counted as revenue."""
    h = auth(key)
    assert (
        client.patch(
            "/v1/policy", headers=h, json={"quiet_hours": {"enabled": False}, "balance": {"enabled": False}}
        ).status_code
        == 200
    )
    for cid in ("ann", "bob"):
        assert (
            client.put(
                f"/v1/customers/{cid}",
                headers=h,
                json={
                    "household_id": "hh-7",
                    "consent": {"email": True, "direct_mail": True},
                    "vehicles": [{"year": 2016, "make": "honda", "model": "Odyssey", "segment": "minivan"}],
                },
            ).status_code
            == 200
        )

    expires = iso(-200)  # within the retention (a later expiry is held to it)

    def ask(cid, mid, channel, apr):
        body = {
            "customer_id": cid,
            "message": {
                "message_id": mid,
                "campaign_id": f"loan-{channel}",
                "channel": channel,
                "kind": "sales",
                "topics": ["offer:auto-loan"],
                "offer": {"key": "auto-loan", "terms": {"apr": apr}, "expires": expires},
            },
        }
        return client.post("/v1/decisions", headers=h, json=body).json()

    mail = ask("ann", "loan-mailer", "direct_mail", 3.9)
    assert mail["action"] == "send"
    email = ask("bob", "loan-email", "email", 2.9)
    assert email["action"] == "suppress" and email["reasons"][-1]["code"] == "household"

    # the agent answering Bob's call sees Ann's standing offer and why Bob's e-mail did not go
    view = client.get("/v1/timeline/bob", headers=h).json()
    [offer] = view["offers"]
    assert offer["key"] == "auto-loan" and offer["terms"] == {"apr": 3.9} and offer["channel"] == "direct_mail"
    assert offer["held_by"] == "ann" and offer["expires"].startswith(expires[:19])
    [verdict] = [i for i in view["items"] if i["type"] == "decision"]
    assert verdict["message_id"] == "loan-email" and verdict["action"] == "suppress"
    assert "apr 3.9" in verdict["reasons"][-1]["message"]
    assert client.get("/v1/customers/bob", headers=h).json()["offers"] == view["offers"]
    assert client.get("/v1/decisions?customer_id=bob", headers=h).json()["decisions"][0]["message_id"] == "loan-email"

    # Ann buys, through the mailer: Bob gets no sales asks for the household's quiet period
    time.sleep(1.1)  # event times are whole seconds: the sale comes after the mailer's decision
    sale = {
        "event_id": "sale-1",
        "customer_id": "ann",
        "type": "purchased",
        "ts": iso(0),
        "message_id": "loan-mailer",
        "properties": {"amount": 31500.0, "currency": "USD"},
    }
    assert client.post("/v1/events", headers=h, json={"events": [sale]}).json()["accepted"] == 1
    after = ask("bob", "lease-email", "email", 3.5)
    assert after["action"] == "suppress" and after["reasons"][-1]["code"] == "household"
    assert "household bought 0 min ago" in after["reasons"][-1]["message"]
    lift = client.get("/v1/holdout", headers=h).json()
    assert lift["overall"]["governed"]["revenue_per_customer"]["total"] == 31500.0
