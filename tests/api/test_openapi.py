"""The OpenAPI contract callers generate clients from: stable operation ids, the bearer scheme on
every tenant operation, problem+json on every error."""

from suppressor.api.app import create_app

# renaming any of these breaks every generated client: change them only with a new API version
OPERATIONS = {
    ("post", "/v1/decisions"): "decide",
    ("post", "/v1/decisions:batch"): "decideBatch",
    ("get", "/v1/decide"): "decideByUrl",
    ("post", "/v1/decisions:exclusions"): "exclusionList",
    ("get", "/v1/decisions"): "listDecisions",
    ("post", "/v1/decisions/{decision_id}/release"): "releaseDecision",
    ("post", "/v1/events"): "ingestEvents",
    ("put", "/v1/customers/{customer_id}"): "putCustomer",
    ("get", "/v1/customers/{customer_id}"): "getCustomer",
    ("delete", "/v1/customers/{customer_id}"): "deleteCustomer",
    ("get", "/v1/timeline/{customer_id}"): "getTimeline",
    ("get", "/v1/policy"): "getPolicy",
    ("put", "/v1/policy"): "putPolicy",
    ("patch", "/v1/policy"): "patchPolicy",
    ("post", "/v1/policy:simulate"): "simulatePolicy",
    ("post", "/v1/policy:tradeoff"): "tradeoffCurve",
    ("get", "/v1/holdout"): "holdoutLift",
    ("post", "/v1/models/train"): "trainModel",
    ("post", "/v1/hooks/{provider}/{hook_id}"): "receiveWebhook",
    ("post", "/v1/webhooks"): "createWebhook",
    ("get", "/v1/webhooks"): "listWebhooks",
    ("delete", "/v1/webhooks/{hook_id}"): "deleteWebhook",
    ("put", "/v1/models/schedule"): "putTrainingSchedule",
    ("get", "/v1/models/schedule"): "getTrainingSchedule",
    ("delete", "/v1/models/schedule"): "deleteTrainingSchedule",
}


def test_operation_ids_are_stable_and_unique():
    spec = create_app().openapi()
    ids = {(method, path): op["operationId"] for path, ops in spec["paths"].items() for method, op in ops.items()}
    assert len(set(ids.values())) == len(ids)
    assert {k: ids.get(k) for k in OPERATIONS} == OPERATIONS


def test_every_tenant_operation_declares_the_bearer_key_and_problem_answers():
    spec = create_app().openapi()
    assert spec["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "a tenant API key: `suppressor keys create`",
    }
    for path, ops in spec["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, op in ops.items():
            # webhooks authenticate by hook id and the provider's signature, never by API key (api.gate)
            keyless = path.startswith("/v1/hooks/")
            assert op.get("security") == ([] if keyless else [{"apiKey": []}]), (method, path)
            errors = {code: r for code, r in op["responses"].items() if code.startswith(("4", "5"))}
            assert "401" in errors, (method, path)
            for code, r in errors.items():
                verdict = path == "/v1/decide" and code == "409"  # the verdict itself, for feeds (non_send_status)
                if "content" in r and not verdict:
                    assert "application/problem+json" in r["content"], (method, path, code)


def test_every_operation_has_examples_that_validate_against_the_schema():
    """Each operation's request body, query parameters and success answer have an example (recorded
    from a real run, see api/examples.py), and each one is valid under the schema it illustrates."""
    from jsonschema import Draft202012Validator

    spec = create_app().openapi()
    Draft202012Validator.check_schema({"components": spec["components"]})

    def check(schema: dict, example, where: str) -> None:
        errors = list(Draft202012Validator({**schema, "components": spec["components"]}).iter_errors(example))
        assert not errors, (where, [e.message for e in errors[:3]])

    seen = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            for media in op.get("requestBody", {}).get("content", {}).values():
                assert "example" in media, f"{where}: no request example"
                check(media["schema"], media["example"], where + " request")
                seen += 1
            for param in op.get("parameters", []):
                if "example" in param:
                    check(param["schema"], param["example"], f"{where} ?{param['name']}")
            ok = {code: r for code, r in op["responses"].items() if code.startswith("2")}
            for code, answer in ok.items():
                for media_type, media in answer.get("content", {}).items():
                    if path == "/metrics":
                        continue  # Prometheus text, not a JSON shape
                    assert "example" in media, f"{where} {code} {media_type}: no response example"
                    if "schema" in media and media_type == "application/json":
                        check(media["schema"], media["example"], f"{where} {code} response")
                    seen += 1
    assert seen >= 40
