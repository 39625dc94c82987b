"""The OpenAPI contract callers generate clients from: stable operation ids, the bearer scheme on
every tenant operation, problem+json on every error."""

from suppressor.api.app import create_app

# renaming any of these breaks every generated client: change them only with a new API version
OPERATIONS = {
    ("post", "/v1/decisions"): "decide", ("post", "/v1/decisions:batch"): "decideBatch",
    ("get", "/v1/decide"): "decideByUrl", ("post", "/v1/decisions:exclusions"): "exclusionList", ("get", "/v1/decisions"): "listDecisions",
    ("post", "/v1/decisions/{decision_id}/release"): "releaseDecision", ("post", "/v1/events"): "ingestEvents",
    ("put", "/v1/customers/{customer_id}"): "putCustomer", ("get", "/v1/customers/{customer_id}"): "getCustomer",
    ("delete", "/v1/customers/{customer_id}"): "deleteCustomer", ("get", "/v1/timeline/{customer_id}"): "getTimeline",
    ("get", "/v1/policy"): "getPolicy", ("put", "/v1/policy"): "putPolicy", ("patch", "/v1/policy"): "patchPolicy",
    ("post", "/v1/policy:simulate"): "simulatePolicy", ("post", "/v1/policy:tradeoff"): "tradeoffCurve",
    ("get", "/v1/holdout"): "holdoutLift", ("post", "/v1/models/train"): "trainModel",
}


def test_operation_ids_are_stable_and_unique():
    spec = create_app().openapi()
    ids = {(method, path): op["operationId"] for path, ops in spec["paths"].items() for method, op in ops.items()}
    assert len(set(ids.values())) == len(ids)
    assert {k: ids.get(k) for k in OPERATIONS} == OPERATIONS


def test_every_tenant_operation_declares_the_bearer_key_and_problem_answers():
    spec = create_app().openapi()
    assert spec["components"]["securitySchemes"]["apiKey"] == {
        "type": "http", "scheme": "bearer", "description": "a tenant API key: `suppressor keys create`"}
    for path, ops in spec["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, op in ops.items():
            assert op.get("security") == [{"apiKey": []}], (method, path)
            errors = {code: r for code, r in op["responses"].items() if code.startswith(("4", "5"))}
            assert "401" in errors, (method, path)
            for code, r in errors.items():
                verdict = path == "/v1/decide" and code == "409"  # the verdict itself, for feeds (non_send_status)
                if "content" in r and not verdict:
                    assert "application/problem+json" in r["content"], (method, path, code)
