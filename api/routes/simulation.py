"""What-ifs for marketers: POST /v1/policy:simulate, POST /v1/policy:tradeoff, GET /v1/holdout."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator

from suppressor import keys, lift, simulate
from suppressor import model as models
from suppressor import policy as policies
from suppressor.domain import Strict
from suppressor.policy import Policy, VersionedPolicy, parse_duration

from ..deps import ServicesDep, StoreDep, TenantDep, StoreUp
from ..errors import RESPONSES, ApiError, invalid

router = APIRouter(prefix="/v1", tags=["what-if"], dependencies=[StoreUp], responses=RESPONSES)

# replays read a whole sample of the log and run Lua on every customer in it: a few at a time
_RUNNING = threading.BoundedSemaphore(2)
CACHE_SECONDS = 600


def _when(v: Any) -> Any:
    """'14d' (that long ago) or an ISO-8601 time."""
    if isinstance(v, str) and v and v[-1] in "smhdw" and v[:-1].strip().isdigit():
        return datetime.now(timezone.utc) - timedelta(seconds=parse_duration(v))
    return v


When = Annotated[datetime, BeforeValidator(_when),
                 AfterValidator(lambda d: d if d.tzinfo else d.replace(tzinfo=timezone.utc))]


class Window(Strict):
    """Which logged decisions to replay."""

    since: When | None = Field(default=None, description="ISO time, or a duration like '14d' meaning that long ago")
    until: When | None = None
    max_decisions: int = Field(default=20_000, ge=1, le=500_000,
                               description="replay a stable sample of whole customers up to this many decisions")

    def load(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "max_decisions": self.max_decisions}


class SimulateRequest(Window):
    """The body of POST /v1/policy:simulate: a candidate as a whole policy or as changes."""

    policy: Policy | None = Field(default=None, description="a whole tenant policy, as for PUT /v1/policy")
    changes: dict[str, Any] | None = Field(default=None, description="fields to change, as for PATCH /v1/policy")
    examples: int = Field(default=20, ge=0, le=200, description="changed decisions to show")

    @model_validator(mode="after")
    def _one(self) -> "SimulateRequest":
        if self.policy is not None and self.changes is not None:
            raise ValueError("give either policy or changes, not both")
        return self


class TradeoffRequest(Window):
    """The body of POST /v1/policy:tradeoff."""

    param: Literal["relevance_threshold", "cap_scale"] = "relevance_threshold"
    values: list[Annotated[float, Field(ge=0.0, le=100.0)]] | None = Field(
        default=None, min_length=1, max_length=40, description="points to try (default: score deciles, or cap multipliers)")
    changes: dict[str, Any] | None = Field(default=None, description="changes applied before sweeping")
    max_decisions: int = Field(default=5_000, ge=1, le=500_000)

    @model_validator(mode="after")
    def _range(self) -> "TradeoffRequest":
        if self.param == "relevance_threshold" and any(v > 1 for v in self.values or ()):
            raise ValueError("values: a relevance threshold is between 0 and 1")
        return self


def _candidate(current: VersionedPolicy, whole: Policy | None, changes: dict[str, Any] | None) -> VersionedPolicy:
    try:
        return policies.candidate(current, whole, changes)
    except ValidationError as exc:
        raise invalid(exc, "body", "changes") from None


class _Slot:
    def __enter__(self) -> None:
        if not _RUNNING.acquire(blocking=False):
            raise ApiError(429, "Busy", "other simulations are running in this process; retry shortly", None,
                           {"Retry-After": "5"})

    def __exit__(self, *exc: object) -> None:
        _RUNNING.release()


@router.post("/policy:simulate")
def simulate_policy(body: SimulateRequest, tenant: TenantDep, store: StoreDep, services: ServicesDep) -> dict:
    """Replay the logged decisions and what followed under a candidate policy; compare with the current one."""
    current = policies.get(store, tenant)
    candidate = _candidate(current, body.policy, body.changes)  # a bad candidate fails before any loading
    services.decision_log.flush()
    with _Slot():
        prepared = simulate.prepare(store, tenant, current=current, **body.load())
        report = simulate.simulate(store, tenant, candidate, prepared, examples=body.examples)
    report["candidate"]["policy"] = candidate.model_dump(mode="json", exclude={"version", "campaigns"})
    return report


@router.post("/policy:tradeoff")
def tradeoff(body: TradeoffRequest, tenant: TenantDep, store: StoreDep, services: ServicesDep) -> dict:
    """Sweep the relevance threshold (or scale every cap): sends vs engagement vs unsubscribes."""
    # the same question under the same policy and model: the answer of a few minutes ago is
    # still the answer (the log grows all the time; a sample of it barely moves)
    key = (tenant, body.model_dump_json(), store.bulk.hget(keys.policy(tenant), "stamp"),
           models.active_version(store, tenant))
    hit = services.what_if_cache.get(key)
    if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    base = _candidate(policies.get(store, tenant), None, body.changes)
    services.decision_log.flush()
    with _Slot():
        prepared = simulate.prepare(store, tenant, current=base, **body.load())
        curve = simulate.tradeoff(store, tenant, body.param, body.values, prepared)
    if len(services.what_if_cache) > 64:
        services.what_if_cache.clear()
    services.what_if_cache[key] = (time.monotonic(), curve)
    return curve


@router.get("/holdout")
def holdout(tenant: TenantDep, store: StoreDep, services: ServicesDep,
            bucket_days: Annotated[float, Query(ge=1, le=365, description="days per bucket (1 to 365)")] = 7.0,
            since: Annotated[str | None, Query(description="ISO time or a duration like '30d'")] = None,
            until: Annotated[str | None, Query()] = None) -> dict:
    """Governed customers vs the holdout: engagement, unsubscribe and complaint rates with 95% intervals."""
    try:
        window = Window.model_validate({"since": since, "until": until})
    except ValidationError as exc:
        raise invalid(exc, "query") from None
    services.decision_log.flush()
    with _Slot():
        return lift.lift(store, tenant, bucket_days, window.since, window.until)

