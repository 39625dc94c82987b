"""Request bodies parsed by pydantic's own JSON parser, answers serialized by it.

FastAPI reads a JSON body with ``json.loads`` and then validates the Python objects, and
serializes an answer to Python objects and then with ``json.dumps``. On a 10,000-item batch of
decisions that is ~50 µs per item in and ~33 µs out; pydantic's one-pass JSON validator and
``model_dump_json`` take ~15 µs and ~7 µs (bench/decisions.py, "where the time goes")."""

from __future__ import annotations

import json
from typing import Any, Callable, Coroutine

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError


class _ParsedRequest(Request):
    """A request whose JSON is its route's body model, validated from the raw bytes in one pass."""

    def __init__(self, scope: Any, receive: Any, model: type[BaseModel]):
        super().__init__(scope, receive)
        self._model = model

    async def json(self) -> Any:
        """The body as the route's model; a body that does not validate goes FastAPI's usual way
        (decoded here, validated by FastAPI), so its errors read exactly as every other route's."""
        if not hasattr(self, "_json"):
            raw = await self.body()
            try:
                self._json = self._model.model_validate_json(raw)
            except ValidationError:
                self._json = json.loads(raw)  # not JSON at all: FastAPI's 400, as before
        return self._json


class ParsedBodyRoute(APIRoute):
    """An APIRoute whose JSON body (a pydantic model) is validated straight from the bytes; the
    schema, the dependencies and the error answers are FastAPI's as for any route."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        model = self.body_field.field_info.annotation if self.body_field is not None else None
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return handler

        async def parsed(request: Request) -> Response:
            return await handler(_ParsedRequest(request.scope, request.receive, model))

        return parsed


def json_answer(model: BaseModel, status_code: int = 200) -> Response:
    """``model`` as a JSON response, serialized by pydantic in one pass (what FastAPI would send)."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")
