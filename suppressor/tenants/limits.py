"""Per-key rate limits: a token bucket per API key in Redis (on the tenant's slot), shared by every
server process, so a limit holds however many workers serve the tenant."""

from __future__ import annotations

import redis.asyncio

from suppressor.storage import keys
from suppressor.storage.store import Store

# KEYS[1] the bucket; ARGV rate per second, burst. Returns 0 (a token taken) or the ms to wait.
_TAKE = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = math.min(burst, (tonumber(b[1]) or burst) + (now - (tonumber(b[2]) or now)) * rate / 1000)
local wait = 0
if tokens < 1 then wait = math.ceil((1 - tokens) * 1000 / rate) else tokens = tokens - 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait
"""


async def take(client: redis.asyncio.Redis, tenant: str, key_id: str, rate: float, burst: float) -> int:
    """Take a token from the bucket of the key ``key_id``: 0 if the request may go, else the ms to wait."""
    return int(await client.eval(_TAKE, 1, keys.rate_bucket(tenant, key_id), rate, burst))


def set_limit(store: Store, tenant: str, rate: float, burst: float) -> None:
    """The tenant's per-key limit (requests per second, burst); rate 0 lifts it."""
    store.bulk.hset(keys.limits(tenant), mapping={"rate": rate, "burst": burst})
