"""GET/PUT /v1/policy: the tenant's knobs, versioned."""

from datetime import datetime, timezone

from fastapi import APIRouter

from suppressor import policy
from suppressor.policy import Policy, VersionedPolicy

from ..deps import ServicesDep, StoreDep, TenantDep

router = APIRouter(prefix="/v1", tags=["policy"])


@router.get("/policy", response_model=VersionedPolicy)
def get_policy(tenant: TenantDep, store: StoreDep) -> VersionedPolicy:
    """The effective policy with every default filled in."""
    return policy.get(store, tenant)


@router.put("/policy", response_model=VersionedPolicy)
def put_policy(body: Policy, tenant: TenantDep, store: StoreDep, services: ServicesDep) -> VersionedPolicy:
    """Replace the policy; makes a new version (an invalid one is rejected and changes nothing)."""
    saved = policy.put(store, tenant, body, datetime.now(timezone.utc).isoformat())
    services.states.invalidate(tenant)
    return saved


@router.get("/policy/history")
def policy_history(tenant: TenantDep, store: StoreDep) -> dict:
    """Past versions, newest first."""
    return {"versions": policy.history(store, tenant)}
