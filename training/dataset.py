"""Stored events -> a LightFM training set: customers x messages with labels and weights."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from suppressor.domain import Signature
from suppressor.model import features
from suppressor.model.labels import LabelRules, epoch, group_by_message, label
from suppressor.storage import keys
from suppressor.storage.store import Store


@dataclass
class Dataset:
    """Labeled (customer, message) pairs with their customers and messages."""

    customer_ids: list[str]
    attributes: list[dict[str, Any]]  # per customer
    item_keys: list[str]  # message id (or signature for organic behavior)
    item_sigs: list[Signature]
    users: np.ndarray  # per pair
    items: np.ndarray
    labels: np.ndarray  # +1 / -1
    weights: np.ndarray
    ts: np.ndarray  # latest event time of the pair (epoch seconds)
    n_events: int = 0

    @property
    def n_pairs(self) -> int:
        """Number of labeled pairs."""
        return len(self.labels)


def read(store: Store, tenant: str, progress: Callable[[str], None] | None = None, chunk: int = 1000) -> tuple[list[str], list[dict], list[list[dict]]]:
    """Every customer of the tenant with attributes and events (SSCAN + pipelined reads)."""
    ids = sorted(m.decode() for m in store.bulk.sscan_iter(keys.customers_index(tenant), count=5000))
    attrs, events, gone = [], [], []
    for start in range(0, len(ids), chunk):
        pipe = store.bulk.pipeline(transaction=False)
        for cid in ids[start:start + chunk]:
            pipe.hmget(keys.profile(tenant, cid), "attributes", "vehicles")
            pipe.hvals(keys.events(tenant, cid))
        res = pipe.execute()
        for cid, (a, vehicles), evs in zip(ids[start:start + chunk], res[0::2], res[1::2]):
            if a is None and not evs:
                gone.append(cid)  # profile and events expired: the customer is gone
            attrs.append(features.model_attributes(json.loads(a) if a else {}, vehicles))
            evs = json.loads(b"[" + b",".join(evs) + b"]")  # one parse per customer, not per event
            # HVALS order is the server's hash order (seeded at each start): fix it, or the same
            # data would train a different model on every run
            evs.sort(key=lambda e: (e["ts"], e["event_id"]))
            events.append(evs)
        if progress:
            progress(f"read {min(start + chunk, len(ids))}/{len(ids)} customers")
    if gone:  # the index shrinks with the customers (it is only read here, off the hot path)
        store.bulk.srem(keys.customers_index(tenant), *gone)
    return ids, attrs, events


def build(ids: list[str], attrs: list[dict], events: list[list[dict]], rules: LabelRules | None = None) -> Dataset:
    """Label every (customer, message) pair that has behavior."""
    rules = rules or LabelRules()
    item_index: dict[str, int] = {}
    item_sigs: list[Signature] = []
    users, items, labels, weights, tss = [], [], [], [], []
    all_ts = []
    for evs in events:
        for e in evs:
            e["_t"] = t = epoch(e["ts"])  # parsed once here, read again by label()
            all_ts.append(t)
    now = max(all_ts) if all_ts else 0.0
    n_events = len(all_ts)
    for u, evs in enumerate(events):
        for key, (sig, its) in group_by_message(evs).items():
            lab = label(its, rules, now)
            if lab is None:
                continue
            if key not in item_index:
                item_index[key] = len(item_sigs)
                item_sigs.append(sig)
            y, w, t = lab
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


def user_matrix(attrs: list[dict], vocab: dict[str, int], edges: dict, identity: np.ndarray) -> sp.csr_matrix:
    """Rows: customers; columns: attribute features, then one identity per customer (used where
    ``identity`` is True: customers with enough history); rows sum to 1, the identity keeping
    ``features.IDENTITY_SHARE`` of it."""
    n_attr = len(vocab)
    rows, cols, vals = [], [], []
    for u, a in enumerate(attrs):
        mine = [vocab[f] for f in features.user_features(a, edges) if f in vocab]
        w_attr, w_identity = features.row_weights(len(mine), bool(identity[u]))
        rows += [u] * len(mine)
        cols += mine
        vals += [w_attr] * len(mine)
        if identity[u]:
            rows.append(u)
            cols.append(n_attr + u)
            vals.append(w_identity)
    return sp.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)),
                         shape=(len(attrs), max(n_attr + len(attrs), 1)), dtype=np.float32)


def identity_mask(ds: "Dataset", min_pairs: int) -> np.ndarray:
    """Customers with at least ``min_pairs`` labeled pairs get an identity feature."""
    counts = np.bincount(ds.users, minlength=len(ds.customer_ids))
    return counts >= min_pairs


def item_matrix(sigs: list[Signature], vocab: dict[str, int]) -> sp.csr_matrix:
    """Rows: messages; columns: channel, kind and topic features; rows sum to 1."""
    rows, cols = [], []
    for i, sig in enumerate(sigs):
        for f in features.item_features(sig):
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
    for sig in ds.item_sigs:
        for f in features.item_features(sig):
            item_vocab.setdefault(f, len(item_vocab))
    edges = features.numeric_edges(ds.attributes)
    counts: dict[str, int] = {}
    for a in ds.attributes:
        for f in features.user_features(a, edges):
            counts[f] = counts.get(f, 0) + 1
    user_vocab = {f: i for i, f in enumerate(sorted(f for f, c in counts.items() if c >= min_count))}
    return item_vocab, user_vocab, edges
