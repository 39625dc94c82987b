"""POST /v1/policy:simulate, POST /v1/policy:tradeoff, GET /v1/holdout, GET /studio."""

from tests.factories import auth


def test_simulate_changes_against_the_current_policy(client, governed):
    r = client.post(
        "/v1/policy:simulate",
        headers=auth(governed.key),
        json={"changes": {"relevance_threshold": 0.15}, "examples": 3},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["agreement_with_log_pct"] == 100.0
    assert body["candidate"]["policy"]["relevance_threshold"] == 0.15
    assert body["change"]["sends_pct"] < 100 and len(body["examples"]) == 3
    assert body["current"]["policy_version"] == 1


def test_simulate_a_whole_policy_and_nothing_is_saved(client, governed):
    r = client.post(
        "/v1/policy:simulate",
        headers=auth(governed.key),
        json={"policy": {"relevance_threshold": 0.0, "holdout_fraction": 0.1}},
    )
    assert r.status_code == 200 and r.json()["change"]["sends_pct"] > 100
    assert client.get("/v1/policy", headers=auth(governed.key)).json()["version"] == 1


def test_simulate_bad_input_names_the_field(client, governed):
    h = auth(governed.key)
    r = client.post("/v1/policy:simulate", headers=h, json={"changes": {"relevance_threshold": 3}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "changes.relevance_threshold"
    r = client.post("/v1/policy:simulate", headers=h, json={"changes": {}, "policy": {}})
    assert r.status_code == 422 and "either policy or changes" in r.json()["detail"]
    r = client.post("/v1/policy:simulate", headers=h, json={"since": "last tuesday"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "since"
    r = client.post("/v1/policy:simulate", headers=h, json={"max_decisions": 0})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "max_decisions"


def test_simulate_window_and_tenant_isolation(client, governed, other_key):
    r = client.post("/v1/policy:simulate", headers=auth(governed.key), json={"since": "5d"})
    assert 0 < r.json()["decisions"] < governed.campaigns["decisions"]
    r = client.post("/v1/policy:simulate", headers=auth(other_key), json={})
    assert r.status_code == 200 and r.json()["decisions"] == 0
    assert client.post("/v1/policy:simulate", json={}).status_code == 401


def test_tradeoff_curve_and_its_cache(client, governed):
    h = auth(governed.key)
    r = client.post("/v1/policy:tradeoff", headers=h, json={"values": [0.0, 0.05, 0.2]})
    assert r.status_code == 200, r.text
    curve = r.json()
    assert [p["current"] for p in curve["points"]] == [False, True, False]
    assert curve["points"][0]["sends"] > curve["points"][2]["sends"]
    assert client.post("/v1/policy:tradeoff", headers=h, json={"values": [0.0, 0.05, 0.2]}).json() == curve
    # a new policy version is a new question
    client.patch("/v1/policy", headers=h, json={"relevance_threshold": 0.2})
    again = client.post("/v1/policy:tradeoff", headers=h, json={"values": [0.0, 0.05, 0.2]}).json()
    assert [p["current"] for p in again["points"]] == [False, False, True]


def test_tradeoff_bad_input(client, governed):
    h = auth(governed.key)
    r = client.post("/v1/policy:tradeoff", headers=h, json={"values": [0.1, 1.5]})
    assert r.status_code == 422 and "between 0 and 1" in r.json()["detail"]
    r = client.post("/v1/policy:tradeoff", headers=h, json={"param": "min_gap"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "param"


def test_holdout_lift_endpoint(client, governed):
    r = client.get("/v1/holdout?bucket_days=7", headers=auth(governed.key))
    assert r.status_code == 200
    body = r.json()
    assert body["overall"]["holdout"]["customers"] > 0 and len(body["buckets"]) == 2
    r = client.get("/v1/holdout?since=yesterday", headers=auth(governed.key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "since"


def test_studio_page_is_served_without_tenant_data(client):
    r = client.get("/studio")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'id="api-key"' in r.text and '<script src="/studio/studio.js">' in r.text
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp  # no inline script
    js = client.get("/studio/studio.js")
    assert js.status_code == 200 and "/v1/policy:tradeoff" in js.text
    assert js.headers["content-type"].startswith("text/javascript")
