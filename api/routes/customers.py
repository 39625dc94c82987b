"""PUT/GET/DELETE /v1/customers/{customer_id}, and GET /v1/timeline/{customer_id} (the agent's view)."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from suppressor.customers import erasure, profiles, timeline
from suppressor.domain import CustomerIn, CustomerOut, Timestamp
from suppressor.errors import NotFound

from ..deps import PathId, ServicesDep, StoreDep, StoreUp, TenantDep
from ..errors import NOT_FOUND, RESPONSES
from ..responses import Timeline

router = APIRouter(prefix="/v1/customers", tags=["customers"], dependencies=[StoreUp], responses=RESPONSES)
# its own prefix: under /v1/customers/{id:path} an id ending in "/timeline" would be ambiguous
agent = APIRouter(prefix="/v1/timeline", tags=["customers"], dependencies=[StoreUp], responses=RESPONSES)


@router.put("/{customer_id:path}", response_model=CustomerOut)
def put_customer(
    customer_id: PathId, body: CustomerIn, tenant: TenantDep, store: StoreDep, services: ServicesDep
) -> CustomerOut:
    """Create or replace a profile (attributes, consent, preferred channel, time zone)."""
    return profiles.put(store, tenant, customer_id, body, services.states.get(tenant).model)


@router.get("/{customer_id:path}", response_model=CustomerOut, responses=NOT_FOUND)
def get_customer(customer_id: PathId, tenant: TenantDep, store: StoreDep, services: ServicesDep) -> CustomerOut:
    """The profile with learned interests and channel affinities."""
    out = profiles.get(store, tenant, customer_id, services.states.get(tenant).model)
    if out is None:
        raise NotFound(f"no customer {customer_id!r}", "customer_id")
    return out


@agent.get("/{customer_id:path}", responses=NOT_FOUND)
def get_timeline(
    customer_id: PathId,
    tenant: TenantDep,
    store: StoreDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[Timestamp | None, Query(description="next page: the last answer's next_before")] = None,
) -> Timeline:
    """What the customer was offered and told, and what they did: active offers (theirs and their
    household's) on every channel, then verdicts with reasons and behavior, newest first."""
    services.decision_log.flush()
    found = timeline.timeline(store, tenant, customer_id, limit, before)
    if found is None:
        raise NotFound(f"no customer {customer_id!r}", "customer_id")
    return Timeline.model_validate(found)


@router.delete("/{customer_id:path}", status_code=204, responses=NOT_FOUND)
def delete_customer(customer_id: PathId, tenant: TenantDep, store: StoreDep, services: ServicesDep) -> Response:
    """Erase everything about the customer: profile, events, vectors, decision log entries."""
    # the store's files forget too, within SUPPRESSOR_ERASURE_REWRITE_SECONDS
    erasure.erase(store, tenant, customer_id, services.compactor, services.decision_log.flush)
    return Response(status_code=204)
