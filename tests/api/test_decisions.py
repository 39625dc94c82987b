"""POST /v1/decisions and :batch over HTTP."""

import itertools

from tests.factories import auth, message

_mids = itertools.count()


def body(cid="c-1", channel="email", mid=None, **kw):
    """A new message each call unless ``mid`` names one (asking again gets the standing verdict)."""
    return {"customer_id": cid, "message": message(mid or f"m-{next(_mids)}", ["segment:suv"], channel), **kw}


def test_response_carries_the_contract_fields(client, key):
    d = client.post("/v1/decisions", json=body(), headers=auth(key)).json()
    for field in (
        "decision_id",
        "action",
        "channel",
        "not_before",
        "score",
        "reasons",
        "substitute",
        "policy_version",
        "model_version",
    ):
        assert field in d
    assert d["action"] == "send" and d["policy_version"] == 0


def test_an_opted_out_channel_never_gets_send(client, key):
    channels = ["email", "sms", "push", "direct_mail"]
    for i, states in enumerate(itertools.product([True, False, None], repeat=2)):
        consent = {ch: s for ch, s in zip(("email", "sms"), states, strict=True) if s is not None}
        client.put(f"/v1/customers/c-{i}", json={"consent": consent}, headers=auth(key))
        for ch, reroute in itertools.product(channels, (True, False)):
            d = client.post("/v1/decisions", json=body(f"c-{i}", ch, allow_reroute=reroute), headers=auth(key)).json()
            if d["action"] in ("send", "reroute"):
                assert consent.get(d["channel"]) is not False, (consent, ch, d)
                if d["channel"] == "sms":
                    assert consent.get("sms") is True  # sms needs an explicit opt-in


def test_batch_answers_in_order(client, key):
    client.put("/v1/customers/c-2", json={"consent": {"email": False}}, headers=auth(key))
    items = [body("c-1"), body("c-2", allow_reroute=False), body("c-3", "sms", allow_reroute=False)]
    res = client.post("/v1/decisions:batch", json={"items": items}, headers=auth(key)).json()["results"]
    assert [r["customer_id"] for r in res] == ["c-1", "c-2", "c-3"]
    assert [r["action"] for r in res] == ["send", "suppress", "suppress"]


def test_batch_limit_and_validation(client, key, settings):
    r = client.post("/v1/decisions:batch", json={"items": [body()] * (settings.max_batch + 1)}, headers=auth(key))
    assert r.status_code == 413 and r.json()["errors"][0]["field"] == "items"
    r = client.post("/v1/decisions:batch", json={"items": [body(), body(channel="Fax!")]}, headers=auth(key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "items[1].message.channel"
    r = client.post("/v1/decisions", json={"customer_id": "c-1", "message": {"message_id": "m"}}, headers=auth(key))
    assert {e["field"] for e in r.json()["errors"]} == {"message.channel", "message.kind"}


def test_decisions_are_logged_but_dry_runs_are_not(client, key):
    client.post("/v1/decisions", json=body(), headers=auth(key))
    client.post("/v1/decisions", json=body(dry_run=True), headers=auth(key))
    client.post("/v1/decisions:batch", json={"items": [body("c-2"), body("c-3")]}, headers=auth(key))
    logged = client.get("/v1/decisions", headers=auth(key)).json()["decisions"]
    assert [d["customer_id"] for d in logged] == ["c-3", "c-2", "c-1"]
    assert logged[2]["request"]["message"]["topics"] == ["segment:suv"]  # enough to replay it later
    assert logged[2]["reasons"] and logged[2]["action"] == "send"


def test_metrics_count_verdicts(client, key):
    client.post("/v1/decisions", json=body(), headers=auth(key))
    text = client.get("/metrics").text
    assert 'suppressor_decisions_total{action="send"} 1.0' in text
    for name in (
        "suppressor_decision_log_pending",
        "suppressor_decision_log_dropped_total",
        "suppressor_decision_log_written_total",
        "suppressor_store_up 1.0",
        "suppressor_store_restarts_total",
        "suppressor_decision_replays_total",
    ):  # the names the README promises
        assert f"\n{name}" in text, name


def test_unreachable_store_answers_degraded_over_http_within_the_deadline(settings, store, key):
    import time

    from fastapi.testclient import TestClient

    from suppressor.api.app import create_app
    from suppressor.storage.store import Store
    from suppressor.tenants.apikeys import KeyResolver

    dead_settings = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0", "decision_deadline_ms": 100})
    dead = Store(dead_settings)
    resolver = KeyResolver(store)
    assert resolver.tenant_for(key) == "acme"  # known before the store went away
    resolver.store = dead
    app = create_app(dead_settings, dead)
    with TestClient(app) as c:
        app.state.services.keys = resolver
        t0 = time.perf_counter()
        r = c.post("/v1/decisions", json=body(), headers=auth(key))
        elapsed = time.perf_counter() - t0
        assert r.status_code == 200
        d = r.json()
        assert d["action"] == "defer" and d["not_before"] is not None
        assert d["reasons"][0]["code"] == "degraded"
        assert elapsed < 1.0
        assert c.get("/readyz").status_code == 503
        r = c.post("/v1/decisions", json=body(), headers=auth("sk_never_seen"))
        assert r.status_code == 503 and r.json()["title"] == "Store unavailable"


def test_release_over_http(client, key):
    client.put(
        "/v1/policy",
        json={"caps": [{"channel": "any", "max": 1, "window": "1d"}], "quiet_hours": {"enabled": False}},
        headers=auth(key),
    )
    first = client.post("/v1/decisions", json=body(), headers=auth(key)).json()
    assert client.post("/v1/decisions", json=body(), headers=auth(key)).json()["action"] == "suppress"
    r = client.post(f"/v1/decisions/{first['decision_id']}/release", headers=auth(key))
    assert r.status_code == 200 and r.json()["released"] is True
    assert client.post(f"/v1/decisions/{first['decision_id']}/release", headers=auth(key)).status_code == 404
    assert client.post("/v1/decisions", json=body(), headers=auth(key)).json()["action"] == "send"


def test_concurrent_http_decisions_respect_the_cap(app, key):
    import asyncio

    import httpx

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                await c.put(
                    "/v1/policy",
                    json={
                        "caps": [{"channel": "any", "max": 3, "window": "1d"}],
                        "quiet_hours": {"enabled": False},
                        "balance": {"enabled": False},
                    },
                    headers=auth(key),
                )
                rs = await asyncio.gather(*[c.post("/v1/decisions", json=body(), headers=auth(key)) for _ in range(50)])
                return [r.json()["action"] for r in rs]

    actions = asyncio.run(run())
    assert actions.count("send") == 3 and actions.count("suppress") == 47


def test_a_big_batch_is_not_cut_off_by_the_single_decision_deadline(settings, store, key):
    from fastapi.testclient import TestClient

    from suppressor.api.app import create_app

    tight = settings.model_copy(update={"decision_deadline_ms": 5})
    with TestClient(create_app(tight, store)) as c:
        items = [body(f"c-{i}") for i in range(3000)]
        res = c.post("/v1/decisions:batch", json={"items": items}, headers=auth(key)).json()["results"]
        assert len(res) == 3000
        assert not any(r["reasons"][0]["code"] == "degraded" for r in res)


def test_twenty_identical_concurrent_requests_record_one_verdict(app, key):
    import asyncio

    import httpx

    async def run():
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
                await c.put(
                    "/v1/policy",
                    json={
                        "caps": [{"channel": "any", "max": 2, "window": "1d"}],
                        "quiet_hours": {"enabled": False},
                        "balance": {"enabled": False},
                    },
                    headers=auth(key),
                )
                same = body(mid="render-me")
                rs = await asyncio.gather(*[c.post("/v1/decisions", json=same, headers=auth(key)) for _ in range(20)])
                batch = (await c.post("/v1/decisions:batch", json={"items": [same, body()]}, headers=auth(key))).json()
                logged = (await c.get("/v1/decisions", headers=auth(key))).json()["decisions"]
                metrics = (await c.get("/metrics")).text
                return [r.json() for r in rs], batch["results"], logged, metrics

    out, batch, logged, metrics = asyncio.run(run())
    assert len({d["decision_id"] for d in out}) == 1 and [d["replayed"] for d in out].count(False) == 1
    assert batch[0]["replayed"] and batch[0]["decision_id"] == out[0]["decision_id"]
    assert batch[1]["action"] == "send"  # the renders took one send of the cap of 2
    assert len(logged) == 2  # the verdict and the batch's new message; replays are not logged
    assert "suppressor_decision_replays_total 20.0" in metrics
    assert 'suppressor_decisions_total{action="send"} 2.0' in metrics


def test_a_channel_the_tenant_never_declared_is_refused_everywhere(client, key):
    client.put("/v1/customers/c-1", json={"consent": {"email": False}}, headers=auth(key))
    r = client.post("/v1/decisions", json=body(channel="emial"), headers=auth(key))  # a typo, not a new channel
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "message.channel"
    assert "'emial' is not declared" in r.json()["errors"][0]["message"]
    r = client.post("/v1/decisions:batch", json={"items": [body(), body(channel="whatsapp")]}, headers=auth(key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "items[1].message.channel"
    r = client.post("/v1/decisions", json=body(channels=["sms", "fax"]), headers=auth(key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "channels[1]"
    ev = {
        "event_id": "e-1",
        "customer_id": "c-1",
        "type": "opened",
        "ts": "2026-11-20T10:00:00Z",
        "channel": "whatsapp",
    }
    r = client.post("/v1/events", json={"events": [ev]}, headers=auth(key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "events[0].channel"
    assert client.get("/v1/customers/c-1", headers=auth(key)).json()["event_count"] == 0  # nothing stored
    r = client.put("/v1/content/clinic", json={"title": "Clinic", "channels": ["whatsapp"]}, headers=auth(key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "channels[0]"
    assert client.get("/v1/decisions", headers=auth(key)).json()["decisions"] == []  # nothing decided
    # a policy names its channels; then they work, and nothing else may name an undeclared one
    r = client.patch(
        "/v1/policy", json={"caps": [{"channel": "whatsapp", "max": 1, "window": "7d"}]}, headers=auth(key)
    )
    assert r.status_code == 422 and "declared_channels does not list" in r.json()["detail"]
    r = client.patch("/v1/policy", json={"declared_channels": ["email", "sms", "whatsapp"]}, headers=auth(key))
    assert r.status_code == 422 and "require_opt_in names the channel 'phone'" in r.json()["detail"]
    r = client.patch(
        "/v1/policy",
        json={"declared_channels": ["email", "sms", "whatsapp"], "require_opt_in": ["sms"]},
        headers=auth(key),
    )
    assert r.status_code == 200
    assert client.post("/v1/decisions", json=body(channel="whatsapp"), headers=auth(key)).json()["action"] == "send"
    rerouted = client.post("/v1/decisions", json=body(channel="email"), headers=auth(key)).json()
    assert rerouted["channel"] in ("sms", "whatsapp", None) and "push" not in rerouted["channel_scores"]


def test_strict_types_where_a_coercion_would_hide_a_mistake(client, key):
    r = client.post("/v1/decisions", json=body(dry_run="yes"), headers=auth(key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "dry_run"
    offer = body()
    offer["message"]["offer"] = {"key": "auto-loan", "terms": {"apr": "2.9%", "note": "spring"}}
    r = client.post("/v1/decisions", json=offer, headers=auth(key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "message.offer.terms.apr"
    assert "must be a number" in r.json()["errors"][0]["message"]
    offer["message"]["offer"]["terms"]["apr"] = 2.9
    assert client.post("/v1/decisions", json=offer, headers=auth(key)).status_code == 200
    r = client.patch("/v1/policy", json={"fatigue": {"enabled": "no"}}, headers=auth(key))
    assert r.status_code == 422


def test_metrics_for_operators_responses_rejections_dry_runs_and_the_store(client, key):
    import re

    h = auth(key)
    client.post("/v1/decisions", json=body(), headers=h)
    client.post(
        "/v1/decisions",
        json={**body(), "dry_run": True, "message": {**body()["message"], "message_id": "q"}},
        headers=h,
    )
    client.get("/v1/customers/ann%2F42", headers=h)  # 404, on a route with an id in its path
    client.post(
        "/v1/events",
        json={"events": [{"event_id": "e", "customer_id": "c", "type": "teleported", "ts": "2026-11-20T10:00:00Z"}]},
        headers=h,
    )
    client.post("/v1/decisions", json=body(), headers={"Authorization": "Bearer nope"})
    text = client.get("/metrics").text
    assert 'suppressor_decisions_total{action="send"} 1.0' in text  # the dry run is apart
    assert re.search(r'suppressor_dry_runs_total\{action="\w+"\} 1\.0', text)
    assert 'suppressor_http_responses_total{route="/v1/decisions",status="200"} 2.0' in text
    assert 'suppressor_http_responses_total{route="/v1/customers/{customer_id:path}",status="404"} 1.0' in text
    assert 'suppressor_http_responses_total{route="unmatched",status="401"} 1.0' in text
    assert "ann" not in text  # ids never become label values
    assert 'suppressor_event_batches_rejected_total{field="events.type"} 1.0' in text
    assert re.search(r"\nsuppressor_store_ping_seconds \d", text)


def test_the_lean_single_decision_path_answers_errors_as_the_declared_route_does(client, key):
    """POST /v1/decisions is served by a plain ASGI handler; what it cannot answer (a body that does not
    validate, a refused channel) goes to the declared FastAPI route: the same problems as :batch gives."""
    h = auth(key)
    r = client.post(
        "/v1/decisions",
        content=b'{"customer_id": "c-1", "message": ',
        headers={**h, "content-type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["title"] == "Malformed JSON"
    r = client.post("/v1/decisions", json={**body(), "dry_run": "yes"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "dry_run"
    batch = client.post("/v1/decisions:batch", json={"items": [{**body(), "dry_run": "yes"}]}, headers=h)
    assert batch.json()["errors"][0]["message"] == r.json()["errors"][0]["message"]
    r = client.post("/v1/decisions", json=body(channel="emial"), headers=h)  # refused by the policy, not the schema
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "message.channel"
    ok = client.post("/v1/decisions", json=body(), headers=h)
    assert ok.status_code == 200 and ok.headers["content-type"] == "application/json"
    assert int(ok.headers["content-length"]) == len(ok.content)
    assert (
        client.get("/v1/decisions?limit=5", headers=h).json()["decisions"][0]["decision_id"] == ok.json()["decision_id"]
    )


def test_a_replayed_verdict_is_the_verdict_given_to_the_microsecond(client, key):
    """Asked again, the same answer: decided_at included (it once came back cut to milliseconds)."""
    client.put("/v1/policy", json={"quiet_hours": {"enabled": False}, "balance": {"enabled": False}}, headers=auth(key))
    for attempt in range(5):  # a fresh verdict at an exact millisecond would hide the cut
        first = client.post("/v1/decisions", json=body(mid=f"once-{attempt}"), headers=auth(key)).json()
        again = client.post("/v1/decisions", json=body(mid=f"once-{attempt}"), headers=auth(key)).json()
        assert again.pop("replayed") and not first.pop("replayed")
        assert again == first
