"""GET /v1/deferred over HTTP: due deferrals page by page; lapsed ones counted on /metrics."""

from datetime import UTC, datetime, timedelta

from suppressor.decisions.decide import Decider
from suppressor.policy import document as policies
from suppressor.tenants.state import TenantStateCache
from tests.factories import NOW, auth, message, quiet_policy, req


def ask(client, key, mid):
    body = {"customer_id": "c-1", "message": message(mid, ["service:tires"], "email", "service")}
    return client.post("/v1/decisions", json=body, headers=auth(key)).json()


def test_due_deferrals_page_by_page_and_a_lapsed_one_is_counted(client, key, store):
    policies.put(store, "acme", quiet_policy(min_gap="12h"), "test")
    assert ask(client, key, "m-0")["action"] == "send"
    deferred = [ask(client, key, f"m-{i}") for i in (1, 2, 3)]
    assert {d["action"] for d in deferred} == {"defer"}
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert client.get("/v1/deferred", params={"due_before": soon}, headers=auth(key)).json()["deferred"] == []
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    first = client.get("/v1/deferred", params={"due_before": later, "limit": 2}, headers=auth(key)).json()
    assert [d["message_id"] for d in first["deferred"]] == ["m-1", "m-2"] and first["next_cursor"]
    assert first["deferred"][0]["decision_id"] == deferred[0]["decision_id"]
    rest = client.get(
        "/v1/deferred", params={"due_before": later, "cursor": first["next_cursor"]}, headers=auth(key)
    ).json()
    assert [d["message_id"] for d in rest["deferred"]] == ["m-3"] and rest["next_cursor"] is None
    # asked again with the request it lists, a due deferral is decided anew (here: deferred again)
    again = client.post("/v1/decisions", json=rest["deferred"][0]["request"], headers=auth(key)).json()
    assert again["decision_id"] == deferred[2]["decision_id"]  # not due yet: the standing verdict
    # a deferral from long ago nobody asked about again lapses: gone from the list, counted
    old = Decider(store, TenantStateCache(store, 0.0), None)
    old.decide("acme", [req("c-2", kind="value")], now=NOW - timedelta(hours=1))
    assert old.decide("acme", [req("c-2", kind="value", mid="m-old")], now=NOW)[0].action == "defer"
    listed = client.get("/v1/deferred", params={"due_before": later}, headers=auth(key)).json()["deferred"]
    assert "m-old" not in [d["message_id"] for d in listed]
    assert "suppressor_deferred_lapsed_total 1.0" in client.get("/metrics").text


def test_bad_parameters_are_refused_by_name(client, key):
    for params, field in (
        ({"due_before": "2026-12-01T10:00:00"}, "due_before"),
        ({"cursor": "x"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"due": "2026-12-01T10:00:00Z"}, "due"),
    ):
        r = client.get("/v1/deferred", params=params, headers=auth(key))
        assert r.status_code == 422 and field in r.text, (params, r.text)


def test_a_tenant_sees_only_its_own_deferrals_with_the_same_ids(client, key, other_key, store):
    for tenant in ("acme", "globex"):
        policies.put(store, tenant, quiet_policy(min_gap="12h"), "test")
    for k in (key, other_key):  # the same customer and message ids in both tenants
        assert ask(client, k, "m-0")["action"] == "send"
    assert ask(client, key, "m-1")["action"] == "defer"
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    mine = client.get("/v1/deferred", params={"due_before": later}, headers=auth(key)).json()["deferred"]
    theirs = client.get("/v1/deferred", params={"due_before": later}, headers=auth(other_key)).json()["deferred"]
    assert [d["message_id"] for d in mine] == ["m-1"] and theirs == []
