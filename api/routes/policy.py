"""GET/PUT /v1/policy and /v1/campaigns/{campaign_id}/policy: the marketer's knobs, versioned."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import ValidationError

from suppressor.policy import document as policy
from suppressor.policy.document import Policy, VersionedPolicy

from ..deps import PathId, ServicesDep, StoreDep, StoreUp, TenantDep
from ..errors import NOT_FOUND, RESPONSES, invalid
from ..responses import CampaignPolicy, PolicyHistory

router = APIRouter(prefix="/v1", tags=["policy"], dependencies=[StoreUp], responses=RESPONSES)


@router.get("/policy", response_model=VersionedPolicy)
def get_policy(tenant: TenantDep, store: StoreDep) -> VersionedPolicy:
    """The effective tenant policy with every default filled in, and the campaign overrides."""
    return policy.get(store, tenant)


@router.put("/policy", response_model=VersionedPolicy)
def put_policy(body: Policy, tenant: TenantDep, services: ServicesDep) -> VersionedPolicy:
    """Replace the tenant policy (omitted fields take their defaults); makes a new version."""
    return services.admin.put_policy(tenant, body)


@router.patch("/policy", response_model=VersionedPolicy)
def patch_policy(
    tenant: TenantDep, services: ServicesDep, changes: Annotated[dict[str, Any], Body()]
) -> VersionedPolicy:
    """Change some fields and keep the rest (nested objects merge); makes a new version."""
    try:
        return services.admin.patch_policy(tenant, changes)
    except ValidationError as exc:
        raise invalid(exc, "body") from None


@router.get("/policy/history")
def policy_history(tenant: TenantDep, store: StoreDep) -> PolicyHistory:
    """Past versions (tenant policy and campaign overrides), newest first."""
    return PolicyHistory(versions=policy.history(store, tenant))


def _campaign_view(current: VersionedPolicy, campaign_id: str) -> CampaignPolicy:
    return CampaignPolicy(
        campaign_id=campaign_id,
        version=current.version,
        override=current.campaigns.get(campaign_id),
        effective=current.for_campaign(campaign_id).model_dump(mode="json"),
    )


@router.get("/campaigns/{campaign_id:path}/policy")
def get_campaign_policy(campaign_id: PathId, tenant: TenantDep, store: StoreDep) -> CampaignPolicy:
    """A campaign's override (null if none) and the effective policy it yields."""
    return _campaign_view(policy.get(store, tenant), campaign_id)


@router.put("/campaigns/{campaign_id:path}/policy")
def put_campaign_policy(
    campaign_id: PathId, tenant: TenantDep, services: ServicesDep, override: Annotated[dict[str, Any], Body()]
) -> CampaignPolicy:
    """Set a campaign's override: any subset of the policy fields; nested objects merge."""
    try:
        saved = services.admin.put_campaign(tenant, campaign_id, override)
    except ValidationError as exc:
        raise invalid(exc, "body") from None
    return _campaign_view(saved, campaign_id)


@router.delete("/campaigns/{campaign_id:path}/policy", status_code=204, responses=NOT_FOUND)
def delete_campaign_policy(campaign_id: PathId, tenant: TenantDep, services: ServicesDep) -> Response:
    """Drop a campaign's override (a new version); the tenant policy applies again."""
    services.admin.delete_campaign(tenant, campaign_id)
    return Response(status_code=204)
