"""PUT/GET/DELETE /v1/content/{content_id}."""

from tests.factories import auth

CLINIC = {
    "title": "Winter safety clinic",
    "topics": ["content:safety-clinic"],
    "channels": ["email", "sms"],
    "valid_until": "2030-01-01T00:00:00Z",
}


def test_content_crud(client, key, other_key):
    r = client.put("/v1/content/clinic", json=CLINIC, headers=auth(key))
    assert r.status_code == 200 and r.json()["kind"] == "value"
    assert client.get("/v1/content/clinic", headers=auth(key)).json()["title"] == CLINIC["title"]
    assert [c["content_id"] for c in client.get("/v1/content", headers=auth(key)).json()["content"]] == ["clinic"]
    assert client.get("/v1/content/clinic", headers=auth(other_key)).status_code == 404
    assert client.delete("/v1/content/clinic", headers=auth(key)).status_code == 204
    assert client.get("/v1/content/clinic", headers=auth(key)).status_code == 404


def test_sales_content_cannot_be_a_substitute(client, key):
    r = client.put("/v1/content/x", json={**CLINIC, "kind": "sales"}, headers=auth(key))
    assert r.status_code == 422 and "value" in r.json()["detail"]
    r = client.put("/v1/content/x", json={**CLINIC, "valid_from": "2031-01-01T00:00:00Z"}, headers=auth(key))
    assert r.status_code == 422
    assert client.get("/v1/content", headers=auth(key)).json()["content"] == []


def test_substitute_over_http(client, key):
    client.put("/v1/policy", json={"quiet_hours": {"enabled": False}}, headers=auth(key))
    client.put("/v1/content/clinic", json=CLINIC, headers=auth(key))

    def body(mid):
        return {"customer_id": "c-1", "message": {"message_id": mid, "channel": "email", "kind": "sales"}}

    assert client.post("/v1/decisions", json=body("m-1"), headers=auth(key)).json()["action"] == "send"
    d = client.post("/v1/decisions", json=body("m-2"), headers=auth(key)).json()
    assert d["action"] == "suppress" and d["reasons"][-1]["code"] == "sales_balance"
    assert d["substitute"]["content_id"] == "clinic" and d["substitute"]["channel"] == "email"


def test_an_audience_travels_and_a_bad_one_names_its_field(client, key):
    ev_night = {**CLINIC, "title": "EV owners' night", "audience": {"segments": ["EV"], "max_vehicle_age": 5}}
    r = client.put("/v1/content/ev-night", json=ev_night, headers=auth(key))
    assert r.status_code == 200 and r.json()["audience"]["segments"] == ["ev"]
    r = client.put("/v1/content/x", json={**CLINIC, "audience": {"min_vehicle_age": -2}}, headers=auth(key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "audience.min_vehicle_age"
    r = client.put("/v1/content/x", json={**CLINIC, "audience": {"segment": ["ev"]}}, headers=auth(key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "audience.segment"
    assert [c["content_id"] for c in client.get("/v1/content", headers=auth(key)).json()["content"]] == ["ev-night"]
