"""POST/GET /v1/webhooks, DELETE /v1/webhooks/{hook_id}: a tenant's provider webhook endpoints, managed
over HTTP (what `suppressor hooks` does), authenticated by the tenant's API key like any /v1 call."""

from fastapi import APIRouter, Request, Response

from suppressor.hooks import registry
from suppressor.hooks.registry import HookIn

from ..deps import ServicesDep, StoreDep, StoreUp, TenantDep
from ..errors import NOT_FOUND, RESPONSES
from ..responses import Webhook, WebhookList

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], dependencies=[StoreUp], responses=RESPONSES)


def _base(request: Request, services) -> str:
    return services.settings.public_url or str(request.base_url)


@router.post("", status_code=201)
def create_webhook(
    body: HookIn, tenant: TenantDep, store: StoreDep, services: ServicesDep, request: Request
) -> Webhook:
    """A new endpoint for a provider: the URL to give it (and a generated token, answered once)."""
    hook = registry.create(store, tenant, body.provider, body.secret)
    shown = hook.secret if registry.PROVIDERS[hook.provider][1] else None
    return Webhook(
        id=hook.id,
        provider=hook.provider,
        url=registry.url(_base(request, services), hook.provider, hook.id, hook.secret),
        created=hook.created,
        secret=shown,
    )


@router.get("")
def list_webhooks(tenant: TenantDep, store: StoreDep, services: ServicesDep, request: Request) -> WebhookList:
    """The tenant's endpoints and what each received: accepted, duplicates, unknown addresses, ignored."""
    base = _base(request, services)
    return WebhookList(
        webhooks=[
            Webhook(url=registry.url(base, row["provider"], row["id"]), **row)
            for row in registry.listing(store, tenant)
        ]
    )


@router.delete("/{hook_id}", status_code=204, responses=NOT_FOUND)
def delete_webhook(hook_id: str, tenant: TenantDep, store: StoreDep) -> Response:
    """Delete an endpoint: its URL answers 404 from now on."""
    registry.revoke(store, tenant, hook_id)
    return Response(status_code=204)
