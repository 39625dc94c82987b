"""When each customer answers: their chance of an answer per hour of the week, in their own time
zone, from the opens, clicks and replies of their history, pooled toward the tenant's curve.

The tenant's curve is every answer of every customer with a time zone, counted by local hour of
the week (Monday 00:00 first) and smoothed with one answer spread over the week; a customer's is
``(their counts + strength x the tenant's curve) / (their answers + strength)``, so a customer with
two answers leans on the tenant and one with fifty on themselves. The customer's curve is written
beside their vectors (what the send_time rule reads); the tenant's rides in the model
(``ExportedModel.send_hours``) for customers with no history of their own."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from suppressor.customers.profiles import utc_offsets
from suppressor.model.exported import HOURS_OF_WEEK, SEND_HOURS_FIELD, pack
from suppressor.model.labels import epoch
from suppressor.storage import keys
from suppressor.storage.store import Store, run

ANSWERS = frozenset({"opened", "clicked", "replied"})
STRENGTH = 10.0  # answers' worth of the tenant's curve in a customer's


def hours_of_week(ts: np.ndarray, tz: str) -> np.ndarray:
    """Local hour of the week (0 = Monday 00:00) of unix times ``ts`` in zone ``tz``."""
    lo = float(ts.min())
    table = np.asarray(utc_offsets(tz, lo, days=int((ts.max() - lo) // 86400) + 3), dtype=np.int64)
    offsets = table[np.maximum(np.searchsorted(table[:, 0], ts, side="right") - 1, 0), 1]
    local = ts.astype(np.int64) + offsets
    return ((local // 86400 + 3) % 7) * 24 + (local % 86400) // 3600


def counts(events: list[list[dict]], zones: list[str | None]) -> dict[int, np.ndarray]:
    """Per customer (by position) with a time zone and answers: their answers by local hour of the week."""
    out: dict[int, np.ndarray] = {}
    for u, (evs, tz) in enumerate(zip(events, zones, strict=True)):
        if not tz:
            continue
        ts = np.asarray([epoch(e["ts"]) for e in evs if e.get("type") in ANSWERS], dtype=np.float64)
        if len(ts):
            out[u] = np.bincount(hours_of_week(ts, tz), minlength=HOURS_OF_WEEK).astype(np.float64)
    return out


def learn(
    events: list[list[dict]], zones: list[str | None], strength: float = STRENGTH
) -> tuple[list[float] | None, dict[int, np.ndarray]]:
    """The tenant's curve (None when no customer with a time zone ever answered) and each answering
    customer's pooled curve, by position (``events`` and ``zones`` as ``dataset.read`` gives them)."""
    mine = counts(events, zones)
    if not mine:
        return None, {}
    # one answer spread over the week: no bin is 0
    total = sum(mine.values(), np.zeros(HOURS_OF_WEEK)) + 1.0 / HOURS_OF_WEEK
    prior = total / total.sum()
    pooled = {u: (c + strength * prior) / (c.sum() + strength) for u, c in mine.items()}
    return [float(x) for x in prior], pooled


def write(store: Store, tenant: str, ids: list[str], pooled: dict[int, np.ndarray], chunk: int = 2000) -> None:
    """Each customer's curve beside their vectors (packed as the decide script reads it); a customer
    without one has theirs removed (they read the tenant's curve)."""
    ttl = store.settings.customer_ttl_days * 86400
    groups: dict[int, list[tuple]] = defaultdict(list)
    for u, cid in enumerate(ids):
        key = keys.vectors(tenant, cid)
        if u in pooled:
            groups[u // chunk] += [("HSET", key, SEND_HOURS_FIELD, pack(pooled[u])), ("EXPIRE", key, ttl)]
        else:
            groups[u // chunk].append(("HDEL", key, SEND_HOURS_FIELD))
    for part in groups.values():
        run(store, part)
