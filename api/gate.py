"""The door every request passes before a route sees it (pure ASGI: microseconds).

- stamps arrival (``scope["arrived"]``): a decision's deadline counts from there;
- ``/v1`` (but ``/v1/hooks/``, whose signatures are checked on the body by the webhook route):
  authenticates before any of the body is read (``scope["tenant"]``), applies the
  tenant's per-key rate limit (429 with ``Retry-After``) and bounds the body
  (``SUPPRESSOR_MAX_BODY_BYTES``, 413) by its Content-Length and by counting what arrives;
  a webhook's body is bounded the same way by what its provider sends (``SUPPRESSOR_HOOK_BODY_BYTES``);
  refuses (422) a JSON body holding a non-finite number or a repeated key, before any route reads it;
- a write (but a decision) while the store is full (``Store.memory``): 503, nothing stored;
- ``POST /v1/decisions``, once admitted, goes straight to ``routes.decisions.decide_lean`` (the hot
  path without FastAPI's routing; what it cannot answer it hands to the declared route);
- ``/metrics``: the ops token (``SUPPRESSOR_OPS_TOKEN``) when one is set, else loopback only.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import time
from urllib.parse import parse_qs

import redis
from starlette.requests import Request

from suppressor.hooks.providers import body_bytes
from suppressor.tenants.apikeys import key_id
from suppressor.tenants.limits import take

from .bodies import json_fault
from .errors import _count_rejected_events, problem, store_full
from .routes.decisions import LEAN_ROUTE, decide_lean

LOCAL = {"127.0.0.1", "::1", "testclient"}
JSONISH = re.compile(rb"\s*[\[{]")  # a body that any route would read as JSON (a form never starts so)
# the one path under /v1 that takes no API key: provider webhooks, authenticated by their hook id and the
# provider's signature (routes.hooks); nothing else may be registered under it (tests/api/test_gate.py)
WEBHOOKS = "/v1/hooks/"
# the one operation a decide-only key may ask, and the only one whose key may travel in the URL (?key=):
# template engines that cannot send a header (SFMC's AMPscript HTTPGet); URLs end up in logs, so such a
# key can do nothing else
URL_KEYED = ("GET", "/v1/decide")
CHALLENGE = {"WWW-Authenticate": "Bearer"}
# a full store refuses these methods at the door (503), before anything is half-stored; but decisions (the
# decide script writes whole or not at all, and degrades once Redis refuses it) and erasures (they only
# delete: the way to make room, and a customer's right that must not wait for one)
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DECISIONS, CUSTOMERS = "/v1/decisions", "/v1/customers/"


def _room_making(method: str, path: str) -> bool:
    """A write a full store still takes: a decision, an erasure."""
    return path.startswith(DECISIONS) or (method == "DELETE" and path.startswith(CUSTOMERS))


async def _problem(
    send, status: int, title: str, detail: str, field: str | None = None, headers: dict[str, str] | None = None
) -> None:
    """The same problem+json the routes answer (api.errors.problem), sent from here."""
    errors = [{"field": field, "message": detail}] if field else None
    await problem(status, title, detail, errors, headers)({"type": "http"}, _nothing_to_receive, send)


async def _nothing_to_receive() -> dict:
    """The receive of a response sent from here (a Response never reads it)."""
    return {"type": "http.disconnect"}


def _bearer(headers: dict[bytes, bytes]) -> str | None:
    raw = headers.get(b"authorization", b"").decode("latin-1")
    return raw[7:].strip() if raw[:7].lower() == "bearer " else None


def _query_key(scope) -> str | None:
    """The ``key`` query parameter, if the URL carries one."""
    return parse_qs(scope.get("query_string", b"").decode("latin-1")).get("key", [None])[0]


class Gate:
    """See the module docstring."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = 500  # a response never started is an error the server would have answered

        async def counted(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._serve(scope, receive, counted)
        finally:
            # by route template, never by raw path: ids in paths would make one series per customer
            route = getattr(scope.get("route"), "path", "unmatched")
            scope["app"].state.services.metrics.responses.labels(route, str(status)).inc()

    async def _serve(self, scope, receive, send):
        scope["arrived"] = time.monotonic()
        path = scope["path"]
        if path.startswith("/v1/"):
            if not path.isprintable():  # a control character in an id: no route could match it
                bad = next(ch for ch in path if not ch.isprintable())
                return await _problem(
                    send,
                    422,
                    "Invalid request",
                    f"the path holds the control character U+{ord(bad):04X}; ids are printable text",
                    "path",
                )
            services = scope["app"].state.services
            headers = dict(scope["headers"])
            if not path.startswith(WEBHOOKS) and not await self._admit(scope, send, services, headers):
                return
            if services.store.memory.full and scope["method"] in WRITES and not _room_making(scope["method"], path):
                return await store_full()(scope, receive, send)
            limit, setting = services.settings.max_body_bytes, "SUPPRESSOR_MAX_BODY_BYTES"
            if path.startswith(WEBHOOKS):
                limit = body_bytes(path[len(WEBHOOKS) :].split("/", 1)[0], services.settings.hook_body_bytes)
                setting = "what this provider sends; SUPPRESSOR_HOOK_BODY_BYTES"
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                return await _problem(
                    send,
                    413,
                    "Body too large",
                    f"the body is {int(length):,} bytes; at most {limit:,} per call ({setting}): split it",
                    "body",
                )
            return await self._bounded(scope, receive, send, limit, setting)
        if path == "/metrics" and not self._ops(scope, scope["app"].state.services.settings.ops_token):
            return await _problem(
                send,
                401,
                "Unauthorized",
                "/metrics needs the ops token "
                "(Authorization: Bearer <SUPPRESSOR_OPS_TOKEN>); without one set, it answers "
                "loopback callers only",
                "Authorization",
                CHALLENGE,
            )
        return await self.app(scope, receive, send)

    async def _admit(self, scope, send, services, headers) -> bool:
        """Authenticate and rate-limit; False when a problem was sent instead."""
        key, url_keyed = _bearer(headers), (scope["method"], scope["path"]) == URL_KEYED
        in_url = not key and url_keyed and _query_key(scope)
        key = key or in_url or None
        if not key:
            await _problem(
                send, 401, "Unauthorized", "send 'Authorization: Bearer <api key>'", "Authorization", CHALLENGE
            )
            return False
        deadline = services.settings.decision_deadline_ms / 1000
        try:
            grant = await services.keys.agrant_for(key, services.ahot, deadline)
        except redis.RedisError:
            await _problem(
                send,
                503,
                "Store unavailable",
                "cannot check the API key: the store does not answer",
                headers={"Retry-After": "1"},
            )
            return False
        if grant is None:
            await _problem(send, 401, "Unauthorized", "unknown, revoked or expired API key", "Authorization", CHALLENGE)
            return False
        tenant, key_scope = grant
        if in_url and key_scope != "decide":
            await _problem(
                send,
                401,
                "Unauthorized",
                "only a decide-only key (`suppressor keys create --scope "
                "decide`) may travel in a URL, which ends up in logs; send this key in the "
                "Authorization header, and revoke it if the URL was stored anywhere",
                "key",
                CHALLENGE,
            )
            return False
        if key_scope == "decide" and not url_keyed:
            await _problem(send, 403, "Forbidden", "a decide-only key may only ask GET /v1/decide", "Authorization")
            return False
        scope["tenant"] = tenant
        state = await services.states.aget(tenant, deadline / 2)  # at most once a second, off the loop
        rate, burst = state.rate_limit or (services.settings.rate_limit_per_second, services.settings.rate_limit_burst)
        if rate > 0 and services.store.up:
            try:
                wait_ms = await take(services.store, services.ahot, tenant, key_id(key), rate, burst, deadline / 2)
            except (TimeoutError, redis.RedisError):
                wait_ms = 0  # a limiter that cannot be read does not stop the caller
            if wait_ms:
                seconds = max(1, -(-wait_ms // 1000))
                await _problem(
                    send,
                    429,
                    "Too many requests",
                    f"this key is limited to {rate:g} requests per second (bursts of {burst:g}); retry in {seconds} s",
                    None,
                    {"Retry-After": str(seconds)},
                )
                return False
        return True

    async def _bounded(self, scope, receive, send, limit: int, setting: str):
        """Run the app, counting the body as it arrives; once it passes ``limit``, answer 413 and tell
        the app the client left (an exception would reach the app's body parser, which calls it a 400)."""
        seen, started, refused = 0, False, False
        chunks: list[bytes] = []

        async def counting_receive():
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > limit:
                    refused = scope["body_refused"] = True  # the app sees a disconnect: it was us
                    if not started:
                        await _problem(
                            send,
                            413,
                            "Body too large",
                            f"the body passed {limit:,} bytes ({setting}); split it",
                            "body",
                        )
                    return {"type": "http.disconnect"}
                if message.get("more_body"):
                    chunks.append(chunk)
                    return message
                body = b"".join((*chunks, chunk)) if chunks else chunk
                # the app gets the last chunk only once the whole JSON body is sound (every parser behind
                # takes NaN or a repeated key in its own way)
                fault = None
                if JSONISH.match(body):  # a big body is read off the event loop
                    fault = json_fault(body) if len(body) < 65536 else await asyncio.to_thread(json_fault, body)
                if fault is not None:
                    _count_rejected_events(Request(scope), fault[0])
                    refused = True
                    if not started:
                        await _problem(
                            send, 422, "Invalid request", f"{fault[0]}: {fault[1]}; nothing was stored", fault[0]
                        )
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message):
            nonlocal started
            if refused:
                return  # the caller has its answer
            started = started or message["type"] == "http.response.start"
            await send(message)

        # the hot path, served by a plain ASGI handler (its schema and its error answers: the declared route)
        if scope["method"] == "POST" and scope["path"] == LEAN_ROUTE.path:
            scope["route"] = LEAN_ROUTE  # what the response metric is labelled by
            return await decide_lean(scope, counting_receive, tracking_send, self.app)
        await self.app(scope, counting_receive, tracking_send)

    @staticmethod
    def _ops(scope, token: str | None) -> bool:
        if token:
            given = _bearer(dict(scope["headers"])) or ""
            return hmac.compare_digest(given.encode(), token.encode())
        return (scope.get("client") or ("",))[0] in LOCAL
