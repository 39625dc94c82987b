"""Profile helpers the decide script relies on."""

from datetime import UTC, datetime

from suppressor.customers.profiles import utc_offsets


def test_utc_offsets_know_the_daylight_saving_changes():
    start = datetime(2026, 11, 20, tzinfo=UTC).timestamp()
    table = utc_offsets("America/Chicago", start, days=400)
    assert table[0][1] == -6 * 3600  # CST now
    spring = datetime(2027, 3, 14, 8, 0, tzinfo=UTC).timestamp()  # 02:00 CST
    assert [spring, -5 * 3600] in table
    fall = datetime(2027, 11, 7, 7, 0, tzinfo=UTC).timestamp()  # 02:00 CDT
    assert [fall, -6 * 3600] in table
    assert utc_offsets("UTC", start, days=400) == [[int(start) - 86400, 0]]
