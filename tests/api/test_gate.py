"""The door: authentication before the body is read, bounded bodies, per-key rate limits, and what
the ops endpoints show to whom. Raw sockets where it matters that nothing more was read."""

import socket
import time
from urllib.parse import urlparse

import httpx
import pytest
from fastapi.testclient import TestClient

from suppressor.api.app import create_app
from tests.factories import auth
from tests.faults import serve


def raw_post(url: str, headers: dict[str, str], body_prefix: bytes = b"") -> tuple[int, bytes, float]:
    """Send headers (and at most a body prefix), never the rest; the status and how fast it came."""
    u = urlparse(url)
    with socket.create_connection((u.hostname, u.port), timeout=5) as s:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        t0 = time.monotonic()
        s.sendall(f"POST /v1/events HTTP/1.1\r\nHost: t\r\n{head}\r\n".encode() + body_prefix)
        data = s.recv(65536)
        elapsed = time.monotonic() - t0
        while b"\r\n\r\n" in data:  # the whole answer: headers, then content-length bytes of body
            top, _, body = data.partition(b"\r\n\r\n")
            length = next(
                (int(h.split(b":")[1]) for h in top.split(b"\r\n") if h.lower().startswith(b"content-length")), 0
            )
            if len(body) >= length:
                break
            more = s.recv(65536)
            if not more:
                break
            data += more
        return int(data.split()[1]), data, elapsed


@pytest.fixture
def live(settings, store):
    with serve(settings, SUPPRESSOR_MAX_BODY_BYTES="1048576") as url:
        yield url


def test_a_huge_body_is_refused_before_it_is_read(live, key):
    huge = {"Content-Type": "application/json", "Content-Length": str(50 * 1024 * 1024)}
    status, data, elapsed = raw_post(live, huge)  # no key: 401 without waiting for 50 MB
    assert status == 401 and b"application/problem+json" in data and elapsed < 1
    status, data, elapsed = raw_post(live, {**huge, "Authorization": f"Bearer {key}"})
    assert status == 413 and b"at most 1,048,576" in data and elapsed < 1
    chunked = {"Content-Type": "application/json", "Transfer-Encoding": "chunked", "Authorization": f"Bearer {key}"}
    chunk = b"x" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(20))  # 1.3 MB, no length announced
    status, data, _ = raw_post(live, chunked, body)
    assert status == 413, data


def test_event_properties_are_bounded(client, key):
    ev = {
        "event_id": "e-1",
        "customer_id": "c-1",
        "type": "opened",
        "ts": "2026-11-20T10:00:00Z",
        "properties": {"blob": "x" * 5000},
    }
    r = client.post("/v1/events", json={"events": [ev]}, headers=auth(key))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "events[0].properties"
    assert "at most 2,048" in r.json()["errors"][0]["message"]


def test_per_key_rate_limit_answers_429_with_retry_after(client, store, settings, key, other_key):
    import os
    import subprocess
    import sys

    from tests.faults import env_for

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "suppressor.api.cli",
            "keys",
            "limit",
            "--tenant",
            "acme",
            "--rate",
            "1",
            "--burst",
            "2",
        ],
        env=env_for(settings),
        capture_output=True,
        text=True,
        cwd=os.getcwd(),
    )
    assert out.returncode == 0, out.stderr
    client.app.state.services.states.invalidate("acme")
    client.get("/v1/policy", headers=auth(key))  # loads the tenant's limit
    codes = [client.get("/v1/policy", headers=auth(key)).status_code for _ in range(4)]
    assert codes.count(429) >= 2 and codes[0] == 200
    r = client.get("/v1/policy", headers=auth(key))
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and "1 requests per second" in r.json()["detail"]
    assert client.get("/v1/policy", headers=auth(other_key)).status_code == 200  # another tenant is not held
    time.sleep(1.1)
    assert client.get("/v1/policy", headers=auth(key)).status_code == 200


def test_ops_endpoints_show_nothing_of_tenants_or_the_store(settings, store, key):
    guarded = settings.model_copy(update={"ops_token": "s3cret-ops"})
    with TestClient(create_app(guarded, store)) as c:
        ready = c.get("/readyz")
        assert ready.json() == {"status": "ready"}  # no URL, no file path
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers=auth(key)).status_code == 401  # a tenant key is not the ops token
        assert c.get("/metrics", headers=auth("s3cret-ops")).status_code == 200
        page = c.get("/docs").text
        assert "cdn" not in page.lower() and "/docs/assets/swagger-ui-bundle.js" in page
        js = c.get("/docs/assets/swagger-ui-bundle.js")
        assert js.status_code == 200 and len(js.content) > 100_000
        assert c.get("/openapi.json").status_code == 200


def test_metrics_without_an_ops_token_answer_loopback_only(settings, store):
    with serve(settings) as url:
        assert httpx.get(f"{url}/metrics").status_code == 200  # we are on loopback
    app = create_app(settings, store)
    with TestClient(app, client=("203.0.113.9", 4711)) as c:
        assert c.get("/metrics").status_code == 401


def test_only_the_webhook_receiver_lives_under_the_keyless_path(app, client, key):
    from suppressor.api.gate import WEBHOOKS

    under = {
        (path, method, op["operationId"])
        for path, ops in app.openapi()["paths"].items()
        if path.startswith(WEBHOOKS)
        for method, op in ops.items()
    }
    assert under == {("/v1/hooks/{provider}/{hook_id}", "post", "receiveWebhook")}
    # a path that starts like a webhook reaches no other route, with or without a key
    for raw in ("/v1/hooks/%2E%2E/customers/c-1", "/v1/hooks/x/%2E%2E/%2E%2E/customers/c-1"):
        assert client.get(raw).status_code in (404, 405)
        assert client.put(raw, json={}).status_code in (404, 405)
    assert client.get("/v1/customers/c-1").status_code == 401
