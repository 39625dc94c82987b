"""Early and late leads are treated differently: a stage may override any field, like a campaign."""

import pytest

from suppressor.customers import profiles
from suppressor.domain import CustomerIn
from suppressor.policy import document as policy
from tests.factories import codes, one, quiet_policy, req


def lead(store, cid, stage):
    profiles.put(store, "acme", cid, CustomerIn(consent={"email": True}, attributes={"lead_stage": stage}), None)


def test_a_stage_override_changes_caps_and_kinds_for_that_stage_only(store, decider):
    policy.put(
        store,
        "acme",
        quiet_policy(
            caps=[{"channel": "any", "max": 3, "window": "7d"}],
            stages={
                "researching": {"caps": [{"channel": "any", "max": 1, "window": "7d"}]},
                "lost": {"allowed_kinds": ["value", "service", "transactional"]},
            },
        ),
        "test",
    )
    lead(store, "early", "researching")
    lead(store, "late", "ready")
    lead(store, "gone", "lost")
    assert [one(decider, req("early", kind="value")).action for _ in range(2)] == ["send", "suppress"]
    assert [one(decider, req("late", kind="value")).action for _ in range(3)] == ["send"] * 3
    d = one(decider, req("gone", kind="sales"))
    assert d.action == "suppress" and codes(d) == ["kind_not_allowed"]
    assert d.reasons[0].message == "the policy sends no sales messages to lost leads"
    assert one(decider, req("gone", kind="value")).action == "send"


def test_a_campaign_override_and_a_stage_override_combine(store, decider):
    policy.put(store, "acme", quiet_policy(stages={"ready": {"relevance_threshold": 0.0}}), "test")
    policy.put_campaign(store, "acme", "spring", {"allowed_kinds": ["value"]}, "test")
    lead(store, "late", "ready")
    d = one(decider, req("late", kind="sales", campaign="spring"))
    assert d.action == "suppress" and codes(d) == ["kind_not_allowed"]
    assert one(decider, req("late", kind="sales")).action == "send"


@pytest.mark.parametrize(
    "override,words",
    [
        ({"holdout_fraction": 0.2}, "holdout_fraction cannot change by stage"),
        ({"household": {}}, "household cannot change by stage"),
        ({"caps": [{"channel": "any", "max": -1, "window": "7d"}]}, "greater than or equal to 0"),
    ],
)
def test_stage_overrides_are_validated(override, words):
    with pytest.raises(ValueError, match=words):
        policy.Policy.model_validate({"stages": {"lost": override}})


def test_the_policy_references_shopping_cycle_policy_is_valid_and_differs_by_stage():
    import json
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[3] / "docs" / "policy.md").read_text()
    section = page[page.index("## Lead stages") :]
    doc = json.loads(re.search(r"```json\n(.*?)\n```", section, re.S).group(1))
    by_stage = policy.Policy.model_validate(doc).script_params()["by_stage"]
    assert set(by_stage) == {"researching", "shopping", "ready", "owner", "lost"}
    assert by_stage["researching"]["relevance_threshold"] == 0.12
    assert by_stage["owner"]["allowed_kinds"] == ["value", "service", "transactional"]
