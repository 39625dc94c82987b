"""GET/PUT /v1/policy: versioned, validated, applied to the next decision."""

from urllib.parse import quote

from tests.factories import auth


def test_defaults_then_versions(client, key):
    got = client.get("/v1/policy", headers=auth(key)).json()
    assert got["version"] == 0 and got["relevance_threshold"] == 0.05 and got["failure_mode"] == "defer"
    v1 = client.put("/v1/policy", json={"relevance_threshold": 0.2}, headers=auth(key)).json()
    v2 = client.put("/v1/policy", json={"relevance_threshold": 0.3}, headers=auth(key)).json()
    assert (v1["version"], v2["version"]) == (1, 2)
    hist = client.get("/v1/policy/history", headers=auth(key)).json()["versions"]
    assert [h["version"] for h in hist] == [2, 1] and hist[1]["doc"]["relevance_threshold"] == 0.2


def test_invalid_policy_is_rejected_and_the_old_one_stays(client, key):
    client.put("/v1/policy", json={"relevance_threshold": 0.2}, headers=auth(key))
    r = client.put("/v1/policy", json={"relevance_threshold": 1.5}, headers=auth(key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "relevance_threshold"
    r = client.put("/v1/policy", json={"failure_mode": "panic"}, headers=auth(key))
    assert r.json()["errors"][0]["field"] == "failure_mode"
    got = client.get("/v1/policy", headers=auth(key)).json()
    assert got["version"] == 1 and got["relevance_threshold"] == 0.2


def test_decisions_report_the_policy_version(client, key):
    client.put("/v1/policy", json={"relevance_threshold": 0.2}, headers=auth(key))
    d = client.post(
        "/v1/decisions",
        headers=auth(key),
        json={"customer_id": "c", "message": {"message_id": "m", "channel": "email", "kind": "value"}},
    ).json()
    assert d["policy_version"] == 1


def test_policies_are_per_tenant(client, key, other_key):
    client.put("/v1/policy", json={"relevance_threshold": 0.2}, headers=auth(key))
    assert client.get("/v1/policy", headers=auth(other_key)).json()["version"] == 0


def test_nested_policy_errors_name_the_field(client, key):
    r = client.put(
        "/v1/policy", json={"caps": [{"channel": "email", "max": 3, "window": "7 fortnights"}]}, headers=auth(key)
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "caps[0].window"
    r = client.put("/v1/policy", json={"quiet_hours": {"start": "25:00"}}, headers=auth(key))
    assert r.json()["errors"][0]["field"] == "quiet_hours.start"
    assert client.get("/v1/policy", headers=auth(key)).json()["version"] == 0


def test_durations_read_back_as_text(client, key):
    client.put(
        "/v1/policy",
        json={"caps": [{"channel": "email", "max": 3, "window": 604800}], "min_gap": "12h"},
        headers=auth(key),
    )
    got = client.get("/v1/policy", headers=auth(key)).json()
    assert got["caps"] == [{"channel": "email", "kind": None, "max": 3, "window": "7d", "reserve": None}]
    assert got["min_gap"] == "12h" and got["balance"]["window"] == "30d"


def test_campaign_override_merges_and_versions(client, key):
    r = client.put(
        "/v1/campaigns/blitz/policy",
        json={"relevance_threshold": 0.3, "quiet_hours": {"start": "20:00"}},
        headers=auth(key),
    )
    assert r.status_code == 200
    body = r.json()
    assert body["version"] == 1 and body["override"]["relevance_threshold"] == 0.3
    assert body["effective"]["quiet_hours"] == {"enabled": True, "start": "20:00", "end": "08:00", "channels": None}
    assert client.get("/v1/policy", headers=auth(key)).json()["campaigns"] == {"blitz": body["override"]}
    r = client.put("/v1/campaigns/blitz/policy", json={"relevance_threshold": 7}, headers=auth(key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "relevance_threshold"
    r = client.put("/v1/campaigns/blitz/policy", json={"no_such_knob": 1}, headers=auth(key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "no_such_knob"
    assert client.get("/v1/campaigns/blitz/policy", headers=auth(key)).json()["override"]["relevance_threshold"] == 0.3
    assert client.delete("/v1/campaigns/blitz/policy", headers=auth(key)).status_code == 204
    assert client.get("/v1/campaigns/blitz/policy", headers=auth(key)).json()["override"] is None
    assert client.delete("/v1/campaigns/blitz/policy", headers=auth(key)).status_code == 404
    assert client.get("/v1/policy", headers=auth(key)).json()["version"] == 2


def test_patch_changes_one_knob_and_keeps_the_rest(client, key):
    client.put(
        "/v1/policy",
        json={"caps": [{"channel": "email", "max": 2, "window": "7d"}], "min_gap": "12h"},
        headers=auth(key),
    )
    r = client.patch(
        "/v1/policy", json={"relevance_threshold": 0.1, "quiet_hours": {"start": "22:00"}}, headers=auth(key)
    )
    assert r.status_code == 200
    got = r.json()
    assert got["version"] == 2 and got["relevance_threshold"] == 0.1
    assert (
        got["caps"] == [{"channel": "email", "kind": None, "max": 2, "window": "7d", "reserve": None}]
        and got["min_gap"] == "12h"
    )
    assert got["quiet_hours"]["start"] == "22:00" and got["quiet_hours"]["end"] == "08:00"
    r = client.patch("/v1/policy", json={"balance": {"max_sales_share": 2}}, headers=auth(key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "balance.max_sales_share"
    assert client.get("/v1/policy", headers=auth(key)).json()["version"] == 2


def test_a_hostile_campaign_id_cannot_break_or_forge_the_history(client, key):
    forged = 'x","at":"1999-01-01T00:00:00Z","field":"doc'
    for cid in ['o"neil', forged]:
        r = client.put(
            f"/v1/campaigns/{quote(cid, safe='')}/policy", json={"relevance_threshold": 0.2}, headers=auth(key)
        )
        assert r.status_code == 200, r.text
    history = client.get("/v1/policy/history", headers=auth(key))
    assert history.status_code == 200
    entries = history.json()["versions"]
    assert {e["field"] for e in entries} >= {'campaign:o"neil', f"campaign:{forged}"}
    assert not any(e["at"].startswith("1999") for e in entries)
    assert client.get("/v1/holdout?bucket_days=5e-324", headers=auth(key)).status_code == 422
