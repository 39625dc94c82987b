"""Balance: a sales ask right after another, with no value between, is suppressed."""

from suppressor.rules import balance
from tests.suppressor.rules.contract import Case, RuleContract

ON = {"balance": {"enabled": True, "max_sales_share": 0.67, "min_value_between_sales": 1, "window": "30d"}}


class TestBalance(RuleContract):
    rule = balance.RULE
    cases = [
        Case(
            "two sales asks in a row: the share",
            "suppress",
            "sales_balance",
            policy=ON,
            sends=1,
            says="sales share 1.00 > 0.67 over 30d (2 of 2 sends would be sales)",
        ),
        Case(
            "two sales asks in a row: nothing between",
            "suppress",
            "sales_balance",
            sends=1,
            policy={"balance": {**ON["balance"], "max_sales_share": 1.0}},
            says="0 value messages since the last sales ask; the policy asks for 1",
        ),
        Case("sales after value", "send", None, policy=ON, sends=1, prior={"kind": "value"}),
    ]
