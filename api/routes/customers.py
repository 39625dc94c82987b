"""PUT/GET/DELETE /v1/customers/{customer_id}."""

from typing import Annotated

from fastapi import APIRouter, Path, Response

from suppressor import customers, decision_log
from suppressor.domain import CustomerIn, CustomerOut

from ..deps import ServicesDep, StoreDep, TenantDep, StoreUp
from ..errors import ApiError

router = APIRouter(prefix="/v1/customers", tags=["customers"], dependencies=[StoreUp])
CustomerId = Annotated[str, Path(pattern=r"^[^{}\s]{1,128}$")]


@router.put("/{customer_id}", response_model=CustomerOut)
def put_customer(customer_id: CustomerId, body: CustomerIn, tenant: TenantDep, store: StoreDep, services: ServicesDep) -> CustomerOut:
    """Create or replace a profile (attributes, consent, preferred channel, time zone)."""
    return customers.put(store, tenant, customer_id, body, services.states.get(tenant).model)


@router.get("/{customer_id}", response_model=CustomerOut)
def get_customer(customer_id: CustomerId, tenant: TenantDep, store: StoreDep, services: ServicesDep) -> CustomerOut:
    """The profile with learned interests and channel affinities."""
    out = customers.get(store, tenant, customer_id, services.states.get(tenant).model)
    if out is None:
        raise ApiError(404, "Not found", f"no customer {customer_id!r}", "customer_id")
    return out


@router.delete("/{customer_id}", status_code=204)
def delete_customer(customer_id: CustomerId, tenant: TenantDep, store: StoreDep) -> Response:
    """Erase everything about the customer: profile, events, vectors, decision log entries."""
    existed = customers.delete(store, tenant, customer_id)
    logged = decision_log.erase_customer(store, tenant, customer_id)
    if not existed and not logged:
        raise ApiError(404, "Not found", f"no customer {customer_id!r}", "customer_id")
    return Response(status_code=204)
