"""The decision log: written off the hot path, but complete whenever someone reads it."""

import threading
from datetime import datetime, timedelta

from suppressor.customers import timeline
from suppressor.decisions import log as decision_log
from suppressor.decisions.decide import Decider
from suppressor.decisions.log import DecisionLog, recent
from suppressor.tenants.state import TenantStateCache
from tests.factories import NOW, one, req


def test_a_reader_flush_waits_for_the_background_write_under_way(store):
    log = DecisionLog(store, interval=3600)
    owner, name = decision_log, "run"  # what the flush writes with
    original = getattr(owner, name)
    started, release = threading.Event(), threading.Event()

    def stalled(*a, **kw):  # the background flush has taken the record, not yet written it
        setattr(owner, name, original)
        started.set()
        release.wait(5)
        return original(*a, **kw)

    try:
        log.append("acme", '{"customer_id": "c-1"}')
        setattr(owner, name, stalled)
        background = threading.Thread(target=log.flush)
        background.start()
        assert started.wait(5)
        reader = threading.Thread(target=log.flush)  # what GET /v1/decisions does before reading
        reader.start()
        reader.join(0.3)
        assert reader.is_alive()  # it waits instead of reporting an empty log
        release.set()
        reader.join(5)
        background.join(5)
        assert [d["customer_id"] for d in recent(store, "acme")] == ["c-1"]
    finally:
        setattr(owner, name, original)
        release.set()
        log.close()


def test_records_wait_through_a_store_outage_and_are_written_after_it(tmp_path):
    from suppressor.settings import Settings
    from suppressor.storage.store import Store
    from tests.faults import RedisServer, redis_server_or_skip

    redis_server_or_skip()
    server = RedisServer(tmp_path / "redis").start()
    st = Store(Settings(redis_url=server.url, data_dir=tmp_path / "data", store_timeout_ms=300))
    log = DecisionLog(st, interval=3600, max_buffer=5)
    try:
        server.kill()
        for i in range(4):
            log.append("acme", f'{{"customer_id": "c-{i}"}}')
        assert log.flush() == 0 and log.pending == 4 and log.dropped == 0  # kept, not lost
        for i in range(4, 7):
            log.append("acme", f'{{"customer_id": "c-{i}"}}')
        log.flush()
        assert log.pending == 5 and log.dropped == 2  # bounded: the oldest went, and it shows
        server.start()
        assert log.flush() == 5 and log.pending == 0
        assert [d["customer_id"] for d in recent(st, "acme", 10)] == [f"c-{i}" for i in range(6, 1, -1)]
    finally:
        log.close()
        st.close()
        server.close()


def test_a_verdict_whose_record_was_lost_is_in_the_customers_record_once(store, decider):
    """``decider`` logs nothing: its records are lost, as a process killed before its log wrote loses them."""
    lost = one(decider, req("c-1", kind="value", campaign="blitz"))
    only = one(decider, req("c-2", kind="value"))  # a customer known by nothing but a standing verdict
    log = DecisionLog(store, interval=3600)
    try:
        kept = one(
            Decider(store, TenantStateCache(store, 0.0), log),
            req("c-1", kind="value", campaign="fall"),
            at=NOW + timedelta(minutes=1),
        )
        log.flush()
    finally:
        log.close()
    got = recent(store, "acme", customer_id="c-1")
    assert [d["decision_id"] for d in got] == [kept.decision_id, lost.decision_id]  # newest first, each once
    assert "recovered" not in got[0]
    made = got[1]
    assert made["recovered"] is True and made["campaign_id"] == "blitz" and made["message_id"] == lost.message_id
    assert (made["action"], made.get("channel"), made["requested_channel"]) == (
        lost.action.value,
        lost.channel,
        "email",
    )
    assert made["reasons"] == [r.model_dump() for r in lost.reasons] and made["reasons"]
    assert datetime.fromisoformat(made["decided_at"]) == lost.decided_at
    assert made["policy_version"] == lost.policy_version and made.get("score") == lost.score
    assert [d["decision_id"] for d in recent(store, "acme", customer_id="c-1", campaign_id="blitz")] == [
        lost.decision_id
    ]
    items = [i for i in timeline.timeline(store, "acme", "c-1")["items"] if i["type"] == "decision"]
    assert [(i["decision_id"], i["campaign_id"]) for i in items] == [
        (kept.decision_id, "fall"),
        (lost.decision_id, "blitz"),
    ]
    theirs = timeline.timeline(store, "acme", "c-2")
    assert theirs is not None and [i["decision_id"] for i in theirs["items"]] == [only.decision_id]
