"""Record the OpenAPI examples: run the quickstart's dealership (small, embedded, in a temporary
folder), ask every operation once through the app and write what it answered to
``api/static/openapi-examples.json`` (the app attaches them to its schema; tests/api/test_openapi.py
checks every operation has one and each validates). Run after changing a request or response shape:

    python scripts/record_examples.py
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from suppressor.api.examples import FILE

CUSTOMER = "c-1001"
SUV = {
    "message_id": "m-1001-spring",
    "campaign_id": "spring-suv",
    "channel": "email",
    "kind": "sales",
    "topics": ["segment:suv", "offer:lease"],
    "offer": {"key": "suv-lease", "terms": {"apr": 2.9}},
}
CLINIC = {"message_id": "m-winter-clinic", "channel": "email", "kind": "value", "topics": ["content:clinic"]}
RECALL = {
    "message_id": "m-airbag-recall",
    "campaign_id": "recall-24v",
    "channel": "email",
    "kind": "service",
    "topics": ["service:recall"],
}


def _recent(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def steps(demo_customer: str) -> list[tuple[str, str, str, dict | None, Any]]:
    """(operation id, method, path, query, body) in the order the recorder asks them; ``{name}`` in a
    path is filled from earlier answers (a decision id, a job id, a model version, a hook id)."""
    batch = {
        "items": [
            {"customer_id": CUSTOMER, "message": CLINIC},
            {"customer_id": demo_customer, "allow_reroute": False, "message": CLINIC},
        ]
    }
    return [
        ("healthz", "GET", "/healthz", None, None),
        ("readyz", "GET", "/readyz", None, None),
        (
            "putCustomer",
            "PUT",
            f"/v1/customers/{CUSTOMER}",
            None,
            {
                "attributes": {"lead_stage": "shopping", "zip": "75201"},
                "consent": {"email": True, "sms": True, "direct_mail": True},
                "preferred_channel": "email",
                "timezone": "America/Chicago",
                "household_id": "hh-77",
                "vehicles": [
                    {
                        "vin": "1FMCU9J98MUA12345",
                        "year": 2017,
                        "make": "ford",
                        "model": "escape",
                        "segment": "suv",
                        "purchased_at": "2017-05-04T15:00:00Z",
                        "next_service_due": "2027-01-10T15:00:00Z",
                    }
                ],
                "emails": ["ann@example.com"],
                "phones": ["+15550102030"],
            },
        ),
        (
            "ingestEvents",
            "POST",
            "/v1/events",
            None,
            {
                "events": [
                    {
                        "event_id": "crm-88121",
                        "customer_id": CUSTOMER,
                        "type": "opened",
                        "ts": _recent(30),
                        "channel": "email",
                        "message_id": "m-1001-fall",
                        "campaign_id": "fall-suv",
                        "kind": "sales",
                        "topics": ["segment:suv"],
                    },
                    {
                        "event_id": "crm-88122",
                        "customer_id": CUSTOMER,
                        "type": "clicked",
                        "ts": _recent(29),
                        "channel": "email",
                        "message_id": "m-1001-fall",
                        "campaign_id": "fall-suv",
                        "kind": "sales",
                        "topics": ["segment:suv"],
                    },
                ]
            },
        ),
        ("getCustomer", "GET", f"/v1/customers/{CUSTOMER}", None, None),
        ("getPolicy", "GET", "/v1/policy", None, None),
        ("patchPolicy", "PATCH", "/v1/policy", None, {"relevance_threshold": 0.01, "quiet_hours": {"enabled": False}}),
        ("decide", "POST", "/v1/decisions", None, {"customer_id": CUSTOMER, "message": SUV, "allow_reroute": True}),
        (
            "decideByUrl",
            "GET",
            "/v1/decide",
            {
                "customer_id": CUSTOMER,
                "message_id": "m-1001-tire",
                "channel": "email",
                "kind": "service",
                "topic": ["service:tires"],
            },
            None,
        ),
        ("decideBatch", "POST", "/v1/decisions:batch", None, batch),
        ("exclusionList", "POST", "/v1/decisions:exclusions", None, batch),
        (
            "choose",
            "POST",
            "/v1/decisions:choose",
            None,
            {
                "customer_id": demo_customer,
                "pick": 1,
                "candidates": [{**SUV, "message_id": "m-spring-lease", "priority": 30}, RECALL],
            },
        ),
        (
            "chooseBatch",
            "POST",
            "/v1/decisions:choose-batch",
            None,
            {
                "items": [
                    {
                        "customer_id": CUSTOMER,
                        "candidates": [
                            {**CLINIC, "message_id": "m-plan-clinic"},
                            {**RECALL, "message_id": "m-plan-recall"},
                        ],
                    }
                ]
            },
        ),
        ("listDecisions", "GET", "/v1/decisions", {"limit": 2, "customer_id": CUSTOMER}, None),
        ("listDeferred", "GET", "/v1/deferred", {"due_before": _recent(-48), "limit": 2}, None),
        ("getTimeline", "GET", f"/v1/timeline/{CUSTOMER}", {"limit": 4}, None),
        ("releaseDecision", "POST", "/v1/decisions/{decision_id}/release", None, None),
        (
            "putPolicy",
            "PUT",
            "/v1/policy",
            None,
            {
                "relevance_threshold": 0.08,
                "holdout_fraction": 0.1,
                "caps": [{"channel": "any", "max": 4, "window": "7d"}, {"channel": "sms", "max": 1, "window": "7d"}],
                "quiet_hours": {"enabled": True, "start": "20:00", "end": "08:00"},
            },
        ),
        ("policyHistory", "GET", "/v1/policy/history", None, None),
        ("putCampaignPolicy", "PUT", "/v1/campaigns/spring-suv/policy", None, {"relevance_threshold": 0.15}),
        ("getCampaignPolicy", "GET", "/v1/campaigns/spring-suv/policy", None, None),
        ("deleteCampaignPolicy", "DELETE", "/v1/campaigns/spring-suv/policy", None, None),
        (
            "simulatePolicy",
            "POST",
            "/v1/policy:simulate",
            None,
            {"changes": {"relevance_threshold": 0.12}, "since": "14d", "examples": 2},
        ),
        (
            "tradeoffCurve",
            "POST",
            "/v1/policy:tradeoff",
            None,
            {"param": "relevance_threshold", "values": [0.05, 0.1, 0.2], "max_decisions": 2000},
        ),
        ("holdoutLift", "GET", "/v1/holdout", {"since": "14d", "bucket_days": 7}, None),
        ("measureIncrementality", "GET", "/v1/incrementality", {"window": "14d"}, None),
        (
            "putContent",
            "PUT",
            "/v1/content/winter-clinic",
            None,
            {
                "title": "Winter driving clinic, Saturday 10am",
                "kind": "value",
                "topics": ["content:clinic", "event:clinic"],
                "channels": ["email", "sms"],
                "url": "https://dealer.example.com/clinic",
                "audience": {"segments": ["suv", "truck"], "min_vehicle_age": 3},
            },
        ),
        ("getContent", "GET", "/v1/content/winter-clinic", None, None),
        ("listContent", "GET", "/v1/content", None, None),
        ("deleteContent", "DELETE", "/v1/content/winter-clinic", None, None),
        ("listModels", "GET", "/v1/models", None, None),
        ("activateModel", "POST", "/v1/models/{version}/activate", None, None),
        ("trainModel", "POST", "/v1/models/train", None, None),
        ("getTrainingJob", "GET", "/v1/models/jobs/{job_id}", None, None),
        ("putTrainingSchedule", "PUT", "/v1/models/schedule", None, {"at": "03:00"}),
        ("getTrainingSchedule", "GET", "/v1/models/schedule", None, None),
        ("deleteTrainingSchedule", "DELETE", "/v1/models/schedule", None, None),
        (
            "receiveWebhook",
            "POST",
            "/v1/hooks/braze/{hook_id}",
            None,
            {
                "events": [
                    {
                        "event_type": "users.messages.email.Open",
                        "id": "8c2a1f0e-open",
                        "time": 1764320000,
                        "user": {"user_id": "5e7d9f21", "external_user_id": CUSTOMER},
                        "properties": {"campaign_id": "spring-suv", "email_address": "ann@example.com"},
                    }
                ]
            },
        ),
        ("createWebhook", "POST", "/v1/webhooks", None, {"provider": "iterable"}),
        ("listWebhooks", "GET", "/v1/webhooks", None, None),
        ("deleteWebhook", "DELETE", "/v1/webhooks/{webhook_id}", None, None),
        ("deleteCustomer", "DELETE", f"/v1/customers/{CUSTOMER}", None, None),
    ]


def _trim(value: Any, items: int = 2) -> Any:
    """A recorded answer made short: lists cut to ``items``, maps of many keys to a few."""
    if isinstance(value, list):
        return [_trim(v, items) for v in value[:items]]
    if isinstance(value, dict):
        return {k: _trim(v, items) for k, v in value.items()}
    return value


def record() -> dict[str, dict]:
    """Run the quickstart's dealership (small, embedded, in a temporary folder) and ask every step."""
    import os
    import tempfile

    from fastapi.testclient import TestClient

    from suppressor.api import quickstart
    from suppressor.api.app import create_app
    from suppressor.hooks import registry
    from suppressor.settings import Settings
    from suppressor.storage.store import Store
    from suppressor.tenants import apikeys

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.pop("REDIS_URL", None)
        os.environ["SUPPRESSOR_DATA_DIR"] = tmp
        os.environ["SUPPRESSOR_PUBLIC_URL"] = "https://suppressor.example.com"  # the URLs webhooks answer
        os.environ["SUPPRESSOR_TRAINING_RUNNER"] = "queue"  # training goes to the queue (no worker runs here)
        quickstart.run(customers=300, weeks=8, serve=False)
        settings = Settings()
        store = Store(settings)
        key = apikeys.create_key(store, quickstart.TENANT)
        hook = registry.create(store, quickstart.TENANT, "braze")
        demo = sorted(
            c.decode()
            for c in store.bulk.srandmember(f"sup:{{{quickstart.TENANT}}}:customers", 5)
            if c.decode() != CUSTOMER
        )[0]
        found: dict[str, str] = {"hook_id": hook.id}
        out: dict[str, dict] = {}
        with TestClient(create_app(settings, store)) as client:
            for op, method, path, query, body in steps(demo):
                headers = {"Authorization": f"Bearer {hook.secret if op == 'receiveWebhook' else key}"}
                r = client.request(method, path.format(**found), params=query, json=body, headers=headers)
                assert r.status_code < 300, (op, r.status_code, r.text)
                answer: Any = (  # JSON of any shape
                    r.json() if r.headers.get("content-type", "").startswith("application/json") else (r.text or None)
                )
                if isinstance(answer, dict) and answer.get("action") in ("send", "reroute"):
                    found.setdefault("decision_id", answer["decision_id"])  # a send, to release
                if isinstance(answer, dict) and "job_id" in answer:
                    found["job_id"] = answer["job_id"]
                if op == "createWebhook":
                    found["webhook_id"] = answer["id"]
                if op == "listModels":
                    found["version"] = answer["active"]
                out[op] = {"status": r.status_code, "query": query, "request": body, "response": _trim(answer)}
        store.close()
    return out


if __name__ == "__main__":
    target = Path(__file__).resolve().parents[1] / "api" / "static" / FILE
    target.write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {target}")
