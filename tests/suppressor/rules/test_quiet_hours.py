"""Quiet hours: 10:00 in Chicago (the fixed clock) inside 09:00-11:00 defers to 11:00 local."""

from datetime import UTC, datetime

from suppressor.rules import quiet_hours
from tests.suppressor.rules.contract import EMAIL_SMS_PUSH, Case, RuleContract

CHICAGO = {"consent": EMAIL_SMS_PUSH, "timezone": "America/Chicago"}
MORNING = {"quiet_hours": {"enabled": True, "start": "09:00", "end": "11:00"}}


class TestQuietHours(RuleContract):
    rule = quiet_hours.RULE
    cases = [
        Case(
            "10:00 local in quiet hours 09:00-11:00",
            "defer",
            "quiet_hours",
            policy=MORNING,
            customer=CHICAGO,
            not_before=datetime(2026, 11, 18, 17, 0, tzinfo=UTC),
            says="10:00 local time",
        ),
        Case(
            "quiet hours on sms only",
            "send",
            None,
            customer=CHICAGO,
            policy={"quiet_hours": {**MORNING["quiet_hours"], "channels": ["sms"]}},
        ),
        Case("a customer without a time zone is not held", "send", None, policy=MORNING),
    ]
