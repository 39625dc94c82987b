"""Exempt: transactional messages and holdout customers skip the rules after consent."""

from suppressor.decisions.decide import in_holdout
from suppressor.rules import exempt
from tests.suppressor.rules.contract import Case, RuleContract

FULL_CAP = {"caps": [{"channel": "any", "max": 1, "window": "7d"}]}
IN_HOLDOUT = next(f"c-{n}" for n in range(1000) if in_holdout("rule-exempt-1", f"c-{n}", 0.5))


class TestExempt(RuleContract):
    rule = exempt.RULE
    cases = [
        Case(
            "a transactional message past a full cap",
            "send",
            "transactional",
            policy=FULL_CAP,
            sends=1,
            prior={"kind": "sales"},
            message={"kind": "transactional"},
        ),
        Case(
            "a holdout customer past a full cap",
            "send",
            "holdout",
            customer_id=IN_HOLDOUT,
            policy={**FULL_CAP, "holdout_fraction": 0.5},
            sends=1,
            says="50% of customers",
        ),
        Case("a sales message to a governed customer", "send", None),
    ]
