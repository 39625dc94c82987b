"""Control: a would-be send whose draw falls under the control share is withheld, and only then."""

from suppressor.decisions.decide import control_draw
from suppressor.rules import control
from tests.suppressor.rules.contract import Case, RuleContract

SHARE = {"incrementality": {"control_share": 0.3}}
DRAWN = next(f"c-{n}" for n in range(1000) if control_draw(f"c-{n}", "m-under-test") < 0.3)
NOT_DRAWN = next(f"c-{n}" for n in range(1000) if control_draw(f"c-{n}", "m-under-test") >= 0.3)


class TestControl(RuleContract):
    rule = control.RULE
    cases = [
        Case(
            "a would-be send drawn for the control",
            "suppress",
            "control",
            policy=SHARE,
            customer_id=DRAWN,
            says="30% of would-be sends on email",
        ),
        Case("a would-be send not drawn", "send", None, policy=SHARE, customer_id=NOT_DRAWN),
        Case(
            "a deferred message is not a send yet",
            "defer",
            None,
            policy={**SHARE, "min_gap": "12h"},
            sends=1,
            customer_id=DRAWN,
        ),
        Case(
            "a transactional message is never withheld",
            "send",
            None,
            policy=SHARE,
            customer_id=DRAWN,
            message={"kind": "transactional"},
        ),
        Case("the control is off by default", "send", None, customer_id=DRAWN),
    ]


def test_the_draw_is_uniform_and_fixed_per_customer_and_message():
    draws = [control_draw(f"c-{i}", "m-1") for i in range(20_000)]
    assert abs(sum(d < 0.05 for d in draws) / len(draws) - 0.05) < 0.006  # ~3.9 standard errors
    assert control_draw("c-1", "m-1") == control_draw("c-1", "m-1") != control_draw("c-1", "m-2")
