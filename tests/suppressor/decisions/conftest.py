"""The decider the rule tests share: every tenant state read fresh (no cache)."""

import pytest

from suppressor.decisions.decide import Decider
from suppressor.tenants.state import TenantStateCache


@pytest.fixture
def decider(store):
    return Decider(store, TenantStateCache(store, 0.0), None)
