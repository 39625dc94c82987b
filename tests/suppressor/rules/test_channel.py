"""Channel: the stated preference wins when the caller allows a reroute."""

from suppressor.rules import channel
from tests.suppressor.rules.contract import EMAIL_SMS_PUSH, Case, RuleContract

PREFERS_SMS = {"consent": EMAIL_SMS_PUSH, "preferred_channel": "sms"}


class TestChannel(RuleContract):
    rule = channel.RULE
    cases = [
        Case(
            "the customer prefers sms",
            "reroute",
            "channel_preference",
            customer=PREFERS_SMS,
            channel="sms",
            says="prefers sms",
        ),
        Case(
            "the caller allows no reroute",
            "send",
            None,
            customer=PREFERS_SMS,
            request={"allow_reroute": False},
            channel="email",
        ),
    ]
