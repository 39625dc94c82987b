"""Caps: a full cap suppresses with the count that filled it."""

from suppressor.rules import caps
from tests.suppressor.rules.contract import Case, RuleContract

TWO_A_WEEK = {"caps": [{"channel": "any", "max": 2, "window": "7d"}]}


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
            "the sales cap counts only sales",
            "send",
            None,
            sends=2,
            prior={"kind": "value"},
            policy={"caps": [{"channel": "any", "kind": "sales", "max": 1, "window": "7d"}]},
        ),
    ]
