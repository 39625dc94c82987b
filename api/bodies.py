"""Request bodies parsed by pydantic's own JSON parser, answers serialized by it; event batches
decoded by msgspec where each event is one pydantic would accept unchanged.

FastAPI reads a JSON body with ``json.loads`` and then validates the Python objects, and
serializes an answer to Python objects and then with ``json.dumps``. On a 10,000-item batch of
decisions that is ~50 µs per item in and ~33 µs out; pydantic's one-pass JSON validator and
``model_dump_json`` take ~15 µs and ~7 µs (bench/decisions.py, "where the time goes"). An event
batch is ingest's whole input: msgspec reads it into what ingest stores in ~2 µs an event, where
pydantic's model and its JSON took ~9 µs (docs/benchmarks.md)."""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec
from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, PrivateAttr, TypeAdapter, ValidationError

from suppressor.customers.events import Incoming, incoming
from suppressor.domain import EPOCH, ID_MAX, Channel, Event, EventBatch, EventType, Kind, opaque_id


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

    request_class: type[_ParsedRequest] = _ParsedRequest

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        model = self.body_field.field_info.annotation if self.body_field is not None else None
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return handler
        request_class = self.request_class

        async def parsed(request: Request) -> Response:
            return await handler(request_class(request.scope, request.receive, model))

        return parsed


# ---- event batches: msgspec checks the types and lengths in C; the rest, in Python, below
_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=ID_MAX)]
_Topic = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
_NO_PROPERTIES = msgspec.Raw(b"{}")


class _Event(msgspec.Struct, forbid_unknown_fields=True):
    event_id: _Id
    customer_id: _Id
    type: str
    ts: str
    channel: str | None = None
    message_id: _Id | None = None
    campaign_id: _Id | None = None
    kind: str | None = None
    topics: Annotated[list[_Topic], msgspec.Meta(max_length=50)] = []
    properties: msgspec.Raw = _NO_PROPERTIES


class _Batch(msgspec.Struct, forbid_unknown_fields=True):
    events: Annotated[list[_Event], msgspec.Meta(min_length=1)]


class _Stored(msgspec.Struct, omit_defaults=True):
    """The stored JSON of an event, field for field what pydantic's ``model_dump_json`` writes of it."""

    event_id: str
    type: str
    ts: str
    channel: str | None = None
    message_id: str | None = None
    campaign_id: str | None = None
    kind: str | None = None
    topics: list[str] | None = None  # always given (so always written, [] too)
    properties: dict | None = None  # always given: {}


_DECODE = msgspec.json.Decoder(_Batch).decode
_ENCODE = msgspec.json.Encoder().encode
_TYPES = frozenset(t.value for t in EventType)
_KINDS = frozenset(k.value for k in Kind)
_CHANNEL = TypeAdapter(Channel)
_UTC_SECOND = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", re.ASCII)  # what pydantic writes back as is
_NOT_IDS = (".", "..")
_row = tuple.__new__  # an Incoming made in C: its generated __new__ costs ~0.5 µs an event


def _opaque(value: str) -> bool:
    try:
        opaque_id(value)
    except ValueError:
        return False
    return True


def _channel(channel: str) -> bool:
    try:
        _CHANNEL.validate_python(channel)
    except ValidationError:
        return False
    return True


def _sound(value: str, seen: set[str], check: Callable[[str], bool]) -> bool:
    """``check(value)``, remembered in ``seen`` when it holds (the ids of a batch repeat)."""
    if not check(value):
        return False
    seen.add(value)
    return True


def event_rows(raw: bytes) -> list[Incoming] | None:
    """A POST /v1/events body's events as ingest stores them, exactly as from pydantic's ``EventBatch``:
    an event pydantic would take unchanged (no properties, a UTC timestamp to the second, printable
    ids and topics) is read here, any other by pydantic alone; None when pydantic would refuse the
    batch (it then answers, naming the fields at fault)."""
    try:
        batch = _DECODE(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    latest = datetime.now(UTC) + timedelta(days=1)
    ids: set[str] = set()  # customer, message and campaign ids seen sound (they repeat)
    channels: set[str] = set()
    topics: set[str] = set()
    rows = []
    for e in batch.events:
        eid, cid, ch, mid, cmp = e.event_id, e.customer_id, e.channel, e.message_id, e.campaign_id
        at = None
        if (
            (e.properties is _NO_PROPERTIES or e.properties == _NO_PROPERTIES)
            and e.type in _TYPES
            and (e.kind is None or e.kind in _KINDS)
            and (eid.isprintable() and eid not in _NOT_IDS)
            and (cid in ids or _sound(cid, ids, _opaque))
            and (mid is None or mid in ids or _sound(mid, ids, _opaque))
            and (cmp is None or cmp in ids or _sound(cmp, ids, _opaque))
            and (ch is None or ch in channels or _sound(ch, channels, _channel))
            and (topics.issuperset(e.topics) or all(t.isprintable() and t[0] != " " and t[-1] != " " for t in e.topics))
            and _UTC_SECOND.fullmatch(e.ts)
        ):
            try:
                at = datetime.fromisoformat(e.ts)
            except ValueError:
                at = None
        if at is not None and EPOCH <= at <= latest:
            topics.update(e.topics)
            body = _ENCODE(_Stored(eid, e.type, e.ts, ch, mid, cmp, e.kind, sorted(set(e.topics)), {}))
            rows.append(_row(Incoming, (eid, at.timestamp(), e.type, ch or "", mid or "", body, cid, None)))
            continue
        fields = {f: v for f in e.__struct_fields__ if (v := getattr(e, f)) is not None}
        fields["properties"] = msgspec.json.decode(e.properties)
        try:
            rows.append(incoming(Event.model_validate(fields)))
        except ValidationError:
            return None
    return rows


class DecodedEvents(EventBatch):
    """An ``EventBatch`` read by ``EventsRoute``: its events already as ingest stores them."""

    _rows: list[Incoming] = PrivateAttr(default_factory=list)


def stored_events(batch: EventBatch) -> list[Incoming]:
    """A batch's events as ingest stores them."""
    return batch._rows if isinstance(batch, DecodedEvents) else [incoming(e) for e in batch.events]


class _EventsRequest(_ParsedRequest):
    async def json(self) -> Any:
        """The body as a ``DecodedEvents``; a body pydantic refuses goes FastAPI's usual way."""
        if not hasattr(self, "_json"):
            raw = await self.body()
            rows = event_rows(raw) if len(raw) < 65536 else await asyncio.to_thread(event_rows, raw)
            if rows is None:
                try:
                    rows = [incoming(e) for e in EventBatch.model_validate_json(raw).events]
                except ValidationError:
                    self._json = json.loads(raw)  # FastAPI validates it: its 422, or its 400 for no JSON
                    return self._json
            decoded = DecodedEvents.model_construct(events=[])
            decoded._rows = rows
            self._json = decoded
        return self._json


class EventsRoute(ParsedBodyRoute):
    """The route of POST /v1/events: its body decoded by ``event_rows`` (the schema and the error
    answers are still the ``EventBatch`` model's)."""

    request_class = _EventsRequest


def json_answer(model: BaseModel, status_code: int = 200) -> Response:
    """``model`` as a JSON response, serialized by pydantic in one pass (what FastAPI would send)."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")
