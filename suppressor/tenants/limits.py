"""Per-key rate limits: a token bucket per API key in Redis (on the tenant's slot), shared by every
server process, so a limit holds however many workers serve the tenant."""

from __future__ import annotations

import redis.asyncio

from suppressor.storage import keys
from suppressor.storage.store import Store, arun, evalsha


async def take(
    store: Store, client: redis.asyncio.Redis, tenant: str, key_id: str, rate: float, burst: float, budget: float
) -> int:
    """Take a token from the bucket of the key ``key_id`` within ``budget`` seconds: 0 if the request may
    go, else the ms to wait."""
    [wait_ms] = await arun(
        store, client, evalsha(store, "take_token", [([keys.rate_bucket(tenant, key_id)], [rate, burst])]), budget
    )
    return int(wait_ms)


def set_limit(store: Store, tenant: str, rate: float, burst: float) -> None:
    """The tenant's per-key limit (requests per second, burst); rate 0 lifts it."""
    store.bulk.hset(keys.limits(tenant), mapping={"rate": rate, "burst": burst})
