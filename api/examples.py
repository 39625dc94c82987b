"""Request and response examples for every operation of the OpenAPI document.

The examples were recorded from a real run (the quickstart's dealership, small, on an embedded
store) by ``python scripts/record_examples.py``, which rewrites ``static/openapi-examples.json``.
The app attaches them to its schema (``install``) and ``tests/api/test_openapi.py`` checks that
every operation has them and that each validates against the schema. Record them again after
changing a request or response shape."""

from __future__ import annotations

import json
from importlib import resources

from fastapi import FastAPI

FILE = "openapi-examples.json"


def load() -> dict[str, dict]:
    """The recorded examples by operation id."""
    return json.loads(resources.files("suppressor.api.static").joinpath(FILE).read_text())


def attach(spec: dict, examples: dict[str, dict]) -> dict:
    """Put each operation's examples into the schema: the body, the query parameters, the answer."""
    for ops in spec["paths"].values():
        for op in ops.values():
            ex = examples.get(op.get("operationId"))
            if ex is None:
                continue
            for param in op.get("parameters", []):
                if param["in"] == "query" and param["name"] in (ex.get("query") or {}):
                    param["example"] = ex["query"][param["name"]]
            if ex.get("request") is not None and "requestBody" in op:
                for media in op["requestBody"]["content"].values():
                    media["example"] = ex["request"]
            answer = op["responses"].get(str(ex["status"]), {})
            for media in answer.get("content", {}).values():
                if ex.get("response") is not None:
                    media["example"] = ex["response"]
    return spec


def install(app: FastAPI) -> None:
    """Serve the schema with the recorded examples attached."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            attach(build(), load())
        assert app.openapi_schema is not None  # FastAPI.openapi() keeps the schema it builds
        return app.openapi_schema

    # FastAPI's documented way to extend the schema ("Extending OpenAPI"), though it types openapi as a method
    app.openapi = openapi  # type: ignore[method-assign]
