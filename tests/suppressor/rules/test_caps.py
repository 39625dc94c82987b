"""Caps: a full cap suppresses with the count that filled it; a cap's reserved last slots go only to
high priorities."""

from datetime import timedelta

from suppressor.rules import caps
from suppressor.storage import keys
from tests.factories import NOW
from tests.suppressor.rules.contract import Case, RuleContract

TWO_A_WEEK = {"caps": [{"channel": "any", "max": 2, "window": "7d"}]}


def sends_before_the_time_was_in_the_member(store, tenant, cid):
    """Two sends in the ledger as they were written before its members carried their time
    ("decision|channel|kind", the time only as the score): a store upgraded in place keeps them."""
    at = int((NOW - timedelta(days=1)).timestamp() * 1000)
    store.bulk.zadd(keys.sends(tenant, cid), {"d_old1|email|sales": at, "d_old2|sms|value": at + 1})


KEEP_ONE = {"caps": [{"channel": "any", "max": 3, "window": "7d", "reserve": {"slots": 1, "min_priority": 50}}]}


class TestCaps(RuleContract):
    rule = caps.RULE
    cases = [
        Case(
            "a third send in a week",
            "suppress",
            "frequency_cap",
            policy=TWO_A_WEEK,
            sends=2,
            says="2 of 2 sends on any channel in 7d",
        ),
        Case("a second send in a week", "send", None, policy=TWO_A_WEEK, sends=1),
        Case(
            "sends written before the ledger's members carried their time still count",
            "suppress",
            "frequency_cap",
            policy=TWO_A_WEEK,
            setup=sends_before_the_time_was_in_the_member,
            says="2 of 2 sends on any channel in 7d",
        ),
        Case(
            "the sales cap counts only sales",
            "send",
            None,
            sends=2,
            prior={"kind": "value"},
            policy={"caps": [{"channel": "any", "kind": "sales", "max": 1, "window": "7d"}]},
        ),
        # reserve: the last slot of three a week is kept for priority 50+ (sales default to 30)
        Case(
            "a sales ask for the last, reserved slot",
            "suppress",
            "reserved",
            policy=KEEP_ONE,
            sends=2,
            says="the last 1 of 3 sends on any channel in 7d is kept for priority 50+; this message is priority 30",
        ),
        Case("a sales ask while unreserved slots are left", "send", None, policy=KEEP_ONE, sends=1),
        Case(
            "a service message takes the reserved slot",
            "send",
            None,
            policy=KEEP_ONE,
            sends=2,
            message={"kind": "service"},
            prior={"kind": "sales"},
        ),
        Case(
            "a sales ask with its own priority 70 takes it",
            "send",
            None,
            policy=KEEP_ONE,
            sends=2,
            message={"priority": 70},
        ),
        Case(
            "the policy's priorities put sales above the reserve",
            "send",
            None,
            sends=2,
            policy={**KEEP_ONE, "priorities": {"sales": 55}},
        ),
        Case(
            "the reserved slot taken, the cap is full for everyone",
            "suppress",
            "frequency_cap",
            policy=KEEP_ONE,
            sends=3,
            message={"kind": "service"},
            says="3 of 3 sends on any channel in 7d",
        ),
        Case(
            "a sales-only cap reserves for its own kind",
            "suppress",
            "reserved",
            sends=1,
            policy={
                "caps": [
                    {
                        "channel": "email",
                        "kind": "sales",
                        "max": 2,
                        "window": "1d",
                        "reserve": {"slots": 1, "min_priority": 40},
                    }
                ]
            },
            says="the last 1 of 2 sales sends on email in 1d is kept for priority 40+",
        ),
    ]
