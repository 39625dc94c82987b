"""Consent changes from every source apply once each, in the order they happened (the ingest and
consent scripts, and PUT's transaction), on the store the fixtures give (embedded, server, cluster)."""

from datetime import UTC, datetime, timedelta

from suppressor.customers import events, profiles
from suppressor.domain import CustomerIn, Event
from suppressor.storage import keys

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def stop(store, eid: str, at: datetime, cid: str = "c-1") -> None:
    events.ingest(
        store,
        "acme",
        [
            Event(
                event_id=eid,
                customer_id=cid,
                type="unsubscribed",
                ts=at,
                channel="sms",
                properties={"scope": "channel"},
            )
        ],
    )


def consent(store, cid: str = "c-1") -> dict:
    return profiles.get(store, "acme", cid, None).consent


def test_stop_start_stop_and_the_start_again_leaves_sms_closed(store):
    profiles.put(store, "acme", "c-1", CustomerIn(consent={"sms": True}), None)
    stop(store, "stop-1", T0)
    assert profiles.reconsent(store, "acme", "c-1", "start-1", "sms", ms(T0 + timedelta(minutes=1))) == 1
    stop(store, "stop-2", T0 + timedelta(minutes=2))
    # the same START again, even stamped later (Twilio's START carries our clock): applied once
    assert profiles.reconsent(store, "acme", "c-1", "start-1", "sms", ms(T0 + timedelta(minutes=3))) == -1
    # another START dated before the last STOP: recorded, changes nothing
    assert profiles.reconsent(store, "acme", "c-1", "start-0", "sms", ms(T0 + timedelta(seconds=90))) == 0
    assert consent(store)["sms"] is False
    assert store.bulk.zcard(keys.consent_changes("acme", "c-1")) == 2


def test_an_unsubscribe_older_than_the_last_reconsent_is_recorded_but_does_not_close(store):
    profiles.put(store, "acme", "c-1", CustomerIn(consent={"sms": True}), None)
    stop(store, "stop-1", T0)
    assert profiles.reconsent(store, "acme", "c-1", "start-1", "sms", ms(T0 + timedelta(minutes=10))) == 1
    stop(store, "stop-late", T0 + timedelta(minutes=5))  # happened before the START, arrived after it
    assert consent(store)["sms"] is True
    assert store.bulk.hexists(keys.events("acme", "c-1"), "stop-late")  # in the record all the same
    stop(store, "stop-3", T0 + timedelta(minutes=20))  # a newer one closes
    assert consent(store)["sms"] is False


def test_a_profile_dated_before_the_channels_last_change_does_not_change_it(store):
    profiles.put(store, "acme", "c-1", CustomerIn(consent={"sms": True}), None)
    stop(store, "stop-1", T0)
    assert profiles.reconsent(store, "acme", "c-1", "start-1", "sms", ms(T0 + timedelta(minutes=10))) == 1
    # the CRM's copy from before the START says sms false: kept true; its email (a new channel) is taken
    profiles.put(
        store,
        "acme",
        "c-1",
        CustomerIn(consent={"sms": False, "email": True}, consent_at=T0 + timedelta(minutes=5)),
        None,
    )
    assert consent(store) == {"sms": True, "email": True}
    # dated after it, it applies, and a START from between the two cannot reopen
    profiles.put(
        store,
        "acme",
        "c-1",
        CustomerIn(consent={"sms": False, "email": True}, consent_at=T0 + timedelta(minutes=20)),
        None,
    )
    assert profiles.reconsent(store, "acme", "c-1", "start-2", "sms", ms(T0 + timedelta(minutes=15))) == 0
    assert consent(store)["sms"] is False
