"""Fit an uplift model from a randomized send, through the product's training path, and pick the method by measurement.

A trial is customers randomly sent a message (treated) or not (control), and whether each engaged.
Both methods build the same LightFM dataset (``dataset.vocabularies`` / ``user_matrix`` /
``item_matrix``; the message and a control item as the two items) and fit it with ``fit._fit``:

- ``two_model``: one LightFM fitted on the treated customers, another on the control customers;
- ``treatment_feature``: one LightFM on both, where the treatment is an item feature whose
  embedding meets the customer's attribute embeddings (the uplift is their interaction).

Each head is Platt-calibrated on one half of a held-out share of the trial and the method with the
higher Qini coefficient on the other half is exported (``suppressor.model.uplift.UpliftModel``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from lightfm import LightFM

from suppressor.domain import Signature
from suppressor.model.uplift import Head, UpliftModel

from . import dataset as ds_mod
from .dataset import Dataset
from .fit import TrainConfig, _fit
from .metrics import auc, fit_platt, qini

METHODS = ("two_model", "treatment_feature")
CONTROL = Signature.of(None, None, ["treatment:none"])  # the control arm's item: "nothing was sent"


@dataclass
class Trial:
    """A randomized send: each customer's attributes, whether they were sent the message, whether they engaged."""

    attributes: list[dict[str, Any]]
    treated: np.ndarray  # bool per customer
    outcome: np.ndarray  # bool per customer: engaged (e.g. visited) within the window
    message: Signature  # what the treated arm was sent
    treatment: str  # its name in the export (message or campaign id)
    harm: np.ndarray | None = None  # bool per customer: the send ended in an unsubscribe or complaint, if recorded

    def __post_init__(self) -> None:
        n = len(self.attributes)
        for name in ("treated", "outcome", "harm"):
            arr = getattr(self, name)
            if arr is not None and len(arr) != n:
                raise ValueError(f"trial {self.treatment}: {len(arr)} {name} values for {n} customers")


@dataclass
class UpliftConfig:
    """Settings of one uplift training run."""

    # one thread: LightFM's parallel (hogwild) updates race, and a trial is small enough to fit in seconds on one
    train: TrainConfig = field(default_factory=lambda: TrainConfig(threads=1))
    min_treated: int = 500  # fewer customers in an arm: no uplift, and the export says why
    min_control: int = 500
    validation: float = 0.2  # share of the trial held out: half calibrates the heads, half chooses the method
    final_fit: bool = True  # then train the chosen method on the whole trial a little longer (calibration kept)
    methods: tuple[str, ...] = METHODS


def _dataset(trial: Trial) -> Dataset:
    """One pair per customer: the message for the treated, the control item for the others; label = engaged."""
    n = len(trial.attributes)
    return Dataset(
        customer_ids=[f"t{i}" for i in range(n)],
        attributes=trial.attributes,
        item_keys=[trial.treatment, "control"],
        item_sigs=[trial.message, CONTROL],
        users=np.arange(n, dtype=np.int32),
        items=np.where(trial.treated, 0, 1).astype(np.int32),
        labels=np.where(trial.outcome, 1.0, -1.0).astype(np.float32),
        weights=np.ones(n, dtype=np.float32),
        ts=np.zeros(n),
    )


def _head(m: LightFM, itf, item: int, n_attr: int) -> Head:
    """The arrays of one item's scorer (uncalibrated)."""
    biases, embs = m.get_item_representations(itf)
    return Head(
        user_emb=m.user_embeddings[:n_attr].astype(np.float32),
        user_bias=m.user_biases[:n_attr].astype(np.float32),
        item=np.append(embs[item], biases[item]).astype(np.float32),
        calibration={"a": 1.0, "b": 0.0},
    )


def _fit_heads(
    method: str,
    ds: Dataset,
    fit_mask: np.ndarray,
    uf,
    itf,
    n_attr: int,
    cfg: TrainConfig,
    progress: Callable[[str], None],
    epochs: int,
    warm: dict[str, LightFM] | None = None,
) -> tuple[dict[str, Head], dict[str, LightFM]]:
    """Uncalibrated heads of one method fitted on the pairs in ``fit_mask`` (given ``warm``, its models fitted on),
    and the LightFM models behind them."""
    warm = warm or {}
    treated = ds.items == 0
    if method == "two_model":
        fitted = {
            "treated": _fit(
                ds, fit_mask & treated, uf, itf, cfg, progress, "uplift treated head", epochs, warm.get("treated")
            ),
            "control": _fit(
                ds, fit_mask & ~treated, uf, itf, cfg, progress, "uplift control head", epochs, warm.get("control")
            ),
        }
    elif method == "treatment_feature":
        joint = _fit(ds, fit_mask, uf, itf, cfg, progress, "uplift joint model", epochs, warm.get("treated"))
        fitted = {"treated": joint, "control": joint}
    else:
        raise ValueError(f"unknown uplift method {method!r}; use one of {', '.join(METHODS)}")
    return {
        "treated": _head(fitted["treated"], itf, 0, n_attr),
        "control": _head(fitted["control"], itf, 1, n_attr),
    }, fitted


def _calibrate(heads: dict[str, Head], rows: np.ndarray, treated: np.ndarray, y: dict[str, np.ndarray]) -> None:
    """Platt-scale each head on the customers of its own arm."""
    for name, h in heads.items():
        arm = ~treated if name == "control" else treated
        a, b = fit_platt(h.raw(rows[arm]), y[name][arm])
        h.calibration = {"a": a, "b": b}


def fit_all(
    trial: Trial, cfg: UpliftConfig | None = None, version: str = "u1", progress: Callable[[str], None] | None = None
) -> tuple[UpliftModel, dict[str, UpliftModel]]:
    """The chosen model, and one calibrated model per method in ``cfg.methods`` as measured (each with its Qini
    on held-out customers in its metrics). The chosen one then keeps training on the whole trial for a quarter
    of the epochs (as ``fit.train_tenant`` does) with the calibration it was measured with. With too few
    customers in an arm: an absent model, saying why, and no candidates."""
    cfg = cfg or UpliftConfig()
    progress = progress or (lambda m: None)
    treated, outcome = np.asarray(trial.treated, bool), np.asarray(trial.outcome, bool)
    n_t, n_c = int(treated.sum()), int((~treated).sum())
    counts = {
        "n_treated": n_t,
        "n_control": n_c,
        "treated_rate": float(outcome[treated].mean()) if n_t else None,
        "control_rate": float(outcome[~treated].mean()) if n_c else None,
    }
    short = [
        f"{n} {arm} customers (min_{arm} is {need})"
        for arm, n, need in (("treated", n_t, cfg.min_treated), ("control", n_c, cfg.min_control))
        if n < need
    ]
    if short:
        return UpliftModel(
            version=version,
            treatment=trial.treatment,
            method="none",
            user_features=[],
            numeric_edges={},
            heads={},
            metrics=counts,
            absent="too few customers to measure an uplift: " + "; ".join(short),
        ), {}
    ds = _dataset(trial)
    item_vocab, user_vocab, edges = ds_mod.vocabularies(ds, cfg.train.min_user_feature_count)
    uf = ds_mod.user_matrix(ds.attributes, user_vocab, edges, np.zeros(len(ds.attributes), bool))
    itf = ds_mod.item_matrix(ds.item_sigs, item_vocab)
    rows = uf[:, : len(user_vocab)].toarray()
    part = np.random.default_rng(cfg.train.seed).random(len(treated))
    fit_mask = part >= cfg.validation
    cal, held = part < cfg.validation / 2, (part >= cfg.validation / 2) & ~fit_mask
    harm = None if trial.harm is None or not np.asarray(trial.harm)[treated].any() else np.asarray(trial.harm, bool)
    harm_head = None
    if harm is not None:  # the chance a send ends in an unsubscribe or complaint: the sent arm only
        harm_ds = Dataset(**{**ds.__dict__, "labels": np.where(harm, 1.0, -1.0).astype(np.float32)})
        m_h = _fit(harm_ds, fit_mask & treated, uf, itf, cfg.train, progress, "harm head", cfg.train.epochs)
        harm_head = _head(m_h, itf, 0, len(user_vocab))
        _calibrate({"harm": harm_head}, rows[cal], treated[cal], {"harm": harm[cal]})
    base = {
        **counts,
        "n_fit": int(fit_mask.sum()),
        "n_calibration": int(cal.sum()),
        "n_choice": int(held.sum()),
        "harm": "fitted" if harm is not None else "absent: the trial records no unsubscribes or complaints",
    }
    out, fitted = {}, {}
    for method in cfg.methods:
        heads, fitted[method] = _fit_heads(
            method, ds, fit_mask, uf, itf, len(user_vocab), cfg.train, progress, cfg.train.epochs
        )
        _calibrate(heads, rows[cal], treated[cal], {"treated": outcome[cal], "control": outcome[cal]})
        if harm_head is not None:
            heads["harm"] = harm_head
        r, t, y = rows[held], treated[held], outcome[held]
        measured = qini(y, heads["treated"].probability(r) - heads["control"].probability(r), t)
        progress(f"{method}: Qini {measured:.4f} on {int(held.sum())} held-out customers")
        model = UpliftModel(
            version=version,
            treatment=trial.treatment,
            method=method,
            user_features=list(user_vocab),
            numeric_edges=edges,
            heads=heads,
            metrics={**base, "qini": measured, "auc_treated": auc(heads["treated"].raw(r[t]), y[t])},
        )
        model.validate()
        out[method] = model
    best = max(out.values(), key=lambda m: m.metrics["qini"])
    heads = best.heads
    if cfg.final_fit:
        heads, _ = _fit_heads(
            best.method,
            ds,
            np.ones(len(treated), bool),
            uf,
            itf,
            len(user_vocab),
            cfg.train,
            progress,
            max(3, cfg.train.epochs // 4),
            warm=fitted[best.method],
        )
        for name, h in heads.items():
            h.calibration = dict(best.heads[name].calibration)
        if harm_head is not None:
            heads["harm"] = harm_head
    chosen = UpliftModel(
        version=version,
        treatment=trial.treatment,
        method=best.method,
        user_features=best.user_features,
        numeric_edges=edges,
        heads=heads,
        metrics={
            **best.metrics,
            "final_fit": cfg.final_fit,
            "chosen_by": "Qini coefficient on held-out customers of the trial",
            "methods": {k: {f: m.metrics.get(f) for f in ("qini", "auc_treated")} for k, m in out.items()},
        },
    )
    chosen.validate()
    return chosen, out


def fit_uplift(
    trial: Trial, cfg: UpliftConfig | None = None, version: str = "u1", progress: Callable[[str], None] | None = None
) -> UpliftModel:
    """Fit every method and export the best by measurement (``fit_all``)."""
    return fit_all(trial, cfg, version, progress)[0]
