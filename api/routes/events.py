"""POST /v1/events: behavior in, idempotent by event_id."""

from fastapi import APIRouter

from suppressor.customers import events
from suppressor.domain import EventBatch, IngestResult
from suppressor.policy.document import check_channels, check_currency

from ..bodies import ParsedBodyRoute
from ..deps import ServicesDep, StoreDep, StoreUp, TenantDep
from ..errors import RESPONSES, ApiError

router = APIRouter(
    prefix="/v1", tags=["events"], dependencies=[StoreUp], responses=RESPONSES, route_class=ParsedBodyRoute
)


@router.post("/events", response_model=IngestResult)
def ingest_events(batch: EventBatch, tenant: TenantDep, store: StoreDep, services: ServicesDep) -> IngestResult:
    """Store a batch of events; a retried batch is not double-counted."""
    limit = services.settings.max_batch
    if len(batch.events) > limit:
        raise ApiError(413, "Batch too large", f"{len(batch.events)} events; at most {limit} per call", "events")
    policy = services.states.get(tenant).policy
    check_channels(policy, [(f"events[{i}].channel", ev.channel) for i, ev in enumerate(batch.events)])
    check_currency(
        policy,
        [(f"events[{i}].properties.currency", ev.properties.get("currency")) for i, ev in enumerate(batch.events)],
    )
    changed: set[str] = set()
    result = events.ingest(store, tenant, batch.events, changed)
    services.refresher.enqueue(tenant, changed)  # their vectors move within a second
    services.metrics.events.labels("accepted").inc(result.accepted)
    services.metrics.events.labels("duplicate").inc(result.duplicates)
    return result
