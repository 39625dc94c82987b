"""PUT/GET/DELETE /v1/customers/{customer_id}."""


from fastapi import APIRouter, Response

from suppressor.customers import erasure, profiles
from suppressor.domain import CustomerIn, CustomerOut

from ..deps import PathId, ServicesDep, StoreDep, StoreUp, TenantDep
from ..errors import NOT_FOUND, RESPONSES, ApiError

router = APIRouter(prefix="/v1/customers", tags=["customers"], dependencies=[StoreUp], responses=RESPONSES)


@router.put("/{customer_id:path}", response_model=CustomerOut)
def put_customer(customer_id: PathId, body: CustomerIn, tenant: TenantDep, store: StoreDep, services: ServicesDep) -> CustomerOut:
    """Create or replace a profile (attributes, consent, preferred channel, time zone)."""
    return profiles.put(store, tenant, customer_id, body, services.states.get(tenant).model)


@router.get("/{customer_id:path}", response_model=CustomerOut, responses=NOT_FOUND)
def get_customer(customer_id: PathId, tenant: TenantDep, store: StoreDep, services: ServicesDep) -> CustomerOut:
    """The profile with learned interests and channel affinities."""
    out = profiles.get(store, tenant, customer_id, services.states.get(tenant).model)
    if out is None:
        raise ApiError(404, "Not found", f"no customer {customer_id!r}", "customer_id")
    return out


@router.delete("/{customer_id:path}", status_code=204, responses=NOT_FOUND)
def delete_customer(customer_id: PathId, tenant: TenantDep, store: StoreDep, services: ServicesDep) -> Response:
    """Erase everything about the customer: profile, events, vectors, decision log entries."""
    erasure.erase(store, tenant, customer_id, services.compactor)  # files rewritten within ERASURE_REWRITE_SECONDS
    return Response(status_code=204)
