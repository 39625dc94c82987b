"""The decision log: written off the hot path, but complete whenever someone reads it."""

import threading

from suppressor.decision_log import DecisionLog, recent


def test_a_reader_flush_waits_for_the_background_write_under_way(store):
    log = DecisionLog(store, interval=3600)
    original = store.bulk.pipeline
    started, release = threading.Event(), threading.Event()

    def stalled_pipeline(*a, **kw):  # the background flush has taken the record, not yet written it
        store.bulk.pipeline = original
        started.set()
        release.wait(5)
        return original(*a, **kw)

    try:
        log.append("acme", '{"customer_id": "c-1"}')
        store.bulk.pipeline = stalled_pipeline
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
        store.bulk.pipeline = original
        release.set()
        log.close()
