"""Customers: profile round trip, validation, erasure and tenant isolation."""

from tests.factories import auth

PROFILE = {
    "attributes": {"vehicle": "2019 RAV4", "household_size": 3, "lead_stage": "shopping"},
    "consent": {"email": True, "sms": False},
    "preferred_channel": "email",
    "timezone": "America/Chicago",
}


def test_put_then_get_round_trips(client, key):
    r = client.put("/v1/customers/c-42", json=PROFILE, headers=auth(key))
    assert r.status_code == 200
    got = client.get("/v1/customers/c-42", headers=auth(key)).json()
    for field in PROFILE:
        assert got[field] == PROFILE[field]
    assert got["interests"] == [] and got["model_version"] is None


def test_put_replaces_the_whole_profile(client, key):
    client.put("/v1/customers/c-42", json=PROFILE, headers=auth(key))
    client.put("/v1/customers/c-42", json={"consent": {"email": False}}, headers=auth(key))
    got = client.get("/v1/customers/c-42", headers=auth(key)).json()
    assert got["attributes"] == {} and got["consent"] == {"email": False} and got["timezone"] is None


def test_bad_profile_is_rejected_and_changes_nothing(client, key):
    client.put("/v1/customers/c-42", json=PROFILE, headers=auth(key))
    for body, field in (
        ({**PROFILE, "timezone": "Mars/Olympus"}, "timezone"),
        ({**PROFILE, "consent": {"email": "yes please"}}, "consent.email"),
        ({**PROFILE, "attributes": {"a": {"nested": 1}}}, "attributes.a"),
    ):
        r = client.put("/v1/customers/c-42", json=body, headers=auth(key))
        assert r.status_code == 422, body
        assert r.json()["errors"][0]["field"].startswith(field)
    assert client.get("/v1/customers/c-42", headers=auth(key)).json()["timezone"] == "America/Chicago"


def test_unknown_customer_is_404(client, key):
    r = client.get("/v1/customers/nobody", headers=auth(key))
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "customer_id"


def test_delete_erases_profile_events_and_logged_decisions(client, key, store):
    client.put("/v1/customers/c-42", json=PROFILE, headers=auth(key))
    client.post(
        "/v1/events",
        headers=auth(key),
        json={"events": [{"event_id": "e1", "customer_id": "c-42", "type": "opened", "ts": "2026-01-01T00:00:00Z"}]},
    )
    client.post(
        "/v1/decisions",
        headers=auth(key),
        json={"customer_id": "c-42", "message": {"message_id": "m", "channel": "email", "kind": "value"}},
    )
    assert len(client.get("/v1/decisions", headers=auth(key)).json()["decisions"]) == 1
    assert client.delete("/v1/customers/c-42", headers=auth(key)).status_code == 204
    assert client.get("/v1/customers/c-42", headers=auth(key)).status_code == 404
    assert client.get("/v1/decisions", headers=auth(key)).json()["decisions"] == []
    assert [k for k in store.bulk.scan_iter(match="sup:{acme:c-42}*")] == []
    assert client.delete("/v1/customers/c-42", headers=auth(key)).status_code == 404


def test_a_tenant_cannot_see_or_touch_another_tenants_customer(client, key, other_key):
    client.put("/v1/customers/c-42", json=PROFILE, headers=auth(key))
    assert client.get("/v1/customers/c-42", headers=auth(other_key)).status_code == 404
    assert client.delete("/v1/customers/c-42", headers=auth(other_key)).status_code == 404
    # the other tenant's own c-42 is a different person
    client.put("/v1/customers/c-42", json={"consent": {"email": False}}, headers=auth(other_key))
    client.put("/v1/policy", json={"quiet_hours": {"enabled": False}}, headers=auth(key))  # wall-clock free
    assert client.get("/v1/customers/c-42", headers=auth(key)).json()["consent"] == PROFILE["consent"]
    d = client.post(
        "/v1/decisions",
        headers=auth(key),
        json={"customer_id": "c-42", "message": {"message_id": "m", "channel": "email", "kind": "value"}},
    ).json()
    assert d["action"] == "send"  # acme's consent, not globex's opt-out


def test_control_characters_in_ids_are_refused_in_words(client, key):
    r = client.put("/v1/customers/c%091", json=PROFILE, headers=auth(key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "path"
    assert r.json()["errors"][0]["message"] == "the path holds the control character U+0009; ids are printable text"
    ev = {"event_id": "e\t1", "customer_id": "c-1", "type": "opened", "ts": "2026-11-20T10:00:00Z"}
    r = client.post("/v1/events", json={"events": [ev]}, headers=auth(key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "events[0].event_id"
    assert (
        r.json()["errors"][0]["message"]
        == "contains the control character U+0009 at position 1; ids are printable text"
    )
    assert client.get("/v1/customers/..%2F", headers=auth(key)).status_code == 404  # no such customer, no crash


def _unsubscribe(client, key, ts="2026-11-20T10:00:00Z"):
    ev = {
        "event_id": "u-1",
        "customer_id": "c-42",
        "type": "unsubscribed",
        "channel": "email",
        "ts": ts,
        "message_id": "m-1",
        "properties": {"scope": "channel"},
    }
    assert client.post("/v1/events", json={"events": [ev]}, headers=auth(key)).json()["accepted"] == 1


def _email_verdict(client, key):
    body = {
        "customer_id": "c-42",
        "allow_reroute": False,
        "dry_run": True,
        "message": {"message_id": "m-2", "channel": "email", "kind": "value", "topics": ["x"]},
    }
    return client.post("/v1/decisions", json=body, headers=auth(key)).json()


def test_a_stale_profile_does_not_undo_an_unsubscribe(client, key):
    client.put("/v1/customers/c-42", json=PROFILE, headers=auth(key))
    _unsubscribe(client, key)
    # the CRM re-sends the profile it had, email consent and all
    got = client.put("/v1/customers/c-42", json=PROFILE, headers=auth(key)).json()
    assert got["consent"]["email"] is False and got["revoked"] == {"email": "2026-11-20T10:00:00Z"}
    assert client.get("/v1/customers/c-42", headers=auth(key)).json()["consent"]["email"] is False
    v = _email_verdict(client, key)
    assert v["action"] == "suppress" and v["reasons"][0]["code"] == "consent"
    # consent given before the unsubscribe is stale too
    old = {**PROFILE, "consent_at": "2026-11-19T09:00:00Z"}
    assert client.put("/v1/customers/c-42", json=old, headers=auth(key)).json()["consent"]["email"] is False


def test_consent_given_after_the_unsubscribe_reopens_the_channel(client, key):
    client.put("/v1/customers/c-42", json=PROFILE, headers=auth(key))
    _unsubscribe(client, key)
    again = {**PROFILE, "consent_at": "2026-11-21T09:00:00Z"}
    got = client.put("/v1/customers/c-42", json=again, headers=auth(key)).json()
    assert got["consent"]["email"] is True and got["revoked"] == {}
    client.patch("/v1/policy", json={"quiet_hours": {"enabled": False}}, headers=auth(key))  # whatever the hour
    assert _email_verdict(client, key)["action"] == "send"


def test_consent_at_must_be_a_time(client, key):
    r = client.put("/v1/customers/c-42", json={**PROFILE, "consent_at": "soon"}, headers=auth(key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "consent_at"
