"""Outranked: the service's reason for the candidates a choice did not pick (not a script rule)."""

from suppressor import rules
from suppressor.rules import outranked

RANK = {"priority": 30, "score": 0.2, "value": 6.0}
BEST = {"priority": 60, "score": 0.25, "value": 15.0}


def test_outranked_is_the_services_code_and_names_the_winners_with_the_numbers():
    assert not outranked.RULE.in_script and outranked.RULE not in rules.script_rules()
    assert "outranked" in rules.blocking()
    one = rules.text({"code": "outranked", "by": ["m-recall"], "best": BEST, **RANK}, None)
    assert one == (
        "outranked by m-recall (priority 60 x score 0.250 = 15; this message: priority 30 x score 0.200 = 6)"
    )
    two = rules.text({"code": "outranked", "by": ["m-a", "m-b"], "best": BEST, **RANK}, None)
    assert two.startswith("outranked by m-a, m-b, the 2 picked (the lowest of them: priority 60")
    late = rules.text({"code": "outranked", "rule": "pick", "pick": 1, **RANK}, None)
    assert late == (
        "not picked: the pick of 1 went to other candidates of this choice first (this message: "
        "priority 30 x score 0.200 = 6)"
    )
    assert "what-ifs keep the choice" in rules.text({"code": "outranked", "rule": "logged"}, None)
