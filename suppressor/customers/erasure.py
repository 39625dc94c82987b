"""Erasure: everything about a customer goes, and the store's own files forget too.

Deleting a customer's keys removes them from memory, but an append-only file still holds the
commands that wrote them, and a snapshot file the values, until each is rewritten. The
compactor rewrites both (BGREWRITEAOF, BGSAVE) at most every ``interval`` seconds after an
erasure, from a background thread; a store that keeps no files answers with an error, which is
ignored (nothing to forget there)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import redis

from suppressor.customers import deferred, profiles
from suppressor.errors import NotFound
from suppressor.storage import keys
from suppressor.storage.background import Periodic
from suppressor.storage.store import Store

log = logging.getLogger(__name__)


def erase(
    store: Store,
    tenant: str,
    customer_id: str,
    compactor: Compactor | None = None,
    flush_log: Callable[[], object] | None = None,
) -> None:
    """Erase everything about a customer: profile, events, vectors, ledgers, verdicts, event-id
    claims and decision-log entries; then have the store's files rewritten. NotFound if none existed.

    ``flush_log`` writes the process's pending decision records first, so none lands after the erasure."""
    if flush_log is not None:
        flush_log()
    deferred.forget(store, tenant, customer_id)  # the tenant's index names them
    existed = profiles.delete(store, tenant, customer_id)
    logged = erase_logged(store, tenant, customer_id)
    if compactor is not None:
        compactor.note()
    if not existed and not logged:
        raise NotFound(f"no customer {customer_id!r}", "customer_id")


def erase_logged(store: Store, tenant: str, customer_id: str, chunk: int = 5_000) -> int:
    """Remove a customer's entries from the tenant's decision log (not a hot path)."""
    key, start, removed = keys.decision_log(tenant), "-", 0
    while True:
        rows = store.bulk.xrange(key, min=start, max="+", count=chunk)
        doomed = [eid for eid, f in rows if json.loads(f[b"d"]).get("customer_id") == customer_id]
        if doomed:
            removed += store.bulk.xdel(key, *doomed)
        if len(rows) < chunk:
            return removed
        start = "(" + rows[-1][0].decode()


class Compactor(Periodic):
    """Rewrites the store's files after erasures (see the module docstring)."""

    def __init__(self, store: Store, interval: float):
        self.store = store
        self.every = interval
        self._due = False
        self._last = 0.0
        super().__init__(min(interval, 1.0) or 0.1, "erasure-compactor")

    def note(self) -> None:
        """An erasure happened: rewrite the files soon."""
        self._due = True

    def _flush(self) -> int:
        if not self._due or time.monotonic() - self._last < self.every or not self.store.up:
            return 0
        try:
            persist = self.store.bulk.info("persistence")
            if persist.get("aof_rewrite_in_progress") or persist.get("rdb_bgsave_in_progress"):
                return 0  # one at a time; try again next tick
            if persist.get("aof_enabled"):
                self.store.bulk.bgrewriteaof()
            if self.store.embedded is not None:
                self.store.bulk.bgsave(schedule=True)  # waits its turn if a rewrite still runs
        except redis.RedisError as exc:
            log.warning("could not rewrite the store's files after an erasure: %s", exc)
        self._due, self._last = False, time.monotonic()
        return 1
