"""Cool-down: a send within min_gap of the last is deferred to the end of the gap."""

from datetime import timedelta

from suppressor.rules import cooldown
from tests.factories import NOW
from tests.suppressor.rules.contract import Case, RuleContract


class TestCooldown(RuleContract):
    rule = cooldown.RULE
    cases = [
        Case(
            "an hour after the last send, gap 12h",
            "defer",
            "cooldown",
            policy={"min_gap": "12h"},
            sends=1,
            not_before=NOW + timedelta(hours=11),
            says="last send 1h ago",
        ),
        Case("13 hours after", "send", None, policy={"min_gap": "12h"}, sends=1, gap_minutes=13 * 60),
    ]
