"""GET/PUT /v1/policy: versioned, validated, applied to the next decision."""

from tests.conftest import auth


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
    d = client.post("/v1/decisions", headers=auth(key), json={
        "customer_id": "c", "message": {"message_id": "m", "channel": "email", "kind": "value"}}).json()
    assert d["policy_version"] == 1


def test_policies_are_per_tenant(client, key, other_key):
    client.put("/v1/policy", json={"relevance_threshold": 0.2}, headers=auth(key))
    assert client.get("/v1/policy", headers=auth(other_key)).json()["version"] == 0
