"""After an erasure, the store's own files forget too.

Deleting a customer's keys removes them from memory, but an append-only file still holds the
commands that wrote them, and a snapshot file the values, until each is rewritten. The
compactor rewrites both (BGREWRITEAOF, BGSAVE) at most every ``interval`` seconds after an
erasure, from a background thread; a store that keeps no files answers with an error, which is
ignored (nothing to forget there)."""

from __future__ import annotations

import logging
import time

import redis

from .background import Periodic
from .store import Store

log = logging.getLogger(__name__)


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
