"""Decision rules before any model: consent, reroute, opt-in, transactional, degraded."""

import itertools

import pytest

from suppressor import customers, policy
from suppressor.decisions import Decider
from suppressor.domain import CustomerIn, DecisionRequest
from suppressor.settings import Settings
from suppressor.store import Store
from suppressor.tenant_state import TenantStateCache
from tests.conftest import message


@pytest.fixture
def decider(store):
    return Decider(store, TenantStateCache(store, 0.0), None)


def put(store, cid, **body):
    customers.put(store, "acme", cid, CustomerIn(**body), None)


_mids = itertools.count()


def decide(decider, cid, channel="email", kind="sales", **req):
    """A new message each call (asking again for one message_id gets the standing verdict)."""
    msg = message(f"m-{next(_mids)}", ["x"], channel, kind)
    [d] = decider.decide("acme", [DecisionRequest(customer_id=cid, message=msg, **req)])
    return d


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


def test_transactional_is_exempt_from_relevance_but_not_consent(store, decider):
    put(store, "c-1", consent={"email": False})
    assert decide(decider, "c-1", kind="transactional", allow_reroute=False).action == "suppress"
    put(store, "c-2", consent={"email": True})
    d = decide(decider, "c-2", kind="transactional")
    assert d.action == "send" and [r.code for r in d.reasons] == ["transactional"]


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
