"""Stored events -> a LightFM training set: customers x messages with labels and weights."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import scipy.sparse as sp

from suppressor.domain import Signature
from suppressor.model import features
from suppressor.model.labels import LabelRules, epoch
from suppressor.storage import keys
from suppressor.storage.store import Store, run


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


def read(
    store: Store, tenant: str, progress: Callable[[str], None] | None = None, chunk: int = 1000
) -> tuple[list[str], list[dict], list[list[dict]], list[str | None]]:
    """Every customer of the tenant with attributes, events and time zone (SSCAN + pipelined reads)."""
    ids = sorted(m.decode() for m in store.bulk.sscan_iter(keys.customers_index(tenant), count=5000))
    attrs: list[dict] = []
    events: list[list[dict]] = []
    zones: list[str | None] = []
    gone: list[str] = []

    def fetch(start: int) -> list:
        return run(
            store,
            [
                c
                for cid in ids[start : start + chunk]
                for c in (
                    ("HMGET", keys.profile(tenant, cid), "attributes", "vehicles", "timezone"),
                    ("HVALS", keys.events(tenant, cid)),
                )
            ],
        )

    # a thread reads the next chunk while this one is parsed (the socket wait releases the interpreter)
    with ThreadPoolExecutor(1, thread_name_prefix="read") as reader:
        following = reader.submit(fetch, 0)
        for start in range(0, len(ids), chunk):
            res = following.result()
            if start + chunk < len(ids):
                following = reader.submit(fetch, start + chunk)
            for cid, (a, vehicles, tz), evs in zip(ids[start : start + chunk], res[0::2], res[1::2], strict=True):
                if a is None and not evs:
                    gone.append(cid)  # profile and events expired: the customer is gone
                attrs.append(features.model_attributes(json.loads(a) if a else {}, vehicles))
                zones.append(tz.decode() if tz else None)
                evs = orjson.loads(b"[" + b",".join(evs) + b"]")  # one parse per customer, not per event
                # HVALS order is the server's hash order (seeded at each start): fix it, or the same
                # data would train a different model on every run
                evs.sort(key=lambda e: (e["ts"], e["event_id"]))
                events.append(evs)
            if progress:
                progress(f"read {min(start + chunk, len(ids))}/{len(ids)} customers")
    if gone:  # the index shrinks with the customers (it is only read here, off the hot path)
        store.bulk.srem(keys.customers_index(tenant), *gone)
    return ids, attrs, events, zones


def build(ids: list[str], attrs: list[dict], events: list[list[dict]], rules: LabelRules | None = None) -> Dataset:
    """Label every (customer, message) pair that has behavior: ``labels.label`` on every
    ``labels.group_by_message`` group, computed over columns (one pass over the events, then
    numpy per pair; the same pairs, labels and weights, 2x faster at a million pairs)."""
    rules = rules or LabelRules()
    weight_of, delivered = rules.weights, "delivered"
    sigs: dict[tuple[Any, ...], Signature] = {}
    ev_pair: list[int] = []  # per event: its pair (customer, message) ...
    ev_w: list[float] = []  # ... its weight, its time, whether it is a delivery
    ev_ts: list[str] = []
    ev_dlv: list[bool] = []
    pair_user: list[int] = []
    pair_key: list[str] = []
    pair_sig: list[Signature] = []
    for u, evs in enumerate(events):
        mine: dict[str, int] = {}
        for e in evs:
            ch, kind, topics = e.get("channel"), e.get("kind"), e.get("topics") or ()
            spec = (ch, kind, *topics)
            sig = sigs.get(spec)
            if sig is None:
                sig = sigs[spec] = Signature.of(ch, kind, topics)
            ev_ts.append(e["ts"])  # every event's time counts for "now"
            mid = e.get("message_id")
            if not mid:
                if not sig.kind and not sig.topics:
                    ev_pair.append(-1)  # nothing a message could be learned from
                    ev_w.append(0.0)
                    ev_dlv.append(False)
                    continue
                mid = f"sig:{json.dumps(sig)}"
            p = mine.get(mid)
            if p is None:
                p = mine[mid] = len(pair_user)
                pair_user.append(u)
                pair_key.append(mid)
                pair_sig.append(sig)
            ev_pair.append(p)
            typ = e["type"]
            ev_w.append(weight_of.get(typ, 0.0))
            ev_dlv.append(typ == delivered)
    n_pairs = len(pair_user)
    t_ev = _epochs(ev_ts)
    now = float(t_ev.max()) if len(t_ev) else 0.0
    at = np.asarray(ev_pair, dtype=np.int64)
    paired = at >= 0
    at, w, t_paired = at[paired], np.asarray(ev_w, dtype=np.float64)[paired], t_ev[paired]
    worst, best, t = np.full(n_pairs, np.inf), np.full(n_pairs, -np.inf), np.full(n_pairs, -np.inf)
    np.minimum.at(worst, at, w)
    np.maximum.at(best, at, w)
    np.maximum.at(t, at, t_paired)
    dlv = np.zeros(n_pairs, dtype=bool)
    dlv[at[np.asarray(ev_dlv, dtype=bool)[paired]]] = True
    decay = 0.5 ** (np.maximum(now - t, 0.0) / 86400 / rules.half_life_days)
    # labels.label, case by case in its order
    unsub, engaged, negative = worst <= -2.0, best > 0, worst < 0
    stale = dlv & (now - t > rules.pending_days * 86400)
    y = np.where(unsub | ~engaged, -1.0, 1.0)
    weight = np.where(unsub, -worst, np.where(engaged, best, np.where(negative, -worst, rules.delivered_only_weight)))
    keep = np.flatnonzero(unsub | engaged | negative | stale)
    item_index: dict[str, int] = {}
    item_sigs: list[Signature] = []
    items = np.empty(len(keep), dtype=np.int32)
    for j, p in enumerate(keep.tolist()):
        key = pair_key[p]
        i = item_index.get(key)
        if i is None:
            i = item_index[key] = len(item_sigs)
            item_sigs.append(pair_sig[p])
        items[j] = i
    return Dataset(
        customer_ids=ids,
        attributes=attrs,
        item_keys=list(item_index),
        item_sigs=item_sigs,
        users=np.asarray(pair_user, dtype=np.int32)[keep],
        items=items,
        labels=y[keep].astype(np.float32),
        weights=(weight * decay)[keep].astype(np.float32),
        ts=t[keep],
        n_events=len(ev_ts),
    )


def _epochs(ts: list[str]) -> np.ndarray:
    """ISO-8601 texts -> epoch seconds (stored times are UTC, "...Z": parsed by numpy in C)."""
    if all(x.endswith("Z") for x in ts):
        try:
            return np.array([x[:-1] for x in ts], dtype="datetime64[us]").astype(np.int64) / 1e6
        except ValueError:
            pass
    return np.array([epoch(x) for x in ts], dtype=np.float64)


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
    return sp.csr_matrix(
        (np.asarray(vals, dtype=np.float32), (rows, cols)),
        shape=(len(attrs), max(n_attr + len(attrs), 1)),
        dtype=np.float32,
    )


def identity_mask(ds: Dataset, min_pairs: int) -> np.ndarray:
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
