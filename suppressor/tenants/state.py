"""Per-tenant policy, content catalog and active model, cached in the process and refreshed
on a short tick.

Tenant-level keys live on a different slot than a customer's, so the decision path reads
them from here instead of from Redis; a new policy, catalog or model is picked up within
``model_refresh_seconds`` without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field

import redis

from suppressor.model import exported as models
from suppressor.model.exported import ExportedModel
from suppressor.policy import content
from suppressor.policy import document as policies
from suppressor.policy.content import Content
from suppressor.policy.document import VersionedPolicy
from suppressor.storage import keys
from suppressor.storage.store import Store

log = logging.getLogger(__name__)


@dataclass
class TenantState:
    """What the decision path needs of a tenant, cached."""

    policy: VersionedPolicy
    model: ExportedModel | None
    checked_at: float
    catalog: list[Content] = field(default_factory=list)
    catalog_version: int = -1
    stale: bool = False  # True when the last refresh could not reach Redis
    policy_stamp: bytes | None = None  # the policy hash's "stamp" when it was read
    loaded: bool = True  # False: nothing was ever read (the defaults stand in; never decide with them)
    rate_limit: tuple[float, float] | None = None  # the tenant's own per-key limit (rate/s, burst), if set


class TenantStateCache:
    """Policy + catalog + model per tenant, refreshed at most every ``ttl`` seconds."""

    def __init__(self, store: Store, ttl: float):
        self.store = store
        self.ttl = ttl
        self._states: dict[str, TenantState] = {}
        self._lock = threading.Lock()

    def get(self, tenant: str) -> TenantState:
        """The tenant's state; refreshes from Redis when older than the TTL."""
        state = self._states.get(tenant)
        if state is not None and time.monotonic() - state.checked_at < self.ttl:
            return state
        with self._lock:
            state = self._states.get(tenant)
            if state is not None and time.monotonic() - state.checked_at < self.ttl:
                return state
            state = self._refresh(tenant, state)
            self._states[tenant] = state
            return state

    def cached(self, tenant: str) -> TenantState:
        """What this process has for the tenant, without touching Redis (defaults if nothing yet)."""
        state = self._states.get(tenant)
        return state if state is not None else TenantState(VersionedPolicy(), None, 0.0, stale=True, loaded=False)

    async def aget(self, tenant: str, timeout: float) -> TenantState:
        """The tenant's state for async callers: refreshed off the event loop when due, within
        ``timeout`` (a store that does not answer leaves what is cached)."""
        if self.store.up and self.needs_refresh(tenant):
            try:
                return await self.store.bounded(asyncio.to_thread(self.get, tenant), timeout)
            except TimeoutError:
                pass  # the refresh finishes (or fails) in its thread
        return self.cached(tenant)

    def needs_refresh(self, tenant: str) -> bool:
        """True when the next ``get`` would read Redis (so async callers can do it off the loop)."""
        state = self._states.get(tenant)
        return state is None or time.monotonic() - state.checked_at >= self.ttl

    def invalidate(self, tenant: str) -> None:
        """Forget a tenant's cached state (after this process changed it)."""
        self._states.pop(tenant, None)

    def _refresh(self, tenant: str, old: TenantState | None) -> TenantState:
        try:
            pipe = self.store.hot.pipeline(transaction=False)
            pipe.hget(keys.policy(tenant), "stamp")
            pipe.get(keys.model_active(tenant))
            pipe.get(keys.content_version(tenant))
            pipe.hmget(keys.limits(tenant), "rate", "burst")
            stamp, active, cver, (rate, burst) = pipe.execute()
            limit = (float(rate), float(burst or rate)) if rate is not None else None  # rate 0: this tenant has none
            # every change writes a new stamp, so an unchanged one keeps the parsed policy
            # (and the campaign policies it has built) instead of re-reading it every tick
            if old is not None and not old.stale and old.policy_stamp == stamp:
                policy = old.policy
            else:
                policy = policies.from_hash(self.store.hot.hgetall(keys.policy(tenant)))
            active = active.decode() if active else None
            cver = int(cver or 0)
            model = old.model if old and old.model and old.model.version == active else None
            if active and model is None:
                try:
                    model = models.load(self.store, tenant, active)
                except ValueError as exc:
                    log.error("tenant %s: cannot load model %s: %s", tenant, active, exc)
                    model = old.model if old else None
            catalog = old.catalog if old and old.catalog_version == cver else content.load_all(self.store, tenant)
        except redis.RedisError as exc:
            log.warning("tenant %s: refresh failed (%s); keeping cached state", tenant, exc)
            # back off: a dead store must not cost a deadline on every refresh tick
            retry_at = time.monotonic() + max(5.0, self.ttl)
            if old is None or not old.loaded:
                return TenantState(VersionedPolicy(), None, retry_at, stale=True, loaded=False)
            return TenantState(
                old.policy,
                old.model,
                retry_at,
                old.catalog,
                old.catalog_version,
                stale=True,
                policy_stamp=old.policy_stamp,
                rate_limit=old.rate_limit,
            )
        return TenantState(policy, model, time.monotonic(), catalog, cver, policy_stamp=stamp, rate_limit=limit)
