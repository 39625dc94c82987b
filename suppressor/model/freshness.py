"""Fresh between retrains: fold a customer's new behavior into their vector within seconds.

The message side of the model stays fixed; the customer's vector (embedding + bias) is re-fit
to the behavior since the model's data ends, by a few Newton steps on the same weighted
logistic loss LightFM trains with, pulled toward the vector training gave them (an L2 prior),
so one new click nudges and a run of them moves.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable

import numpy as np
import redis

from suppressor.model import features
from suppressor.model.exported import ExportedModel, identity_field, pack, unpack
from suppressor.model.labels import LabelRules, epoch, group_by_message, label
from suppressor.storage import keys
from suppressor.storage.background import Periodic
from suppressor.storage.store import Store

log = logging.getLogger(__name__)


def fold_in(
    prior: np.ndarray, items: np.ndarray, y: np.ndarray, w: np.ndarray, strength: float = 1.0, steps: int = 10
) -> np.ndarray:
    """The user vector (embedding + bias) minimizing weighted log loss on ``items`` + strength * |u - prior|^2."""
    prior = prior.astype(np.float64)
    x = np.hstack([items[:, :-1], np.ones((len(items), 1))])  # the user bias multiplies 1
    item_bias = items[:, -1]
    t = (y > 0).astype(np.float64)

    def objective(u: np.ndarray) -> float:
        z = x @ u + item_bias
        return float(np.sum(w * (np.logaddexp(0, z) - t * z)) + strength * np.sum((u - prior) ** 2))

    u, f = prior.copy(), objective(prior)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ u + item_bias)))
        grad = x.T @ (w * (p - t)) + 2 * strength * (u - prior)
        hess = (x * (w * p * (1 - p))[:, None]).T @ x + 2 * strength * np.eye(len(u))
        step = np.linalg.solve(hess, grad)
        scale = 1.0
        while scale > 1e-4:  # damped Newton: a full step can overshoot far from the optimum
            cand = u - scale * step
            fc = objective(cand)
            if fc < f:
                break
            scale /= 2
        else:
            break
        converged = f - fc < 1e-9
        u, f = cand, fc
        if converged:
            break
    return u.astype(np.float32)


def refreshed_vector(
    model: ExportedModel,
    attributes: dict,
    identity: np.ndarray | None,
    events: list[dict],
    rules: LabelRules,
    now: float,
) -> np.ndarray | None:
    """The customer's vector with behavior after the model's data folded in; None if there is none."""
    since = model.metrics.get("data_until", model.created_at)
    fresh = [e for e in events if epoch(e["ts"]) > since]
    rows, ys, ws = [], [], []
    for _, (sig, evs) in group_by_message(fresh).items():
        lab = label(evs, rules, now)
        item = model.item_vector(sig)
        if lab is None or item is None:
            continue
        rows.append(item)
        ys.append(lab[0])
        ws.append(lab[1])
    if not rows:
        return None
    prior = model.user_vector(attributes, identity)
    return fold_in(prior, np.array(rows, dtype=np.float64), np.array(ys), np.array(ws))


class Refresher(Periodic):
    """Folds fresh behavior in from a background thread, a few hundred milliseconds after ingest."""

    def __init__(
        self,
        store: Store,
        model_of: Callable[[str], ExportedModel | None],
        interval: float = 0.2,
        rules: LabelRules | None = None,
    ):
        self.store = store
        self.model_of = model_of  # a tenant's active model, from the process's tenant cache
        self.rules = rules or LabelRules()
        self._pending: dict[str, set[str]] = defaultdict(set)
        self._lock = threading.Lock()
        super().__init__(interval, "refresher")

    def enqueue(self, tenant: str, customer_ids) -> None:
        """Mark customers whose behavior changed."""
        with self._lock:
            self._pending[tenant].update(customer_ids)

    def _flush(self) -> int:
        """Refresh everything queued now; returns the number of vectors rewritten."""
        with self._lock:
            work, self._pending = self._pending, defaultdict(set)
        done = 0
        for tenant, ids in work.items():
            try:
                done += self._refresh(tenant, sorted(ids))
            except (redis.RedisError, ValueError) as exc:
                log.warning("tenant %s: could not refresh %d customers: %s", tenant, len(ids), exc)
        return done

    def _refresh(self, tenant: str, ids: list[str], chunk: int = 500) -> int:
        model = self.model_of(tenant)
        if model is None:
            return 0
        now, done = time.time(), 0
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            pipe = self.store.bulk.pipeline(transaction=False)
            for cid in part:
                pipe.hmget(keys.profile(tenant, cid), "attributes", "vehicles")
                pipe.hget(keys.vectors(tenant, cid), identity_field(model.version))
                pipe.hvals(keys.events(tenant, cid))
            res = pipe.execute()
            write = self.store.bulk.pipeline(transaction=False)
            for i, cid in enumerate(part):
                (attrs, vehicles), ident, evs = res[3 * i : 3 * i + 3]
                attributes = features.model_attributes(json.loads(attrs) if attrs else {}, vehicles, now)
                vec = refreshed_vector(
                    model, attributes, unpack(ident) if ident else None, [json.loads(e) for e in evs], self.rules, now
                )
                if vec is not None:
                    write.hset(keys.vectors(tenant, cid), model.version, pack(vec))
                    write.expire(keys.vectors(tenant, cid), self.store.settings.customer_ttl_days * 86400)
                    done += 1
            write.execute()
        return done
