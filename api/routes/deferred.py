"""GET /v1/deferred: the tenant's deferred verdicts that are due, for callers without a retry of their own."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from suppressor.customers import deferred

from ..deps import ServicesDep, StoreDep, StoreUp, TenantDep
from ..errors import RESPONSES, ApiError
from ..responses import DeferredPage

router = APIRouter(prefix="/v1", tags=["decisions"], responses=RESPONSES)
FILTERS = ("due_before", "limit", "cursor")


@router.get("/deferred", dependencies=[StoreUp])
def list_deferred(
    tenant: TenantDep,
    store: StoreDep,
    services: ServicesDep,
    request: Request,
    due_before: Annotated[
        datetime | None, Query(description="due by this time (ISO 8601 with a time zone); default: now")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the page before")] = None,
) -> DeferredPage:
    """Deferred verdicts whose not_before has come (by ``due_before``), soonest first, a page at a time:
    ask each again with its ``request`` to decide it anew."""
    unknown = [k for k in request.query_params if k not in FILTERS]
    if unknown:  # a misspelt parameter must not answer with another page than the one asked for
        raise ApiError(
            422,
            "Invalid request",
            f"unknown query parameter {unknown[0]!r}; parameters are {', '.join(FILTERS)}",
            unknown[0],
        )
    if due_before is not None and due_before.tzinfo is None:
        raise ApiError(422, "Invalid request", "due_before: needs a time zone (Z or +hh:mm)", "due_before")
    items, next_cursor, lapsed = deferred.page(store, tenant, due_before or datetime.now(UTC), limit, cursor)
    if lapsed:
        services.metrics.deferred_lapsed.inc(lapsed)
    return DeferredPage.model_validate({"deferred": items, "next_cursor": next_cursor})
