"""Typed dependencies: the store, the caller's tenant, and the per-process services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

import redis.asyncio
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from suppressor.customers.erasure import Compactor
from suppressor.decisions.decide import Decider
from suppressor.decisions.log import DecisionLog
from suppressor.domain import Identifier
from suppressor.model.freshness import Refresher
from suppressor.settings import Settings
from suppressor.storage.store import Store
from suppressor.tenants.admin import TenantAdmin
from suppressor.tenants.apikeys import KeyResolver
from suppressor.tenants.state import TenantStateCache

from .errors import ApiError
from .metrics import Metrics


@dataclass
class Services:
    """Everything the lifespan builds, shared by the routes."""

    settings: Settings
    store: Store
    ahot: redis.asyncio.Redis  # the decision path's asyncio clients (this app's event loop)
    abulk: redis.asyncio.Redis
    states: TenantStateCache
    admin: TenantAdmin  # every write to a tenant's policy, content or active model
    decision_log: DecisionLog
    decider: Decider
    refresher: Refresher
    keys: KeyResolver
    metrics: Metrics
    compactor: Compactor
    what_if_cache: dict = field(default_factory=dict)  # trade-off curves, keyed by what they depend on
    fetch: Callable[[str], bytes] | None = None  # HTTPS GET for webhook verification (SNS certificates)


async def get_services(request: Request) -> Services:
    """Everything the lifespan built."""
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_store(services: ServicesDep) -> Store:
    """The Redis store."""
    return services.store


# declared for the OpenAPI schema (the bearer scheme on every /v1 operation); api.gate authenticates
bearer = HTTPBearer(auto_error=False, scheme_name="apiKey", description="a tenant API key: `suppressor keys create`")


async def get_tenant(request: Request, _key: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
    """The tenant named by the bearer API key (the gate checked it before the body was read)."""
    return request.scope["tenant"]


async def require_store(services: ServicesDep) -> None:
    """503 at once while the store is known down, instead of a request waiting out its timeout."""
    if not services.store.up:
        raise ApiError(503, "Store unavailable", "the store does not answer; retry shortly", None, {"Retry-After": "1"})


StoreUp = Depends(require_store)
StoreDep = Annotated[Store, Depends(get_store)]
# an id in the URL: any printable id, percent-encoded ('crm/123' travels as 'crm%2F123')
PathId = Annotated[Identifier, Path(description="any printable id (1-128 characters), percent-encoded in the URL")]
TenantDep = Annotated[str, Depends(get_tenant)]
