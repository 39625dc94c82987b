"""A client for suppressor's HTTP API, sync and asyncio, on httpx.

    from suppressor.client import Client, Unavailable
    with Client("http://suppressor:8080", api_key, when_unavailable="suppress") as sup:
        d = sup.decide("c-42", {"message_id": "m-7", "channel": "email", "kind": "sales", "topics": ["offer:lease"]})
        if d.action in ("send", "reroute"):
            ...  # send on d.channel

Every call suppressor answers is safe to repeat (a decision stands for its customer and
message_id, events are stored once per event_id, a release happens once), so the client retries
a call that timed out, failed to connect, or got a 5xx or 429, within its time budget. When the
service still does not answer, ``decide`` returns the verdict you chose with
``when_unavailable`` ("send" fails open, "suppress" and "defer" fail closed), with the reason
``unavailable`` and no decision id; a call that cannot be answered that way (events,
a release) raises ``Unavailable``. A 4xx is the caller's mistake: it raises ``Refused`` with the
problem's detail and the fields at fault, and is never retried.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlencode

import httpx

from suppressor.domain import Action, Decision, IngestResult, Reason

FailMode = Literal["send", "suppress", "defer"]
RETRIED = {429, 500, 502, 503, 504}


class Refused(Exception):
    """The service refused the request (4xx): the problem's detail and the fields at fault."""

    def __init__(self, status: int, problem: dict[str, Any]):
        self.status, self.problem = status, problem
        self.errors: list[dict[str, str]] = problem.get("errors") or []
        super().__init__(f"{status}: {problem.get('detail') or problem.get('title') or 'refused'}")


class Unavailable(Exception):
    """The service did not answer within the client's budget (after its retries)."""


def _decision_body(customer_id: str, message: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {"customer_id": customer_id, "message": message, **{k: v for k, v in options.items() if v is not None}}


def fallback(mode: FailMode, customer_id: str, message: dict[str, Any], retry_after: float, why: str) -> Decision:
    """The verdict the caller chose for a service that does not answer (reason ``unavailable``)."""
    now = datetime.now(UTC)
    action = Action(mode)
    return Decision(
        decision_id="",
        customer_id=customer_id,
        message_id=str(message.get("message_id", "")),
        action=action,
        channel=message.get("channel") if action == Action.send else None,
        requested_channel=str(message.get("channel", "")),
        score=None,
        policy_version=0,
        model_version=None,
        not_before=now + timedelta(seconds=retry_after) if action == Action.defer else None,
        reasons=[
            Reason(
                code="unavailable",
                message=f"suppressor did not answer ({why}): {mode}, as this client was told to do when it does not",
            )
        ],
        decided_at=now,
    )


class _Attempts:
    """One call's retry bookkeeping: each attempt's timeout, the pause before the next, the budget."""

    def __init__(self, per_attempt: float, budget: float):
        self.per_attempt, self.deadline = per_attempt, time.monotonic() + budget
        self.n, self.why = 0, "no attempt"

    def timeout(self) -> float:
        """The next attempt's timeout; raises Unavailable when the budget is spent."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Unavailable(self.why)
        return min(self.per_attempt, left)

    def failed(self, why: str, r: httpx.Response | None = None) -> float:
        """The pause before the next attempt (Retry-After when given); raises Unavailable past the budget."""
        self.why = why
        given = r.headers.get("retry-after", "") if r is not None else ""
        pause = float(given) if given.isdigit() else min(0.05 * 2**self.n, 0.5)
        self.n += 1
        if time.monotonic() + pause >= self.deadline:
            raise Unavailable(why)
        return pause


def _deferred_path(due_before: datetime | None, page_size: int, cursor: str | None) -> str:
    query: dict[str, Any] = {"limit": page_size}
    if due_before is not None:
        query["due_before"] = due_before.isoformat()
    if cursor is not None:
        query["cursor"] = cursor
    return "/v1/deferred?" + urlencode(query)


class _Base:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        when_unavailable: FailMode,
        timeout: float = 0.25,
        budget: float = 1.0,
        retry_after: float = 300.0,
    ):
        if when_unavailable not in ("send", "suppress", "defer"):
            raise ValueError("when_unavailable must be 'send' (fail open), 'suppress' or 'defer' (fail closed)")
        self.base_url, self.when_unavailable = base_url.rstrip("/"), when_unavailable
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.timeout, self.budget, self.retry_after = timeout, budget, retry_after

    @staticmethod
    def _answer(r: httpx.Response) -> Any:
        if r.status_code >= 400:
            try:
                problem = r.json()
            except ValueError:
                problem = {"detail": r.text[:500]}
            raise Refused(r.status_code, problem)
        return r.json()

    def _attempts(self, timeout: float | None) -> _Attempts:
        return _Attempts(self.timeout if timeout is None else timeout, timeout or self.budget)

    def _decided(self, payload: dict[str, Any]) -> Decision:
        return Decision.model_validate(payload)

    def _fallbacks(self, items: list[dict[str, Any]], why: str) -> list[Decision]:
        return [
            fallback(self.when_unavailable, it["customer_id"], it["message"], self.retry_after, why) for it in items
        ]


class Client(_Base):
    """Synchronous client: ``timeout`` per attempt and ``budget`` for a call with its retries, in seconds."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        when_unavailable: FailMode,
        timeout: float = 0.25,
        budget: float = 1.0,
        retry_after: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ):
        super().__init__(
            base_url,
            api_key,
            when_unavailable=when_unavailable,
            timeout=timeout,
            budget=budget,
            retry_after=retry_after,
        )
        self.http = httpx.Client(base_url=self.base_url, headers=self.headers, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def _call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        attempts = self._attempts(timeout)
        while True:
            try:
                r = self.http.request(method, path, json=body, timeout=attempts.timeout())
            except httpx.TransportError as exc:
                time.sleep(attempts.failed(type(exc).__name__))
                continue
            if r.status_code not in RETRIED:
                return self._answer(r)
            time.sleep(attempts.failed(f"HTTP {r.status_code}", r))

    def decide(self, customer_id: str, message: dict[str, Any], **options: Any) -> Decision:
        """One verdict (options: channels, allow_reroute, dry_run, ...); the chosen fallback if unavailable."""
        try:
            return Decision.model_validate(
                self._call("POST", "/v1/decisions", _decision_body(customer_id, message, **options))
            )
        except Unavailable as exc:
            return fallback(self.when_unavailable, customer_id, message, self.retry_after, str(exc))

    def decide_batch(self, items: list[dict[str, Any]], timeout: float = 30.0) -> list[Decision]:
        """Verdicts for many requests (each {customer_id, message, ...}), in order; fallbacks if unavailable."""
        try:
            out = self._call("POST", "/v1/decisions:batch", {"items": items}, timeout=timeout)
            return [self._decided(d) for d in out["results"]]
        except Unavailable as exc:
            return self._fallbacks(items, str(exc))

    def track(self, events: Iterable[dict[str, Any]], timeout: float = 10.0) -> IngestResult:
        """Store behavior events (stored once per event_id); raises Unavailable if the service does not answer."""
        return IngestResult.model_validate(self._call("POST", "/v1/events", {"events": list(events)}, timeout=timeout))

    def iter_deferred(
        self, due_before: datetime | None = None, page_size: int = 100, timeout: float = 10.0
    ) -> Iterator[dict[str, Any]]:
        """The tenant's deferred verdicts due by ``due_before`` (default: now), soonest first, page after
        page: each {customer_id, message_id, decision_id, not_before, request}; ask again with ``request``."""
        cursor = None
        while True:
            page = self._call("GET", _deferred_path(due_before, page_size, cursor), timeout=timeout)
            yield from page["deferred"]
            cursor = page["next_cursor"]
            if cursor is None:
                return

    def release(self, decision_id: str) -> bool:
        """Give a send's capacity back (the message did not go out); False if nothing was held."""
        try:
            self._call("POST", f"/v1/decisions/{decision_id}/release")
            return True
        except Refused as exc:
            if exc.status == 404:
                return False
            raise


class AsyncClient(_Base):
    """The same client for asyncio."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        when_unavailable: FailMode,
        timeout: float = 0.25,
        budget: float = 1.0,
        retry_after: float = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        super().__init__(
            base_url,
            api_key,
            when_unavailable=when_unavailable,
            timeout=timeout,
            budget=budget,
            retry_after=retry_after,
        )
        self.http = httpx.AsyncClient(base_url=self.base_url, headers=self.headers, transport=transport)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def _call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        attempts = self._attempts(timeout)
        while True:
            try:
                r = await self.http.request(method, path, json=body, timeout=attempts.timeout())
            except httpx.TransportError as exc:
                await asyncio.sleep(attempts.failed(type(exc).__name__))
                continue
            if r.status_code not in RETRIED:
                return self._answer(r)
            await asyncio.sleep(attempts.failed(f"HTTP {r.status_code}", r))

    async def decide(self, customer_id: str, message: dict[str, Any], **options: Any) -> Decision:
        """One verdict; the chosen fallback if unavailable."""
        try:
            return Decision.model_validate(
                await self._call("POST", "/v1/decisions", _decision_body(customer_id, message, **options))
            )
        except Unavailable as exc:
            return fallback(self.when_unavailable, customer_id, message, self.retry_after, str(exc))

    async def decide_batch(self, items: list[dict[str, Any]], timeout: float = 30.0) -> list[Decision]:
        """Verdicts for many requests, in order; fallbacks if unavailable."""
        try:
            out = await self._call("POST", "/v1/decisions:batch", {"items": items}, timeout=timeout)
            return [self._decided(d) for d in out["results"]]
        except Unavailable as exc:
            return self._fallbacks(items, str(exc))

    async def track(self, events: Iterable[dict[str, Any]], timeout: float = 10.0) -> IngestResult:
        """Store behavior events; raises Unavailable if the service does not answer."""
        return IngestResult.model_validate(
            await self._call("POST", "/v1/events", {"events": list(events)}, timeout=timeout)
        )

    async def iter_deferred(
        self, due_before: datetime | None = None, page_size: int = 100, timeout: float = 10.0
    ) -> AsyncIterator[dict[str, Any]]:
        """The tenant's due deferred verdicts, soonest first, page after page (as ``Client.iter_deferred``)."""
        cursor = None
        while True:
            page = await self._call("GET", _deferred_path(due_before, page_size, cursor), timeout=timeout)
            for item in page["deferred"]:
                yield item
            cursor = page["next_cursor"]
            if cursor is None:
                return

    async def release(self, decision_id: str) -> bool:
        """Give a send's capacity back; False if nothing was held."""
        try:
            await self._call("POST", f"/v1/decisions/{decision_id}/release")
            return True
        except Refused as exc:
            if exc.status == 404:
                return False
            raise
