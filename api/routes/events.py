"""POST /v1/events: behavior in, idempotent by event_id."""

from fastapi import APIRouter

from suppressor.customers import events
from suppressor.domain import EventBatch, IngestResult
from suppressor.policy.document import check_channels, check_currency

from ..bodies import EventsRoute, stored_events
from ..deps import ServicesDep, StoreDep, StoreUp, TenantDep
from ..errors import RESPONSES, ApiError

router = APIRouter(prefix="/v1", tags=["events"], dependencies=[StoreUp], responses=RESPONSES, route_class=EventsRoute)


@router.post("/events", response_model=IngestResult)
def ingest_events(batch: EventBatch, tenant: TenantDep, store: StoreDep, services: ServicesDep) -> IngestResult:
    """Store a batch of events; a retried batch is not double-counted."""
    rows = stored_events(batch)
    limit = services.settings.max_batch
    if len(rows) > limit:
        raise ApiError(413, "Batch too large", f"{len(rows)} events; at most {limit} per call", "events")
    policy = services.states.get(tenant).policy
    declared = set(policy.declared_channels)
    check_channels(
        policy,
        [(f"events[{i}].channel", r.channel) for i, r in enumerate(rows) if r.channel and r.channel not in declared],
    )
    check_currency(
        policy, [(f"events[{i}].properties.currency", r.currency) for i, r in enumerate(rows) if r.currency is not None]
    )
    changed: set[str] = set()
    result = events.ingest(store, tenant, rows, changed)
    services.refresher.enqueue(tenant, changed)  # their vectors move within a second
    services.metrics.events.labels("accepted").inc(result.accepted)
    services.metrics.events.labels("duplicate").inc(result.duplicates)
    return result
