"""The per-process cache of policy and model follows every change."""

from suppressor.policy import document as policy
from suppressor.policy.document import Policy
from suppressor.tenants import apikeys
from suppressor.tenants.state import TenantStateCache


def test_a_new_policy_is_seen_even_when_its_version_number_repeats(store):
    cache = TenantStateCache(store, 0.0)
    policy.put(store, "acme", Policy(relevance_threshold=0.2), "t")
    assert cache.get("acme").policy.relevance_threshold == 0.2
    assert cache.get("acme").policy.relevance_threshold == 0.2  # unchanged: kept, not re-read
    apikeys.purge(store, "acme")  # a demo reset: the version counter starts over
    policy.put(store, "acme", Policy(relevance_threshold=0.3), "t")
    got = cache.get("acme").policy
    assert got.version == 1 and got.relevance_threshold == 0.3


def test_campaign_overrides_follow_changes(store):
    cache = TenantStateCache(store, 0.0)
    policy.put_campaign(store, "acme", "blitz", {"relevance_threshold": 0.4}, "t")
    assert cache.get("acme").policy.for_campaign("blitz").relevance_threshold == 0.4
    policy.put_campaign(store, "acme", "blitz", {"relevance_threshold": 0.1}, "t")
    assert cache.get("acme").policy.for_campaign("blitz").relevance_threshold == 0.1
    assert cache.get("acme").policy.for_campaign("other").relevance_threshold == 0.05
