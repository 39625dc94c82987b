"""Request bodies parsed by pydantic's own JSON parser, answers serialized by it.

FastAPI reads a JSON body with ``json.loads`` and then validates the Python objects, and
serializes an answer to Python objects and then with ``json.dumps``. On a 10,000-item batch of
decisions that is ~50 µs per item in and ~33 µs out; pydantic's one-pass JSON validator and
``model_dump_json`` take ~15 µs and ~7 µs (bench/decisions.py, "where the time goes")."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError


class _Unsound(ValueError):
    """A non-finite number or a repeated key: the slow pass finds where."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Unsound
    return out


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999: valid JSON, no number
        raise _Unsound
    return value


def _int(text: str) -> int:
    if len(text) > 308 and math.isinf(float(text)):  # an integer past any double: no number the store holds
        raise _Unsound
    return int(text)


def _constant(text: str) -> Any:
    raise _Unsound  # NaN, Infinity, -Infinity: Python's json takes them, JSON does not


# one C pass over the body; the hooks only run on objects and numbers
_SOUND = json.JSONDecoder(object_pairs_hook=_pairs, parse_float=_float, parse_int=_int, parse_constant=_constant)


class _Pairs(list):
    """An object as written: its (key, value) pairs, repeats kept."""


class _NotANumber(str):
    """A number token that is no finite number, as written."""


def _keep_float(text: str) -> Any:
    return _NotANumber(text) if math.isinf(float(text)) else 0


def _keep_int(text: str) -> Any:
    return _NotANumber(text) if len(text) > 308 and math.isinf(float(text)) else 0


_AS_WRITTEN = json.JSONDecoder(
    object_pairs_hook=_Pairs, parse_float=_keep_float, parse_int=_keep_int, parse_constant=_NotANumber
)


def _first_fault(node: Any, path: str) -> tuple[str, str] | None:
    if isinstance(node, _NotANumber):
        shown = node if len(node) <= 24 else f"{node[:20]}… ({len(node)} digits)"
        return path or "body", (f"{shown} is not a finite number: NaN, Infinity and numbers past ±1.8e308 are refused")
    if isinstance(node, _Pairs):
        seen = set()
        for key, value in node:
            where = f"{path}.{key}" if path else key
            if key in seen:
                return where, f"the key {json.dumps(key)} appears more than once in one object: each key once"
            seen.add(key)
            fault = _first_fault(value, where)
            if fault:
                return fault
    elif isinstance(node, list):
        for i, value in enumerate(node):
            fault = _first_fault(value, f"{path}[{i}]")
            if fault:
                return fault
    return None


def json_fault(raw: bytes | str) -> tuple[str, str] | None:
    """The first non-finite number (NaN, Infinity, 1e999) or repeated key in a JSON text, as (its JSON
    path, what is wrong, in words); None for sound JSON, and for text that is no JSON at all (the
    parser that reads it answers that)."""
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    try:
        _SOUND.decode(text)
    except _Unsound:
        try:
            return _first_fault(_AS_WRITTEN.decode(text), "")
        except ValueError:  # broken further on: no JSON after all
            return None
    except ValueError:  # not JSON, an integer too long to read
        pass
    return None


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
