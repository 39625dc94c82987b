"""Only finite numbers and unique keys: a JSON body holding NaN, Infinity, 1e999 or a key twice is
refused (422, the JSON path named) on every route, before any of it is read, and changes nothing."""

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from suppressor.api import synthetic
from suppressor.api.bodies import event_rows, json_fault
from suppressor.customers.events import incoming
from suppressor.domain import EventBatch, EventType
from tests.factories import auth

UNSOUND = [
    ('{"a": NaN}', "a", "NaN is not a finite number"),
    ('{"a": {"b": [1, Infinity]}}', "a.b[1]", "Infinity is not a finite number"),
    ('{"a": -Infinity}', "a", "-Infinity is not a finite number"),
    ('{"a": 1e999}', "a", "1e999 is not a finite number"),
    ('{"a": -1E+400}', "a", "-1E+400 is not a finite number"),
    ('{"a": ' + "9" * 400 + "}", "a", "is not a finite number"),
    ('{"a": 1, "a": 2}', "a", 'the key "a" appears more than once'),
    ('{"x": [{"k": {"deep": 1, "deep": {}}}]}', "x[0].k.deep", 'the key "deep" appears more than once'),
    ('{"a": {"b": 1}, "a": {"b": 1}}', "a", 'the key "a" appears more than once'),
]


@pytest.mark.parametrize("text,field,words", UNSOUND)
def test_the_first_fault_is_named_by_its_path(text, field, words):
    where, why = json_fault(text.encode())
    assert where == field and words in why


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1.5e308, "b": -0.0, "c": 1e-999, "d": "NaN", "e": "Infinity"}',
        '{"a": {"x": 1}, "b": {"x": 1}}',
        '[{"a": 1}, {"a": 1}]',
        "not json",
        "{",
        '{"a": NaN, broken',
        '{"a": 1, "a": 2',
        b'{"\xff": 1}',
    ],
)
def test_sound_json_and_non_json_pass(text):
    assert (
        json_fault(text if isinstance(text, bytes) else text.encode()) is None
    )  # non-JSON: its route answers it (a 400), as before


def _operations(client, hook_path: str):
    """Every operation that takes a JSON body, with its path parameters filled in (the webhook route reads
    its provider's payload itself, so the document shows no body for it: a real hook's, since an unknown
    hook is a 404 before its body is read)."""
    yield "post", hook_path
    doc = client.get("/openapi.json").json()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if "application/json" in (op.get("requestBody") or {}).get("content", {}):
                yield method, re.sub(r"\{[^}]+\}", "x-1", path)


def test_every_json_route_refuses_unsound_bodies(client, key, store):
    from suppressor.hooks import registry

    hook_path = f"/v1/hooks/braze/{registry.create(store, 'acme', 'braze').id}"
    ops = list(_operations(client, hook_path))
    assert len(ops) >= 14 and ("post", "/v1/decisions") in ops and ("post", hook_path) in ops
    for method, path in ops:
        for text, field, words in UNSOUND[::3]:
            r = client.request(
                method.upper(), path, content=text, headers={**auth(key), "content-type": "application/json"}
            )
            assert r.status_code == 422, (method, path, r.status_code, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            problem = r.json()
            assert problem["errors"][0]["field"] == field and words in problem["detail"], (method, path, problem)


def test_infinity_in_offer_terms_is_refused_and_nothing_is_stored(client, key):
    """It was stored, read back as null, and suppressed a competing offer as "(apr None) went out"."""
    h = auth(key)
    client.put("/v1/policy", json={"quiet_hours": {"enabled": False}, "balance": {"enabled": False}}, headers=h)
    client.put("/v1/customers/ann", json={"consent": {"email": True}}, headers=h)
    body = (
        '{"customer_id": "ann", "message": {"message_id": "m-1", "channel": "email", "kind": "sales", '
        '"topics": ["offer:loan1"], "offer": {"key": "loan1", "terms": {"apr": Infinity}}}}'
    )
    for path in ("/v1/decisions", "/v1/decisions:batch"):
        text = body if path == "/v1/decisions" else '{"items": [' + body + "]}"
        r = client.post(path, content=text, headers={**h, "content-type": "application/json"})
        assert r.status_code == 422, r.text
        prefix = "" if path == "/v1/decisions" else "items[0]."
        assert r.json()["errors"][0]["field"] == prefix + "message.offer.terms.apr"
    r = client.get(
        "/v1/decide",
        params={
            "customer_id": "ann",
            "message_id": "m-1",
            "channel": "email",
            "kind": "sales",
            "offer": '{"key": "loan1", "terms": {"apr": NaN}}',
        },
        headers=h,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "offer.terms.apr", r.text
    assert client.get("/v1/customers/ann", headers=h).json()["offers"] == []
    assert client.get("/v1/decisions", headers=h).json()["decisions"] == []
    ok = client.post(
        "/v1/decisions",
        headers=h,
        json={
            "customer_id": "ann",
            "message": {
                "message_id": "m-2",
                "channel": "email",
                "kind": "sales",
                "topics": ["offer:loan1"],
                "offer": {"key": "loan1", "terms": {"apr": 3.9}},
            },
        },
    ).json()
    assert ok["action"] == "send", ok


def test_a_repeated_key_is_refused_not_last_wins(client, key):
    """``"dry_run": true, ..., "dry_run": false`` once recorded a real decision."""
    h = {**auth(key), "content-type": "application/json"}
    text = (
        '{"dry_run": true, "customer_id": "ann", "message": {"message_id": "m-1", "channel": "email", '
        '"kind": "value", "topics": []}, "dry_run": false}'
    )
    r = client.post("/v1/decisions", content=text, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "dry_run", r.text
    assert "appears more than once" in r.json()["detail"] and "nothing was stored" in r.json()["detail"]
    events = (
        '{"events": [{"event_id": "e-1", "customer_id": "ann", "type": "opened", "channel": "email", '
        '"ts": "2026-11-20T10:00:00Z", "type": "unsubscribed"}]}'
    )
    r = client.post("/v1/events", content=events, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "events[0].type", r.text
    assert 'suppressor_event_batches_rejected_total{field="events.type"} 1.0' in client.get("/metrics").text
    assert client.get("/v1/decisions", headers=auth(key)).json()["decisions"] == []
    assert client.get("/v1/customers/ann", headers=auth(key)).status_code == 404


def test_a_big_body_is_checked_too(client, key):
    """Past 64 KiB the check runs off the event loop: the same answer."""
    items = [
        {"customer_id": f"c-{i}", "message": {"message_id": "m", "channel": "email", "kind": "value", "topics": []}}
        for i in range(2000)
    ]
    text = json.dumps({"items": items})[:-3] + ', "dry_run": true, "dry_run": true}]}'
    assert len(text) > 65536
    r = client.post("/v1/decisions:batch", content=text, headers={**auth(key), "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "items[1999].dry_run", r.text
    assert client.get("/v1/decisions", headers=auth(key)).json()["decisions"] == []


def test_a_broken_body_is_its_routes_400(client, key):
    r = client.post(
        "/v1/events", content='{"events": [{"a": NaN', headers={**auth(key), "content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["title"] == "Malformed JSON", r.text


def test_a_body_sent_in_chunks_is_checked_whole(client, key):
    h = {**auth(key), "content-type": "application/json"}
    parts = [
        b'{"events": [{"event_id": "e-1", "customer_id": "ann", ',
        b'"type": "opened", "channel": "email", ',
        b'"ts": "2026-11-20T10:00:00Z", "properties": {"n": 1e9',
        b"99}}]}",
    ]
    r = client.post("/v1/events", content=iter(parts), headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "events[0].properties.n", r.text
    assert client.get("/v1/customers/ann", headers=auth(key)).status_code == 404


# ---- event batches: msgspec's fast path gives what pydantic gives, or leaves the batch to pydantic

RECENT = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
TIMESTAMPS = [
    RECENT.strftime("%Y-%m-%dT%H:%M:%SZ"),
    RECENT.isoformat(),  # +00:00
    (RECENT - timedelta(hours=3)).astimezone(timezone(timedelta(hours=-6))).isoformat(),
    RECENT.strftime("%Y-%m-%dT%H:%M:%S.250Z"),
    RECENT.strftime("%Y-%m-%d %H:%M:%SZ"),
    RECENT.strftime("%Y-%m-%dx%H:%M:%SZ"),
    RECENT.strftime("%Y-%m-%dT%H:%M:%S"),  # no zone
    RECENT.strftime("%Y-%m-%d"),
    (RECENT + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),  # the future
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",
    "2026-02-30T10:00:00Z",
    1764000000,
]
IDS = ["e-1", "c-7", "acme|42", "ann@example.com", "é" * 128, "😀" * 128, "x" * 129, "", ".", "..", "a\tb", "a b", " x"]
CHANNELS = [None, "email", "sms", "push_2", "Email", "email\n", "a" * 33, "", 5]
TOPIC_POOL = ["segment:suv", "offer:lease", "b", "a", " a", "a ", "x" * 100, "", " ", "\u00a0x", "t\tx", "x" * 101]
PROPERTIES = [{}, {"scope": "topics"}, {"currency": "USD"}, None, {"amount": 34999.5}, {"currency": "usd"}, []]


def _pydantic_rows(raw: bytes):
    try:
        return [incoming(e) for e in EventBatch.model_validate_json(raw).events]
    except ValidationError:
        return None


def _event(sound: bool):
    """Events as sent: all of them sound (``sound``), or each value drawn from sound and unsound ones."""

    def pick(pool: list, good: int | None = None):
        return st.sampled_from(pool[:good] if sound else pool)

    @st.composite
    def draw_event(draw):
        e = {
            "event_id": draw(pick(IDS, 6) if sound else pick(IDS) | st.text(max_size=6)),
            "customer_id": draw(pick(IDS, 6)),
            "type": draw(pick([*(t.value for t in EventType), "Opened", ""], len(EventType))),
            "ts": draw(pick(TIMESTAMPS, 4)),
        }
        for name, pool, good in (
            ("channel", CHANNELS, 4),
            ("message_id", [None, *IDS], 7),
            ("campaign_id", [None, "spring"], 2),
            ("kind", [None, "sales", "value", "Sales"], 3),
            ("properties", PROPERTIES, 3),
        ):
            value = draw(pick(["absent", *pool], good + 1))
            if value != "absent":
                e[name] = value
        if draw(st.booleans()):
            e["topics"] = draw(st.lists(pick(TOPIC_POOL, 7), max_size=5 if sound else 52))
        if not sound and draw(st.integers(0, 20)) == 0:
            e["extra"] = 1
        return e

    return draw_event()


@settings(max_examples=300, deadline=None)
@given(st.lists(_event(sound=True), min_size=1, max_size=4))
def test_sound_events_are_read_as_pydantic_reads_them(evs):
    raw = json.dumps({"events": evs}, ensure_ascii=False).encode()
    expected = _pydantic_rows(raw)
    assert expected is not None and event_rows(raw) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(_event(sound=False), min_size=0, max_size=3))
def test_any_batch_is_read_as_pydantic_reads_it_or_left_to_pydantic(evs):
    raw = json.dumps({"events": evs}, ensure_ascii=False).encode()
    fast = event_rows(raw)
    assert fast is None or fast == _pydantic_rows(raw)


def test_the_dealerships_events_are_stored_as_pydantic_stores_them():
    evs = synthetic.generate(40, weeks=4, seed=3).events
    assert any(e.get("properties") for e in evs) and len(evs) > 500
    raw = json.dumps({"events": evs}).encode()
    assert event_rows(raw) == _pydantic_rows(raw)
    sent = {
        "event_id": "e-1",
        "customer_id": "c-1",
        "type": "delivered",
        "ts": "2026-01-02T03:04:05Z",
        "channel": "sms",
        "message_id": "m-1",
        "topics": ["segment:suv", "offer:lease", "segment:suv"],
    }
    [row] = event_rows(json.dumps({"events": [sent]}).encode())
    assert row == (
        "e-1",
        1767323045.0,
        "delivered",
        "sms",
        "m-1",
        b'{"event_id":"e-1","type":"delivered","ts":"2026-01-02T03:04:05Z","channel":"sms","message_id":"m-1",'
        b'"topics":["offer:lease","segment:suv"],"properties":{}}',
        "c-1",
        None,
    )


def test_a_refused_batch_is_answered_by_pydantic_naming_the_field(client, key):
    ok = {"event_id": "e-ok", "customer_id": "c-1", "type": "opened", "ts": TIMESTAMPS[0], "channel": "email"}
    for bad, field in (
        ({"type": "bought"}, "events[1].type"),
        ({"ts": TIMESTAMPS[8]}, "events[1].ts"),
        ({"event_id": "a\tb"}, "events[1].event_id"),
        ({"topics": ["x" * 101]}, "events[1].topics[0]"),
        ({"properties": {"amount": 5}}, "events[1]"),
    ):
        r = client.post("/v1/events", json={"events": [ok, {**ok, "event_id": "e-2", **bad}]}, headers=auth(key))
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == field
    assert client.post("/v1/events", json={"events": [ok]}, headers=auth(key)).json()["accepted"] == 1


def test_the_fast_path_reads_every_field_of_an_event():
    # a field the fast path does not know sends every batch that has it to pydantic (right, but slow)
    from suppressor.api.bodies import _Event, _Stored
    from suppressor.domain import Event

    assert _Event.__struct_fields__ == tuple(Event.model_fields)
    assert _Stored.__struct_fields__ == tuple(f for f in Event.model_fields if f != "customer_id")
