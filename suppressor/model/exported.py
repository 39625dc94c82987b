"""A trained model as plain arrays: stored in Redis, validated, scored with numpy."""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, overload

import numpy as np

from suppressor.domain import Signature
from suppressor.errors import NotFound, Refused
from suppressor.model import features
from suppressor.model.uplift import UpliftModel
from suppressor.storage import keys
from suppressor.storage.store import Store

ARRAYS = ("item_emb", "item_bias", "user_emb", "user_bias")
HOURS_OF_WEEK = 168
SEND_HOURS_FIELD = "hours"  # vector-hash field: a customer's packed 168 chances of an answer (training writes it)


def identity_field(version: str) -> str:
    """Vector-hash field holding the raw identity embedding+bias of a trained customer."""
    return f"id:{version}"


def uplift_field(version: str) -> str:
    """Vector-hash field holding a customer's uplift heads' vectors (``UpliftModel.packed_users``)."""
    return f"up:{version}"


UPLIFT_PREFIX = "uplift/"  # the uplift model's fields in the model's hash


def pack(vec: np.ndarray) -> bytes:
    """A vector as little-endian float32 bytes (what the decide script unpacks)."""
    return np.asarray(vec, dtype="<f4").tobytes()


def unpack(raw: bytes) -> np.ndarray:
    """Inverse of ``pack``."""
    return np.frombuffer(raw, dtype="<f4")


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _load_npy(raw: bytes) -> np.ndarray:
    return np.load(io.BytesIO(raw), allow_pickle=False)


@dataclass
class ExportedModel:
    """Feature embeddings and biases of a LightFM hybrid, plus calibration and metrics."""

    version: str
    item_features: list[str]
    item_emb: np.ndarray
    item_bias: np.ndarray
    user_features: list[str]
    user_emb: np.ndarray
    user_bias: np.ndarray
    numeric_edges: dict[str, list[float]]
    calibration: dict[str, float]
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    # the tenant's chance of an answer per hour of the week in customers' local time (168, Monday 00:00
    # first, summing to 1): the send-time prior of a customer with little history (None: not learned)
    send_hours: list[float] | None = None
    # what sending adds (trained from the tenant's delivered and withheld messages), or why it is absent
    uplift: UpliftModel | None = None

    def __post_init__(self) -> None:
        self.item_index = {name: i for i, name in enumerate(self.item_features)}
        self.user_index = {name: i for i, name in enumerate(self.user_features)}
        self._item_cache: dict[Signature, np.ndarray | None] = {}
        self._packed_cache: dict[Signature, bytes] = {}

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return int(self.item_emb.shape[1])

    @cached_property
    def channels(self) -> list[str]:
        """Channels the model has seen."""
        return [n.split(":", 1)[1] for n in self.item_features if n.startswith("channel:")]

    def item_vector(self, sig: Signature) -> np.ndarray | None:
        """Embedding + bias of a message from its known features; None if none is known."""
        if sig in self._item_cache:
            return self._item_cache[sig]
        idx = [self.item_index[f] for f in features.item_features(sig) if f in self.item_index]
        vec = None
        if idx:
            vec = np.empty(self.dim + 1, dtype=np.float32)
            vec[: self.dim] = self.item_emb[idx].mean(axis=0)
            vec[self.dim] = self.item_bias[idx].mean()
        if len(self._item_cache) > 50_000:
            self._item_cache.clear()
        self._item_cache[sig] = vec
        return vec

    @property
    def lifts(self) -> UpliftModel | None:
        """The uplift model when it has heads (None when absent)."""
        return self.uplift if self.uplift is not None and not self.uplift.absent else None

    def packed_item(self, sig: Signature) -> bytes:
        """``item_vector`` packed for the decide script ('' when the model knows none of its features), then
        the uplift heads' vectors for it where there is an uplift that knows the message."""
        hit = self._packed_cache.get(sig)
        if hit is None:
            vec = self.item_vector(sig)
            hit = pack(vec) if vec is not None else b""
            if hit and self.lifts is not None:
                hit += self.lifts.packed_item(sig)
            if len(self._packed_cache) > 50_000:
                self._packed_cache.clear()
            self._packed_cache[sig] = hit
        return hit

    def user_vector(self, attributes: dict[str, Any], identity: np.ndarray | None = None) -> np.ndarray:
        """Embedding + bias of a customer: attribute features plus the identity part if trained."""
        idx = [
            self.user_index[f] for f in features.user_features(attributes, self.numeric_edges) if f in self.user_index
        ]
        w_attr, w_identity = features.row_weights(len(idx), identity is not None)
        vec = np.zeros(self.dim + 1, dtype=np.float32)
        if idx:
            vec[: self.dim] += w_attr * self.user_emb[idx].sum(axis=0)
            vec[self.dim] += w_attr * self.user_bias[idx].sum()
        if identity is not None:
            vec += w_identity * identity
        return vec

    @overload
    def calibrate(self, raw: np.ndarray) -> np.ndarray: ...

    @overload
    def calibrate(self, raw: float) -> float: ...

    def calibrate(self, raw: np.ndarray | float) -> np.ndarray | float:
        """Raw LightFM score -> probability of engagement (Platt scaling)."""
        return 1.0 / (1.0 + np.exp(-(self.calibration["a"] * np.asarray(raw) + self.calibration["b"])))

    def validate(self) -> None:
        """Raise ValueError unless every array is finite and the shapes agree."""
        for name in ARRAYS:
            arr = getattr(self, name)
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"model {self.version}: {name} has non-finite values")
        if self.item_emb.ndim != 2 or self.item_emb.shape[0] != len(self.item_features):
            raise ValueError(
                f"model {self.version}: item_emb shape {self.item_emb.shape} != {len(self.item_features)} features"
            )
        if self.item_bias.shape != (len(self.item_features),):
            raise ValueError(f"model {self.version}: item_bias shape {self.item_bias.shape}")
        if self.user_emb.shape != (len(self.user_features), self.dim):
            raise ValueError(f"model {self.version}: user_emb shape {self.user_emb.shape}")
        if self.user_bias.shape != (len(self.user_features),):
            raise ValueError(f"model {self.version}: user_bias shape {self.user_bias.shape}")
        if self.send_hours is not None and (
            len(self.send_hours) != HOURS_OF_WEEK or not all(np.isfinite(h) and h >= 0 for h in self.send_hours)
        ):
            raise ValueError(f"model {self.version}: send_hours must be {HOURS_OF_WEEK} finite non-negative numbers")
        cal = [self.calibration.get("a"), self.calibration.get("b")]
        if any(c is None or not np.isfinite(c) for c in cal):
            raise ValueError(f"model {self.version}: calibration {self.calibration} is not finite")
        if self.uplift is not None:
            self.uplift.validate()

    def meta(self) -> dict[str, Any]:
        """Everything but the arrays, as JSON-ready data."""
        return {
            "version": self.version,
            "dim": self.dim,
            "item_features": self.item_features,
            "user_features": self.user_features,
            "numeric_edges": self.numeric_edges,
            "calibration": self.calibration,
            "metrics": self.metrics,
            "created_at": self.created_at,
            "send_hours": self.send_hours,
        }

    def to_mapping(self) -> dict[str, bytes]:
        """The Redis hash fields of this model."""
        out = {name: _npy(getattr(self, name)) for name in ARRAYS}
        out["meta"] = json.dumps(self.meta()).encode()
        if self.uplift is not None:
            out.update({UPLIFT_PREFIX + k: v for k, v in self.uplift.to_mapping().items()})
        return out

    @classmethod
    def from_mapping(cls, mapping: dict[bytes, bytes]) -> ExportedModel:
        """Rebuild from the Redis hash fields."""
        meta = json.loads(mapping[b"meta"])
        arrays = {name: _load_npy(mapping[name.encode()]) for name in ARRAYS}
        prefix = UPLIFT_PREFIX.encode()
        lifted = {k[len(prefix) :]: v for k, v in mapping.items() if k.startswith(prefix)}
        return cls(
            version=meta["version"],
            item_features=meta["item_features"],
            user_features=meta["user_features"],
            numeric_edges=meta["numeric_edges"],
            calibration=meta["calibration"],
            metrics=meta.get("metrics", {}),
            created_at=meta.get("created_at", 0.0),
            send_hours=meta.get("send_hours"),
            uplift=UpliftModel.from_mapping(lifted) if lifted else None,
            **arrays,
        )


def next_version(store: Store, tenant: str) -> str:
    """Reserve the next model version name (v1, v2, ...)."""
    return f"v{store.bulk.incr(keys.model_seq(tenant))}"


def save(store: Store, tenant: str, model: ExportedModel, status: str = "trained") -> None:
    """Write a validated model's arrays and summary (does not activate it)."""
    model.validate()
    pipe = store.bulk.pipeline(transaction=True)
    pipe.hset(keys.model_arrays(tenant, model.version), mapping=model.to_mapping())
    pipe.hset(keys.models(tenant), model.version, json.dumps(summary(model, status)))
    pipe.execute()


def summary(model: ExportedModel, status: str) -> dict[str, Any]:
    """The public description of a version (what GET /v1/models lists)."""
    return {
        "version": model.version,
        "status": status,
        "created_at": model.created_at,
        "dim": model.dim,
        "n_item_features": len(model.item_features),
        "n_user_features": len(model.user_features),
        "calibration": model.calibration,
        "metrics": model.metrics,
    }


def load(store: Store, tenant: str, version: str) -> ExportedModel | None:
    """Read one version back (None if it does not exist)."""
    mapping = store.bulk.hgetall(keys.model_arrays(tenant, version))
    if not mapping:
        return None
    model = ExportedModel.from_mapping(mapping)
    model.validate()
    return model


def active_version(store: Store, tenant: str) -> str | None:
    """The active version name, if any."""
    raw = store.bulk.get(keys.model_active(tenant))
    return raw.decode() if raw else None


def list_models(store: Store, tenant: str) -> list[dict[str, Any]]:
    """All stored versions, newest first, with the active one marked."""
    active = active_version(store, tenant)
    rows = [json.loads(v) for v in store.bulk.hvals(keys.models(tenant))]
    for row in rows:
        row["active"] = row["version"] == active
    return sorted(rows, key=lambda r: int(r["version"].lstrip("v")), reverse=True)


def activate(store: Store, tenant: str, version: str) -> ExportedModel:
    """Validate a stored version and point the tenant at it; servers pick it up on refresh."""
    model = load(store, tenant, version)
    if model is None:
        raise NotFound(f"no stored model version {version!r}", "version")
    if "rejected" in model.metrics:
        raise Refused([("version", f"model {version} was rejected by the quality gate: {model.metrics['rejected']}")])
    previous = active_version(store, tenant)
    pipe = store.bulk.pipeline(transaction=True)
    pipe.set(keys.model_active(tenant), version)
    pipe.hset(keys.models(tenant), version, json.dumps(summary(model, "active")))
    if previous and previous != version:
        prev = store.bulk.hget(keys.models(tenant), previous)
        if prev:
            row = json.loads(prev)
            row["status"] = "inactive"
            pipe.hset(keys.models(tenant), previous, json.dumps(row))
    pipe.execute()
    return model


def versions_to_drop(store: Store, tenant: str, keep: int) -> list[str]:
    """Stored versions beyond the newest ``keep`` (never the active one)."""
    active = active_version(store, tenant)
    return [r["version"] for r in list_models(store, tenant)[keep:] if r["version"] != active]


def prune(store: Store, tenant: str, keep: int) -> list[str]:
    """Drop the arrays of all but the newest ``keep`` versions (and the active one)."""
    doomed = versions_to_drop(store, tenant, keep)
    if doomed:
        pipe = store.bulk.pipeline(transaction=False)
        for v in doomed:
            pipe.delete(keys.model_arrays(tenant, v))
            pipe.hdel(keys.models(tenant), v)
        pipe.execute()
    return doomed
