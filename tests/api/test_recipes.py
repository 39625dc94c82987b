"""Verdicts out, as send pipelines ask for them: the README's recipes issue these exact requests.

Braze Connected Content fetches a URL (GET, with the :headers given) and may render a message
several times; an Iterable data feed fetches a URL and stops the send on a non-2xx."""

import time
from urllib.parse import quote

from suppressor.storage import keys
from tests.factories import auth

BASE = "/v1/decide"


def braze_url(user_id: str, dispatch_id: str, topics: list[str]) -> str:
    """The URL the README's Braze recipe renders: Liquid's url_param_escape on every value."""
    q = f"customer_id={quote(user_id, safe='')}&message_id={quote(dispatch_id, safe='')}&channel=email&kind=sales"
    return BASE + "?" + q + "".join(f"&topic={quote(t, safe='')}" for t in topics)


def setup(client, key):
    h = auth(key)
    client.patch("/v1/policy", headers=h, json={"quiet_hours": {"enabled": False}})
    client.put("/v1/customers/ann@example.com", headers=h, json={"consent": {"email": True}})
    client.put("/v1/customers/bob|42", headers=h, json={"consent": {"email": False}})
    return h


def test_braze_renders_twice_and_one_send_is_counted(client, key, store):
    h = {**setup(client, key), "Accept": "application/json"}
    url = braze_url("ann@example.com", "dispatch-6f1c2", ["offer:lease", "segment:suv"])
    first = client.get(url, headers=h)
    again = client.get(url, headers=h)  # Braze renders (and fetches) a message more than once
    assert first.status_code == again.status_code == 200
    v1, v2 = first.json(), again.json()
    assert v1["action"] == "send" and v1["channel"] == "email"
    assert v2["replayed"] and v2["decision_id"] == v1["decision_id"]
    assert store.bulk.zcard(keys.sends("acme", "ann@example.com")) == 1
    # the Liquid condition of the recipe: abort unless send or reroute
    no = client.get(braze_url("bob|42", "dispatch-6f1c2", ["offer:lease"]) + "&allow_reroute=false", headers=h).json()
    assert no["action"] == "suppress" and no["reasons"][0]["code"] == "consent"


def test_an_iterable_feed_gets_a_non_2xx_for_a_non_send(client, key):
    h = setup(client, key)
    base = f"{BASE}?channel=email&kind=value&topic=content%3Aclinic&message_id=feed-1&non_send_status=409"
    sent = client.get(base + "&customer_id=ann%40example.com", headers=h)
    held = client.get(base + "&customer_id=bob%7C42&allow_reroute=false", headers=h)
    assert sent.status_code == 200 and sent.json()["action"] == "send"
    assert held.status_code == 409 and held.json()["action"] == "suppress"


def test_the_get_form_names_the_query_parameter_at_fault_and_records_nothing(client, key, store):
    h = setup(client, key)
    cases = [
        ("customer_id=ann&message_id=m&channel=pigeon&kind=sales", "channel"),
        ("customer_id=ann&channel=email&kind=sales", "message_id"),
        ("customer_id=ann&message_id=m&channel=email&kind=gossip", "kind"),
        ("customer_id=ann&message_id=m&channel=email&kind=sales&offer=%7Bnot%20json", "offer"),
        ("customer_id=ann&message_id=m&channel=email&kind=sales&offer=%7B%22key%22%3A1%7D", "offer.key"),
        ("customer_id=ann&message_id=m&channel=email&kind=sales&non_send_status=99", "non_send_status"),
    ]
    for query, field in cases:
        r = client.get(f"{BASE}?{query}", headers=h)
        assert r.status_code == 422, (query, r.text)
        assert r.json()["errors"][0]["field"] == field, (query, r.json())
    assert store.bulk.zcard(keys.sends("acme", "ann")) == 0
    assert client.get(f"{BASE}?customer_id=ann&message_id=m&channel=email&kind=sales").status_code == 401


def test_an_offer_travels_as_json_and_binds_like_the_post_form(client, key):
    h = setup(client, key)
    offer = quote('{"key": "auto-loan", "terms": {"apr": 2.9}}', safe="")
    other = quote('{"key": "auto-loan", "terms": {"apr": 3.9}}', safe="")
    q = f"{BASE}?customer_id=ann%40example.com&channel=email&kind=sales&topic=offer%3Aauto-loan"
    assert client.get(f"{q}&message_id=loan-1&offer={offer}", headers=h).json()["action"] == "send"
    d = client.get(f"{q}&message_id=loan-2&offer={other}", headers=h).json()
    assert d["action"] == "suppress" and d["reasons"][-1]["code"] == "offer_conflict"


def test_a_large_send_gets_its_exclusion_list_as_csv(client, key, store):
    """The platform uploads its audience and gets back the customers to leave out, why, and until
    when; hostile ids survive the CSV (quoted), and the sends it allowed are recorded once."""
    import csv
    import io

    h = setup(client, key)
    client.patch("/v1/policy", headers=h, json={"caps": [{"channel": "any", "max": 1, "window": "7d"}]})
    client.put('/v1/customers/"carol", the 3rd', headers=h, json={"consent": {"email": True}})
    items = [
        {
            "customer_id": cid,
            "allow_reroute": False,
            "message": {"message_id": "blast-1", "channel": "email", "kind": "value", "topics": ["content:clinic"]},
        }
        for cid in ("ann@example.com", "bob|42", '"carol", the 3rd')
    ]
    client.post("/v1/decisions", headers=h, json={**items[2], "message": {**items[2]["message"], "message_id": "x"}})
    r = client.post("/v1/decisions:exclusions", headers=h, json={"items": items})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["customer_id"], x["action"], x["reason"]) for x in rows] == [
        ("bob|42", "suppress", "consent"),
        ('"carol", the 3rd', "suppress", "frequency_cap"),
    ]
    assert "1 of 1" in rows[1]["detail"]
    again = client.post("/v1/decisions:exclusions", headers=h, json={"items": items})
    assert again.text == r.text  # asked twice: the same list, nothing counted twice
    assert store.bulk.zcard(keys.sends("acme", "ann@example.com")) == 1


def sfmc_url(dk: str, subscriber_key: str, job_id: str) -> str:
    """The URL the README's AMPscript builds: Concat with URLEncode(…, 1, 1) on the subscriber key."""
    sk = quote(subscriber_key, safe="")
    return (
        f"{BASE}?key={dk}&customer_id={sk}&message_id={job_id}-{sk}&channel=email&kind=sales"
        "&topic=offer%3Alease&non_send_status=409"
    )


def test_sfmc_httpget_asks_with_a_decide_only_key_in_the_url(client, key, store):
    """AMPscript's HTTPGet cannot send a header: a decide-only key rides in the URL and can do nothing else."""
    from suppressor.tenants import apikeys

    setup(client, key)
    dk = apikeys.create_key(store, "acme", scope="decide")
    assert dk.startswith("dk_acme_")
    sent = client.get(sfmc_url(dk, "ann@example.com", "48213"))  # no headers at all, as HTTPGet sends it
    assert sent.status_code == 200 and sent.json()["action"] == "send"
    again = client.get(sfmc_url(dk, "ann@example.com", "48213"))  # a resend of the job: the standing verdict
    assert again.json()["replayed"] and store.bulk.zcard(keys.sends("acme", "ann@example.com")) == 1
    # a non-send answers 409: HTTPGet's status variable goes non-zero and RaiseError skips the subscriber
    assert client.get(sfmc_url(dk, "bob|42", "48213")).status_code == 409
    # the key in a URL can do nothing else, and a full key never travels in a URL
    assert client.post("/v1/events", headers=auth(dk), json={"events": []}).status_code == 403
    assert client.get("/v1/customers/ann%40example.com", headers=auth(dk)).status_code == 403
    full = client.get(sfmc_url(key, "ann@example.com", "48214"))
    assert full.status_code == 401 and "decide-only" in full.json()["detail"]
    assert client.get(f"/v1/customers/ann%40example.com?key={dk}").status_code == 401
    apikeys.revoke(store, apikeys.key_id(dk))
    time.sleep(1.1)  # servers forget a revoked key within a second
    assert client.get(sfmc_url(dk, "ann@example.com", "48215")).status_code == 401
