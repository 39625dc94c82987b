"""RFC 7807 problem responses: a title, a detail, and the fields at fault."""

from __future__ import annotations

import re
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from suppressor.errors import Conflict, NotFound, Refused, Unavailable
from suppressor.storage.store import out_of_memory

PROBLEM = "application/problem+json"
FULL_RETRY = 10  # seconds: a full store does not empty itself in a moment
MAX_ERRORS = 50  # a 10,000-event batch with one systematic mistake should not echo 10,000 errors


class FieldError(BaseModel):
    """One field at fault."""

    field: str = Field(description="where, e.g. 'events[3].ts' or 'message.channel'")
    message: str = Field(description="why, in words")


class Problem(BaseModel):
    """An RFC 7807 problem (media type application/problem+json)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


def doc(description: str) -> dict[str, Any]:
    return {"description": description, "model": Problem, "content": {PROBLEM: {}}}


# every /v1 call can answer these (api.gate and the handlers below)
RESPONSES: dict[int | str, dict[str, Any]] = {
    400: doc("malformed JSON"),
    401: doc("no, unknown, revoked or expired API key"),
    413: doc("body or batch too large"),
    422: doc("invalid request: the fields at fault, in words; nothing was stored"),
    429: doc("rate limit of this key (Retry-After), or too many simulations at once"),
    503: doc("the store does not answer, or is full (Retry-After); nothing was stored"),
}
NOT_FOUND = {404: doc("no such resource")}
CONFLICT = {409: doc("a conflicting operation is under way")}


class ApiError(Exception):
    """An error with a status, a human title/detail and optionally the field at fault."""

    def __init__(self, status: int, title: str, detail: str, field: str | None = None, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.field, self.headers = status, title, detail, field, headers


def problem(
    status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None, headers: dict | None = None
) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def store_full() -> JSONResponse:
    """The 503 of a write the store has no room for."""
    return problem(
        503,
        "Store full",
        "the store is full (its maxmemory is reached): nothing was stored; retry later, once room is made",
        headers={"Retry-After": str(FULL_RETRY)},
    )


def invalid(exc: ValidationError, *where: str) -> RequestValidationError:
    """A model validated by hand reported like FastAPI's own: its errors located under ``where``."""
    return RequestValidationError([{**e, "loc": (*where, *e["loc"])} for e in exc.errors()])


def field_path(loc: tuple | list) -> str:
    """('body', 'events', 3, 'type') -> 'events[3].type'."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out or "body"


def _words(msg: str) -> str:
    """pydantic's message without its "Value error, " prefix (our validators already speak in words)."""
    return msg.removeprefix("Value error, ")


def _count_rejected_events(request: Request, field: str | None) -> None:
    """An event batch refused whole, counted by the field at fault (indexes dropped: bounded labels)."""
    if request.url.path == "/v1/events":
        services = getattr(request.app.state, "services", None)
        if services is not None:
            services.metrics.events_rejected.labels(re.sub(r"\[\d+\]", "", field or "body")).inc()


def install(app: FastAPI) -> None:
    """Register the problem handlers on ``app``."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errs):
            e = next(e for e in errs if e.get("type") == "json_invalid")
            return problem(
                400,
                "Malformed JSON",
                f"the body is not valid JSON: {e.get('ctx', {}).get('error', e['msg'])}",
                [{"field": "body", "message": e["msg"]}],
            )
        errors = [{"field": field_path(e["loc"]), "message": _words(e["msg"])} for e in errs[:MAX_ERRORS]]
        first = errors[0]
        _count_rejected_events(request, first["field"])
        more = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
        return problem(
            422, "Invalid request", f"{first['field']}: {first['message']}{more}; nothing was stored", errors
        )

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        errors = [{"field": exc.field, "message": exc.detail}] if exc.field else None
        if exc.status < 500:
            _count_rejected_events(request, exc.field)
        return problem(exc.status, exc.title, exc.detail, errors, exc.headers)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        errors = [{"field": exc.field, "message": exc.detail}] if exc.field else None
        return problem(404, "Not found", exc.detail, errors)

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> JSONResponse:
        return problem(409, exc.title, exc.detail, None)

    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, exc: Unavailable) -> JSONResponse:
        return problem(503, "Not set up", exc.detail, [{"field": exc.setting, "message": exc.detail}])

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> JSONResponse:
        errors = [{"field": where, "message": why} for where, why in exc.errors[:MAX_ERRORS]]
        first = errors[0]
        _count_rejected_events(request, first["field"])
        return problem(422, "Invalid request", f"{first['field']}: {first['message']}; nothing was stored", errors)

    @app.exception_handler(redis.ConnectionError)
    @app.exception_handler(redis.TimeoutError)
    async def _store(request: Request, exc: redis.RedisError) -> JSONResponse:
        # nothing half-done to undo: every write is one script or one transaction
        return problem(
            503,
            "Store unavailable",
            f"the store did not answer in time ({type(exc).__name__}); retry shortly",
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(redis.ResponseError)
    async def _refused_by_store(request: Request, exc: redis.ResponseError) -> JSONResponse:
        if not out_of_memory(exc):
            raise exc
        return store_full()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), str(exc.detail), headers=getattr(exc, "headers", None))
