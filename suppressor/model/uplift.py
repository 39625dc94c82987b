"""An uplift model as plain arrays: what sending a message changes in a customer's chance of an outcome.

Two heads, ``treated`` and ``control`` (and optionally ``harm``: the chance a send ends in an
unsubscribe or complaint), each a LightFM-style linear scorer of a customer's attribute features
(the same vocabulary and bucketing as ``ExportedModel``) against a message's features (its channel,
kind and topics, plus the arm: ``treatment:sent`` or ``treatment:none``), with its own Platt
calibration. The uplift of a customer and message is ``p_treated - p_control``; see
``UpliftModel.score``. Serving scores it with numpy, or in the decide script from the vectors
``packed_user`` and ``packed_item`` give (no LightFM).
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from suppressor.domain import Signature
from suppressor.model import features

HEADS = ("treated", "control")  # required; "harm" (P(unsubscribe or complaint | sent)) is optional
ORDER = ("treated", "control", "harm")  # the heads' order in packed vectors
ARRAYS = ("user_emb", "user_bias", "item_emb", "item_bias")
SENT, NONE = "treatment:sent", "treatment:none"  # the arm, as a message topic (so a feature like the others)
# the arm's weight in a message's vector (its own features share the rest): with the plain mean of a
# few features the arm would weigh a quarter, and the interaction a joint model learns would fade
ARM_SHARE = 0.5


def arm(sig: Signature, treated: bool) -> Signature:
    """The message as one arm saw it: its features plus the arm's."""
    return Signature.of(sig.channel, sig.kind, [*sig.topics, SENT if treated else NONE])


def feature_weights(names: list[str]) -> list[float]:
    """Each of a message's known features' weight in its vector: the arm's ``ARM_SHARE``, the others the rest
    equally (weights sum to 1; training's item matrix and serving use the same)."""
    arms = [n.startswith("topic:treatment:") for n in names]
    n_own, n_arm = len(names) - sum(arms), sum(arms)
    if not n_own or not n_arm:
        return [1.0 / len(names)] * len(names) if names else []
    return [ARM_SHARE / n_arm if a else (1 - ARM_SHARE) / n_own for a in arms]


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


@dataclass
class Head:
    """One arm's scorer: per-feature embeddings and biases of customers and of messages, calibration."""

    user_emb: np.ndarray  # (n_user_features, dim)
    user_bias: np.ndarray  # (n_user_features,)
    item_emb: np.ndarray  # (n_item_features, dim)
    item_bias: np.ndarray  # (n_item_features,)
    calibration: dict[str, float]  # Platt a, b

    def item(self, idx: list[int], weights: list[float]) -> np.ndarray:
        """A message's embedding then bias: its known features' (indices) weighted as in training."""
        dim = self.user_emb.shape[1]
        out = np.zeros(dim + 1, dtype=np.float32)
        if idx:
            w = np.asarray(weights, dtype=np.float32)
            out[:dim] = w @ self.item_emb[idx]
            out[dim] = w @ self.item_bias[idx]
        return out

    def users(self, rows: np.ndarray) -> np.ndarray:
        """Customers' embeddings then bias (n, dim + 1) from their feature-weight rows (n, n_user_features)."""
        return np.hstack([rows @ self.user_emb, (rows @ self.user_bias)[:, None]]).astype(np.float32)

    def raw(self, rows: np.ndarray, item: np.ndarray) -> np.ndarray:
        """Uncalibrated score for customers given as feature-weight rows against one message: u.i + b_u + b_i."""
        dim = self.user_emb.shape[1]
        return rows @ (self.user_emb @ item[:dim]) + rows @ self.user_bias + item[dim]

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Platt: sigmoid(a * raw + b)."""
        return 1.0 / (1.0 + np.exp(-(self.calibration["a"] * raw + self.calibration["b"])))

    def probability(self, rows: np.ndarray, item: np.ndarray) -> np.ndarray:
        """Calibrated chance for customers given as feature-weight rows against one message."""
        return self.calibrate(self.raw(rows, item))


@dataclass
class UpliftModel:
    """The uplift of one treatment (a message or campaign) over its control group, or why there is none."""

    version: str
    treatment: str  # what was sent to the treated arm, e.g. a message or campaign id ("(own sends)" for a tenant's)
    method: str  # how it was trained (training/uplift.py METHODS)
    user_features: list[str]
    numeric_edges: dict[str, list[float]]
    heads: dict[str, Head]  # "treated", "control" (and "harm" where the data records it); empty when absent
    item_features: list[str] = field(default_factory=list)
    # the message features some withheld exposure had: a message with none of them was never compared with
    # its own absence, and has no uplift (not one borrowed from other messages' controls)
    measured: list[str] = field(default_factory=list)
    absent: str | None = None  # why there is no uplift (e.g. too few control customers); heads empty then
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.user_index = {name: i for i, name in enumerate(self.user_features)}
        self.item_index = {name: i for i, name in enumerate(self.item_features)}
        self._measured = frozenset(self.measured)
        self._packed: dict[Signature, bytes] = {}

    @property
    def dim(self) -> int:
        """Embedding dimension of the heads (0 when absent)."""
        return int(self.heads["treated"].user_emb.shape[1]) if self.heads else 0

    @property
    def head_names(self) -> list[str]:
        """The heads in packed order: treated, control, then harm where fitted."""
        return [h for h in ORDER if h in self.heads]

    def _known(self, sig: Signature) -> list[str]:
        return [f for f in features.item_features(sig) if f in self.item_index]

    def knows(self, sig: Signature) -> bool:
        """Whether some withheld exposure was a message like this one: of its kind or on one of its topics (the
        channel says where a message went, not what it was; the arm's features do not count)."""
        known = self._known(sig)
        what = [f for f in known if not f.startswith("channel:")]
        return bool(known) and (not self.measured or any(f in self._measured for f in what))

    def items(self, sig: Signature) -> dict[str, np.ndarray]:
        """Each head's vector for the message: the treated and harm heads see it sent, the control head withheld."""
        out = {}
        for h in self.head_names:
            known = self._known(arm(sig, h != "control"))
            out[h] = self.heads[h].item([self.item_index[f] for f in known], feature_weights(known))
        return out

    def packed_item(self, sig: Signature) -> bytes:
        """The heads' vectors for a message, concatenated in ``head_names`` order as little-endian float32
        ('' when the model knows none of the message's features)."""
        hit = self._packed.get(sig)
        if hit is None:
            hit = np.concatenate(list(self.items(sig).values())).astype("<f4").tobytes() if self.knows(sig) else b""
            if len(self._packed) > 50_000:
                self._packed.clear()
            self._packed[sig] = hit
        return hit

    def packed_users(self, customers: list[dict[str, Any]]) -> np.ndarray:
        """Each customer's heads' vectors concatenated in ``head_names`` order (n, heads * (dim + 1)), float32."""
        out = np.empty((len(customers), len(self.head_names) * (self.dim + 1)), dtype="<f4")
        for start in range(0, len(customers), 1000):  # dense rows a thousand at a time: memory stays bounded
            rows = self.rows(customers[start : start + 1000])
            out[start : start + len(rows)] = np.hstack([self.heads[h].users(rows) for h in self.head_names])
        return out

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

    def raw_pairs(self, rows: np.ndarray, messages: list[Signature]) -> dict[str, np.ndarray]:
        """Each head's raw score of each (customer row, message) pair, rows and messages aligned."""
        out = {h: np.empty(len(messages)) for h in self.head_names}
        groups: dict[Signature, list[int]] = {}
        for i, m in enumerate(messages):
            groups.setdefault(m, []).append(i)
        for m, idx in groups.items():
            items = self.items(m)
            for h in self.head_names:
                out[h][idx] = self.heads[h].raw(rows[idx], items[h])
        return out

    def probability_pairs(self, rows: np.ndarray, messages: list[Signature]) -> dict[str, np.ndarray]:
        """``raw_pairs`` calibrated: each head's chance for each pair."""
        return {h: self.heads[h].calibrate(r) for h, r in self.raw_pairs(rows, messages).items()}

    def harm(self, customers: list[dict[str, Any]], message: Signature) -> np.ndarray | None:
        """P(sending the message ends in an unsubscribe or complaint) per customer; None where the data recorded none."""
        head = self.heads.get("harm")
        return None if head is None else head.probability(self.rows(customers), self.items(message)["harm"])

    def sent(self, customers: list[dict[str, Any]], message: Signature) -> np.ndarray:
        """Calibrated P(outcome | sent the message) per customer (what a response model ranks by)."""
        return self.heads["treated"].probability(self.rows(customers), self.items(message)["treated"])

    def score(self, customers: list[dict[str, Any]], message: Signature) -> np.ndarray:
        """Uplift per customer: calibrated P(outcome | sent) - P(outcome | withheld), in [-1, 1]."""
        if self.absent:
            raise ValueError(f"uplift model {self.version} has no uplift: {self.absent}")
        rows, items = self.rows(customers), self.items(message)
        return self.heads["treated"].probability(rows, items["treated"]) - self.heads["control"].probability(
            rows, items["control"]
        )

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
        n, n_items = len(self.user_features), len(self.item_features)
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
            if h.item_emb.shape != (n_items, h.user_emb.shape[1]) or h.item_bias.shape != (n_items,):
                raise ValueError(
                    f"uplift model {self.version}: {name}.item_emb shape {h.item_emb.shape} != "
                    f"({n_items} item features, dim)"
                )
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
            "item_features": self.item_features,
            "measured": self.measured,
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
            item_features=meta.get("item_features", []),
            measured=meta.get("measured", []),
            numeric_edges=meta["numeric_edges"],
            heads=heads,
            absent=meta["absent"],
            metrics=meta.get("metrics", {}),
            created_at=meta.get("created_at", 0.0),
        )
        model.validate()
        return model
