"""The per-tenant decision log: a capped Redis stream, written off the hot path."""

from __future__ import annotations

import json
import logging
import queue
from collections import deque

import redis

from suppressor.customers import timeline
from suppressor.storage import keys
from suppressor.storage.background import Periodic
from suppressor.storage.store import Store, run

log = logging.getLogger(__name__)


class DecisionLog(Periodic):
    """Buffers decisions and appends them in pipelined batches from a background thread.

    The decision itself is already answered; the log trails it by at most ``interval``
    seconds, so appending never adds a round trip to the caller's latency. While the store is
    away, records wait in memory (up to ``max_buffer``, oldest dropped first and counted in
    ``dropped``) and are written when it is back; only a process that dies during an outage
    loses what it held.
    """

    def __init__(self, store: Store, interval: float = 0.05, max_buffer: int = 200_000):
        self.store = store
        self.max_buffer = max_buffer
        self._q: queue.Queue[tuple[str, str | None, str]] = queue.Queue(maxsize=max_buffer)
        self._held: deque[tuple[str, str | None, str]] = deque()  # taken from the queue, not yet written
        self.dropped = 0
        self.written = 0
        super().__init__(interval, "decision-log")

    @property
    def pending(self) -> int:
        """Records accepted but not yet written."""
        return len(self._held) + self._q.qsize()

    def append(self, tenant: str, record: str, customer_id: str | None = None) -> None:
        """Queue one decision record (JSON text) for the tenant's log (and the customer's recent list)."""
        try:
            self._q.put_nowait((tenant, customer_id, record))
        except queue.Full:
            self.dropped += 1

    def _flush(self) -> int:
        """Write everything queued so far; returns the number written."""
        while True:
            try:
                self._held.append(self._q.get_nowait())
            except queue.Empty:
                break
        overflow = len(self._held) - self.max_buffer
        for _ in range(max(0, overflow)):
            self._held.popleft()
            self.dropped += 1
        if not self._held or not self.store.up:  # a store known down: keep them, do not wait on it
            return 0
        items = list(self._held)
        cap, ttl = self.store.settings.decision_log_max, self.store.settings.customer_ttl_days * 86400
        commands: list[tuple] = []
        for tenant, cid, rec in items:
            commands.append(("XADD", keys.decision_log(tenant), "MAXLEN", "~", cap, "*", "d", rec))
            if cid is not None:
                commands += timeline.remember(tenant, cid, rec, ttl)
        try:
            run(self.store, commands)
        except redis.RedisError as exc:
            # an XADD that went through before the failure may be written twice; a record is never lost quietly
            log.warning("decision log: %d records kept for a retry: %s", len(items), exc)
            return 0
        for _ in items:
            self._held.popleft()
        self.written += len(items)
        return len(items)


def recent(
    store: Store,
    tenant: str,
    limit: int = 50,
    customer_id: str | None = None,
    campaign_id: str | None = None,
    scan: int = 100_000,
) -> list[dict]:
    """The latest decisions, newest first; of one customer (their own recent list) and/or one
    campaign (the log read newest first, at most ``scan`` records)."""

    def wanted(d: dict) -> bool:
        return campaign_id is None or timeline.campaign_of(d) == campaign_id

    if customer_id is not None:
        return [
            d for d in timeline.recent_decisions(store, tenant, customer_id, timeline.RECENT_DECISIONS) if wanted(d)
        ][:limit]
    out: list[dict] = []
    start, seen = "+", 0
    while len(out) < limit and seen < scan:
        rows = store.bulk.xrevrange(keys.decision_log(tenant), max=start, count=min(1000, scan - seen))
        out += [d for d in (json.loads(f[b"d"]) for _, f in rows) if wanted(d)]
        seen += len(rows)
        if len(rows) < 1000:
            break
        start = "(" + rows[-1][0].decode()
    return out[:limit]
