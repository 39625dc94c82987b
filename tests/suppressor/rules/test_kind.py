"""Kind: only the kinds of message the policy allows."""

from suppressor.rules import kind
from tests.suppressor.rules.contract import Case, RuleContract


class TestKind(RuleContract):
    rule = kind.RULE
    cases = [
        Case(
            "a sales ask where only value and service go out",
            "suppress",
            "kind_not_allowed",
            policy={"allowed_kinds": ["value", "service"]},
            says="no sales messages at all",
        ),
        Case(
            "a value message where value goes out",
            "send",
            None,
            policy={"allowed_kinds": ["value"]},
            message={"kind": "value"},
        ),
    ]
