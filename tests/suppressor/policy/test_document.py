"""The policy document: priorities per kind and a cap's reserve, validated in words."""

import pytest
from pydantic import ValidationError

from suppressor.domain import Kind
from suppressor.policy.document import DEFAULT_PRIORITIES, Policy


def test_priorities_keep_every_kind_a_partial_map_leaves_out():
    p = Policy(priorities={"sales": 35})
    assert p.priorities == {**DEFAULT_PRIORITIES, Kind.sales: 35}
    assert p.priority_of(None, Kind.sales) == 35 and p.priority_of(80, Kind.sales) == 80
    assert (
        DEFAULT_PRIORITIES[Kind.transactional]
        > DEFAULT_PRIORITIES[Kind.service]
        > DEFAULT_PRIORITIES[Kind.value]
        > DEFAULT_PRIORITIES[Kind.sales]
    )


@pytest.mark.parametrize(
    "body,words",
    [
        (
            {"caps": [{"channel": "any", "max": 2, "window": "7d", "reserve": {"slots": 3, "min_priority": 50}}]},
            "reserve.slots (3) cannot be more than the cap's max (2)",
        ),
        (
            {"caps": [{"channel": "any", "max": 2, "window": "7d", "reserve": {"slots": 1, "min_priority": 101}}]},
            "less than or equal to 100",
        ),
        ({"priorities": {"sales": -1}}, "greater than or equal to 0"),
        ({"priorities": {"promo": 50}}, "promo"),
    ],
)
def test_a_bad_priority_or_reserve_is_refused_in_words(body, words):
    with pytest.raises(ValidationError) as bad:
        Policy.model_validate(body)
    assert words in str(bad.value)
