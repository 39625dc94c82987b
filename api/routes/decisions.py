"""POST /v1/decisions and /v1/decisions:batch; GET /v1/decisions (recent log)."""

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request

from suppressor.decisions import log as decision_log
from suppressor.decisions.decide import release
from suppressor.domain import Decision, DecisionBatch, DecisionBatchResult, DecisionRequest, Identifier
from suppressor.errors import Refused

from ..deps import ServicesDep, StoreDep, StoreUp, TenantDep
from ..errors import NOT_FOUND, RESPONSES, ApiError
from ..responses import DecisionLogPage, Released

router = APIRouter(prefix="/v1", tags=["decisions"], responses=RESPONSES)


def _count(services, results: list[Decision]) -> None:
    for d in results:
        if d.replayed:  # the same verdict again: counted once, where it was given
            services.metrics.replays.inc()
            continue
        services.metrics.decisions.labels(d.action.value).inc()
        for r in d.reasons:
            services.metrics.reasons.labels(r.code).inc()


@router.post("/decisions", response_model=Decision)
async def decide(req: DecisionRequest, tenant: TenantDep, services: ServicesDep, request: Request) -> Decision:
    """One pre-send verdict."""
    t0 = request.scope.get("arrived") or time.monotonic()
    try:
        [result] = await services.decider.adecide(tenant, [req], services.ahot, services.abulk, started=t0)
    except Refused as exc:  # one decision has no items: name its fields as sent
        exc.errors = [(where.removeprefix("items[0]."), why) for where, why in exc.errors]
        raise
    services.metrics.decision_seconds.labels("single").observe(time.monotonic() - t0)
    _count(services, [result])
    return result


@router.post("/decisions:batch", response_model=DecisionBatchResult)
async def decide_batch(batch: DecisionBatch, tenant: TenantDep, services: ServicesDep,
                       request: Request) -> DecisionBatchResult:
    """Many verdicts in one call, in request order."""
    limit = services.settings.max_batch
    if len(batch.items) > limit:
        raise ApiError(413, "Batch too large", f"{len(batch.items)} items; at most {limit} per call", "items")
    t0 = request.scope.get("arrived") or time.monotonic()
    results = await services.decider.adecide(tenant, batch.items, services.ahot, services.abulk, started=t0)
    services.metrics.decision_seconds.labels("batch").observe(time.monotonic() - t0)
    _count(services, results)
    return DecisionBatchResult(results=results)


LOG_FILTERS = ("limit", "customer_id", "campaign_id")


@router.get("/decisions", dependencies=[StoreUp])
def recent_decisions(tenant: TenantDep, store: StoreDep, services: ServicesDep, request: Request,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 50,
                     customer_id: Annotated[Identifier | None, Query(description="one customer's decisions")] = None,
                     campaign_id: Annotated[Identifier | None, Query(description="one campaign's decisions")] = None,
                     ) -> DecisionLogPage:
    """The latest logged decisions, newest first; filtered by customer and/or campaign."""
    unknown = [k for k in request.query_params if k not in LOG_FILTERS]
    if unknown:  # a misspelt filter must not answer with everyone's decisions
        raise ApiError(422, "Invalid request", f"unknown query parameter {unknown[0]!r}; filters are "
                       f"{', '.join(LOG_FILTERS)}", unknown[0])
    services.decision_log.flush()
    return DecisionLogPage(decisions=decision_log.recent(store, tenant, limit, customer_id, campaign_id))


@router.post("/decisions/{decision_id:path}/release", dependencies=[StoreUp], responses=NOT_FOUND)
def release_decision(decision_id: str, tenant: TenantDep, store: StoreDep) -> Released:
    """The caller did not send after all: give the capacity (caps, balance, offer) back."""
    if not release(store, tenant, decision_id):
        raise ApiError(404, "Not found", f"no recorded send for decision {decision_id!r} "
                       "(unknown, a dry run, already released, or out of every window)", "decision_id")
    return Released(decision_id=decision_id)
