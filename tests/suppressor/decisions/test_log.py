"""The decision log: written off the hot path, but complete whenever someone reads it."""

import threading

from suppressor.decisions import log as decision_log
from suppressor.decisions.log import DecisionLog, recent


def test_a_reader_flush_waits_for_the_background_write_under_way(store):
    log = DecisionLog(store, interval=3600)
    owner, name = decision_log, "bulk_commands"  # what the flush writes with
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
