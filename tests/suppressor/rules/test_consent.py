"""Consent: planted opt-outs, a missing opt-in and a topic unsubscribe."""

from suppressor.rules import consent
from tests.suppressor.rules.contract import Case, RuleContract


class TestConsent(RuleContract):
    rule = consent.RULE
    cases = [
        Case(
            "opted out of e-mail: rerouted to a consented channel",
            "reroute",
            "consent",
            customer={"consent": {"email": False, "sms": True}},
            channel="sms",
            says="rerouted to sms",
        ),
        Case(
            "opted out, and the caller allows no reroute",
            "suppress",
            "consent",
            customer={"consent": {"email": False, "sms": True}},
            request={"allow_reroute": False},
            says="reroute not allowed",
        ),
        Case(
            "sms needs an explicit opt-in",
            "suppress",
            "consent",
            customer={"consent": {"email": False}},
            message={"channel": "sms"},
            says="no explicit opt-in for sms",
        ),
        Case(
            "unsubscribed from one of the message's topics",
            "suppress",
            "consent",
            events=[{"type": "unsubscribed", "hours_ago": 1, "topics": ["segment:suv"]}],
            says="unsubscribed from segment:suv",
        ),
        Case("consented, no topic blocked", "send", None),
    ]
