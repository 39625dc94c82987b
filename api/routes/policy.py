"""GET/PUT /v1/policy and /v1/campaigns/{campaign_id}/policy: the marketer's knobs, versioned."""

from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import ValidationError

from suppressor import policy
from suppressor.policy import Policy, VersionedPolicy

from ..deps import PathId, ServicesDep, StoreDep, TenantDep, StoreUp
from ..responses import CampaignPolicy, PolicyHistory
from ..errors import NOT_FOUND, RESPONSES, ApiError, invalid

router = APIRouter(prefix="/v1", tags=["policy"], dependencies=[StoreUp], responses=RESPONSES)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


@router.get("/policy", response_model=VersionedPolicy)
def get_policy(tenant: TenantDep, store: StoreDep) -> VersionedPolicy:
    """The effective tenant policy with every default filled in, and the campaign overrides."""
    return policy.get(store, tenant)


@router.put("/policy", response_model=VersionedPolicy)
def put_policy(body: Policy, tenant: TenantDep, store: StoreDep, services: ServicesDep) -> VersionedPolicy:
    """Replace the tenant policy (omitted fields take their defaults); makes a new version."""
    saved = policy.put(store, tenant, body, _now())
    services.states.invalidate(tenant)
    return saved


@router.patch("/policy", response_model=VersionedPolicy)
def patch_policy(tenant: TenantDep, store: StoreDep, services: ServicesDep,
                 changes: Annotated[dict[str, Any], Body()]) -> VersionedPolicy:
    """Change some fields and keep the rest (nested objects merge); makes a new version."""
    try:
        candidate = policy.with_changes(policy.get(store, tenant), changes)
    except ValidationError as exc:
        raise invalid(exc, "body") from None
    saved = policy.put(store, tenant, candidate, _now())
    services.states.invalidate(tenant)
    return saved


@router.get("/policy/history")
def policy_history(tenant: TenantDep, store: StoreDep) -> PolicyHistory:
    """Past versions (tenant policy and campaign overrides), newest first."""
    return PolicyHistory(versions=policy.history(store, tenant))


def _campaign_view(current: VersionedPolicy, campaign_id: str) -> CampaignPolicy:
    return CampaignPolicy(campaign_id=campaign_id, version=current.version, override=current.campaigns.get(campaign_id),
                          effective=current.for_campaign(campaign_id).model_dump(mode="json"))


@router.get("/campaigns/{campaign_id:path}/policy")
def get_campaign_policy(campaign_id: PathId, tenant: TenantDep, store: StoreDep) -> CampaignPolicy:
    """A campaign's override (null if none) and the effective policy it yields."""
    return _campaign_view(policy.get(store, tenant), campaign_id)


@router.put("/campaigns/{campaign_id:path}/policy")
def put_campaign_policy(campaign_id: PathId, tenant: TenantDep, store: StoreDep, services: ServicesDep,
                        override: Annotated[dict[str, Any], Body()]) -> CampaignPolicy:
    """Set a campaign's override: any subset of the policy fields; nested objects merge."""
    try:
        policy.validate_override(override)
    except ValidationError as exc:
        raise invalid(exc, "body") from None
    saved = policy.put_campaign(store, tenant, campaign_id, override, _now())
    services.states.invalidate(tenant)
    return _campaign_view(saved, campaign_id)


@router.delete("/campaigns/{campaign_id:path}/policy", status_code=204, responses=NOT_FOUND)
def delete_campaign_policy(campaign_id: PathId, tenant: TenantDep, store: StoreDep, services: ServicesDep) -> Response:
    """Drop a campaign's override (a new version); the tenant policy applies again."""
    if not policy.delete_campaign(store, tenant, campaign_id, _now()):
        raise ApiError(404, "Not found", f"campaign {campaign_id!r} has no policy override", "campaign_id")
    services.states.invalidate(tenant)
    return Response(status_code=204)
