"""The marketer's policy: per tenant, versioned; every change is a new version."""

from __future__ import annotations

import json
from enum import StrEnum

from pydantic import Field

from . import keys
from .domain import Channel, Strict
from .store import Store


class FailureMode(StrEnum):
    send = "send"
    defer = "defer"
    suppress = "suppress"


class Policy(Strict):
    relevance_threshold: float = Field(
        default=0.05, ge=0.0, le=1.0,
        description="suppress when the calibrated chance of engagement is below this",
    )
    require_opt_in: list[Channel] = Field(
        default_factory=lambda: ["sms", "phone"],
        description="channels that need an explicit consent=true (others: allowed unless opted out)",
    )
    failure_mode: FailureMode = Field(
        default=FailureMode.defer,
        description="verdict when the store is unavailable within the deadline: "
        "send (consent unchecked!), defer (retry at not_before) or suppress",
    )
    failure_retry_seconds: int = Field(default=300, ge=1, le=86_400, description="not_before offset for a degraded defer")


class VersionedPolicy(Policy):
    version: int = 0


_PUT = """
local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'doc', ARGV[1])
redis.call('LPUSH', KEYS[2], '{"version":' .. v .. ',"at":"' .. ARGV[2] .. '","doc":' .. ARGV[1] .. '}')
redis.call('LTRIM', KEYS[2], 0, 199)
return v
"""


def get(store: Store, tenant: str) -> VersionedPolicy:
    """The tenant's effective policy (defaults at version 0 until first saved)."""
    version, doc = store.bulk.hmget(keys.policy(tenant), "version", "doc")
    if doc is None:
        return VersionedPolicy()
    return VersionedPolicy(version=int(version), **json.loads(doc))


def put(store: Store, tenant: str, policy: Policy, at: str) -> VersionedPolicy:
    """Save a new version (the caller validated it) and return it."""
    doc = policy.model_dump_json()
    v = store.bulk.eval(_PUT, 2, keys.policy(tenant), keys.policy_history(tenant), doc, at)
    return VersionedPolicy(version=int(v), **policy.model_dump())


def history(store: Store, tenant: str, limit: int = 50) -> list[dict]:
    """Past versions, newest first."""
    return [json.loads(x) for x in store.bulk.lrange(keys.policy_history(tenant), 0, limit - 1)]
