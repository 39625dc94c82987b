"""The randomized control through the API: a share of would-be sends withheld with its probability
logged, outcomes after them measured per campaign, and every decision carrying its uplift (null)."""

from datetime import UTC, datetime, timedelta

from tests.factories import auth


def test_control_share_withholds_that_share_and_the_report_compares_the_arms(client, key):
    h = auth(key)
    assert (
        client.patch(
            "/v1/policy",
            json={"incrementality": {"control_share": 0.5}, "caps": [], "quiet_hours": {"enabled": False}},
            headers=h,
        ).status_code
        == 200
    )
    items = [
        {
            "customer_id": f"c-{i}",
            "message": {
                "message_id": f"fall-{i}",
                "campaign_id": "fall",
                "channel": "email",
                "kind": "value",
                "topics": ["content:clinic"],
            },
        }
        for i in range(600)
    ]
    for i in range(600):
        client.put(f"/v1/customers/c-{i}", json={"consent": {"email": True}}, headers=h)
    results = client.post("/v1/decisions:batch", json={"items": items}, headers=h).json()["results"]
    held = [r for r in results if any(x["code"] == "control" for x in r["reasons"])]
    assert 240 <= len(held) <= 360  # 600 draws at 0.5: 4.9 standard deviations either side
    assert all(r["action"] == "suppress" and "50% of would-be sends" in r["reasons"][-1]["message"] for r in held)
    assert all(r["uplift"] is None for r in results)
    # asked again, a withheld message stays withheld (the draw is the message's, not the call's)
    again = client.post("/v1/decisions", json=items[int(held[0]["customer_id"][2:])], headers=h).json()
    assert again["action"] == "suppress" and again["replayed"]
    # everyone who got the clinic invitation comes in; nobody else does (naming no message)
    soon = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    came = [
        {"event_id": f"v-{r['customer_id']}", "customer_id": r["customer_id"], "type": "attended", "ts": soon}
        for r in results
        if r["action"] == "send"
    ]
    assert client.post("/v1/events", json={"events": came}, headers=h).json()["accepted"] == len(came)
    report = client.get("/v1/incrementality", headers=h).json()
    [fall] = [c for c in report["campaigns"] if c["campaign_id"] == "fall"]
    assert fall["withheld"]["exposures"] == len(held) and fall["delivered"]["exposures"] == 600 - len(held)
    assert fall["delivered"]["rate"] == 1.0 and fall["withheld"]["rate"] == 0.0
    assert fall["difference"]["low"] > 0.9 and report["control_share"] == 0.5 and report["window"] == "14d"


def test_the_window_is_checked_in_words(client, key):
    r = client.get("/v1/incrementality", params={"window": "200d"}, headers=auth(key))
    assert r.status_code == 422 and "90 days" in r.text


def test_a_tenant_measures_only_its_own_campaigns(client, key, other_key):
    for k in (key, other_key):
        assert (
            client.patch(
                "/v1/policy",
                json={"incrementality": {"control_share": 0.5}, "caps": [], "quiet_hours": {"enabled": False}},
                headers=auth(k),
            ).status_code
            == 200
        )
    items = [
        {
            "customer_id": f"c-{i}",
            "message": {
                "message_id": f"m-{i}",
                "campaign_id": "fall",
                "channel": "email",
                "kind": "value",
                "topics": ["content:clinic"],
            },
        }
        for i in range(40)
    ]
    for i in range(40):
        client.put(f"/v1/customers/c-{i}", json={"consent": {"email": True}}, headers=auth(key))
    client.post("/v1/decisions:batch", json={"items": items}, headers=auth(key))
    mine = client.get("/v1/incrementality", headers=auth(key)).json()
    theirs = client.get("/v1/incrementality", headers=auth(other_key)).json()
    [fall] = mine["campaigns"]
    assert fall["delivered"]["exposures"] + fall["withheld"]["exposures"] == 40
    assert theirs["campaigns"] == [] and theirs["customers"] == 0
