"""A full store (noeviction past maxmemory) and grouped decide calls: whatever a call's first decision is (a
suppression, a transactional send that counts toward no cap), no later decision of the call is recorded
past the limit; each answers the tenant's failure mode."""

from __future__ import annotations

import pytest
import redis

from suppressor.customers import profiles
from suppressor.decisions.decide import Decider
from suppressor.domain import CustomerIn
from suppressor.policy import document as policies
from suppressor.settings import Settings
from suppressor.storage.store import Store
from suppressor.tenants.state import TenantStateCache
from tests.factories import NOW, codes, quiet_policy, req
from tests.faults import fill, snapshot


@pytest.mark.parametrize("first", ["transactional", "suppressed"])
def test_a_full_store_records_no_send_of_a_batch_whatever_its_first_item(tmp_path, full_redis, first):
    st = Store(
        Settings(
            redis_url=full_redis.url,
            data_dir=tmp_path / "data",
            model_refresh_seconds=0.0,
            store_memory_check_seconds=300,
        )
    )
    try:
        policies.put(st, "acme", quiet_policy(failure_mode="defer"), "test")
        for i in range(16):
            profiles.put(st, "acme", f"c-{i}", CustomerIn(consent={"email": i != 0}), None)
        decider = Decider(st, TenantStateCache(st, 0.0), None)
        admin = redis.Redis.from_url(full_redis.url)
        fill(admin)
        before = snapshot(admin)
        head = req("c-0", kind="transactional") if first == "transactional" else req("c-0")  # c-0 opted out of email
        got = decider.decide("acme", [head, *(req(f"c-{i}", kind="value") for i in range(1, 16))], now=NOW)
        after = snapshot(admin)
        sends = [k for k in after if k.endswith(b":sends")]
        # the 15 sends: refused by the full store (the tenant's failure mode), none recorded past maxmemory
        assert [(d.action.value, codes(d)) for d in got[1:]] == [("defer", ["degraded"])] * 15
        assert sends == [], f"{len(sends)} sends ledgers written past maxmemory"
        assert after == before  # nothing at all: the call was refused whole
    finally:
        st.close()
