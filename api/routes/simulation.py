"""What-ifs for marketers: POST /v1/policy:simulate, POST /v1/policy:tradeoff, GET /v1/holdout,
GET /v1/incrementality."""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import ValidationError

from suppressor.model import exported as models
from suppressor.policy import document as policies
from suppressor.policy.document import Policy, VersionedPolicy
from suppressor.storage import keys
from suppressor.whatif import incrementality, lift, reports
from suppressor.whatif.questions import SimulateRequest, TradeoffRequest, Window, check_sweep

from ..deps import ServicesDep, StoreDep, StoreUp, TenantDep
from ..errors import RESPONSES, ApiError, invalid
from ..responses import HoldoutLift, IncrementalityReport, SimulateReport, TradeoffCurve

router = APIRouter(prefix="/v1", tags=["what-if"], dependencies=[StoreUp], responses=RESPONSES)

# replays read a whole sample of the log and run Lua on every customer in it: a few at a time
_RUNNING = threading.BoundedSemaphore(2)
CACHE_SECONDS = 600


def _candidate(current: VersionedPolicy, whole: Policy | None, changes: dict[str, Any] | None) -> VersionedPolicy:
    try:
        return policies.candidate(current, whole, changes)
    except ValidationError as exc:
        raise invalid(exc, "body", "changes") from None


class _Slot:
    def __enter__(self) -> None:
        if not _RUNNING.acquire(blocking=False):
            raise ApiError(
                429, "Busy", "other simulations are running in this process; retry shortly", None, {"Retry-After": "5"}
            )

    def __exit__(self, *exc: object) -> None:
        _RUNNING.release()


@router.post("/policy:simulate")
def simulate_policy(body: SimulateRequest, tenant: TenantDep, store: StoreDep, services: ServicesDep) -> SimulateReport:
    """Replay the logged decisions and what followed under a candidate policy; compare with the current one."""
    current = policies.get(store, tenant)
    candidate = _candidate(current, body.policy, body.changes)  # a bad candidate fails before any loading
    services.decision_log.flush()
    with _Slot():
        prepared = reports.prepare(store, tenant, current=current, **body.load())
        report = reports.simulate(store, tenant, candidate, prepared, examples=body.examples)
    report["candidate"]["policy"] = candidate.model_dump(mode="json", exclude={"version", "campaigns"})
    return SimulateReport.model_validate(report)


@router.post("/policy:tradeoff")
def tradeoff_curve(body: TradeoffRequest, tenant: TenantDep, store: StoreDep, services: ServicesDep) -> TradeoffCurve:
    """Sweep the relevance threshold (or scale every cap): sends vs engagement vs unsubscribes."""
    # the same question under the same policy and model: the answer of a few minutes ago is
    # still the answer (the log grows all the time; a sample of it barely moves)
    key = (
        tenant,
        body.model_dump_json(),
        store.bulk.hget(keys.policy(tenant), "stamp"),
        models.active_version(store, tenant),
    )
    hit = services.what_if_cache.get(key)
    if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    if body.param is not None:  # refused before the log is read
        check_sweep(body.param, body.values or [])
    base = _candidate(policies.get(store, tenant), None, body.changes)
    services.decision_log.flush()
    with _Slot():
        prepared = reports.prepare(store, tenant, current=base, **body.load())
        curve = TradeoffCurve.model_validate(reports.tradeoff(store, tenant, body.param, body.values, prepared))
    if len(services.what_if_cache) > 64:
        services.what_if_cache.clear()
    services.what_if_cache[key] = (time.monotonic(), curve)
    return curve


@router.get("/holdout")
def holdout_lift(
    tenant: TenantDep,
    store: StoreDep,
    services: ServicesDep,
    bucket_days: Annotated[float, Query(ge=1, le=365, description="days per bucket (1 to 365)")] = 7.0,
    since: Annotated[str | None, Query(description="ISO time or a duration like '30d'")] = None,
    until: Annotated[str | None, Query()] = None,
) -> HoldoutLift:
    """Governed customers vs the holdout: engagement, unsubscribe and complaint rates with 95% intervals."""
    try:
        window = Window.model_validate({"since": since, "until": until})
    except ValidationError as exc:
        raise invalid(exc, "query") from None
    services.decision_log.flush()
    with _Slot():
        return HoldoutLift.model_validate(lift.lift(store, tenant, bucket_days, window.since, window.until))


@router.get("/incrementality")
def measure_incrementality(
    tenant: TenantDep,
    store: StoreDep,
    services: ServicesDep,
    window: Annotated[
        str | None, Query(description="outcome window, e.g. '14d' (default: the policy's incrementality.window)")
    ] = None,
    since: Annotated[str | None, Query(description="ISO time or a duration like '30d'")] = None,
    until: Annotated[str | None, Query()] = None,
) -> IncrementalityReport:
    """What each campaign adds: outcomes after delivered messages against those withheld at random."""
    try:
        span = Window.model_validate({"since": since, "until": until})
        seconds = policies.Incrementality.model_validate({"window": window}).window if window else None
    except ValidationError as exc:
        raise invalid(exc, "query") from None
    services.decision_log.flush()
    with _Slot():
        return IncrementalityReport.model_validate(
            incrementality.incrementality(store, tenant, seconds, span.since, span.until)
        )
