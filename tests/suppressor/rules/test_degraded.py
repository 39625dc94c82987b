"""Degraded: the service's answer when the store does not answer (not a script rule)."""

from suppressor import rules
from suppressor.rules import degraded


def test_degraded_is_the_services_code_with_its_detail_as_the_sentence():
    assert not degraded.RULE.in_script and degraded.RULE not in rules.script_rules()
    assert rules.text({"code": "degraded", "detail": "store unavailable"}, None) == "store unavailable"
    assert "degraded" in rules.blocking()
