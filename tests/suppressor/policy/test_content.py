"""Substitutes that fit: an item's audience (segments, makes, stages, vehicle age) admits the
customer or the item is not offered; items that score close take turns, and a retried decision
gets the substitute it got the first time."""

from datetime import timedelta

import pytest
from pydantic import ValidationError

from suppressor.customers import profiles
from suppressor.domain import CustomerIn
from suppressor.policy import content
from suppressor.policy import document as policy
from suppressor.policy.content import Audience, ContentIn
from tests.factories import NOW, codes, one, quiet_policy, req

BALANCE = {"enabled": True, "max_sales_share": 0.5, "min_value_between_sales": 1, "window": "30d"}
EXPRESS = {"year": 2013, "make": "Chevrolet", "model": "Express", "segment": "minivan"}
IONIQ = {"year": 2024, "make": "Hyundai", "model": "Ioniq 5", "segment": "ev"}


def setup(store, cid: str, vehicles: list[dict], stage: str | None = None) -> None:
    policy.put(store, "acme", quiet_policy(balance=BALANCE), "test")
    attrs = {"lead_stage": stage} if stage else {}
    profiles.put(store, "acme", cid, CustomerIn(consent={"email": True}, vehicles=vehicles, attributes=attrs), None)


def suppressed_sales_asks(decider, cid: str, n: int, dry_run: bool = False):
    """A sales ask, then ``n`` more an hour apart: each of those is held back for balance."""
    one(decider, req(cid, kind="sales"), NOW - timedelta(hours=n + 1))
    out = []
    for k in range(n):
        d = one(decider, req(cid, kind="sales", dry_run=dry_run), NOW - timedelta(hours=n - k))
        assert d.action == "suppress" and codes(d)[-1] == "sales_balance"
        out.append(d)
    return out


def put(store, cid: str, title: str, **kw) -> None:
    content.put(store, "acme", cid, ContentIn(title=title, topics=[f"content:{cid}"], **kw))


def test_an_ev_night_goes_to_ev_owners_not_to_a_2013_express_owner(store, decider):
    setup(store, "express-owner", [EXPRESS])
    put(store, "ev-night", "EV owners' night", audience=Audience(segments=["EV"]))
    put(store, "van-care", "Keeping a high-mileage van on the road", audience=Audience(min_vehicle_age=8))
    [d] = suppressed_sales_asks(decider, "express-owner", 1)
    assert d.substitute["content_id"] == "van-care"

    setup(store, "ev-owner", [IONIQ])
    [d] = suppressed_sales_asks(decider, "ev-owner", 1)
    assert d.substitute["content_id"] == "ev-night"


def test_no_item_fits_no_substitute(store, decider):
    setup(store, "express-owner", [EXPRESS], stage="owner")
    put(store, "ev-night", "EV owners' night", audience=Audience(segments=["ev"]))
    put(store, "test-drive", "Test-drive weekend", audience=Audience(stages=["shopping", "ready"]))
    put(store, "toyota-clinic", "Toyota care clinic", audience=Audience(makes=["toyota"], max_vehicle_age=5))
    [d] = suppressed_sales_asks(decider, "express-owner", 1)
    assert d.substitute is None


@pytest.mark.parametrize(
    "attrs, vehicles, fits",
    [
        ({"segment": "EV"}, [{"year": 2022}], True),  # the attribute counts where the vehicle names no segment
        ({"segment": "EV"}, [], False),  # an age limit needs a vehicle
        ({}, [IONIQ], True),
        ({"lead_stage": "Owner"}, [IONIQ], True),
        ({"lead_stage": "shopping"}, [IONIQ], False),
        ({}, [{**IONIQ, "year": 2010}], False),  # too old
        ({}, [EXPRESS, IONIQ], True),  # any one vehicle will do
    ],
)
def test_every_criterion_must_hold_and_any_value_of_one_will_do(attrs, vehicles, fits):
    audience = Audience(segments=["ev"], stages=["owner"] if "lead_stage" in attrs else [], max_vehicle_age=10)
    assert audience.admits(attrs, vehicles, NOW.timestamp()) is fits


def test_substitutes_that_score_alike_take_turns_and_a_retry_gets_the_same_one(store, decider):
    setup(store, "c-1", [EXPRESS])
    for cid, title in (
        ("clinic", "Winter safety clinic"),
        ("tutorial", "Cruise control tutorial"),
        ("event", "Saturday open house"),
    ):
        put(store, cid, title)
    picks = [d.substitute["content_id"] for d in suppressed_sales_asks(decider, "c-1", 6)]
    assert all(a != b for a, b in zip(picks, picks[1:], strict=False)), picks  # never the last one again
    assert len(set(picks)) >= 2

    # the caller asks again about the same message: the same verdict, the same substitute
    last = one(decider, req("c-1", kind="sales", mid="again"), NOW)
    again = one(decider, req("c-1", kind="sales", mid="again"), NOW)
    assert again.replayed and again.substitute == last.substitute


def test_a_dry_run_does_not_move_the_rotation(store, decider):
    setup(store, "c-1", [])
    put(store, "clinic", "Winter safety clinic")
    put(store, "tutorial", "Cruise control tutorial")
    [first] = suppressed_sales_asks(decider, "c-1", 1)
    dry = [one(decider, req("c-1", kind="sales", dry_run=True), NOW).substitute["content_id"] for _ in range(3)]
    assert dry == [dry[0]] * 3 and dry[0] != first.substitute["content_id"]


def test_an_audience_is_validated_in_words():
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        Audience(min_vehicle_age=-1)
    with pytest.raises(ValidationError, match="Extra inputs"):
        Audience(segment=["ev"])


def test_concurrent_duplicates_get_one_substitute_and_tenants_keep_their_own_rotation(store, decider):
    """A platform fires the same held-back sales ask ten times at once: every answer names the same
    substitute. Another tenant with the same customer id and catalog ids rotates on its own."""
    from concurrent.futures import ThreadPoolExecutor

    setup(store, "c-1", [])
    for cid, title in (("clinic", "Winter safety clinic"), ("tutorial", "Cruise control tutorial")):
        put(store, cid, title)
    [first] = suppressed_sales_asks(decider, "c-1", 1)
    ask = req("c-1", kind="sales", mid="blast")
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: one(decider, ask, NOW), range(10)))
    assert {a.decision_id for a in answers} == {answers[0].decision_id}
    picks = {a.substitute["content_id"] for a in answers}
    assert picks == {answers[0].substitute["content_id"]} and picks != {first.substitute["content_id"]}

    policy.put(store, "other", quiet_policy(balance=BALANCE), "test")
    profiles.put(store, "other", "c-1", CustomerIn(consent={"email": True}), None)
    for cid, title in (("clinic", "Winter safety clinic"), ("tutorial", "Cruise control tutorial")):
        content.put(store, "other", cid, ContentIn(title=title, topics=[f"content:{cid}"]))
    [theirs] = decider.decide("other", [req("c-1", kind="sales", mid="o-1")], now=NOW - timedelta(hours=2))
    [theirs] = decider.decide("other", [req("c-1", kind="sales", mid="o-2")], now=NOW - timedelta(hours=1))
    assert theirs.substitute["content_id"] == first.substitute["content_id"]  # acme's rotation is not theirs
