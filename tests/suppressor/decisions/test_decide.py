"""Each policy rule against a real Redis, with a fixed clock: the verdict and the number that decided it."""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from suppressor.customers import events, profiles
from suppressor.decisions.decide import Decider, in_holdout, release
from suppressor.domain import CustomerIn, DecisionRequest, Event
from suppressor.policy import content
from suppressor.policy import document as policy
from suppressor.policy.content import ContentIn
from suppressor.settings import Settings
from suppressor.storage.store import Store, aclose_clients
from suppressor.tenants.state import TenantStateCache
from tests.factories import NOW, codes, message, one, quiet_policy, reaction, req


def use(store, **kw):
    policy.put(store, "acme", quiet_policy(**kw), "test")


def put(store, cid, **body):
    profiles.put(store, "acme", cid, CustomerIn(**body), None)


def decide(decider, cid, channel="email", kind="sales", **kw):
    """A new message to ``cid`` under the tenant's policy as it stands (the default unless set)."""
    return one(decider, req(cid, channel, kind, topics=["x"], **kw))


def ingest(store, *evs):
    events.ingest(store, "acme", [Event.model_validate(e) for e in evs])


def ev(eid, typ, at, channel="email", cid="c-1", **kw):
    return {"event_id": eid, "customer_id": cid, "type": typ, "ts": at.isoformat(), "channel": channel, **kw}


# consent, reroute, opt-in, no model, degraded --------------------------------------------


def test_opted_out_channel_is_rerouted_to_a_consented_one(store, decider):
    put(store, "c-1", consent={"email": False, "sms": True})
    d = decide(decider, "c-1")
    assert d.action == "reroute" and d.channel == "sms"
    assert [r.code for r in d.reasons][:1] == ["consent"]
    assert "opted out of email" in d.reasons[0].message and "rerouted to sms" in d.reasons[0].message


def test_opted_out_without_reroute_is_suppressed(store, decider):
    put(store, "c-1", consent={"email": False, "sms": True})
    d = decide(decider, "c-1", allow_reroute=False)
    assert d.action == "suppress" and d.channel is None
    assert d.reasons[0].code == "consent"


def test_reroute_respects_the_callers_channels(store, decider):
    put(store, "c-1", consent={"email": False, "sms": True, "push": True})
    assert decide(decider, "c-1", channels=["push"]).channel == "push"
    assert decide(decider, "c-1", channels=["direct_mail"]).action == "suppress"


def test_sms_needs_explicit_opt_in(store, decider):
    put(store, "c-1", consent={"email": True})
    d = decide(decider, "c-1", channel="sms", allow_reroute=False)
    assert d.action == "suppress" and "no explicit opt-in for sms" in d.reasons[0].message
    assert decide(decider, "c-1", channel="email").action == "send"


def test_preferred_channel_wins_the_reroute(store, decider):
    put(store, "c-1", consent={"email": False, "sms": True, "push": True}, preferred_channel="push")
    assert decide(decider, "c-1").channel == "push"


def test_without_a_model_the_reasons_say_rules_only(store, decider):
    d = decide(decider, "c-unknown")
    assert d.action == "send" and d.score is None and d.model_version is None
    assert [r.code for r in d.reasons] == ["no_model"]


def test_policy_opt_in_list_is_applied(store, decider):
    policy.put(store, "acme", policy.Policy(require_opt_in=["email"]), "t")
    put(store, "c-1", consent={"sms": True})
    d = decide(decider, "c-1", allow_reroute=False)
    assert d.action == "suppress" and d.policy_version == 1


@pytest.mark.parametrize("mode,action", [("defer", "defer"), ("suppress", "suppress"), ("send", "send")])
def test_unreachable_store_answers_in_the_failure_mode(store, mode, action):
    policy.put(store, "acme", policy.Policy(failure_mode=mode), "t")
    states = TenantStateCache(store, 3600.0)
    states.get("acme")  # the policy is cached before the store goes away
    dead = Store(Settings(redis_url="redis://127.0.0.1:1/0", decision_deadline_ms=50))
    states.store = dead
    [d] = Decider(dead, states, None).decide("acme", [DecisionRequest(customer_id="c-1", message=message("m", ["x"]))])
    assert d.action == action
    assert d.reasons[0].code == "degraded" and f"'{mode}'" in d.reasons[0].message
    assert (d.not_before is not None) == (mode == "defer")


# frequency caps ---------------------------------------------------------------------------


def test_cap_counts_sends_and_explains_the_number(store, decider):
    use(store, caps=[{"channel": "email", "max": 3, "window": "7d"}])
    actions = [one(decider, req(), NOW + timedelta(hours=i)).action for i in range(4)]
    assert actions == ["send", "send", "send", "suppress"]
    d = one(decider, req(), NOW + timedelta(hours=5))
    assert codes(d) == ["no_model", "frequency_cap"]
    assert d.reasons[1].message == "3 of 3 sends on email in 7d"
    assert one(decider, req(channel="push"), NOW + timedelta(hours=5)).action == "send"  # other channel
    assert one(decider, req(), NOW + timedelta(days=7, minutes=1)).action == "send"  # first send left the window


def test_most_restrictive_cap_wins_and_kind_caps_count_only_their_kind(store, decider):
    use(
        store,
        caps=[
            {"channel": "any", "max": 5, "window": "7d"},
            {"channel": "any", "kind": "sales", "max": 1, "window": "7d"},
        ],
    )
    assert one(decider, req(kind="sales")).action == "send"
    d = one(decider, req(kind="sales", channel="sms", allow_reroute=False), NOW)
    assert d.action == "suppress"  # sms needs opt-in anyway; use push for the cap
    d = one(decider, req(kind="sales", channel="push"))
    assert d.action == "suppress" and d.reasons[-1].message == "1 of 1 sales sends on any channel in 7d"
    for _ in range(4):
        assert one(decider, req(kind="value")).action == "send"
    d = one(decider, req(kind="value"))
    assert d.action == "suppress" and "5 of 5 sends on any channel in 7d" in d.reasons[-1].message


def test_fifty_concurrent_decisions_under_a_cap_of_three_give_exactly_three_sends(store, decider):
    use(store, caps=[{"channel": "any", "max": 3, "window": "1d"}])
    decider.states.get("acme")
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda i: one(decider, req(), NOW).action, range(50)))
    assert results.count("send") == 3 and results.count("suppress") == 47


def test_release_gives_capacity_back_and_dry_run_records_nothing(store, decider):
    use(store, caps=[{"channel": "email", "max": 1, "window": "7d"}])
    assert one(decider, req(dry_run=True)).action == "send"
    assert one(decider, req(dry_run=True)).action == "send"  # the dry run took nothing
    first = one(decider, req())
    assert first.action == "send"
    assert one(decider, req()).action == "suppress"
    assert release(store, "acme", first.decision_id) is True
    assert release(store, "acme", first.decision_id) is False  # only once
    assert one(decider, req()).action == "send"
    assert release(store, "acme", "not-a-decision") is False


# a verdict is asked once per message ------------------------------------------------------


def ledger(store, cid="c-1"):
    from suppressor.storage import keys

    return store.bulk.zcard(keys.sends("acme", cid))


def test_asking_again_for_a_message_returns_its_standing_verdict_and_records_nothing(store, decider):
    use(store, caps=[{"channel": "email", "max": 2, "window": "7d"}], balance={"enabled": True})
    first = one(decider, req(mid="m-a"))
    again = [one(decider, req(mid="m-a"), NOW + timedelta(minutes=i)) for i in range(1, 6)]
    assert first.action == "send" and not first.replayed
    assert all(d.replayed and d.action == "send" and d.decision_id == first.decision_id for d in again)
    assert all(d.decided_at == first.decided_at and d.reasons == first.reasons for d in again)
    assert ledger(store) == 1  # Braze's five renders used one send of the cap, not six
    assert one(decider, req(mid="m-b", kind="value")).action == "send"  # the cap of 2 still has room
    d = one(decider, req(mid="m-c", kind="value"))
    assert d.action == "suppress" and codes(d)[-1] == "frequency_cap"
    assert one(decider, req(mid="m-c", kind="value")).action == "suppress"  # a suppression stands too


def test_a_deferred_message_is_decided_anew_at_not_before(store, decider):
    use(store, min_gap="1h")
    assert one(decider, req(mid="m-a")).action == "send"
    deferred = one(decider, req(mid="m-b"), NOW + timedelta(minutes=10))
    assert deferred.action == "defer" and deferred.not_before == NOW + timedelta(hours=1)
    early = one(decider, req(mid="m-b"), NOW + timedelta(minutes=59))
    assert early.replayed and early.decision_id == deferred.decision_id and early.action == "defer"
    on_time = one(decider, req(mid="m-b"), NOW + timedelta(hours=1))
    assert on_time.action == "send" and not on_time.replayed and on_time.decision_id != deferred.decision_id
    assert ledger(store) == 2


def test_the_verdict_window_is_a_policy_setting_and_its_keys_expire(store, decider):
    from suppressor.storage import keys

    use(store, verdict_window="1h")
    first = one(decider, req(mid="m-a"))
    assert one(decider, req(mid="m-a"), NOW + timedelta(minutes=59)).replayed
    later = one(decider, req(mid="m-a"), NOW + timedelta(minutes=61))
    assert not later.replayed and later.decision_id != first.decision_id
    for k in (keys.verdicts("acme", "c-1"), keys.verdicts_expiry("acme", "c-1")):
        assert 0 < store.bulk.pttl(k) <= (3600 + 60) * 1000
    assert store.bulk.hlen(keys.verdicts("acme", "c-1")) == 1  # the lapsed verdict was swept


def test_dry_runs_record_no_verdict_but_see_the_standing_one(store, decider):
    use(store, caps=[{"channel": "email", "max": 1, "window": "7d"}])
    assert not one(decider, req(mid="m-a", dry_run=True)).replayed
    real = one(decider, req(mid="m-a"))
    assert real.action == "send" and not real.replayed  # the dry run stood for nothing
    probe = one(decider, req(mid="m-a", dry_run=True))
    assert probe.replayed and probe.decision_id == real.decision_id
    assert ledger(store) == 1


def test_batch_items_for_one_message_are_decided_once(store, decider):
    use(store)
    out = decider.decide("acme", [req(mid="m-a"), req(mid="m-a"), req(cid="c-2", mid="m-a")], now=NOW)
    assert [d.replayed for d in out] == [False, True, False]
    assert out[0].decision_id == out[1].decision_id != out[2].decision_id
    assert ledger(store, "c-1") == 1 and ledger(store, "c-2") == 1


def test_twenty_concurrent_identical_calls_record_exactly_one(store, decider):
    use(store, caps=[{"channel": "any", "max": 5, "window": "1d"}])
    decider.states.get("acme")
    with ThreadPoolExecutor(max_workers=20) as pool:
        out = list(pool.map(lambda i: one(decider, req(mid="m-a")), range(20)))
    assert len({d.decision_id for d in out}) == 1 and sum(not d.replayed for d in out) == 1
    assert ledger(store) == 1


def test_a_released_message_is_decided_anew(store, decider):
    use(store, caps=[{"channel": "email", "max": 1, "window": "7d"}])
    first = one(decider, req(mid="m-a"))
    assert release(store, "acme", first.decision_id)
    again = one(decider, req(mid="m-a"))
    assert not again.replayed and again.action == "send" and again.decision_id != first.decision_id
    assert ledger(store) == 1


# fatigue, unsubscribes, complaints ---------------------------------------------------------


def test_ignore_streak_rests_the_channel_until_the_customer_engages(store, decider):
    use(store, fatigue={"enabled": True, "ignore_streak": 3, "unanswered_after": "3d", "cooldown": "7d"})
    first = one(decider, req(), NOW - timedelta(days=1))
    assert first.action == "send"
    ingest(store, *[ev(f"i{i}", "ignored", NOW - timedelta(days=10 - i), message_id=f"m{i}") for i in range(3)])
    d = one(decider, req())
    assert d.action == "defer" and codes(d)[-1] == "fatigue"
    assert d.not_before == NOW - timedelta(days=1) + timedelta(days=7)
    assert "3 unanswered email messages in a row (threshold 3)" in d.reasons[-1].message
    assert one(decider, req(channel="push")).action == "send"  # only email is tired
    ingest(store, ev("c1", "clicked", NOW - timedelta(hours=1), message_id="m9"))
    assert one(decider, req()).action == "send"


def test_deliveries_never_answered_count_as_ignored(store, decider):
    use(store, fatigue={"enabled": True, "ignore_streak": 2, "unanswered_after": "3d", "cooldown": "7d"})
    one(decider, req(), NOW - timedelta(days=1))
    ingest(
        store,
        ev("d1", "delivered", NOW - timedelta(days=6), message_id="a"),
        ev("d2", "delivered", NOW - timedelta(days=5), message_id="b"),
        ev("d3", "delivered", NOW - timedelta(hours=2), message_id="c"),
    )  # too recent to count
    d = one(decider, req())
    assert d.action == "defer" and "2 unanswered" in d.reasons[-1].message


def test_unsubscribe_from_a_topic_suppresses_that_topic_only(store, decider):
    use(store)
    ingest(store, ev("u1", "unsubscribed", NOW - timedelta(hours=1), topics=["team:red-sox"]))
    d = one(decider, req(topics=["team:red-sox", "offer:tickets"]))
    assert d.action == "suppress" and d.reasons[0].message == "the customer unsubscribed from team:red-sox"
    assert one(decider, req(topics=["team:yankees"])).action == "send"


def test_unsubscribe_from_a_channel_revokes_its_consent(store, decider):
    use(store)
    profiles.put(store, "acme", "c-1", CustomerIn(consent={"email": True, "push": True}), None)
    ingest(store, ev("u1", "unsubscribed", NOW - timedelta(hours=1)))
    assert profiles.get(store, "acme", "c-1", None).consent == {"email": False, "push": True}
    d = one(decider, req())
    assert d.action == "reroute" and d.channel == "push" and codes(d)[0] == "consent"


def test_a_complaint_revokes_the_channel_and_blocks_its_topics(store, decider):
    use(store)
    ingest(store, ev("x1", "complained", NOW - timedelta(hours=1), channel="sms", topics=["offer:lease"]))
    assert profiles.get(store, "acme", "c-1", None).consent == {"sms": False}
    assert one(decider, req(channel="email", topics=["offer:lease"])).action == "suppress"


# sales / value balance ---------------------------------------------------------------------


def test_sales_balance_needs_value_between_sales_and_offers_a_substitute(store, decider):
    use(store, balance={"enabled": True, "max_sales_share": 0.67, "min_value_between_sales": 1, "window": "30d"})
    content.put(store, "acme", "clinic", ContentIn(title="Winter safety clinic", topics=["content:safety-clinic"]))
    content.put(
        store,
        "acme",
        "old",
        ContentIn(title="Expired event", topics=["content:event"], valid_until=NOW - timedelta(days=1)),
    )
    assert one(decider, req(kind="sales"), NOW - timedelta(hours=3)).action == "send"
    d = one(decider, req(kind="sales"), NOW - timedelta(hours=2))
    assert d.action == "suppress" and codes(d)[-1] == "sales_balance"
    assert d.substitute["content_id"] == "clinic" and d.substitute["channel"] == "email"
    assert one(decider, req(kind="value"), NOW - timedelta(hours=1)).action == "send"
    assert one(decider, req(kind="sales")).action == "send"  # sales, value, sales: share 0.67
    d = one(decider, req(kind="sales"), NOW + timedelta(hours=1))
    assert d.action == "suppress"
    assert any("value messages since the last sales ask" in r.message or "sales share" in r.message for r in d.reasons)


def test_sales_share_over_the_window(store, decider):
    use(store, balance={"enabled": True, "max_sales_share": 0.5, "min_value_between_sales": 0, "window": "30d"})
    for i, kind in enumerate(["sales", "value"]):
        assert one(decider, req(kind=kind), NOW - timedelta(hours=5 - i)).action == "send"
    d = one(decider, req(kind="sales"))
    assert d.action == "suppress"
    assert d.reasons[-1].message == "sales share 0.67 > 0.50 over 30d (2 of 3 sends would be sales)"


# one face to the customer: offers -----------------------------------------------------------

LOAN = {"key": "auto-loan", "terms": {"apr": 2.9}}


def test_conflicting_and_duplicate_offers_across_channels(store, decider):
    use(store, offers={"enabled": True, "conflict": "suppress", "window": "30d"})
    profiles.put(store, "acme", "c-1", CustomerIn(consent={"sms": True, "direct_mail": True}), None)
    assert one(decider, req(offer=LOAN), NOW - timedelta(days=2)).action == "send"
    d = one(decider, req(channel="direct_mail", offer={"key": "auto-loan", "terms": {"apr": 3.9}}))
    assert d.action == "suppress" and codes(d)[-1] == "offer_conflict"
    assert "a auto-loan offer (apr 2.9) went out on email 2 days ago" in d.reasons[-1].message
    dup = one(decider, req(channel="sms", offer=LOAN))
    assert dup.action == "suppress" and "the same auto-loan offer went out on email" in dup.reasons[-1].message
    assert one(decider, req(offer={"key": "lease", "terms": {"monthly_payment": 299}})).action == "send"
    assert one(decider, req(offer=LOAN), NOW + timedelta(days=29)).action == "send"  # expired


def test_better_only_lets_a_strictly_better_offer_through(store, decider):
    use(store, offers={"enabled": True, "conflict": "better_only", "window": "30d"})
    assert one(decider, req(offer=LOAN), NOW - timedelta(days=1)).action == "send"
    assert one(decider, req(offer={"key": "auto-loan", "terms": {"apr": 3.9}})).action == "suppress"
    assert one(decider, req(offer={"key": "auto-loan", "terms": {"apr": 2.9, "gift": "mug"}})).action == "suppress"
    assert one(decider, req(offer={"key": "auto-loan", "terms": {"apr": 2.5}})).action == "send"
    assert (
        one(decider, req(offer={"key": "auto-loan", "terms": {"apr": 2.7}})).action == "suppress"
    )  # 2.5 is active now


def test_offer_expiry_from_the_message(store, decider):
    use(store, offers={"enabled": True, "conflict": "suppress", "window": "30d"})
    short = {**LOAN, "expires": (NOW + timedelta(days=1)).isoformat()}
    assert one(decider, req(offer=short)).action == "send"
    assert (
        one(decider, req(offer={"key": "auto-loan", "terms": {"apr": 3.1}}), NOW + timedelta(days=2)).action == "send"
    )


# channels ----------------------------------------------------------------------------------


def test_stated_preference_reroutes_when_the_caller_allows(store, decider):
    use(store)
    profiles.put(store, "acme", "c-1", CustomerIn(consent={"sms": True}, preferred_channel="sms"), None)
    d = one(decider, req())
    assert d.action == "reroute" and d.channel == "sms"
    assert d.reasons[0].message == "the customer prefers sms: rerouted from email"
    assert one(decider, req(allow_reroute=False)).action == "send"


# time --------------------------------------------------------------------------------------


def chicagoan(store, written=NOW):
    """c-1 in America/Chicago, the profile written at ``written`` (its offsets table starts a year before)."""
    profiles.put(store, "acme", "c-1", CustomerIn(timezone="America/Chicago"), None, now=written)


def test_quiet_hours_in_the_customers_time_zone_defer_to_morning(store, decider):
    use(store, quiet_hours={"enabled": True, "start": "21:00", "end": "08:00"})
    chicagoan(store)
    night = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 22:00 CST
    d = one(decider, req(), night)
    assert d.action == "defer" and d.not_before == datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    assert d.reasons[-1].message == "22:00 local time is within quiet hours 21:00-08:00"
    assert one(decider, req(), NOW).action == "send"  # 10:00 CST


def test_quiet_hours_follow_daylight_saving(store, decider):
    use(store, quiet_hours={"enabled": True, "start": "21:00", "end": "08:00"})
    chicagoan(store)
    summer_night = datetime(2027, 7, 1, 3, 0, tzinfo=UTC)  # 22:00 CDT (UTC-5)
    d = one(decider, req(), summer_night)
    assert d.action == "defer" and d.not_before == datetime(2027, 7, 1, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "night, morning",
    [
        (
            datetime(2027, 3, 14, 4, 0, tzinfo=UTC),
            datetime(2027, 3, 14, 13, 0, tzinfo=UTC),
        ),  # 22:00 CST -> 08:00 CDT
        (
            datetime(2027, 11, 7, 3, 0, tzinfo=UTC),
            datetime(2027, 11, 7, 14, 0, tzinfo=UTC),
        ),  # 22:00 CDT -> 08:00 CST
    ],
    ids=["spring-forward", "fall-back"],
)
def test_quiet_hours_end_on_the_local_clock_across_a_daylight_saving_change(store, decider, night, morning):
    use(store, quiet_hours={"enabled": True, "start": "21:00", "end": "08:00"})
    chicagoan(store)
    d = one(decider, req(), night)
    assert d.action == "defer" and d.reasons[-1].message == "22:00 local time is within quiet hours 21:00-08:00"
    assert d.not_before == morning


def test_a_backdated_decision_reads_the_clock_of_its_own_day(store, decider):
    """A profile written in summer, a decision (a replay, a backfill) asked for last winter's night."""
    use(store, quiet_hours={"enabled": True, "start": "21:00", "end": "08:00"})
    chicagoan(store, written=datetime(2027, 7, 1, tzinfo=UTC))
    d = one(decider, req(), datetime(2026, 11, 20, 4, 0, tzinfo=UTC))  # 22:00 CST, not 23:00 CDT
    assert d.reasons[-1].message == "22:00 local time is within quiet hours 21:00-08:00"
    assert d.not_before == datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def test_cooldown_between_sends(store, decider):
    use(store, min_gap="12h")
    assert one(decider, req(), NOW - timedelta(hours=2)).action == "send"
    d = one(decider, req())
    assert d.action == "defer" and d.not_before == NOW + timedelta(hours=10)
    assert d.reasons[-1].message == "last send 2h ago; the policy wants 12h between sends"


# lifecycle, transactional, holdout ---------------------------------------------------------


def test_no_sales_after_a_purchase_or_while_service_is_open(store, decider):
    use(store, lifecycle={"post_purchase_quiet": "30d", "block_sales_while_service_open": True})
    ingest(store, ev("p1", "purchased", NOW - timedelta(days=5), topics=["segment:suv"]))
    d = one(decider, req(kind="sales"))
    assert (
        d.action == "suppress"
        and d.reasons[-1].message == "purchased 5 days ago: no sales asks within 30 days of a purchase"
    )
    assert one(decider, req(kind="service")).action == "send"
    assert one(decider, req(kind="sales"), NOW + timedelta(days=26)).action == "send"
    profiles.put(store, "acme", "c-2", CustomerIn(attributes={"service_order_open": True}), None)
    d = one(decider, req(cid="c-2", kind="sales"))
    assert d.action == "suppress" and codes(d)[-1] == "lifecycle"


def test_transactional_is_exempt_from_caps_but_honors_consent(store, decider):
    use(store, caps=[{"channel": "any", "max": 0, "window": "7d"}], quiet_hours={"enabled": True})
    profiles.put(store, "acme", "c-1", CustomerIn(consent={"push": False}, timezone="America/Chicago"), None, now=NOW)
    d = one(decider, req(kind="transactional"), datetime(2026, 11, 20, 4, 0, tzinfo=UTC))
    assert d.action == "send" and codes(d) == ["transactional"]
    assert one(decider, req(kind="transactional", channel="push", allow_reroute=False)).action == "suppress"
    assert one(decider, req(kind="sales")).action == "suppress"


def test_transactional_counts_toward_caps_only_when_the_policy_says_so(store, decider):
    use(store, caps=[{"channel": "any", "max": 1, "window": "7d"}], transactional={"count_toward_caps": True})
    assert one(decider, req(kind="transactional")).action == "send"
    assert one(decider, req(kind="value")).action == "suppress"


def test_holdout_customers_get_send_whatever_the_rules(store, decider):
    use(store, caps=[{"channel": "any", "max": 0, "window": "7d"}], holdout_fraction=0.3)
    ids = [f"c-{i}" for i in range(200)]
    held = [c for c in ids if in_holdout("acme", c, 0.3)]
    assert 40 < len(held) < 80  # about 30%, and stable:
    assert held == [c for c in ids if in_holdout("acme", c, 0.3)]
    d = one(decider, req(cid=held[0]))
    assert d.action == "send" and codes(d) == ["holdout"]
    assert one(decider, req(cid=next(c for c in ids if c not in held))).action == "suppress"


# policy versions and campaign overrides ----------------------------------------------------


def test_campaign_override_applies_only_to_its_campaign(store, decider):
    use(store, caps=[{"channel": "any", "max": 5, "window": "7d"}])
    policy.put_campaign(store, "acme", "blitz", {"caps": [{"channel": "any", "max": 1, "window": "7d"}]}, "t")
    assert one(decider, req(campaign="blitz")).action == "send"
    d = one(decider, req(campaign="blitz"))
    assert d.action == "suppress" and d.policy_version == 2
    assert one(decider, req(campaign="other")).action == "send"


def test_ledgers_survive_a_restart_of_the_embedded_store(tmp_path):
    from suppressor.settings import Settings
    from suppressor.storage.store import Store

    settings = Settings(data_dir=tmp_path / "d", redis_url=None)
    st = Store(settings)
    policy.put(
        st, "acme", quiet_policy(caps=[{"channel": "any", "max": 1, "window": "7d"}], offers={"enabled": True}), "t"
    )
    d = Decider(st, TenantStateCache(st, 0.0), None)
    assert one(d, req(offer=LOAN)).action == "send"
    ingest(st, ev("u1", "unsubscribed", NOW - timedelta(hours=1), topics=["team:red-sox"]))
    st.close()
    st = Store(settings)
    try:
        d = Decider(st, TenantStateCache(st, 0.0), None)
        assert codes(one(d, req(channel="push")))[-1] == "frequency_cap"
        policy.put(st, "acme", quiet_policy(offers={"enabled": True}), "t")
        assert codes(one(d, req(channel="push", offer=LOAN)))[-1] == "offer_conflict"
        assert one(d, req(topics=["team:red-sox"])).reasons[0].code == "consent"
    finally:
        st.close()


# rules that need the learned model ---------------------------------------------------------


def channel_people(n: int = 30, weeks: int = 8) -> list[dict]:
    """Texters answer sms and ignore email; emailers the opposite. Everyone likes yankees, not red-sox."""
    out = []
    for group, good in (("texter", "sms"), ("emailer", "email")):
        for i in range(n):
            cid = f"{group}-{i}"
            for w in range(weeks):
                for ch in ("sms", "email"):
                    for team in ("yankees", "red-sox"):
                        at = NOW - timedelta(days=60 - 7 * w, hours=2 * (ch == "sms") + (team == "red-sox"))
                        out += reaction(
                            cid,
                            f"{w}-{ch}-{team}",
                            at,
                            ch == good and team == "yankees",
                            channel=ch,
                            kind="value",
                            message_id=f"{team}-{ch}-{w}",
                            topics=[f"team:{team}"],
                        )
    return out


@pytest.fixture
def trained(store):
    from suppressor.training.fit import TrainConfig, train_tenant

    for c in ("texter-0", "emailer-0"):
        stage = "researching" if c.startswith("texter") else "ready"
        profiles.put(
            store, "acme", c, CustomerIn(consent={"sms": True, "email": True}, attributes={"lead_stage": stage}), None
        )
    evs = channel_people()
    for i in range(0, len(evs), 5000):
        events.ingest(store, "acme", [Event.model_validate(e) for e in evs[i : i + 5000]])
    return train_tenant(store, "acme", TrainConfig())


def test_learned_channel_affinity_reroutes_to_the_channel_the_customer_answers(store, decider, trained):
    use(store, channels={"learned_reroute": True, "margin": 0.1}, relevance_threshold=0.2)
    d = one(decider, req(cid="texter-0", kind="value", topics=["team:yankees"]))
    assert d.action == "reroute" and d.channel == "sms"
    assert codes(d)[0] == "channel_preference" and d.channel_scores["sms"] > d.channel_scores["email"] + 0.1
    assert "sms scores" in d.reasons[0].message and "rerouted" in d.reasons[0].message
    d = one(decider, req(cid="emailer-0", kind="value", topics=["team:yankees"]))
    assert d.action == "send" and d.channel == "email"
    d = one(decider, req(cid="texter-0", kind="value", topics=["team:yankees"], allow_reroute=False))
    assert d.action == "suppress" and codes(d)[-1] == "irrelevant"  # email alone is not worth it


def test_threshold_by_lead_stage(store, decider, trained):
    use(
        store,
        relevance_threshold=0.5,
        lifecycle={"thresholds_by_stage": {"researching": 0.99, "ready": 0.2}, "post_purchase_quiet": 0},
    )
    texter = one(decider, req(cid="texter-0", channel="sms", kind="value", topics=["team:yankees"]))
    emailer = one(decider, req(cid="emailer-0", channel="email", kind="value", topics=["team:yankees"]))
    assert texter.action == "suppress" and "(lead stage researching)" in texter.reasons[-1].message
    assert emailer.action == "send" and "(lead stage ready)" in emailer.reasons[-1].message


def test_substitute_is_the_value_content_the_customer_likes_best(store, decider, trained):
    use(store, balance={"enabled": True, "max_sales_share": 0.5, "min_value_between_sales": 1, "window": "30d"})
    content.put(store, "acme", "yankees-clinic", ContentIn(title="Batting clinic", topics=["team:yankees"]))
    content.put(store, "acme", "red-sox-night", ContentIn(title="Fenway night", topics=["team:red-sox"]))
    assert one(decider, req(cid="emailer-0", kind="sales"), NOW - timedelta(hours=1)).action == "send"
    d = one(decider, req(cid="emailer-0", kind="sales"))
    assert d.action == "suppress" and codes(d)[-1] == "sales_balance"
    assert d.substitute["content_id"] == "yankees-clinic" and d.substitute["score"] > 0


def test_the_groups_decoded_on_demand_are_the_same_in_python_and_lua():
    import re

    from suppressor.decisions.decide import LAZY, static_args, static_params
    from suppressor.storage.store import script_source

    lua = re.search(r"local LAZY = \{([^}]*)\}", script_source("decide")).group(1)
    assert tuple(re.findall(r"'([a-z_]+)'", lua)) == LAZY
    pol = policy.Policy(
        stages={"ready": {"relevance_threshold": 0.5}}, caps=[{"channel": "sms", "max": 1, "window": "1d"}]
    )
    core, *groups = static_args(pol, None)
    whole = json.loads("{" + static_params(pol, None) + "}")
    # every group is a real value (JSON null would reach Lua as a truthy cjson.null), and nothing is lost
    assert {**json.loads(core), **{n: json.loads(g) for n, g in zip(LAZY, groups, strict=True)}} == whole
    assert all(whole[name] is not None for name in LAZY)


async def adecide(decider, store, reqs):
    """``reqs`` decided on the asyncio path the API takes (new clients, closed after)."""
    hot, bulk = store.async_clients()
    try:
        return await decider.adecide("acme", reqs, hot, bulk)
    finally:
        await aclose_clients(hot, bulk)


def test_a_big_batch_is_decided_in_request_order_across_its_parts_after_a_script_cache_flush(store, decider):
    """A batch goes to Redis in parts (Python prepares one while Redis runs another): caps still count
    in request order across the parts, and a script cache emptied before it (a restarted server) is
    loaded again without a degraded verdict."""
    from suppressor.decisions.decide import PART

    use(store, caps=[{"channel": "any", "max": 150, "window": "7d"}])
    reqs = [req(f"c-{i % 4}", kind="value") for i in range(4 * PART)]  # four customers, interleaved
    store.hot.script_flush()
    out = asyncio.run(adecide(decider, store, reqs))
    assert [(d.customer_id, d.message_id) for d in out] == [(r.customer_id, r.message.message_id) for r in reqs]
    assert not any(r.code == "degraded" for d in out for r in d.reasons)
    # each customer's first 150 in request order, across the first two parts, and nothing after
    assert [i for i, d in enumerate(out) if d.action == "send"] == list(range(600))


def test_a_store_that_hangs_midway_through_a_big_batch_degrades_only_the_parts_not_decided(tmp_path):
    from suppressor.decisions.decide import PART
    from tests.faults import RedisServer, redis_server_or_skip

    redis_server_or_skip()
    server = RedisServer(tmp_path / "redis").start()
    st = Store(Settings(redis_url=server.url, data_dir=tmp_path / "data", store_timeout_ms=500))
    dec = Decider(st, TenantStateCache(st, 60.0), None)
    policy.put(st, "acme", quiet_policy(failure_mode="suppress"), "test")
    reqs = [req(f"c-{i}", kind="value") for i in range(4 * PART)]
    fill, built = dec._fill_calls, []

    def hang_on_the_third_part(batch):  # parts 0 and 1 are with Redis by now
        built.append(batch)
        if len(built) == 3:
            server.pause()
        return fill(batch)

    dec._fill_calls = hang_on_the_third_part
    try:
        out = asyncio.run(adecide(dec, st, reqs))
    finally:
        server.resume()
        st.close()
        server.close()
    assert [d.customer_id for d in out] == [r.customer_id for r in reqs]
    degraded = [any(r.code == "degraded" for r in d.reasons) for d in out]
    assert not any(degraded[:PART]) and all(degraded[-PART:])  # the first part stands, the last never ran
    assert degraded == sorted(degraded)  # decided, then degraded: never a decided part after a degraded one
    assert all(d.action == "send" for d, bad in zip(out, degraded, strict=True) if not bad)
    assert all(d.action == "suppress" for d, bad in zip(out, degraded, strict=True) if bad)  # the tenant's failure mode
