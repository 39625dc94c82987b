"""Offers: the same offer again, or another on different terms, is suppressed across channels."""

from suppressor.rules import offers
from tests.suppressor.rules.contract import Case, RuleContract

ON = {"offers": {"enabled": True, "conflict": "suppress", "window": "30d"}}
LOAN = {"key": "auto-loan", "terms": {"apr": 2.9}}


class TestOffers(RuleContract):
    rule = offers.RULE
    cases = [
        Case(
            "the same offer again on another channel",
            "suppress",
            "offer_conflict",
            policy=ON,
            sends=1,
            prior={"channel": "sms", "offer": LOAN},
            message={"offer": LOAN},
            says="the same auto-loan offer",
        ),
        Case(
            "another loan offer at a worse rate",
            "suppress",
            "offer_conflict",
            policy=ON,
            sends=1,
            prior={"offer": LOAN},
            message={"offer": {"key": "auto-loan", "terms": {"apr": 3.9}}},
            says="apr 2.9",
        ),
        Case(
            "a strictly better one where better_only lets it through",
            "send",
            None,
            sends=1,
            policy={"offers": {"enabled": True, "conflict": "better_only"}},
            prior={"offer": LOAN},
            message={"offer": {"key": "auto-loan", "terms": {"apr": 1.9}}},
        ),
    ]
