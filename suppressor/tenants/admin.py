"""Changes to what a tenant decides by, seen at once by the process that makes them.

Every write to the policy, a campaign override, the content catalog or the active model goes
through ``TenantAdmin``, which drops this process's cached tenant state after the write (other
processes see it within ``SUPPRESSOR_MODEL_REFRESH_SECONDS``). Callers never clear a cache by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from suppressor.errors import NotFound
from suppressor.model import exported as models
from suppressor.model.exported import ExportedModel
from suppressor.policy import content
from suppressor.policy import document as policies
from suppressor.policy.content import Content, ContentIn
from suppressor.policy.document import Policy, VersionedPolicy
from suppressor.storage.store import Store
from suppressor.tenants.state import TenantStateCache


def _now() -> str:
    return datetime.now(UTC).isoformat()


class TenantAdmin:
    """The tenant's knobs, catalog and model switch, each write followed by a cache drop."""

    def __init__(self, store: Store, states: TenantStateCache):
        self.store = store
        self.states = states

    def put_policy(self, tenant: str, policy: Policy) -> VersionedPolicy:
        """Replace the tenant policy (a new version)."""
        saved = policies.put(self.store, tenant, policy, _now())
        self.states.invalidate(tenant)
        return saved

    def patch_policy(self, tenant: str, changes: dict[str, Any]) -> VersionedPolicy:
        """Change some fields and keep the rest (a new version); pydantic's ValidationError if invalid."""
        return self.put_policy(tenant, policies.with_changes(policies.get(self.store, tenant), changes))

    def put_campaign(self, tenant: str, campaign_id: str, override: dict[str, Any]) -> VersionedPolicy:
        """Set a campaign's override (a new version); pydantic's ValidationError if invalid."""
        policies.validate_override(override)
        saved = policies.put_campaign(self.store, tenant, campaign_id, override, _now())
        self.states.invalidate(tenant)
        return saved

    def delete_campaign(self, tenant: str, campaign_id: str) -> None:
        """Drop a campaign's override (a new version); NotFound if it had none."""
        if not policies.delete_campaign(self.store, tenant, campaign_id, _now()):
            raise NotFound(f"campaign {campaign_id!r} has no policy override", "campaign_id")
        self.states.invalidate(tenant)

    def put_content(self, tenant: str, content_id: str, body: ContentIn) -> Content:
        """Create or replace a catalog item; Refused when it names a channel the policy does not declare."""
        policies.check_channels(
            self.states.get(tenant).policy, [(f"channels[{i}]", ch) for i, ch in enumerate(body.channels)]
        )
        item = content.put(self.store, tenant, content_id, body)
        self.states.invalidate(tenant)
        return item

    def delete_content(self, tenant: str, content_id: str) -> None:
        """Remove a catalog item; NotFound if there was none."""
        if not content.delete(self.store, tenant, content_id):
            raise NotFound(f"no content {content_id!r}", "content_id")
        self.states.invalidate(tenant)

    def activate_model(self, tenant: str, version: str) -> ExportedModel:
        """Make a stored model version active; NotFound or Refused (rejected by the quality gate)."""
        model = models.activate(self.store, tenant, version)
        self.states.invalidate(tenant)
        return model
