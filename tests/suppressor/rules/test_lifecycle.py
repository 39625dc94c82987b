"""Lifecycle: no sales asks just after a purchase or while a service order is open."""

from suppressor.rules import lifecycle
from tests.suppressor.rules.contract import EMAIL_SMS_PUSH, Case, RuleContract

GATES = {"lifecycle": {"post_purchase_quiet": "30d", "block_sales_while_service_open": True}}


class TestLifecycle(RuleContract):
    rule = lifecycle.RULE
    cases = [
        Case(
            "a sales ask five days after a purchase",
            "suppress",
            "lifecycle",
            policy=GATES,
            events=[{"type": "purchased", "hours_ago": 120}],
            says="purchased 5 days ago",
        ),
        Case(
            "a sales ask while a service order is open",
            "suppress",
            "lifecycle",
            policy=GATES,
            customer={"consent": EMAIL_SMS_PUSH, "attributes": {"service_order_open": True}},
            says="a service order is open",
        ),
        Case(
            "a service message after a purchase",
            "send",
            None,
            policy=GATES,
            events=[{"type": "purchased", "hours_ago": 120}],
            message={"kind": "service"},
        ),
        Case(
            "a sales ask 31 days after a purchase",
            "send",
            None,
            policy=GATES,
            events=[{"type": "purchased", "hours_ago": 31 * 24}],
        ),
    ]
