"""Deferred verdicts come back: the tenant's index of deferrals by when they are due, recorded after
each decision (on the tenant's slot, apart from the customer's), dropped when the message is decided
again, the customer is erased, or the deferral lapses unclaimed (counted). On every store."""

import asyncio
from datetime import timedelta

import pytest

from suppressor.customers import deferred, erasure, profiles
from suppressor.decisions.decide import Decider
from suppressor.domain import CustomerIn
from suppressor.errors import Refused
from suppressor.policy import document as policy
from suppressor.storage import keys
from suppressor.storage.store import aclose_clients
from suppressor.tenants.state import TenantStateCache
from tests.factories import NOW, quiet_policy, req

GAP = timedelta(hours=12)


@pytest.fixture
def decider(any_store):
    policy.put(any_store, "acme", quiet_policy(min_gap="12h"), "test")
    for cid in ("ann", "bob", "cat"):
        profiles.put(any_store, "acme", cid, CustomerIn(consent={"email": True}), None)
    d = Decider(any_store, TenantStateCache(any_store, 0.0), None)
    d.lapsed = []
    d.on_lapsed = d.lapsed.append
    return d


def one(decider, r, at=NOW):
    [d] = decider.decide("acme", [r], now=at)
    return d


def deferral(decider, cid, mid, at=NOW):
    """A send an hour before, then ``mid`` deferred by the cool-down to 11 hours after ``at``."""
    one(decider, req(cid), at - timedelta(hours=1))
    d = one(decider, req(cid, mid=mid), at)
    assert d.action == "defer" and d.not_before == at + timedelta(hours=11)
    return d


def page(store, before, limit=100, cursor=None, now=NOW, tenant="acme"):
    """A page at the tests' clock."""
    return deferred.page(store, tenant, before, limit, cursor, now=now)


def due(store, before, now=NOW):
    items, cursor, _ = page(store, before, now=now)
    return [(i["customer_id"], i["message_id"]) for i in items]


def test_a_deferral_is_listed_once_due_with_the_request_to_ask_again(any_store, decider):
    d = deferral(decider, "ann", "m-tires")
    assert due(any_store, NOW + timedelta(hours=10)) == []
    [item], cursor, lapsed = page(any_store, NOW + timedelta(hours=11))
    assert (item["customer_id"], item["message_id"], item["decision_id"]) == ("ann", "m-tires", d.decision_id)
    assert item["not_before"] == d.not_before and cursor is None and lapsed == 0
    assert item["request"]["message"]["message_id"] == "m-tires" and "dry_run" not in item["request"]
    assert due(any_store, NOW + timedelta(days=1)) == [("ann", "m-tires")]
    assert page(any_store, NOW + timedelta(days=1), tenant="other")[0] == []  # tenant-scoped


def test_asked_again_when_due_it_leaves_the_index(any_store, decider):
    d = deferral(decider, "ann", "m-tires")
    again = one(decider, req("ann", mid="m-tires"), d.not_before)
    assert again.action == "send" and not again.replayed
    assert due(any_store, NOW + timedelta(days=1)) == []
    assert any_store.bulk.hlen(keys.deferred_entries("acme")) == 0


def test_deferred_again_it_is_listed_once_at_the_new_time(any_store, decider):
    deferral(decider, "ann", "m-tires")
    one(decider, req("ann"), NOW + timedelta(hours=11))  # another send takes the opening
    later = one(decider, req("ann", mid="m-tires"), NOW + timedelta(hours=11, minutes=30))
    assert later.action == "defer"
    items, _, _ = page(any_store, NOW + timedelta(days=2))
    assert [(i["message_id"], i["not_before"]) for i in items] == [("m-tires", later.not_before)]


def test_dry_runs_and_standing_verdicts_add_nothing(any_store, decider):
    one(decider, req("ann"), NOW - timedelta(hours=1))
    assert one(decider, req("ann", mid="m-dry", dry_run=True)).action == "defer"
    assert due(any_store, NOW + timedelta(days=1)) == []
    deferral(decider, "bob", "m-1")
    assert one(decider, req("bob", mid="m-1"), NOW + timedelta(hours=1)).replayed  # it stands: nothing recorded
    assert due(any_store, NOW + timedelta(days=1)) == [("bob", "m-1")]


def test_pages_in_due_order_with_a_cursor(any_store, decider):
    for n, cid in enumerate(("cat", "ann", "bob")):
        deferral(decider, cid, f"m-{cid}", NOW + timedelta(minutes=n))
    seen, cursor = [], None
    while True:
        items, cursor, _ = page(any_store, NOW + timedelta(days=1), 2, cursor)
        seen.append([i["customer_id"] for i in items])
        if cursor is None:
            break
    assert seen == [["cat", "ann"], ["bob"]]
    with pytest.raises(Refused) as bad:
        page(any_store, NOW, 2, "not-a-cursor")
    assert bad.value.errors[0][0] == "cursor"


def test_a_deferral_nobody_asks_for_again_lapses_and_is_counted(any_store, decider):
    d = deferral(decider, "ann", "m-old")
    lapse = timedelta(seconds=any_store.settings.deferred_lapse_seconds)
    long_after = d.not_before + lapse + timedelta(minutes=1)
    items, _, lapsed = page(any_store, long_after, now=long_after)
    assert items == [] and lapsed == 1
    assert any_store.bulk.hlen(keys.deferred_entries("acme")) == 0
    # recording sweeps too: another lapsed deferral goes when the next one is recorded
    deferral(decider, "bob", "m-2")
    deferral(decider, "cat", "m-3", long_after + timedelta(hours=2))
    assert decider.lapsed == [1]
    assert due(any_store, long_after + timedelta(days=1), now=long_after) == [("cat", "m-3")]


def test_erasing_a_customer_takes_their_deferrals(any_store, decider):
    deferral(decider, "ann", "m-1")
    deferral(decider, "bob", "m-2")
    erasure.erase(any_store, "acme", "ann")
    assert due(any_store, NOW + timedelta(days=1)) == [("bob", "m-2")]


def test_the_production_async_path_records_and_drops_them(any_store, decider):
    one(decider, req("ann"), NOW - timedelta(hours=1))

    async def ask(r, at):
        hot, bulk = any_store.async_clients()
        try:
            [d] = await decider.adecide("acme", [r], hot, bulk, now=at)
            return d
        finally:
            await aclose_clients(hot, bulk)

    d = asyncio.run(ask(req("ann", mid="m-async"), NOW))
    assert d.action == "defer" and due(any_store, NOW + timedelta(days=1)) == [("ann", "m-async")]
    assert asyncio.run(ask(req("ann", mid="m-async"), d.not_before)).action == "send"
    assert due(any_store, NOW + timedelta(days=1)) == []


def test_opaque_ids_travel_through_the_index(any_store, decider):
    cid, mid = 'acme|42 {"x"}', "crm/1|m\\2"
    profiles.put(any_store, "acme", cid, CustomerIn(consent={"email": True}), None)
    deferral(decider, cid, mid)
    assert due(any_store, NOW + timedelta(days=1)) == [(cid, mid)]
    erasure.erase(any_store, "acme", cid)
    assert due(any_store, NOW + timedelta(days=1)) == []


def test_a_big_batchs_deferrals_are_all_indexed(any_store, decider):
    one(decider, req("ann"), NOW - timedelta(hours=1))
    batch = [req("ann", mid=f"m-{i:03d}") for i in range(150)]  # more than SMALL: the bulk path, in parts

    async def run():
        hot, bulk = any_store.async_clients()
        try:
            return await decider.adecide("acme", batch, hot, bulk, now=NOW)
        finally:
            await aclose_clients(hot, bulk)

    assert {d.action for d in asyncio.run(run())} == {"defer"}
    assert len(due(any_store, NOW + timedelta(days=1))) == 100  # one page
    assert any_store.bulk.hlen(keys.deferred_entries("acme")) == 150
