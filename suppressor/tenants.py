"""Tenants and their API keys (only a SHA-256 of each key is stored)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time

import redis
import redis.asyncio

from . import keys
from .store import Store


def _digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def create_key(store: Store, tenant: str) -> str:
    """Make a new API key for ``tenant`` (creating the tenant) and return it once."""
    api_key = f"sk_{tenant}_{secrets.token_urlsafe(24)}"
    pipe = store.bulk.pipeline(transaction=True)
    pipe.hset(keys.API_KEYS, _digest(api_key), tenant)
    pipe.sadd(keys.TENANTS, tenant)
    pipe.execute()
    return api_key


def revoke_key(store: Store, api_key: str) -> bool:
    """Forget a key; True if it existed."""
    return bool(store.bulk.hdel(keys.API_KEYS, _digest(api_key)))


class KeyResolver:
    """API key -> tenant, cached for ``ttl_seconds`` so auth costs at most one round trip per key per TTL.

    A key known before the store went away keeps working while it is away; a revoked key stops
    working within the TTL on every server."""

    def __init__(self, store: Store, ttl_seconds: float = 1.0):
        self.store = store
        self.ttl = ttl_seconds
        self._cache: dict[str, tuple[str | None, float]] = {}

    def _fresh(self, digest: str) -> tuple[tuple[str | None, float] | None, bool]:
        hit = self._cache.get(digest)
        return hit, bool(hit and time.monotonic() - hit[1] < self.ttl)

    def _remember(self, digest: str, raw: bytes | None) -> str | None:
        tenant = raw.decode() if raw else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (tenant, time.monotonic())
        return tenant

    def tenant_for(self, api_key: str) -> str | None:
        """The tenant a key belongs to, or None for an unknown key (blocking; for tools and tests)."""
        digest = _digest(api_key)
        hit, fresh = self._fresh(digest)
        if fresh:
            return hit[0]
        try:
            return self._remember(digest, self.store.hot.hget(keys.API_KEYS, digest))
        except redis.RedisError:
            if hit:
                return hit[0]
            raise

    async def atenant_for(self, api_key: str, client: redis.asyncio.Redis, timeout: float) -> str | None:
        """``tenant_for`` on the asyncio client, within ``timeout`` seconds; raises redis.TimeoutError past it."""
        digest = _digest(api_key)
        hit, fresh = self._fresh(digest)
        if fresh or (hit and not self.store.up):
            return hit[0]
        try:
            if not self.store.up:
                raise redis.ConnectionError("store down")
            raw = await self.store.bounded(client.hget(keys.API_KEYS, digest), timeout)
        except (redis.RedisError, asyncio.TimeoutError) as exc:
            if hit:
                return hit[0]
            raise redis.TimeoutError(str(exc) or "timeout") from exc
        return self._remember(digest, raw)


def purge(store: Store, tenant: str) -> int:
    """Delete every key of a tenant (demo resets, offboarding); SCAN, so never on a hot path."""
    n = 0
    for pattern in (keys.tenant(tenant, "*"), f"{keys.PREFIX}:{{{tenant}:*", f"{keys.PREFIX}:{{{tenant}~*"):
        batch = []
        for k in store.bulk.scan_iter(match=pattern, count=1000):
            batch.append(k)
            if len(batch) >= 1000:
                n += store.bulk.delete(*batch)
                batch = []
        if batch:
            n += store.bulk.delete(*batch)
    for digest, owner in store.bulk.hgetall(keys.API_KEYS).items():
        if owner.decode() == tenant:
            store.bulk.hdel(keys.API_KEYS, digest)
    store.bulk.srem(keys.TENANTS, tenant)
    return n
