"""Fatigue: two ignored e-mails rest the channel for a week after the last send."""

from datetime import timedelta

from suppressor.rules import fatigue
from tests.factories import NOW
from tests.suppressor.rules.contract import Case, RuleContract

ON = {"fatigue": {"enabled": True, "ignore_streak": 2, "cooldown": "7d", "unanswered_after": "3d"}}
IGNORED = [{"type": "ignored", "hours_ago": 48}, {"type": "ignored", "hours_ago": 47}]


class TestFatigue(RuleContract):
    rule = fatigue.RULE
    cases = [
        Case(
            "a tired channel sent to an hour ago",
            "defer",
            "fatigue",
            policy=ON,
            events=IGNORED,
            sends=1,
            not_before=NOW - timedelta(hours=1) + timedelta(days=7),
            says="2 unanswered email messages",
        ),
        Case(
            "the customer engaged since",
            "send",
            None,
            policy=ON,
            sends=1,
            events=[*IGNORED, {"type": "clicked", "hours_ago": 40}],
        ),
    ]
