"""Identifiers are opaque: any printable id works everywhere (ingest, decide, read, erase) and no
character can change how a rule reads the store. Property-tested with hypothesis, over real HTTP
(Starlette's TestClient decodes a path twice, so '%2F' would arrive as '/')."""

import itertools
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suppressor.storage import keys
from tests.factories import auth
from tests.faults import serve

_n = itertools.count()
# every printable character, the separators our key layout and scripts use among them
printable = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp", "Cf", "Co", "Cn"))
ids = st.one_of(
    st.sampled_from(["acme|42", "crm/123", "ann@example.com", "c{1}", "a}:x", "x|sms|sales", "%2F", "a b"]),
    st.text(printable, min_size=1, max_size=40),
).filter(lambda s: s.isprintable() and s not in (".", ".."))
topics = st.lists(
    st.text(printable, min_size=1, max_size=20).filter(str.isprintable).map(str.strip).filter(bool), max_size=3
)


def path(cid: str) -> str:
    return "/v1/customers/" + quote(cid, safe="")


@pytest.fixture
def live(settings, store, key):
    with serve(settings) as url, httpx.Client(base_url=url, headers=auth(key), timeout=10) as c:
        yield c


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cid=ids, topic_list=topics)
def test_any_printable_id_is_ingested_decided_read_and_erased(live, store, cid, topic_list):
    client, h = live, {}
    n = next(_n)
    assert (
        client.put(
            "/v1/policy",
            json={
                "caps": [{"channel": "email", "max": 1, "window": "7d"}],
                "quiet_hours": {"enabled": False},
                "balance": {"enabled": False},
            },
            headers=h,
        ).status_code
        == 200
    )
    # the id is its own household's id too: household keys and scripts must take it as data as well
    r = client.put(
        path(cid), json={"consent": {"email": True}, "attributes": {"note": cid}, "household_id": cid}, headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json()["customer_id"] == cid
    ev = {
        "event_id": f"{cid}|e{n}",
        "customer_id": cid,
        "type": "opened",
        "channel": "email",
        "ts": "2026-11-20T10:00:00Z",
        "message_id": cid,
        "topics": topic_list,
    }
    assert client.post("/v1/events", json={"events": [ev]}, headers=h).json()["accepted"] == 1
    verdicts = []
    for i in range(3):  # a cap of one e-mail: the id must not let the ledger be misread
        body = {
            "customer_id": cid,
            "allow_reroute": False,
            "message": {"message_id": f"{cid}|m{n}-{i}", "channel": "email", "kind": "value", "topics": topic_list},
        }
        verdicts.append(client.post("/v1/decisions", json=body, headers=h).json())
    assert [d["action"] for d in verdicts] == ["send", "suppress", "suppress"], verdicts
    assert verdicts[1]["reasons"][-1]["code"] == "frequency_cap"
    release = client.post(f"/v1/decisions/{quote(verdicts[0]['decision_id'], safe='')}/release", headers=h)
    assert release.status_code == 200, release.text
    got = client.get(path(cid), headers=h)
    assert got.status_code == 200 and got.json()["attributes"]["note"] == cid and got.json()["event_count"] == 1
    assert client.delete(path(cid), headers=h).status_code == 204
    assert client.get(path(cid), headers=h).status_code == 404
    left = [k for k in keys.customer_keys("acme", cid) if store.bulk.exists(k)]
    assert left == []
    assert store.bulk.smembers(keys.household("acme", cid, "members")) == set()
    assert store.bulk.hlen(keys.household("acme", cid, "sent")) == 0
