"""Stored events -> a LightFM training set: customers x messages with labels and weights."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from suppressor import features, keys
from suppressor.store import Store


@dataclass
class LabelRules:
    """How a customer's events about one message become a label and a weight."""

    weights: dict[str, float] = field(default_factory=lambda: dict(features.EVENT_WEIGHTS))
    delivered_only_weight: float = 0.5  # delivered, never engaged: a weak negative
    pending_days: float = 3.0  # ...unless delivered this recently (may still engage)
    half_life_days: float = 180.0  # older behavior counts less


@dataclass
class Dataset:
    customer_ids: list[str]
    attributes: list[dict[str, Any]]  # per customer
    item_keys: list[str]  # message id (or signature for organic behavior)
    item_sigs: list[tuple[str | None, str | None, tuple[str, ...]]]
    users: np.ndarray  # per pair
    items: np.ndarray
    labels: np.ndarray  # +1 / -1
    weights: np.ndarray
    ts: np.ndarray  # latest event time of the pair (epoch seconds)
    n_events: int = 0

    @property
    def n_pairs(self) -> int:
        return len(self.labels)


def read(store: Store, tenant: str, progress: Callable[[str], None] | None = None, chunk: int = 1000) -> tuple[list[str], list[dict], list[list[dict]]]:
    """Every customer of the tenant with attributes and events (SSCAN + pipelined reads)."""
    ids = sorted(m.decode() for m in store.bulk.sscan_iter(keys.customers_index(tenant), count=5000))
    attrs, events = [], []
    for start in range(0, len(ids), chunk):
        pipe = store.bulk.pipeline(transaction=False)
        for cid in ids[start:start + chunk]:
            pipe.hget(keys.profile(tenant, cid), "attributes")
            pipe.hvals(keys.events(tenant, cid))
        res = pipe.execute()
        for a, evs in zip(res[0::2], res[1::2]):
            attrs.append(json.loads(a) if a else {})
            events.append([json.loads(e) for e in evs])
        if progress:
            progress(f"read {min(start + chunk, len(ids))}/{len(ids)} customers")
    return ids, attrs, events


def _epoch(ts: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def build(ids: list[str], attrs: list[dict], events: list[list[dict]], rules: LabelRules | None = None) -> Dataset:
    """Label every (customer, message) pair that has behavior."""
    rules = rules or LabelRules()
    item_index: dict[str, int] = {}
    item_sigs: list[tuple] = []
    users, items, labels, weights, tss = [], [], [], [], []
    all_ts = [_epoch(e["ts"]) for evs in events for e in evs]
    now = max(all_ts) if all_ts else 0.0
    n_events = len(all_ts)
    for u, evs in enumerate(events):
        per_item: dict[str, list[dict]] = {}
        for e in evs:
            sig = (e.get("channel"), e.get("kind"), tuple(sorted(e.get("topics", ()))))
            if not sig[1] and not sig[2] and not e.get("message_id"):
                continue  # nothing the model could learn a message from
            key = e.get("message_id") or f"sig:{json.dumps(sig)}"
            if key not in item_index:
                item_index[key] = len(item_sigs)
                item_sigs.append(sig)
            per_item.setdefault(key, []).append(e)
        for key, its in per_item.items():
            label = _label(its, rules, now)
            if label is None:
                continue
            y, w, t = label
            users.append(u)
            items.append(item_index[key])
            labels.append(y)
            weights.append(w)
            tss.append(t)
    return Dataset(
        customer_ids=ids,
        attributes=attrs,
        item_keys=list(item_index),
        item_sigs=item_sigs,
        users=np.asarray(users, dtype=np.int32),
        items=np.asarray(items, dtype=np.int32),
        labels=np.asarray(labels, dtype=np.float32),
        weights=np.asarray(weights, dtype=np.float32),
        ts=np.asarray(tss, dtype=np.float64),
        n_events=n_events,
    )


def _label(evs: list[dict], rules: LabelRules, now: float) -> tuple[float, float, float] | None:
    ws = [rules.weights.get(e["type"], 0.0) for e in evs]
    t = max(_epoch(e["ts"]) for e in evs)
    decay = 0.5 ** (max(now - t, 0.0) / 86400 / rules.half_life_days)
    worst, best = min(ws), max(ws)
    if worst <= -2.0:  # unsubscribed / complained outweighs any engagement before it
        return -1.0, -worst * decay, t
    if best > 0:
        return 1.0, best * decay, t
    if worst < 0:
        return -1.0, -worst * decay, t
    if any(e["type"] == "delivered" for e in evs) and now - t > rules.pending_days * 86400:
        return -1.0, rules.delivered_only_weight * decay, t
    return None


def user_matrix(attrs: list[dict], vocab: dict[str, int], edges: dict, with_identity: bool) -> sp.csr_matrix:
    """Rows: customers; columns: attribute features then one identity per customer; rows sum to 1."""
    n_attr = len(vocab)
    rows, cols = [], []
    for u, a in enumerate(attrs):
        for f in features.user_features(a, edges):
            if f in vocab:
                rows.append(u)
                cols.append(vocab[f])
        if with_identity:
            rows.append(u)
            cols.append(n_attr + u)
    n_cols = n_attr + (len(attrs) if with_identity else 0)
    return _normalized(rows, cols, (len(attrs), max(n_cols, 1)))


def item_matrix(sigs: list[tuple], vocab: dict[str, int]) -> sp.csr_matrix:
    """Rows: messages; columns: channel, kind and topic features; rows sum to 1."""
    rows, cols = [], []
    for i, (ch, kind, topics) in enumerate(sigs):
        for f in features.item_features(ch, kind, topics):
            rows.append(i)
            cols.append(vocab[f])
    return _normalized(rows, cols, (len(sigs), len(vocab)))


def _normalized(rows: list[int], cols: list[int], shape: tuple[int, int]) -> sp.csr_matrix:
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=shape)
    sums = np.asarray(m.sum(axis=1)).ravel()
    sums[sums == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / sums) @ m, dtype=np.float32)


def vocabularies(ds: Dataset, min_count: int = 2) -> tuple[dict[str, int], dict[str, int], dict[str, list[float]]]:
    """Item feature vocabulary, user attribute vocabulary (features seen >= min_count times), numeric edges."""
    item_vocab: dict[str, int] = {}
    for ch, kind, topics in ds.item_sigs:
        for f in features.item_features(ch, kind, topics):
            item_vocab.setdefault(f, len(item_vocab))
    edges = features.numeric_edges(ds.attributes)
    counts: dict[str, int] = {}
    for a in ds.attributes:
        for f in features.user_features(a, edges):
            counts[f] = counts.get(f, 0) + 1
    user_vocab = {f: i for i, f in enumerate(sorted(f for f, c in counts.items() if c >= min_count))}
    return item_vocab, user_vocab, edges
