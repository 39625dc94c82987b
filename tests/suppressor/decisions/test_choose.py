"""Choosing among a customer's competing messages: the best priority x score go out, atomically with
the caps and the household, the others are outranked; concurrent choices and single calls never
exceed a cap or let a low priority take a reserved slot. Run on every store: the one the session
uses (embedded, or REDIS_URL) and a local Redis Cluster."""

import asyncio
from datetime import timedelta

import numpy as np
import pytest

from suppressor.customers import profiles
from suppressor.decisions.choose import achoose, achoose_many
from suppressor.decisions.decide import Decider, release
from suppressor.domain import ChooseRequest, CustomerIn
from suppressor.errors import Refused
from suppressor.model import exported as models
from suppressor.model.exported import ExportedModel
from suppressor.policy import document as policy
from suppressor.settings import Settings
from suppressor.storage import keys
from suppressor.storage.store import Store, aclose_clients
from suppressor.tenants.state import TenantStateCache
from tests.factories import NOW, codes, quiet_policy, req

ONE_LEFT = [{"channel": "any", "max": 3, "window": "7d"}]
KEEP_ONE = [{"channel": "any", "max": 2, "window": "7d", "reserve": {"slots": 1, "min_priority": 50}}]


def setup(store, caps=ONE_LEFT, household=None, customers=("ann", "bob", "cat"), hh=None):
    body = {"caps": caps}
    if household:
        body["household"] = household
    policy.put(store, "acme", quiet_policy(**body), "test")
    for cid in customers:
        profiles.put(
            store,
            "acme",
            cid,
            CustomerIn(consent={"email": True, "sms": True, "direct_mail": True}, household_id=hh),
            None,
        )


def cand(mid, kind="sales", channel="email", **kw):
    return {"message_id": mid, "channel": channel, "kind": kind, "topics": ["segment:suv"], **kw}


def ask(cid, *candidates, **kw):
    return ChooseRequest(customer_id=cid, candidates=list(candidates), **kw)


def run(store, *coros_of):
    """Run ``coros_of(decider, hot, bulk)`` for each given, concurrently, on one decider."""
    decider = Decider(store, TenantStateCache(store, 0.0), None)

    async def main():
        hot, bulk = store.async_clients()
        try:
            return await asyncio.gather(*(f(decider, hot, bulk) for f in coros_of))
        finally:
            await aclose_clients(hot, bulk)

    return asyncio.run(main())


def choose(store, r, at=NOW):
    [c] = run(store, lambda d, h, b: achoose(d, "acme", r, h, b, now=at))
    return c


def sent_before(store, cid, n):
    decider = Decider(store, TenantStateCache(store, 0.0), None)
    for i in range(n):
        [d] = decider.decide("acme", [req(cid, kind="value")], now=NOW - timedelta(hours=i + 1))
        assert d.action == "send"


def by_id(choice):
    return {d.message_id: d for d in choice.results}


@pytest.mark.parametrize("order", [("loan", "recall"), ("recall", "loan")])
def test_the_higher_priority_takes_the_last_slot_whatever_the_order(any_store, order):
    setup(any_store)
    sent_before(any_store, "ann", 2)  # one slot of three left this week
    shapes = {
        "loan": cand("loan", offer={"key": "auto-loan", "terms": {"apr": 2.9}}),
        "recall": cand("recall", "service"),
    }
    c = choose(any_store, ask("ann", *(shapes[o] for o in order)))
    got = by_id(c)
    assert c.chosen == ["recall"] and got["recall"].action == "send"
    assert got["loan"].action == "suppress" and codes(got["loan"]) == ["outranked"]
    assert got["loan"].reasons[-1].message == (
        "outranked by recall (priority 60 x score 0.500 = 30; this message: priority 30 x score 0.500 = 15)"
    )
    assert [d.message_id for d in c.results] == list(order)  # verdicts in request order
    assert any_store.bulk.zcard(keys.sends("acme", "ann")) == 3
    assert not any_store.bulk.hexists(keys.offers("acme", "ann"), "auto-loan")  # the loser's offer is not held


def scored_model():
    """Loans score 0.881 (sigmoid 2), recalls 0.269 (sigmoid -1): nothing else is known to it."""
    return ExportedModel(
        version="v1",
        item_features=["topic:loan", "topic:recall"],
        item_emb=np.zeros((2, 4), np.float32),
        item_bias=np.array([2.0, -1.0], np.float32),
        user_features=["age=30"],
        user_emb=np.zeros((1, 4), np.float32),
        user_bias=np.zeros(1, np.float32),
        numeric_edges={},
        calibration={"a": 1.0, "b": 0.0},
    )


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_priority_times_score_decides_not_priority_alone(any_store, order):
    setup(any_store)
    models.save(any_store, "acme", scored_model())
    models.activate(any_store, "acme", "v1")
    sent_before(any_store, "ann", 2)
    shapes = [
        {"message_id": "loan", "channel": "email", "kind": "sales", "topics": ["loan"]},  # 30 x 0.881 = 26.4
        {"message_id": "recall", "channel": "email", "kind": "service", "topics": ["recall"]},
    ]  # 60 x 0.269
    c = choose(any_store, ask("ann", *(shapes[i] for i in order)))
    assert c.chosen == ["loan"]
    assert by_id(c)["recall"].reasons[-1].message == (
        "outranked by loan (priority 30 x score 0.881 = 26.4; this message: priority 60 x score 0.269 = 16.1)"
    )
    # the recall's own priority, given, turns it round: 90 x 0.269 = 24.2 < 26.4, 100 x 0.269 = 26.9 > 26.4
    close = choose(
        any_store, ask("bob", {**shapes[1], "message_id": "r-90", "priority": 90}, shapes[0] | {"message_id": "l-2"})
    )
    assert close.chosen == ["l-2"]
    high = choose(
        any_store, ask("cat", {**shapes[1], "message_id": "r-100", "priority": 100}, shapes[0] | {"message_id": "l-3"})
    )
    assert high.chosen == ["r-100"]


def test_a_message_priority_outranks_its_kind_and_ties_go_by_message_id(any_store):
    setup(any_store)
    c = choose(any_store, ask("ann", cand("b-sale", priority=90), cand("a-recall", "service")))
    assert c.chosen == ["b-sale"]
    tie = choose(any_store, ask("ann", cand("z-1"), cand("y-1")))
    assert tie.chosen == ["y-1"] and "outranked by y-1" in by_id(tie)["z-1"].reasons[-1].message


def test_asking_again_returns_the_standing_verdicts_and_records_nothing(any_store):
    setup(any_store)
    r = ask("ann", cand("m-1"), cand("m-2", "value"), cand("m-3", "service"), pick=2)
    first = choose(any_store, r)
    assert first.chosen == ["m-3", "m-2"]
    again = choose(any_store, r, NOW + timedelta(minutes=5))
    assert again.chosen == first.chosen
    assert [(d.decision_id, d.action) for d in again.results] == [(d.decision_id, d.action) for d in first.results]
    assert all(d.replayed for d in again.results)
    assert any_store.bulk.zcard(keys.sends("acme", "ann")) == 2


def test_a_dry_run_names_the_winner_and_records_nothing(any_store):
    setup(any_store)
    c = choose(any_store, ask("ann", cand("m-1"), cand("m-2", "service"), dry_run=True))
    assert c.chosen == ["m-2"] and all(d.dry_run for d in c.results)
    assert by_id(c)["m-1"].action == "suppress" and codes(by_id(c)["m-1"]) == ["outranked"]
    assert any_store.bulk.zcard(keys.sends("acme", "ann")) == 0
    assert any_store.bulk.hlen(keys.verdicts("acme", "ann")) == 0


def test_candidates_the_rules_refuse_keep_their_own_reasons(any_store):
    setup(any_store, caps=KEEP_ONE)
    sent_before(any_store, "ann", 1)  # the one slot left is reserved for priority 50+
    c = choose(any_store, ask("ann", cand("sale"), cand("tip", "value")))
    assert c.chosen == [] and [codes(d)[-1] for d in c.results] == ["reserved", "reserved"]


def test_a_winner_refused_by_then_makes_way_for_the_next_survivor(any_store, monkeypatch):
    setup(any_store, caps=[{"channel": "email", "max": 1, "window": "7d"}])
    decider = Decider(any_store, TenantStateCache(any_store, 0.0), None)
    real = decider.adecide

    async def meanwhile(tenant, requests, *a, **kw):  # a single call takes the email slot after the dry run
        if not requests[0].dry_run and requests[0].message.message_id == "recall":
            await real(tenant, [req("ann", mid="other")], *a[:2], now=NOW)
        return await real(tenant, requests, *a, **kw)

    monkeypatch.setattr(decider, "adecide", meanwhile)

    async def main():
        hot, bulk = any_store.async_clients()
        try:
            return await achoose(
                decider, "acme", ask("ann", cand("recall", "service"), cand("text", channel="sms")), hot, bulk, now=NOW
            )
        finally:
            await aclose_clients(hot, bulk)

    c = asyncio.run(main())
    got = by_id(c)
    assert c.chosen == ["text"] and got["recall"].action == "suppress" and codes(got["recall"])[-1] == "frequency_cap"


def test_a_bad_candidate_is_refused_by_name_before_anything_is_decided(any_store):
    setup(any_store)
    with pytest.raises(Refused) as refused:
        choose(any_store, ask("ann", cand("m-1"), cand("m-2", channel="fax")))
    assert refused.value.errors[0][0] == "candidates[1].channel"
    assert any_store.bulk.hlen(keys.verdicts("acme", "ann")) == 0
    with pytest.raises(Refused) as refused:
        run(
            any_store,
            lambda d, h, b: achoose_many(
                d, "acme", [ask("ann", cand("m-1")), ask("bob", cand("m-2"), cand("m-3", channel="fax"))], h, b, 2.0
            ),
        )
    assert refused.value.errors[0][0] == "items[1].candidates[1].channel"
    assert any_store.bulk.hlen(keys.verdicts("acme", "ann")) == 0


def test_a_batch_of_choices_answers_each_in_order(any_store):
    setup(any_store, customers=("ann", "bob"))
    [out] = run(
        any_store,
        lambda d, h, b: achoose_many(
            d,
            "acme",
            [ask("ann", cand("a-1"), cand("a-2", "service")), ask("bob", cand("b-1", "value"), cand("b-2"))],
            h,
            b,
            2.0,
        ),
    )
    assert [(c.customer_id, c.chosen) for c in out] == [("ann", ["a-2"]), ("bob", ["b-1"])]


def test_concurrent_choices_and_single_calls_never_exceed_a_cap(any_store):
    setup(any_store, caps=[{"channel": "any", "max": 2, "window": "7d"}])
    chooses = [
        lambda d, h, b, i=i: achoose(d, "acme", ask("ann", cand(f"c{i}-1"), cand(f"c{i}-2", "service")), h, b, now=NOW)
        for i in range(12)
    ]
    singles = [lambda d, h, b, i=i: d.adecide("acme", [req("ann", mid=f"s-{i}")], h, b, now=NOW) for i in range(12)]
    out = run(any_store, *[f for pair in zip(chooses, singles, strict=False) for f in pair])
    sends = sum(len(c.chosen) for c in out[0::2]) + sum(d.action == "send" for [d] in out[1::2])
    assert sends == 2 and any_store.bulk.zcard(keys.sends("acme", "ann")) == 2


def test_concurrent_low_priorities_never_take_the_reserved_slot(any_store):
    setup(any_store, caps=[{"channel": "any", "max": 3, "window": "7d", "reserve": {"slots": 1, "min_priority": 50}}])
    chooses = [
        lambda d, h, b, i=i: achoose(d, "acme", ask("ann", cand(f"c{i}-1"), cand(f"c{i}-2", "value")), h, b, now=NOW)
        for i in range(10)
    ]
    singles = [lambda d, h, b, i=i: d.adecide("acme", [req("ann", mid=f"s-{i}")], h, b, now=NOW) for i in range(10)]
    run(any_store, *chooses, *singles)
    assert any_store.bulk.zcard(keys.sends("acme", "ann")) == 2  # the third, reserved slot is still free
    c = choose(any_store, ask("ann", cand("late-sale"), cand("late-recall", "service")))
    assert c.chosen == ["late-recall"]


DM_ONCE = {"caps": [{"channel": "direct_mail", "max": 1, "window": "30d"}], "offers": False}


def test_two_teams_offers_to_one_household_go_through_one_choice(any_store):
    setup(any_store, caps=[], household=DM_ONCE, customers=("ann", "bob"), hh="hh-1")
    c = choose(
        any_store,
        ask(
            "ann",
            cand("trade-in", channel="direct_mail", offer={"key": "trade-in", "terms": {}}),
            cand("service-plan", "service", channel="direct_mail", offer={"key": "service-plan", "terms": {}}),
        ),
    )
    assert c.chosen == ["service-plan"] and "outranked by service-plan" in by_id(c)["trade-in"].reasons[-1].message
    assert any_store.bulk.zcard(keys.household("acme", "hh-1", "sends")) == 1
    other = choose(any_store, ask("bob", cand("b-trade-in", channel="direct_mail", priority=100)))
    assert other.chosen == [] and codes(other.results[0])[-1] == "household"  # the household's piece went out


def test_concurrent_choices_for_a_households_members_give_it_one_piece(any_store):
    members = [f"m-{i}" for i in range(8)]
    setup(any_store, caps=[], household=DM_ONCE, customers=members, hh="hh-1")
    out = run(
        any_store,
        *[
            lambda d, h, b, cid=cid: achoose(
                d,
                "acme",
                ask(cid, cand(f"{cid}-a", channel="direct_mail"), cand(f"{cid}-b", "service", channel="direct_mail")),
                h,
                b,
                now=NOW,
            )
            for cid in members
        ],
    )
    assert sum(len(c.chosen) for c in out) == 1
    assert any_store.bulk.zcard(keys.household("acme", "hh-1", "sends")) == 1


@pytest.mark.parametrize("mode", ["suppress", "send"])
def test_an_unreachable_store_answers_every_candidate_in_the_failure_mode(store, mode):
    policy.put(store, "acme", policy.Policy(failure_mode=mode), "t")
    states = TenantStateCache(store, 3600.0)
    states.get("acme")  # the policy is cached before the store goes away
    dead = Store(Settings(redis_url="redis://127.0.0.1:1/0", decision_deadline_ms=50))
    states.store = dead

    async def main():
        hot, bulk = dead.async_clients()
        try:
            return await achoose(
                Decider(dead, states, None), "acme", ask("ann", cand("m-1"), cand("m-2", "service")), hot, bulk
            )
        finally:
            await aclose_clients(hot, bulk)

    c = asyncio.run(main())
    assert not any(d.dry_run for d in c.results)
    if mode == "suppress":
        assert c.chosen == [] and [(d.action, codes(d)) for d in c.results] == [("suppress", ["degraded"])] * 2
    else:  # failing open sends only the pick, by priority (no score is known)
        assert c.chosen == ["m-2"]
        assert [(d.action, codes(d)) for d in c.results] == [
            ("suppress", ["degraded", "outranked"]),
            ("send", ["degraded"]),
        ]


def test_slots_freed_meanwhile_never_send_more_than_the_pick(any_store, monkeypatch):
    """Both candidates meet a full cap in the dry run; two slots free up before they are decided for
    real: one goes out (the pick), the other is held, though the cap would take it."""
    setup(any_store, caps=[{"channel": "any", "max": 2, "window": "7d"}])
    decider = Decider(any_store, TenantStateCache(any_store, 0.0), None)
    earlier = [decider.decide("acme", [req("ann", kind="value")], now=NOW - timedelta(hours=h))[0] for h in (1, 2)]
    real = decider.adecide

    async def meanwhile(tenant, requests, *a, **kw):
        if not requests[0].dry_run:  # the caller did not send those after all
            for d in earlier:
                release(any_store, "acme", d.decision_id)
        return await real(tenant, requests, *a, **kw)

    monkeypatch.setattr(decider, "adecide", meanwhile)

    async def main():
        hot, bulk = any_store.async_clients()
        try:
            return await achoose(decider, "acme", ask("ann", cand("x"), cand("y")), hot, bulk, now=NOW)
        finally:
            await aclose_clients(hot, bulk)

    c = asyncio.run(main())
    got = by_id(c)
    assert [got["x"].action, got["y"].action] == ["send", "suppress"]
    assert got["y"].reasons[-1].message.startswith("not picked: the pick of 1 went to other candidates")
    assert any_store.bulk.zcard(keys.sends("acme", "ann")) == 1
