"""Send windows: planted local times in Chicago (10:00 on the fixed clock, a Wednesday) against
sms windows and blackout dates, including a daylight-saving change between now and the opening."""

from datetime import UTC, date, datetime, timedelta

import pytest

from suppressor.policy.document import Policy
from suppressor.rules import send_windows
from tests.suppressor.rules.contract import EMAIL_SMS_PUSH, Case, RuleContract

CHICAGO = {"consent": EMAIL_SMS_PUSH, "timezone": "America/Chicago"}
SMS = {"channel": "sms"}


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


def windows(*ws: dict, blackout: list[str] | None = None) -> dict:
    return {"send_windows": {"windows": list(ws), "blackout_dates": blackout or []}}


WEEKDAYS_8_21 = {"channel": "sms", "days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "21:00"}


class TestSendWindows(RuleContract):
    rule = send_windows.RULE
    cases = [
        Case(
            "10:00 local before an 11:00-21:00 sms window",
            "defer",
            "send_window",
            customer=CHICAGO,
            message=SMS,
            policy=windows({"channel": "sms", "start": "11:00", "end": "21:00"}),
            not_before=utc(2026, 11, 18, 17),
            says="Wed 10:00 local time is outside the sms send windows (every day 11:00-21:00)",
        ),
        Case("inside the weekday window", "send", None, customer=CHICAGO, message=SMS, policy=windows(WEEKDAYS_8_21)),
        Case(
            "Saturday morning: the next opening is Monday 08:00",
            "defer",
            "send_window",
            customer=CHICAGO,
            message=SMS,
            policy=windows(WEEKDAYS_8_21),
            at=utc(2026, 11, 21, 16),
            not_before=utc(2026, 11, 23, 14),
            says="Sat 10:00 local time is outside the sms send windows (Mon-Fri 08:00-21:00)",
        ),
        Case("e-mail has no window of its own", "send", None, customer=CHICAGO, policy=windows(WEEKDAYS_8_21)),
        Case(
            "a blackout date holds every channel until the next local day",
            "defer",
            "send_window",
            customer=CHICAGO,
            policy=windows(blackout=["2026-11-18"]),
            not_before=utc(2026, 11, 19, 6),
            says="2026-11-18 is a blackout date",
        ),
        Case(
            "Friday 22:00 CST to a Sunday window after the change to CDT",
            "defer",
            "send_window",
            customer=CHICAGO,
            message=SMS,
            at=utc(2027, 3, 13, 4),
            not_before=utc(2027, 3, 14, 13),
            policy=windows({"channel": "sms", "days": ["sun"], "start": "08:00", "end": "21:00"}),
        ),
        Case(
            "no window opens within 31 days",
            "suppress",
            "send_window",
            customer=CHICAGO,
            policy=windows(blackout=[(date(2026, 11, 18) + timedelta(days=k)).isoformat() for k in range(33)]),
            says="no window opens within 31 days",
        ),
        Case(
            "a customer without a time zone is not held",
            "send",
            None,
            message=SMS,
            customer={"consent": EMAIL_SMS_PUSH},
            policy=windows({"channel": "sms", "start": "11:00", "end": "21:00"}),
        ),
    ]


@pytest.mark.parametrize(
    "window, words",
    [
        ({"channel": "sms", "start": "21:00", "end": "08:00"}, "closes after it opens"),
        ({"channel": "sms", "days": ["someday"]}, "days"),
        ({"channel": "sms", "end": "24:01"}, "end"),
    ],
)
def test_a_window_that_cannot_be_is_refused_in_words(window, words):
    with pytest.raises(ValueError, match=words):
        Policy.model_validate(windows(window))
