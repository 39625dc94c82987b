"""The client against a running `suppressor serve`: verdicts, events, refusals in words, retries
through a flaky proxy, and the caller's explicit choice when the service does not answer."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from suppressor.client import AsyncClient, Client, Refused, Unavailable
from suppressor.policy import document as policies
from suppressor.tenants import apikeys
from tests.factories import iso, quiet_policy
from tests.faults import free_port, serve

MESSAGE = {"message_id": "m-1", "channel": "email", "kind": "value", "topics": ["content:clinic"]}


@pytest.fixture(scope="module")
def running(settings, session_store):
    """A real server on the test store, and a tenant key (the module's tests share the server)."""
    with serve(settings) as url:
        yield url


@pytest.fixture
def api_key(store, running):
    policies.put(store, "acme", policies.Policy(quiet_hours={"enabled": False}), "test")
    return apikeys.create_key(store, "acme")


def event(i: int) -> dict:
    return {
        "event_id": f"e-{i}",
        "customer_id": "c-1",
        "type": "clicked",
        "ts": iso(1),
        "channel": "email",
        "message_id": "m-0",
        "kind": "value",
        "topics": ["content:clinic"],
    }


def test_a_verdict_and_the_same_verdict_when_asked_again(running, api_key):
    with Client(running, api_key, when_unavailable="suppress") as sup:
        first = sup.decide("c-1", MESSAGE)
        again = sup.decide("c-1", MESSAGE)
    assert first.action == "send" and first.reasons and first.decision_id
    assert again.replayed and again.decision_id == first.decision_id


def test_events_are_stored_once_and_a_batch_is_answered_in_order(running, api_key):
    with Client(running, api_key, when_unavailable="suppress") as sup:
        assert sup.track([event(1), event(2)]).accepted == 2
        assert sup.track([event(1), event(2)]).duplicates == 2
        verdicts = sup.decide_batch(
            [{"customer_id": f"c-{i}", "message": {**MESSAGE, "message_id": f"b-{i}"}} for i in range(5)]
        )
    assert [d.customer_id for d in verdicts] == [f"c-{i}" for i in range(5)]
    assert all(d.policy_version >= 1 for d in verdicts)  # real verdicts, not fallbacks


def test_the_due_deferrals_come_back_page_after_page(running, api_key, store):
    policies.put(store, "acme", quiet_policy(min_gap="12h"), "test")
    later = datetime.now(UTC) + timedelta(days=1)
    with Client(running, api_key, when_unavailable="suppress", budget=5.0) as sup:
        assert sup.decide("c-9", {**MESSAGE, "message_id": "d-0"}).action == "send"
        asked = [sup.decide("c-9", {**MESSAGE, "message_id": f"d-{i}"}) for i in (1, 2, 3)]
        got = list(sup.iter_deferred(later, page_size=2))
    assert [d["message_id"] for d in got] == ["d-1", "d-2", "d-3"]
    assert [d["decision_id"] for d in got] == [d.decision_id for d in asked]

    async def run():
        async with AsyncClient(running, api_key, when_unavailable="suppress", budget=5.0) as sup:
            return [d["message_id"] async for d in sup.iter_deferred(later, page_size=1)]

    assert asyncio.run(run()) == ["d-1", "d-2", "d-3"]


def test_a_bad_request_is_refused_in_words_and_not_retried(running, api_key):
    with Client(running, api_key, when_unavailable="send") as sup:
        with pytest.raises(Refused) as refused:
            sup.decide("c-1", {**MESSAGE, "channel": "pigeon"})
    assert refused.value.status == 422 and refused.value.errors[0]["field"] == "message.channel"
    with Client(running, "sk_acme_wrong", when_unavailable="send") as sup, pytest.raises(Refused) as refused:
        sup.decide("c-1", MESSAGE)
    assert refused.value.status == 401


@pytest.mark.parametrize("mode", ["send", "suppress", "defer"])
def test_nobody_listening_gives_the_callers_choice_within_the_budget(mode):
    with Client(f"http://127.0.0.1:{free_port()}", "sk_x", when_unavailable=mode, budget=0.5) as sup:
        t0 = time.monotonic()
        d = sup.decide("c-1", MESSAGE)
        elapsed = time.monotonic() - t0
        with pytest.raises(Unavailable):
            sup.track([event(1)])
    assert d.action == mode and d.reasons[0].code == "unavailable" and elapsed < 0.8
    assert (d.not_before is not None) == (mode == "defer")


def test_the_choice_is_explicit():
    with pytest.raises(TypeError):
        Client("http://127.0.0.1:1", "sk_x")  # no silent default: fail open or closed is the caller's call
    with pytest.raises(ValueError, match="fail open"):
        Client("http://127.0.0.1:1", "sk_x", when_unavailable="maybe")


class FlakyProxy:
    """A proxy in front of the real server that answers 503 to the first ``failures`` requests (a
    load balancer hiccup) and forwards the rest."""

    def __init__(self, upstream: str, failures: int):
        self.upstream, self.failures, self.seen = upstream, failures, 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                proxy.seen += 1
                if proxy.seen <= proxy.failures:
                    self.send_response(503)
                    self.send_header("retry-after", "0")
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                r = httpx.post(
                    proxy.upstream + self.path,
                    content=body,
                    headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                )
                self.send_response(r.status_code)
                self.send_header("content-type", r.headers["content-type"])
                self.send_header("content-length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def test_a_503_is_retried_and_the_retry_is_not_counted_twice(running, api_key, store):
    proxy = FlakyProxy(running, failures=2)
    try:
        with Client(proxy.url, api_key, when_unavailable="suppress", budget=5.0) as sup:
            assert sup.track([event(7)]).accepted == 1
            assert proxy.seen == 3
            proxy.failures = proxy.seen + 1
            d = sup.decide("c-1", {**MESSAGE, "message_id": "m-retry"})
    finally:
        proxy.close()
    assert d.action == "send" and d.policy_version >= 1
    from suppressor.storage import keys

    assert store.bulk.hlen(keys.events("acme", "c-1")) == 1


def test_the_async_client_against_the_running_server(running, api_key):
    async def run():
        async with AsyncClient(running, api_key, when_unavailable="suppress") as sup:
            first, again = await asyncio.gather(sup.decide("c-2", MESSAGE), sup.decide("c-2", MESSAGE))
            stored = await sup.track([event(3)])
            released = await sup.release(first.decision_id)
        async with AsyncClient(f"http://127.0.0.1:{free_port()}", api_key, when_unavailable="send", budget=0.3) as down:
            fallback = await down.decide("c-2", MESSAGE)
        return first, again, stored, released, fallback

    first, again, stored, released, fallback = asyncio.run(run())
    assert first.decision_id == again.decision_id and stored.accepted == 1 and released
    assert fallback.action == "send" and fallback.reasons[0].code == "unavailable"
