"""Replay: the production rules re-run over logged decisions and the behavior that followed."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from suppressor.customers import events, profiles
from suppressor.decisions.choose import achoose
from suppressor.decisions.decide import Decider
from suppressor.decisions.log import DecisionLog
from suppressor.domain import ChooseRequest, CustomerIn, DecisionRequest, Event
from suppressor.policy import document as policies
from suppressor.storage.store import aclose_clients
from suppressor.tenants.state import TenantStateCache
from suppressor.whatif import estimate, history, replay, reports
from tests.factories import GOVERNED_TENANT as T
from tests.factories import message, quiet_policy


def candidate(store, **changes):
    current = policies.get(store, T)
    return policies.as_candidate(current, policies.with_changes(current, changes))


def test_replaying_the_policy_that_decided_reproduces_every_logged_verdict(store, governed):
    r = reports.simulate(store, T, policies.get(store, T))
    assert r["decisions"] == governed.campaigns["decisions"] > 1000
    assert r["agreement_with_log_pct"] == 100.0
    assert r["change"]["decisions_changed"] == 0 and r["examples"] == []
    assert r["change"]["intervals"]["engagement_pct"] == [100.0, 100.0]  # the same policy: no doubt at all
    assert r["current"]["sends"] == r["candidate"]["sends"] == governed.campaigns["sends"]
    # every send of the log really went out, so every engagement figure is observed, none modeled
    assert r["current"]["engagement_modeled"] == 0 and r["current"]["engagement_observed"] > 0


def test_a_higher_threshold_cuts_sends_more_than_engagement_and_avoids_unsubscribes(store, governed):
    r = reports.simulate(store, T, candidate(store, relevance_threshold=0.15))
    cur, cand, change = r["current"], r["candidate"], r["change"]
    assert change["sends_pct"] < 90
    # irrelevant sends rarely engage: engagement falls less than sends
    assert change["engagement_kept_pct"] > change["sends_pct"]
    # the planted truth: the less a message fits, the likelier an unsubscribe
    assert change["unsubscribes_avoided"] >= 3 and cand["unsubscribes"] < 0.9 * cur["unsubscribes"]
    assert cand["suppressed_by"]["irrelevant"] > cur["suppressed_by"]["irrelevant"]
    assert "irrelevant" not in cand["deferred_by"]  # relevance suppresses, it never defers
    assert sum(cand["actions"].values()) == cand["decisions"] == cur["decisions"]
    assert cand["engagement_modeled"] >= 0 and cand["engagement_observed"] < cur["engagement_observed"]
    iv = change["intervals"]
    for name, point in (
        ("sends_pct", change["sends_pct"]),
        ("engagement_pct", change["engagement_kept_pct"]),
        ("unsubscribes_avoided", change["unsubscribes_avoided"]),
    ):
        lo, hi = iv[name]
        assert lo < hi and lo - 0.5 <= point <= hi + 0.5
    assert iv["sends_pct"][1] < 100  # fewer sends is not in doubt
    ex = r["examples"][0]
    assert ex["current"]["action"] in ("send", "reroute") and ex["candidate"]["action"] == "suppress"
    assert any(x["code"] == "irrelevant" and "threshold 0.150" in x["message"] for x in ex["candidate"]["reasons"])


def test_the_replay_reads_production_state_and_writes_none(store, governed):
    before = {k: store.bulk.dump(k) for k in store.bulk.scan_iter(count=1000)}
    reports.simulate(store, T, candidate(store, relevance_threshold=0.3, caps=[]))
    after = {k: store.bulk.dump(k) for k in store.bulk.scan_iter(count=1000)}
    assert after == before
    assert not [k for k in after if b":sim:" in k]


def test_behavior_about_a_message_the_candidate_would_not_send_did_not_happen(store):
    """Sent a sales e-mail, got an unsubscribe, so a later e-mail was suppressed. A policy that
    would not have sent the first e-mail never sees that unsubscribe: the later one goes out."""
    now = datetime.now(UTC).replace(microsecond=0)
    profiles.put(store, T, "c-1", CustomerIn(consent={"email": True}), None)
    policies.put(store, T, policies.Policy(quiet_hours={"enabled": False}), "test")
    log = DecisionLog(store)
    decider = Decider(store, TenantStateCache(store, 0.0), log)
    first = DecisionRequest(customer_id="c-1", message=message("m-1", ["offer:loan"], "email", "sales"))
    later = DecisionRequest(customer_id="c-1", message=message("m-2", ["content:clinic"], "email", "value"))
    assert decider.decide(T, [first], now=now - timedelta(days=3))[0].action == "send"
    events.ingest(
        store,
        T,
        [
            Event(
                event_id="u-1",
                customer_id="c-1",
                type="unsubscribed",
                channel="email",
                message_id="m-1",
                ts=now - timedelta(days=2),
            )
        ],
    )
    d = decider.decide(T, [later], now=now - timedelta(days=1))[0]
    assert d.action == "suppress" and d.reasons[0].code == "consent"
    log.close()

    no_sales = candidate(store, caps=[{"channel": "any", "kind": "sales", "max": 0, "window": "7d"}])
    r = reports.simulate(store, T, no_sales)
    assert r["agreement_with_log_pct"] == 100.0
    assert [e["message_id"] for e in r["examples"]] == ["m-1", "m-2"]
    assert r["examples"][0]["candidate"]["reasons"][-1]["code"] == "frequency_cap"
    assert r["examples"][1]["candidate"]["action"] == "send"
    assert r["current"]["unsubscribes"] == 1 and r["candidate"]["unsubscribes"] < 1
    assert r["candidate"]["mix"]["sales"] == 0 and r["candidate"]["mix"]["value"] == 1


def test_a_replay_keeps_the_households_word(store):
    """Household rules span customers; a replay runs one customer at a time, so it keeps the
    household's logged refusals (and reproduces the log exactly)."""
    now = datetime.now(UTC).replace(microsecond=0)
    for cid in ("ann", "bob"):
        profiles.put(store, T, cid, CustomerIn(consent={"email": True}, household_id="hh-1"), None)
    policies.put(
        store,
        T,
        policies.Policy(
            quiet_hours={"enabled": False}, household={"caps": [{"channel": "any", "max": 1, "window": "7d"}]}
        ),
        "test",
    )
    log = DecisionLog(store)
    decider = Decider(store, TenantStateCache(store, 0.0), log)
    asks = [
        DecisionRequest(customer_id=cid, message=message(f"m-{cid}", ["offer:loan"], "email", "value"))
        for cid in ("ann", "bob")
    ]
    assert [d.action for d in decider.decide(T, asks, now=now - timedelta(days=1))] == ["send", "suppress"]
    log.close()
    r = reports.simulate(store, T, candidate(store, relevance_threshold=0.0))
    assert r["agreement_with_log_pct"] == 100.0 and r["current"]["suppressed_by"] == {"household": 1}


def test_the_tradeoff_curve_falls_as_the_threshold_rises_and_marks_the_current_policy(store, governed):
    curve = reports.tradeoff(store, T, "relevance_threshold", [0.0, 0.05, 0.1, 0.2, 0.4])
    pts = curve["points"]
    assert [p["value"] for p in pts] == [0.0, 0.05, 0.1, 0.2, 0.4]
    sends = [p["sends"] for p in pts]
    # not to zero: service reminders to customers due for service and trade-in offers to owners of
    # old cars are relevant whatever the threshold (lifecycle rules)
    assert sends == sorted(sends, reverse=True) and sends[0] > sends[-1] * 1.5
    [cur] = [p for p in pts if p["current"]]
    assert cur["value"] == 0.05 and cur["sends_pct"] == cur["engagement_pct"] == 100.0
    assert curve["current"]["sends"] == cur["sends"]
    assert cur["intervals"]["sends_pct"] == [100.0, 100.0]
    lo, hi = pts[-1]["intervals"]["engagement_pct"]
    assert lo < pts[-1]["engagement_pct"] < hi
    # a pick keeping 95% of engagement never sends more than the current policy
    assert curve["picks"]["95%"]["engagement_pct"] >= 95 and curve["picks"]["95%"]["sends_pct"] <= 100


def test_scaling_caps_up_sends_more(store, governed):
    curve = reports.tradeoff(store, T, "cap_scale", [0.5, 1.0, 3.0])
    half, same, triple = curve["points"]
    assert half["sends"] < same["sends"] <= triple["sends"] and same["current"]


def test_default_sweep_points_cover_the_logged_scores_and_the_current_threshold(store, governed):
    values = reports.default_values(store, reports.prepare(store, T), "relevance_threshold")
    assert values[0] == 0.0 and 0.05 in values and 8 <= len(values) <= 12


def test_unknown_sweep_parameter_is_refused(store, governed):
    with pytest.raises(ValueError, match="cannot sweep 'min_gap'"):
        reports.tradeoff(store, T, "min_gap", [1.0])


def test_a_sample_takes_whole_customers(store, governed):
    h = history.load_history(store, T, max_decisions=200)
    assert 0 < len(h.decisions) <= 200 and h.decisions_total == governed.campaigns["decisions"]
    per = {}
    for d in history.read_log(store, T):
        per[d.customer_id] = per.get(d.customer_id, 0) + 1
    assert all(sum(x.customer_id == c for x in h.decisions) == per[c] for c in h.events)


def test_rate_by_score_is_higher_where_observed_rates_are_higher():
    scores = [i / 1000 for i in range(1000)]
    flags = [s < 0.2 and i % 5 == 0 for i, s in enumerate(scores)]  # 20% unsubscribe below 0.2, none above
    rate = estimate.RateByScore.fit(scores, flags)
    assert rate(0.05) > 0.1 and rate(0.9) < 0.02


def test_long_logs_are_replayed_a_few_policies_per_call_with_the_same_answer(store, governed, monkeypatch):
    p = reports.prepare(store, T, max_decisions=400)
    pols = [reports.vary(p.current, "relevance_threshold", v) for v in (0.0, 0.05, 0.2)]
    together = replay.replay(store, p.history, pols, p.model)
    monkeypatch.setattr(replay, "REPLAYS_PER_CALL", 1)  # one policy per script call
    assert replay.replay(store, p.history, pols, p.model) == together


def test_customers_replayed_a_few_per_call_while_the_next_are_prepared_keep_their_order(store, governed, monkeypatch):
    p = reports.prepare(store, T, max_decisions=400)
    pols = [reports.vary(p.current, "relevance_threshold", v) for v in (0.0, 0.2)]
    together = replay.replay(store, p.history, pols, p.model)
    monkeypatch.setattr(replay, "CUSTOMERS_PER_CALL", 1)  # one customer per call, calls overlapping
    apart = replay.replay(store, p.history, pols, p.model)
    assert apart == together
    assert [v["did"] for v in apart[0]] == [d.record["decision_id"] for d in p.history.decisions]


def test_a_sample_holds_the_holdout_in_its_share(store, governed):
    from suppressor.decisions.decide import in_holdout

    h = history.load_history(store, T, max_decisions=governed.campaigns["decisions"] // 3)
    held = sum(in_holdout(T, c, 0.1) for c in h.events)
    assert 0.02 < held / h.customers < 0.2  # about 10%, not the holdout first


def test_a_replay_reproduces_reserved_slots_and_keeps_a_choices_word(store):
    """The priority rides in the logged request, so a replay refuses the reserved slot as it was
    refused and gives it to the priority that took it; a choice spans candidates, so a replay keeps
    the logged outranked verdicts."""
    now = datetime.now(UTC).replace(microsecond=0)
    for cid in ("ann", "bob"):
        profiles.put(store, T, cid, CustomerIn(consent={"email": True}), None)
    policies.put(
        store,
        T,
        quiet_policy(caps=[{"channel": "any", "max": 3, "window": "7d", "reserve": {"slots": 1, "min_priority": 50}}]),
        "test",
    )
    log = DecisionLog(store)
    decider = Decider(store, TenantStateCache(store, 0.0), log)
    at = now - timedelta(days=1)
    for i, priority in enumerate((None, None, None, 80)):  # sales: priority 30 unless the message says
        msg = message(f"m-{i}", ["offer:loan"], "email", "sales")
        ask = DecisionRequest(customer_id="ann", message=msg if priority is None else {**msg, "priority": priority})
        decider.decide(T, [ask], now=at + timedelta(minutes=i))
    choice = ChooseRequest(
        customer_id="bob",
        candidates=[
            message("c-1", ["offer:loan"], "email", "sales"),
            {**message("c-2", ["offer:loan"], "email", "sales"), "priority": 40},
        ],
    )

    async def choose():
        hot, bulk = store.async_clients()
        try:
            return await achoose(decider, T, choice, hot, bulk, now=at)
        finally:
            await aclose_clients(hot, bulk)

    assert asyncio.run(choose()).chosen == ["c-2"]
    log.close()
    r = reports.simulate(store, T, candidate(store, relevance_threshold=0.0))
    assert r["agreement_with_log_pct"] == 100.0
    assert r["current"]["suppressed_by"] == {"reserved": 1, "outranked": 1}
