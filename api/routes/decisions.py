"""POST /v1/decisions and /v1/decisions:batch; GET /v1/decide (the same verdict for template
engines that can only fetch a URL); GET /v1/decisions (recent log)."""

import csv
import io
import json
import time
from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import ValidationError

from suppressor.decisions import log as decision_log
from suppressor.decisions.choose import achoose, achoose_many
from suppressor.decisions.decide import release
from suppressor.domain import (
    Choice,
    ChooseBatch,
    ChooseBatchResult,
    ChooseRequest,
    Decision,
    DecisionBatch,
    DecisionBatchResult,
    DecisionRequest,
    Identifier,
)
from suppressor.errors import NotFound, Refused
from suppressor.rules import blocking

from ..bodies import ParsedBodyRoute, json_answer, json_fault
from ..deps import ServicesDep, StoreDep, StoreUp, TenantDep
from ..errors import NOT_FOUND, RESPONSES, ApiError, field_path
from ..responses import DecisionLogPage, Released

router = APIRouter(prefix="/v1", tags=["decisions"], responses=RESPONSES, route_class=ParsedBodyRoute)
BLOCKING = blocking()  # the codes that stop or delay a send: an exclusion row names the first of them


def _count(services, results: list[Decision]) -> None:
    replays = 0
    dry: Counter[str] = Counter()  # one increment per label, not per decision
    given: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    for d in results:
        if d.replayed:  # the same verdict again: counted once, where it was given
            replays += 1
        elif d.dry_run:  # a question, not a verdict given: apart, so the dashboards count real sends
            dry[d.action.value] += 1
        else:
            given[d.action.value] += 1
            codes.update(r.code for r in d.reasons)
    m = services.metrics
    if replays:
        m.replays.inc(replays)
    for counter, counts in ((m.dry_runs, dry), (m.decisions, given), (m.reasons, codes)):
        for label, n in counts.items():
            counter.labels(label).inc(n)


@router.post("/decisions", response_model=Decision)
async def decide(req: DecisionRequest, tenant: TenantDep, services: ServicesDep, request: Request) -> Response:
    """One pre-send verdict."""
    return json_answer(await _decide(req, tenant, services, request.scope.get("arrived")))


async def decide_lean(scope, receive, send, declared) -> None:
    """POST /v1/decisions as a plain ASGI handler (api.gate sends it here after admitting the caller):
    the same verdict as ``decide`` without FastAPI's routing, dependency solving and response
    handling, which cost more than the decision on the hot path (README, "Benchmarks"). A body that
    does not validate, or a request refused, goes to ``declared`` (the app, to the route above) with
    the body replayed, so its answer is FastAPI's; nothing was recorded for either."""
    body, more = b"", True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return  # the caller left (or sent too much: the gate has answered 413)
        body += message.get("body", b"")
        more = message.get("more_body", False)
    services = scope["app"].state.services
    try:
        result = await _decide(DecisionRequest.model_validate_json(body), scope["tenant"], services, scope["arrived"])
    except (ValidationError, Refused):
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await declared(scope, replay, send)
    payload = result.model_dump_json().encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})


# the declared route: how api.gate labels what decide_lean answers
LEAN_ROUTE = next(
    r for r in router.routes if isinstance(r, APIRoute) and r.path == "/v1/decisions" and "POST" in (r.methods or ())
)


async def _decide(req: DecisionRequest, tenant: str, services, arrived: float | None) -> Decision:
    t0 = arrived or time.monotonic()
    try:
        [result] = await services.decider.adecide(tenant, [req], services.ahot, services.abulk, started=t0)
    except Refused as exc:  # one decision has no items: name its fields as sent
        exc.errors = [(where.removeprefix("items[0]."), why) for where, why in exc.errors]
        raise
    services.metrics.decision_seconds.labels("single").observe(time.monotonic() - t0)
    _count(services, [result])
    return result


# the GET form's query names for the request fields they fill
QUERY_NAMES = {
    "message.message_id": "message_id",
    "message.campaign_id": "campaign_id",
    "message.channel": "channel",
    "message.kind": "kind",
    "message.topics": "topic",
    "message.offer": "offer",
}


def _query_name(field: str) -> str:
    for inner, name in QUERY_NAMES.items():
        if field == inner or field.startswith(inner + ".") or field.startswith(inner + "["):
            return name + field[len(inner) :]
    return field


@router.get(
    "/decide",
    response_model=Decision,
    responses={
        409: {
            "model": Decision,
            "description": "the verdict, when it is not a send and the caller asked for `non_send_status`",
        }
    },
)
async def decide_by_url(
    tenant: TenantDep,
    services: ServicesDep,
    request: Request,
    customer_id: Annotated[str, Query()],
    message_id: Annotated[str, Query()],
    channel: Annotated[str, Query()],
    kind: Annotated[str, Query()],
    topic: Annotated[list[str], Query(description="one per topic (repeat the parameter)")] = [],  # noqa: B006 (FastAPI copies defaults)
    campaign_id: Annotated[str | None, Query()] = None,
    offer: Annotated[
        str | None,
        Query(description='the offer as JSON: {"key": "auto-loan", "terms": {"apr": 2.9}, "expires": "..."}'),
    ] = None,
    allow_reroute: Annotated[bool, Query()] = True,
    channels: Annotated[list[str] | None, Query(description="reroute targets (repeat)")] = None,
    dry_run: Annotated[bool, Query()] = False,
    non_send_status: Annotated[
        int,
        Query(
            ge=200,
            le=599,
            description="answer this status when "
            "the verdict is not a send (defer, suppress): for "
            "feeds that stop a send on a non-2xx",
        ),
    ] = 200,
    key: Annotated[
        str | None,
        Query(
            description="a decide-only key (dk_..., `suppressor keys "
            "create --scope decide`) for template engines that cannot "
            "send a header; any other key only in Authorization"
        ),
    ] = None,
):
    """The same verdict as POST /v1/decisions, asked with a URL (Braze Connected Content, Iterable
    data feeds): asking again for the same customer and message_id returns the standing verdict."""
    message: dict = {"message_id": message_id, "channel": channel, "kind": kind, "topics": topic}
    if campaign_id is not None:
        message["campaign_id"] = campaign_id
    if offer is not None:
        try:
            message["offer"] = json.loads(offer)
        except ValueError:
            raise ApiError(
                422,
                "Invalid request",
                'offer: is not JSON (an object like {"key": "auto-loan", "terms": {"apr": 2.9}})',
                "offer",
            ) from None
        fault = json_fault(offer)
        if fault is not None:
            where = "offer" if fault[0] == "body" else f"offer{'' if fault[0][0] == '[' else '.'}{fault[0]}"
            raise ApiError(422, "Invalid request", f"{where}: {fault[1]}; nothing was stored", where)
    body = {"customer_id": customer_id, "message": message, "allow_reroute": allow_reroute, "dry_run": dry_run}
    if channels is not None:
        body["channels"] = channels
    try:
        req = DecisionRequest.model_validate(body)
        result = await _decide(req, tenant, services, request.scope.get("arrived"))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("query", *_query_name(field_path(e["loc"])).split("."))} for e in exc.errors()]
        ) from None
    except Refused as exc:
        exc.errors = [(_query_name(where), why) for where, why in exc.errors]
        raise
    if non_send_status != 200 and result.action.value not in ("send", "reroute"):
        return json_answer(result, non_send_status)
    return json_answer(result)


@router.post("/decisions:batch", response_model=DecisionBatchResult)
async def decide_batch(batch: DecisionBatch, tenant: TenantDep, services: ServicesDep, request: Request) -> Response:
    """Many verdicts in one call, in request order."""
    return json_answer(DecisionBatchResult(results=await _batch(batch, tenant, services, request)))


async def _batch(batch: DecisionBatch, tenant: str, services, request: Request) -> list[Decision]:
    limit = services.settings.max_batch
    if len(batch.items) > limit:
        raise ApiError(413, "Batch too large", f"{len(batch.items)} items; at most {limit} per call", "items")
    t0 = request.scope.get("arrived") or time.monotonic()
    results = await services.decider.adecide(tenant, batch.items, services.ahot, services.abulk, started=t0)
    services.metrics.decision_seconds.labels("batch").observe(time.monotonic() - t0)
    _count(services, results)
    return results


@router.post("/decisions:choose", response_model=Choice)
async def choose(req: ChooseRequest, tenant: TenantDep, services: ServicesDep, request: Request) -> Response:
    """Decide among a customer's competing candidates: the best ``pick`` go out (recorded as sends,
    atomically with the caps), ranked by priority x the policy objective's measure (the engagement score,
    the uplift or the value; transactional candidates first), the others are suppressed as ``outranked``."""
    t0 = request.scope.get("arrived") or time.monotonic()
    result = await achoose(services.decider, tenant, req, services.ahot, services.abulk, started=t0)
    services.metrics.decision_seconds.labels("choose").observe(time.monotonic() - t0)
    _count(services, result.results)
    return json_answer(result)


@router.post("/decisions:choose-batch", response_model=ChooseBatchResult)
async def choose_batch(batch: ChooseBatch, tenant: TenantDep, services: ServicesDep, request: Request) -> Response:
    """Many choices in one call (a CRM's nightly plan), in request order; each item is checked before any is decided."""
    total = sum(len(item.candidates) for item in batch.items)
    limit = services.settings.max_batch
    if total > limit:
        raise ApiError(413, "Batch too large", f"{total} candidates in all; at most {limit} per call", "items")
    t0 = request.scope.get("arrived") or time.monotonic()
    results = await achoose_many(
        services.decider, tenant, batch.items, services.ahot, services.abulk, services.store.bulk_timeout
    )
    services.metrics.decision_seconds.labels("choose-batch").observe(time.monotonic() - t0)
    _count(services, [d for c in results for d in c.results])
    return json_answer(ChooseBatchResult(results=results))


EXCLUSION_COLUMNS = ("customer_id", "message_id", "action", "not_before", "reason", "detail")


@router.post(
    "/decisions:exclusions",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "one row per customer not to send to (header row first)"}
    },
)
async def exclusion_list(batch: DecisionBatch, tenant: TenantDep, services: ServicesDep, request: Request) -> Response:
    """A large send's verdicts as a CSV exclusion list: the customers not to send to, why, and
    until when (a deferral's not_before); the sends are recorded as for decisions:batch."""
    results = await _batch(batch, tenant, services, request)
    out = io.StringIO()
    rows = csv.writer(out, lineterminator="\r\n")  # RFC 4180; ids are quoted when they hold , " or spaces
    rows.writerow(EXCLUSION_COLUMNS)
    for d in results:
        if d.action.value in ("send", "reroute"):
            continue
        blocking = next((r for r in reversed(d.reasons) if r.code in BLOCKING), d.reasons[-1] if d.reasons else None)
        rows.writerow(
            [
                d.customer_id,
                d.message_id,
                d.action.value,
                d.not_before.isoformat() if d.not_before else "",
                blocking.code if blocking else "",
                blocking.message if blocking else "",
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="exclusions.csv"'},
    )


LOG_FILTERS = ("limit", "customer_id", "campaign_id")


@router.get("/decisions", dependencies=[StoreUp])
def list_decisions(
    tenant: TenantDep,
    store: StoreDep,
    services: ServicesDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    customer_id: Annotated[Identifier | None, Query(description="one customer's decisions")] = None,
    campaign_id: Annotated[Identifier | None, Query(description="one campaign's decisions")] = None,
) -> DecisionLogPage:
    """The latest logged decisions, newest first; filtered by customer and/or campaign."""
    unknown = [k for k in request.query_params if k not in LOG_FILTERS]
    if unknown:  # a misspelt filter must not answer with everyone's decisions
        raise ApiError(
            422,
            "Invalid request",
            f"unknown query parameter {unknown[0]!r}; filters are {', '.join(LOG_FILTERS)}",
            unknown[0],
        )
    services.decision_log.flush()
    return DecisionLogPage(decisions=decision_log.recent(store, tenant, limit, customer_id, campaign_id))


@router.post("/decisions/{decision_id:path}/release", dependencies=[StoreUp], responses=NOT_FOUND)
def release_decision(decision_id: str, tenant: TenantDep, store: StoreDep) -> Released:
    """The caller did not send after all: give the capacity (caps, balance, offer) back."""
    if not release(store, tenant, decision_id):
        raise NotFound(
            f"no recorded send for decision {decision_id!r} "
            "(unknown, a dry run, already released, or out of every window)",
            "decision_id",
        )
    return Released(decision_id=decision_id)
