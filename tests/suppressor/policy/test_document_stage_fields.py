"""A bad value in a lead stage's override is refused naming the stage and the field."""

import pytest

from tests.factories import auth


@pytest.mark.parametrize(
    ("override", "field"),
    [({"uplift_threshold": 5}, "stages.hot.uplift_threshold"), ({"objective": "profit"}, "stages.hot.objective")],
)
def test_a_stage_override_out_of_bounds_names_its_stage(client, key, override, field):
    got = client.put("/v1/policy", json={"stages": {"hot": override}}, headers=auth(key))
    assert got.status_code == 422
    assert [e["field"] for e in got.json()["errors"]] == [field], got.text
