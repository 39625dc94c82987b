"""An uplift model as plain arrays: what sending a message changes in a customer's chance to engage.

Two heads, ``treated`` and ``control``, each a LightFM-style linear scorer over the customer's
attribute features (the same vocabulary and bucketing as ``ExportedModel``) with its own Platt
calibration. The uplift of a customer is ``p_treated - p_control``; see ``UpliftModel.score``.
Serving scores it with numpy alone.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from suppressor.model import features

HEADS = ("treated", "control")  # required; "harm" (P(unsubscribe or complaint | sent)) is optional
ARRAYS = ("user_emb", "user_bias", "item")


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


@dataclass
class Head:
    """One arm's scorer: per-feature embeddings and biases, the arm's item vector (embedding + bias), calibration."""

    user_emb: np.ndarray  # (n_features, dim)
    user_bias: np.ndarray  # (n_features,)
    item: np.ndarray  # (dim + 1,): the arm's item embedding, then its bias
    calibration: dict[str, float]  # Platt a, b

    def raw(self, rows: np.ndarray) -> np.ndarray:
        """Uncalibrated score for customers given as feature-weight rows (n, n_features): u.i + b_u + b_i."""
        dim = self.user_emb.shape[1]
        return rows @ (self.user_emb @ self.item[:dim]) + rows @ self.user_bias + self.item[dim]

    def probability(self, rows: np.ndarray) -> np.ndarray:
        """Calibrated chance (Platt: sigmoid(a * raw + b)) for customers given as feature-weight rows."""
        return 1.0 / (1.0 + np.exp(-(self.calibration["a"] * self.raw(rows) + self.calibration["b"])))


@dataclass
class UpliftModel:
    """The uplift of one treatment (a message or campaign) over its control group, or why there is none."""

    version: str
    treatment: str  # what was sent to the treated arm, e.g. a message or campaign id
    method: str  # how it was trained (training/uplift.py METHODS)
    user_features: list[str]
    numeric_edges: dict[str, list[float]]
    heads: dict[str, Head]  # "treated", "control" (and "harm" where the data records it); empty when absent
    absent: str | None = None  # why there is no uplift (e.g. too few control customers); heads empty then
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.user_index = {name: i for i, name in enumerate(self.user_features)}

    def rows(self, customers: list[dict[str, Any]]) -> np.ndarray:
        """Customers' attributes as feature-weight rows (each known feature weighs 1/n, as in training)."""
        out = np.zeros((len(customers), len(self.user_features)), dtype=np.float32)
        for r, attrs in enumerate(customers):
            idx = [
                self.user_index[f] for f in features.user_features(attrs, self.numeric_edges) if f in self.user_index
            ]
            w, _ = features.row_weights(len(idx), False)
            out[r, idx] = w
        return out

    def harm(self, customers: list[dict[str, Any]]) -> np.ndarray | None:
        """P(the send ends in an unsubscribe or complaint) per customer; None where the data recorded none."""
        head = self.heads.get("harm")
        return None if head is None else head.probability(self.rows(customers))

    def score(self, customers: list[dict[str, Any]]) -> np.ndarray:
        """Uplift per customer: calibrated P(engage | sent) - P(engage | not sent), in [-1, 1]."""
        if self.absent:
            raise ValueError(f"uplift model {self.version} has no uplift: {self.absent}")
        rows = self.rows(customers)
        return self.heads["treated"].probability(rows) - self.heads["control"].probability(rows)

    def validate(self) -> None:
        """Raise ValueError unless every array is finite and the shapes agree (or the model says why it is absent)."""
        if self.absent is not None:
            if self.heads or not self.absent.strip():
                raise ValueError(f"uplift model {self.version}: absent needs a reason and no heads")
            return
        if not set(HEADS) <= set(self.heads) <= {*HEADS, "harm"}:
            raise ValueError(
                f"uplift model {self.version}: heads {sorted(self.heads)} must be {list(HEADS)} and optionally harm"
            )
        n = len(self.user_features)
        dims = set()
        for name, h in self.heads.items():
            for arr in ARRAYS:
                if not np.all(np.isfinite(getattr(h, arr))):
                    raise ValueError(f"uplift model {self.version}: {name}.{arr} has non-finite values")
            if h.user_emb.ndim != 2 or h.user_emb.shape[0] != n:
                raise ValueError(
                    f"uplift model {self.version}: {name}.user_emb shape {h.user_emb.shape} != {n} features"
                )
            dims.add(h.user_emb.shape[1])
            if h.user_bias.shape != (n,):
                raise ValueError(f"uplift model {self.version}: {name}.user_bias shape {h.user_bias.shape} != ({n},)")
            if h.item.shape != (h.user_emb.shape[1] + 1,):
                raise ValueError(f"uplift model {self.version}: {name}.item shape {h.item.shape} != dim + 1")
            cal = [h.calibration.get("a"), h.calibration.get("b")]
            if any(c is None or not np.isfinite(c) for c in cal):
                raise ValueError(f"uplift model {self.version}: {name} calibration {h.calibration} is not finite")
        if len(dims) != 1:
            raise ValueError(f"uplift model {self.version}: heads differ in dimension {sorted(dims)}")

    def meta(self) -> dict[str, Any]:
        """Everything but the arrays, as JSON-ready data."""
        return {
            "version": self.version,
            "treatment": self.treatment,
            "method": self.method,
            "user_features": self.user_features,
            "numeric_edges": self.numeric_edges,
            "absent": self.absent,
            "calibration": {k: h.calibration for k, h in self.heads.items()},
            "metrics": self.metrics,
            "created_at": self.created_at,
        }

    def to_mapping(self) -> dict[str, bytes]:
        """The fields of this model as bytes (a Redis hash, or files): ``<head>.<array>`` as .npy, plus ``meta``."""
        self.validate()
        out = {f"{k}.{a}": _npy(getattr(h, a)) for k, h in self.heads.items() for a in ARRAYS}
        out["meta"] = json.dumps(self.meta()).encode()
        return out

    @classmethod
    def from_mapping(cls, mapping: dict) -> UpliftModel:
        """Rebuild (and validate) from ``to_mapping``'s fields (str or bytes keys)."""
        m = {k.decode() if isinstance(k, bytes) else k: v for k, v in mapping.items()}
        if "meta" not in m:
            raise ValueError("uplift model: no meta field")
        meta = json.loads(m["meta"])
        missing = [f"{k}.{a}" for k in meta.get("calibration", {}) for a in ARRAYS if f"{k}.{a}" not in m]
        if missing:
            raise ValueError(f"uplift model {meta.get('version')}: missing arrays {', '.join(missing)}")
        heads = {
            k: Head(**{a: np.load(io.BytesIO(m[f"{k}.{a}"]), allow_pickle=False) for a in ARRAYS}, calibration=cal)
            for k, cal in meta["calibration"].items()
        }
        model = cls(
            version=meta["version"],
            treatment=meta["treatment"],
            method=meta["method"],
            user_features=meta["user_features"],
            numeric_edges=meta["numeric_edges"],
            heads=heads,
            absent=meta["absent"],
            metrics=meta.get("metrics", {}),
            created_at=meta.get("created_at", 0.0),
        )
        model.validate()
        return model
