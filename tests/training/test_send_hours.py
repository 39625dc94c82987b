"""Send hours: planted habits (evening openers in Chicago, across a daylight-saving change) are
learned by local hour of the week, pooled toward the tenant's curve, and written where the rule reads."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from suppressor.customers import profiles
from suppressor.domain import CustomerIn
from suppressor.model.exported import SEND_HOURS_FIELD, unpack
from suppressor.storage import keys
from suppressor.training import dataset, send_hours

CHICAGO = ZoneInfo("America/Chicago")


def opens_at(cid: str, local_hour: int, weeks: int, start: datetime) -> list[dict]:
    """An open every Wednesday at ``local_hour`` Chicago time for ``weeks`` weeks from ``start``."""
    out = []
    for w in range(weeks):
        day = (start + timedelta(weeks=w)).astimezone(CHICAGO)
        local = day.replace(hour=local_hour, minute=10)
        out.append({"type": "opened", "ts": local.astimezone(UTC).isoformat(), "customer_id": cid})
    return out


def test_evening_openers_peak_at_wednesday_19_local_across_the_dst_change_and_pool_toward_the_tenant(store):
    start = datetime(2026, 10, 7, 12, tzinfo=UTC)  # a Wednesday; CDT ends on 2026-11-01
    ids = ["evening", "morning", "newcomer", "no-zone"]
    for cid in ids[:3]:
        profiles.put(store, "acme", cid, CustomerIn(timezone="America/Chicago"), None)
    profiles.put(store, "acme", "no-zone", CustomerIn(), None)
    events = [
        opens_at("evening", 19, 10, start),
        opens_at("morning", 9, 2, start),
        [],
        opens_at("no-zone", 19, 10, start),
    ]
    read_ids, _, _, zones = dataset.read(store, "acme")  # training reads each customer's zone with the rest
    assert read_ids == ids and zones == ["America/Chicago"] * 3 + [None]
    prior, pooled = send_hours.learn(events, zones)
    wed = lambda h: 2 * 24 + h  # noqa: E731
    assert set(pooled) == {0, 1}  # the newcomer has no answers, no-zone no time zone
    assert int(np.argmax(pooled[0])) == wed(19)  # all ten opens in one bin, DST or not
    assert abs(sum(prior) - 1) < 1e-9 and max(prior) == prior[wed(19)]
    # two answers of their own: the morning person leans on the tenant's evening habit
    assert pooled[1][wed(9)] > pooled[1][wed(12)] and pooled[1][wed(19)] > pooled[1][wed(12)]
    assert pooled[0][wed(19)] / pooled[0][wed(9)] > 5 * pooled[1][wed(19)] / pooled[1][wed(9)]
    send_hours.write(store, "acme", ids, pooled)
    raw = store.bulk.hget(keys.vectors("acme", "evening"), SEND_HOURS_FIELD)
    assert np.allclose(unpack(raw), pooled[0]) and store.bulk.ttl(keys.vectors("acme", "evening")) > 0
    assert store.bulk.hget(keys.vectors("acme", "newcomer"), SEND_HOURS_FIELD) is None


def test_a_tenant_with_no_answers_learns_nothing(store):
    profiles.put(store, "acme", "c-1", CustomerIn(timezone="America/Chicago"), None)
    assert send_hours.learn([[{"type": "delivered", "ts": "2026-11-18T16:00:00Z"}]], ["America/Chicago"]) == (
        None,
        {},
    )
