"""One face to the household: members share caps, offers and the quiet after a purchase, atomically
on the household's slot, and a refused send leaves nothing counted for the member."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from suppressor.customers import erasure, events, profiles
from suppressor.decisions.decide import release
from suppressor.domain import CustomerIn, Event
from suppressor.policy import document as policy
from suppressor.storage import keys
from suppressor.storage.store import aclose_clients
from tests.factories import NOW, codes, one, quiet_policy, req

DM_ONCE = {"channel": "direct_mail", "max": 1, "window": "30d", "per_offer": True}
TRADE_IN = {"key": "trade-in", "terms": {"bonus": 1500}}


def use(store, **household):
    """Every customer rule off but offers (a household's offers follow the tenant's offer rules)."""
    policy.put(store, "acme", quiet_policy(household=household, offers={"enabled": True}), "test")


def member(store, cid, household="hh-1", **kw):
    body = {"consent": {"email": True, "direct_mail": True, "sms": True}, "household_id": household, **kw}
    profiles.put(store, "acme", cid, CustomerIn.model_validate(body), None)


def test_one_direct_mail_piece_per_offer_per_household(store, decider):
    use(store, caps=[DM_ONCE], offers=False)  # the cap alone (the offer rule would say "duplicate" first)
    member(store, "ann")
    member(store, "bob")
    member(store, "cat", household="hh-2")
    first = one(decider, req("ann", channel="direct_mail", offer=TRADE_IN))
    second = one(decider, req("bob", channel="direct_mail", offer=TRADE_IN))
    assert first.action == "send"
    assert second.action == "suppress" and codes(second)[-1] == "household"
    assert "1 of 1 trade-in sends on direct_mail to this household in 30d" in second.reasons[-1].message
    # another household, another offer, or another channel: not this cap's business
    assert one(decider, req("cat", channel="direct_mail", offer=TRADE_IN)).action == "send"
    assert (
        one(decider, req("bob", channel="direct_mail", offer={"key": "service-coupon", "terms": {}})).action == "send"
    )
    assert one(decider, req("bob", channel="email", offer=TRADE_IN)).action == "send"


def test_a_household_cap_keeps_its_last_slot_for_high_priorities(store, decider):
    use(store, caps=[{"channel": "any", "max": 2, "window": "7d", "reserve": {"slots": 1, "min_priority": 50}}])
    for cid in ("ann", "bob", "cat"):
        member(store, cid)
    assert one(decider, req("ann")).action == "send"
    kept = one(decider, req("bob"))  # sales: priority 30
    assert kept.action == "suppress" and codes(kept)[-1] == "household"
    assert kept.reasons[-1].message == (
        "the last 1 of 2 sends on any channel to this household in 7d is kept for "
        "priority 50+; this message is priority 30 (1 sent)"
    )
    assert store.bulk.zcard(keys.sends("acme", "bob")) == 0  # nothing counted for the refused member
    assert one(decider, req("bob", priority=80)).action == "send"
    full = one(decider, req("cat", kind="service"))  # now full for everyone
    assert full.action == "suppress" and "2 of 2 sends" in full.reasons[-1].message


def test_a_refused_send_counts_nowhere_and_stands_when_asked_again(store, decider):
    use(store, caps=[DM_ONCE])
    member(store, "ann")
    member(store, "bob")
    one(decider, req("ann", channel="direct_mail", offer=TRADE_IN))
    r = req("bob", channel="direct_mail", offer=TRADE_IN)
    refused = one(decider, r)
    assert store.bulk.zcard(keys.sends("acme", "bob")) == 0  # bob's own caps do not count it
    assert store.bulk.hlen(keys.offers("acme", "bob")) == 0
    again = one(decider, r, NOW + timedelta(minutes=5))
    assert again.replayed and again.action == "suppress" and again.decision_id == refused.decision_id


def test_fifty_concurrent_decisions_for_one_household_under_a_cap_of_one_give_exactly_one_send(store, decider):
    use(store, caps=[{"channel": "any", "max": 1, "window": "7d"}])
    for i in range(50):
        member(store, f"m-{i}")
    decider.states.get("acme")
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda i: one(decider, req(f"m-{i}")).action, range(50)))
    assert results.count("send") == 1 and results.count("suppress") == 49
    assert store.bulk.zcard(keys.household("acme", "hh-1", "sends")) == 1
    assert sum(store.bulk.zcard(keys.sends("acme", f"m-{i}")) for i in range(50)) == 1


def test_fifty_concurrent_asyncio_decisions_for_one_household_give_exactly_one_send(store, decider):
    use(store, caps=[{"channel": "any", "max": 1, "window": "7d"}])
    for i in range(50):
        member(store, f"m-{i}")
    decider.states.get("acme")

    async def run():
        hot, bulk = store.async_clients()
        try:
            return await asyncio.gather(*(decider.adecide("acme", [req(f"m-{i}")], hot, bulk) for i in range(50)))
        finally:
            await aclose_clients(hot, bulk)

    actions = [d.action for [d] in asyncio.run(run())]
    assert actions.count("send") == 1 and actions.count("suppress") == 49


def test_conflicting_offers_across_members_and_channels(store, decider):
    use(store)
    member(store, "ann")
    member(store, "bob")
    assert one(decider, req("ann", channel="email", offer={"key": "auto-loan", "terms": {"apr": 2.9}})).action == "send"
    d = one(decider, req("bob", channel="direct_mail", offer={"key": "auto-loan", "terms": {"apr": 3.9}}))
    assert d.action == "suppress" and codes(d)[-1] == "household"
    assert "another member of the household holds a auto-loan offer (apr 2.9, sent on email" in d.reasons[-1].message
    # the same terms on a personal channel go to every member; on a shared one, once
    assert one(decider, req("bob", channel="email", offer={"key": "auto-loan", "terms": {"apr": 2.9}})).action == "send"
    member(store, "cat")
    member(store, "dan")
    one(decider, req("cat", channel="direct_mail", offer={"key": "auto-loan", "terms": {"apr": 2.9}}))
    dup = one(decider, req("dan", channel="direct_mail", offer={"key": "auto-loan", "terms": {"apr": 2.9}}))
    assert dup.action == "suppress" and "already went to this household by direct_mail" in dup.reasons[-1].message


def test_a_members_purchase_quiets_sales_to_the_household(store, decider):
    use(store)
    member(store, "ann")
    member(store, "bob")
    events.ingest(
        store,
        "acme",
        [Event(event_id="p-1", customer_id="ann", type="purchased", ts=(NOW - timedelta(days=3)).isoformat())],
    )
    d = one(decider, req("bob", kind="sales"))
    assert d.action == "suppress" and "another member of the household bought 3 days ago" in d.reasons[-1].message
    assert one(decider, req("bob", kind="value")).action == "send"
    assert one(decider, req("bob", kind="sales"), NOW + timedelta(days=28)).action == "send"


def test_release_gives_the_household_its_capacity_back(store, decider):
    use(store, caps=[{"channel": "any", "max": 1, "window": "7d"}])
    member(store, "ann")
    member(store, "bob")
    sent = one(decider, req("ann"))
    assert one(decider, req("bob")).action == "suppress"
    assert release(store, "acme", sent.decision_id)
    assert one(decider, req("bob")).action == "send"


def test_dry_runs_record_nothing_for_the_household(store, decider):
    use(store, caps=[{"channel": "any", "max": 1, "window": "7d"}])
    member(store, "ann")
    member(store, "bob")
    assert one(decider, req("ann", dry_run=True)).action == "send"
    assert store.bulk.zcard(keys.household("acme", "hh-1", "sends")) == 0
    assert one(decider, req("bob")).action == "send"
    assert one(decider, req("ann", dry_run=True)).action == "suppress"


def test_moving_out_leaves_the_household_and_erasure_forgets_the_member(store, decider):
    use(store, caps=[{"channel": "any", "max": 1, "window": "7d"}])
    member(store, "ann")
    member(store, "bob")
    one(decider, req("ann", offer=TRADE_IN))
    member(store, "bob", household="hh-2")
    assert store.bulk.smembers(keys.household("acme", "hh-1", "members")) == {b"ann"}
    assert one(decider, req("bob")).action == "send"  # hh-2 has sent nothing
    erasure.erase(store, "acme", "ann")
    assert store.bulk.smembers(keys.household("acme", "hh-1", "members")) == set()
    assert store.bulk.hlen(keys.household("acme", "hh-1", "sent")) == 0
    assert store.bulk.hlen(keys.household("acme", "hh-1", "offers")) == 0


def test_holdout_and_transactional_messages_skip_the_household(store, decider):
    use(store, caps=[{"channel": "any", "max": 0, "window": "7d"}])
    member(store, "ann")
    assert one(decider, req("ann", kind="transactional")).action == "send"
    assert one(decider, req("ann")).action == "suppress"


def test_household_policy_is_validated():
    with pytest.raises(ValueError, match="household.caps\\[0\\].channel names the channel 'fax'"):
        policy.Policy.model_validate({"household": {"caps": [{"channel": "fax", "max": 1, "window": "7d"}]}})


def test_two_tenants_with_the_same_household_id_share_nothing(store, decider):
    for tenant in ("acme", "globex"):
        policy.put(store, tenant, quiet_policy(household={"caps": [{"channel": "any", "max": 1, "window": "7d"}]}), "t")
        for cid in ("ann", "bob"):
            profiles.put(store, tenant, cid, CustomerIn(consent={"email": True}, household_id="hh-1"), None)
    assert one(decider, req("ann")).action == "send"  # acme's household is full now
    [globex] = decider.decide("globex", [req("bob")], now=NOW)
    assert globex.action == "send"
    assert one(decider, req("bob")).action == "suppress"
    assert store.bulk.zcard(keys.household("globex", "hh-1", "sends")) == 1


def test_twenty_concurrent_identical_calls_for_a_member_record_one_household_send(store, decider):
    use(store, caps=[{"channel": "any", "max": 5, "window": "7d"}])
    member(store, "ann")
    decider.states.get("acme")
    r = req("ann", mid="same-message")
    with ThreadPoolExecutor(max_workers=10) as pool:
        ds = list(pool.map(lambda _: one(decider, r), range(20)))
    assert {d.decision_id for d in ds} == {ds[0].decision_id} and {d.action for d in ds} == {"send"}
    assert store.bulk.zcard(keys.household("acme", "hh-1", "sends")) == 1
    assert store.bulk.zcard(keys.sends("acme", "ann")) == 1


def test_a_store_failing_between_the_customer_and_the_household_step_lets_no_retry_through(store, decider, monkeypatch):
    """The customer's step records a send and its standing verdict; the store fails before the
    household's word. The caller got a degraded answer and retries the same message: the standing
    send must not skip the household, whose cap another member has used meanwhile."""
    import redis

    from suppressor.decisions import decide as decide_mod

    use(store, caps=[DM_ONCE], offers=False)
    member(store, "ann")
    member(store, "bob")
    real = decide_mod.arun

    async def household_fails_once(st, client, commands, budget):
        if commands[0][1] == st.scripts["household"].sha and not failed:
            failed.append(commands)
            raise redis.ConnectionError("the store went away between the two steps")
        return await real(st, client, commands, budget)

    failed: list = []
    monkeypatch.setattr(decide_mod, "arun", household_fails_once)
    first = one(decider, req("ann", channel="direct_mail", offer=TRADE_IN, mid="mailer"))
    assert failed and first.reasons[-1].code == "degraded"
    assert one(decider, req("bob", channel="direct_mail", offer=TRADE_IN, mid="mailer")).action == "send"
    retry = one(decider, req("ann", channel="direct_mail", offer=TRADE_IN, mid="mailer"), NOW + timedelta(minutes=5))
    assert retry.action == "suppress" and codes(retry)[-1] == "household"
    again = one(decider, req("ann", channel="direct_mail", offer=TRADE_IN, mid="mailer"), NOW + timedelta(minutes=6))
    assert again.action == "suppress" and again.replayed  # the refusal now stands
    assert store.bulk.zcard(keys.sends("acme", "ann")) == 0  # ann's capacity given back
