"""A client generated from the OpenAPI document by openapi-python-client (as an integrator would),
with no generator warnings, used against a live server for every resource. It once warned of five
duplicate model names, dropped VersionedPolicy, and its get_policy raised UnexpectedStatus: 200."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from suppressor.tenants import apikeys
from tests.faults import serve


@pytest.fixture
def generated(tmp_path):
    """The generated package, imported; the generator's own output is checked for warnings."""

    def generate(spec: bytes):
        exe = shutil.which("openapi-python-client") or pytest.fail("openapi-python-client is in the test extra")
        (tmp_path / "openapi.json").write_bytes(spec)
        run = subprocess.run(
            [
                exe,
                "generate",
                "--path",
                str(tmp_path / "openapi.json"),
                "--meta",
                "none",
                "--output-path",
                str(tmp_path / "suppressor_client"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
        said = run.stdout + run.stderr
        assert run.returncode == 0, said
        assert "warning" not in said.lower() and "unable to" not in said.lower(), said
        sys.path.insert(0, str(tmp_path))
        return importlib.import_module("suppressor_client")

    yield generate
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m == "suppressor_client" or m.startswith("suppressor_client.")]:
        del sys.modules[name]


def _call(module: str, client, **kwargs):
    """One generated operation (``api.<tag>.<operation>``), its answer checked for a 2xx."""
    op = importlib.import_module(f"suppressor_client.api.{module}")
    r = op.sync_detailed(client=client, **kwargs)
    assert 200 <= r.status_code.value < 300, (module, r.status_code, r.content[:500])
    return r.parsed


def test_a_generated_client_works_for_every_resource(settings, store, generated):
    key = apikeys.create_key(store, "acme")
    with serve(settings) as url:
        sc = generated(httpx.get(f"{url}/openapi.json").content)
        from suppressor_client import AuthenticatedClient
        from suppressor_client import models as m

        client = AuthenticatedClient(base_url=url, token=key, raise_on_unexpected_status=True)

        policy = _call("policy.get_policy", client)
        assert isinstance(policy, m.VersionedPolicy) and policy.version == 0
        put = _call(
            "policy.put_policy",
            client,
            body=m.Policy.from_dict(
                {
                    "relevance_threshold": 0.0,
                    "quiet_hours": {"enabled": False},
                    "balance": {"enabled": False},
                    "caps": [{"channel": "any", "max": 5, "window": "7d"}],
                }
            ),
        )
        assert put.version == 1
        patched = _call("policy.patch_policy", client, body=m.PatchPolicyChanges.from_dict({"holdout_fraction": 0.0}))
        assert patched.version == 2 and patched.caps[0].max_ == 5 and patched.holdout_fraction == 0.0

        profile = m.CustomerIn.from_dict(
            {"consent": {"email": True}, "timezone": "America/Chicago", "attributes": {"lead_stage": "shopping"}}
        )
        assert isinstance(_call("customers.put_customer", client, customer_id="acme|42", body=profile), m.CustomerOut)
        got = _call("customers.get_customer", client, customer_id="acme|42")
        assert got.customer_id == "acme|42" and got.consent["email"] is True

        ts = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        ingested = _call(
            "events.ingest_events",
            client,
            body=m.EventBatch.from_dict(
                {
                    "events": [
                        {"event_id": "e-1", "customer_id": "acme|42", "type": "opened", "ts": ts, "channel": "email"}
                    ]
                }
            ),
        )
        assert ingested.accepted == 1

        msg = {
            "message_id": "m-1",
            "channel": "email",
            "kind": "value",
            "topics": ["content:clinic"],
            "offer": {"key": "clinic", "terms": {"seats": 20}},
        }
        one = _call(
            "decisions.decide", client, body=m.DecisionRequest.from_dict({"customer_id": "acme|42", "message": msg})
        )
        assert isinstance(one, m.Decision) and one.action.value == "send", one
        many = _call(
            "decisions.decide_batch",
            client,
            body=m.DecisionBatch.from_dict(
                {
                    "items": [
                        {"customer_id": "acme|42", "message": msg},
                        {"customer_id": "acme|42", "message": {**msg, "message_id": "m-2"}},
                    ]
                }
            ),
        )
        assert [d.decision_id for d in many.results][0] == one.decision_id and many.results[0].replayed

        timeline = _call("customers.get_timeline", client, customer_id="acme|42")
        assert {i.to_dict()["type"] for i in timeline.items} >= {"decision", "event"}
        assert isinstance(_call("models.list_models", client), m.ModelList)

        hook = _call("webhooks.create_webhook", client, body=m.HookIn.from_dict({"provider": "iterable"}))
        listed = _call("webhooks.list_webhooks", client)
        assert [w.id for w in listed.webhooks] == [hook.id]
        _call("webhooks.delete_webhook", client, hook_id=hook.id)
        assert _call("webhooks.list_webhooks", client).webhooks == []

        _call("customers.delete_customer", client, customer_id="acme|42")
        gone = importlib.import_module("suppressor_client.api.customers.get_customer")
        assert gone.sync_detailed(client=client.with_headers({}), customer_id="acme|42").status_code == 404
        assert sc.__name__ == "suppressor_client"
