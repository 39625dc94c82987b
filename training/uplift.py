"""Fit an uplift model from a randomized send, through the product's training path, and pick the method by measurement.

A trial is exposures: a customer randomly sent a message (treated) or not (control: withheld), and
whether an outcome followed. One campaign's (Hillstrom's) or a tenant's own sends and withheld messages
(``from_exposures``). Both methods build the same LightFM dataset (``dataset.vocabularies`` /
``user_matrix`` / ``item_matrix``; each message as its arm saw it, ``suppressor.model.uplift.arm``: its
channel, kind and topics plus ``treatment:sent`` or ``treatment:none``) and fit it with ``fit._fit``:

- ``two_model``: one LightFM fitted on the treated exposures, another on the control ones;
- ``treatment_feature``: one LightFM on both, where the arm is an item feature whose
  embedding meets the customer's attribute embeddings (the uplift is their interaction).

Each head is Platt-calibrated on one half of a held-out share of the trial and the method with the
higher Qini coefficient on the other half is exported (``suppressor.model.uplift.UpliftModel``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from lightfm import LightFM

from suppressor.decisions.decide import released
from suppressor.domain import MONEY_EVENTS, Signature
from suppressor.model import features
from suppressor.model.uplift import Head, UpliftModel, arm, feature_weights
from suppressor.storage.store import Store
from suppressor.whatif import incrementality
from suppressor.whatif.history import _ms, _records, amount

from . import dataset as ds_mod
from .dataset import Dataset
from .fit import TrainConfig, _fit
from .metrics import auc, fit_platt, qini

METHODS = ("two_model", "treatment_feature")


@dataclass
class Trial:
    """Randomized exposures: each one's customer attributes, whether the message was sent (else withheld),
    whether an outcome followed, and the message (one for every exposure, or one each)."""

    attributes: list[dict[str, Any]]
    treated: np.ndarray  # bool per exposure
    outcome: np.ndarray  # bool per exposure: an outcome (e.g. a visit) within the window
    message: Signature | list[Signature]  # what was sent (or withheld): one for all, or one per exposure
    treatment: str  # its name in the export (message or campaign id)
    harm: np.ndarray | None = None  # bool per exposure: the send ended in an unsubscribe or complaint, if recorded

    def __post_init__(self) -> None:
        n = len(self.attributes)
        for name in ("treated", "outcome", "harm"):
            arr = getattr(self, name)
            if arr is not None and len(arr) != n:
                raise ValueError(f"trial {self.treatment}: {len(arr)} {name} values for {n} customers")
        if isinstance(self.message, list) and len(self.message) != n:
            raise ValueError(f"trial {self.treatment}: {len(self.message)} messages for {n} customers")

    @property
    def messages(self) -> list[Signature]:
        """The message of every exposure."""
        return self.message if isinstance(self.message, list) else [self.message] * len(self.attributes)


@dataclass
class UpliftConfig:
    """Settings of one uplift training run."""

    # one thread: LightFM's parallel (hogwild) updates race, and a trial is small enough to fit in seconds on one
    train: TrainConfig = field(default_factory=lambda: TrainConfig(threads=1))
    min_treated: int = 500  # fewer customers in an arm: no uplift, and the export says why
    min_control: int = 500
    min_outcomes: int = 10  # fewer outcomes in an arm (or in a share held out of it): no uplift, and why
    validation: float = 0.2  # share of the trial held out: half calibrates the heads, half chooses the method
    final_fit: bool = True  # then train the chosen method on the whole trial a little longer (calibration kept)
    methods: tuple[str, ...] = METHODS


def _dataset(trial: Trial) -> Dataset:
    """One pair per exposure: the message as its arm saw it; label = an outcome followed."""
    n = len(trial.attributes)
    index: dict[Signature, int] = {}
    items = np.empty(n, dtype=np.int32)
    for i, (sig, t) in enumerate(zip(trial.messages, trial.treated, strict=True)):
        items[i] = index.setdefault(arm(sig, bool(t)), len(index))
    return Dataset(
        customer_ids=[f"t{i}" for i in range(n)],
        attributes=trial.attributes,
        item_keys=[str(i) for i in range(len(index))],
        item_sigs=list(index),
        users=np.arange(n, dtype=np.int32),
        items=items,
        labels=np.where(trial.outcome, 1.0, -1.0).astype(np.float32),
        weights=np.ones(n, dtype=np.float32),
        ts=np.zeros(n),
    )


def _item_matrix(sigs: list[Signature], vocab: dict[str, int]) -> sp.csr_matrix:
    """Rows: the arms' messages; columns: their features, weighted as ``feature_weights`` says."""
    rows, cols, vals = [], [], []
    for i, sig in enumerate(sigs):
        names = features.item_features(sig)
        for f, w in zip(names, feature_weights(names), strict=True):
            rows.append(i)
            cols.append(vocab[f])
            vals.append(w)
    return sp.csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)), shape=(len(sigs), len(vocab)))


def _head(m: LightFM, n_attr: int) -> Head:
    """The arrays of one fitted model's scorer (uncalibrated): customers' and messages' feature embeddings."""
    return Head(
        user_emb=m.user_embeddings[:n_attr].astype(np.float32),
        user_bias=m.user_biases[:n_attr].astype(np.float32),
        item_emb=m.item_embeddings.astype(np.float32),
        item_bias=m.item_biases.astype(np.float32),
        calibration={"a": 1.0, "b": 0.0},
    )


def _fit_heads(
    method: str,
    ds: Dataset,
    treated: np.ndarray,
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
    return {"treated": _head(fitted["treated"], n_attr), "control": _head(fitted["control"], n_attr)}, fitted


def _no_outcomes(outcome: np.ndarray, treated: np.ndarray, shares: dict[str, np.ndarray], least: int) -> str | None:
    """Why the outcomes cannot measure an uplift (too few of them, or too few without one, in an arm or in a
    share held out of it), or None."""
    for name, mask in {"trial": np.ones(len(outcome), bool), **shares}.items():
        for side, in_arm in (("treated", treated), ("control", ~treated)):
            y = outcome[mask & in_arm]
            if min(int(y.sum()), int((~y).sum())) < (least if name == "trial" else 1):
                where = f"the {side} exposures" + ("" if name == "trial" else f" held out for {name}")
                return (
                    f"too few outcomes to measure an uplift: {int(y.sum())} of {len(y)} {where} were followed "
                    f"by one within the window (at least {least} with and without one are needed)"
                )
    return None


def _calibrate(model: UpliftModel, rows: np.ndarray, msgs: list[Signature], treated: np.ndarray, y: dict) -> None:
    """Platt-scale each head of ``model`` on the pairs of its own arm (the harm head: the sent ones)."""
    raws = model.raw_pairs(rows, msgs)
    for name, h in model.heads.items():
        mine = ~treated if name == "control" else treated
        a, b = fit_platt(raws[name][mine], y[name][mine])
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
        f"{n} {arm} exposures (min_{arm} is {need})"
        for arm, n, need in (("treated", n_t, cfg.min_treated), ("control", n_c, cfg.min_control))
        if n < need
    ]
    why = "too few exposures to measure an uplift: " + "; ".join(short) if short else None
    part = np.random.default_rng(cfg.train.seed).random(len(treated))
    fit_mask = part >= cfg.validation
    cal, held = part < cfg.validation / 2, (part >= cfg.validation / 2) & ~fit_mask
    if why is None:
        why = _no_outcomes(outcome, treated, {"calibration": cal, "choice": held}, cfg.min_outcomes)
    if why is not None:
        return UpliftModel(
            version=version,
            treatment=trial.treatment,
            method="none",
            user_features=[],
            numeric_edges={},
            heads={},
            metrics=counts,
            absent=why,
        ), {}
    ds = _dataset(trial)
    msgs = trial.messages
    item_vocab, user_vocab, edges = ds_mod.vocabularies(ds, cfg.train.min_user_feature_count)
    uf = ds_mod.user_matrix(ds.attributes, user_vocab, edges, np.zeros(len(ds.attributes), bool))
    itf = _item_matrix(ds.item_sigs, item_vocab)
    rows = uf[:, : len(user_vocab)].tocsr()  # sparse, as the engagement fit holds them
    cal_msgs, held_msgs = (
        [m for m, c in zip(msgs, cal, strict=True) if c],
        [m for m, h in zip(msgs, held, strict=True) if h],
    )

    compared = sorted({f for m, t in zip(msgs, treated, strict=True) if not t for f in features.item_features(m)})

    def model_of(method: str, heads: dict[str, Head], metrics: dict) -> UpliftModel:
        return UpliftModel(
            version=version,
            treatment=trial.treatment,
            method=method,
            user_features=list(user_vocab),
            item_features=list(item_vocab),
            measured=compared,
            numeric_edges=edges,
            heads=heads,
            metrics=metrics,
        )

    harm = None if trial.harm is None or not np.asarray(trial.harm)[treated].any() else np.asarray(trial.harm, bool)
    harm_head = None
    if harm is not None:  # the chance a send ends in an unsubscribe or complaint: the sent arm only
        harm_ds = Dataset(**{**ds.__dict__, "labels": np.where(harm, 1.0, -1.0).astype(np.float32)})
        m_h = _fit(harm_ds, fit_mask & treated, uf, itf, cfg.train, progress, "harm head", cfg.train.epochs)
        harm_head = _head(m_h, len(user_vocab))
        probe = model_of("harm", {"treated": harm_head, "control": harm_head}, {})
        raws = probe.raw_pairs(rows[cal], cal_msgs)
        a, b = fit_platt(raws["treated"][treated[cal]], harm[cal][treated[cal]])
        harm_head.calibration = {"a": a, "b": b}
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
            method, ds, treated, fit_mask, uf, itf, len(user_vocab), cfg.train, progress, cfg.train.epochs
        )
        model = model_of(method, heads, {})
        _calibrate(model, rows[cal], cal_msgs, treated[cal], {"treated": outcome[cal], "control": outcome[cal]})
        if harm_head is not None:
            heads["harm"] = harm_head
        r, t, y = rows[held], treated[held], outcome[held]
        p = model.probability_pairs(r, held_msgs)
        measured = qini(y, p["treated"] - p["control"], t)
        progress(f"{method}: Qini {measured:.4f} on {int(held.sum())} held-out exposures")
        raw_t = model.raw_pairs(r, held_msgs)["treated"]
        model.metrics = {**base, "qini": measured, "auc_treated": auc(raw_t[t], y[t])}
        model.validate()
        out[method] = model
    best = max(out.values(), key=lambda m: m.metrics["qini"])
    heads = best.heads
    if cfg.final_fit:
        heads, _ = _fit_heads(
            best.method,
            ds,
            treated,
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
    chosen = model_of(
        best.method,
        heads,
        {
            **best.metrics,
            "final_fit": cfg.final_fit,
            "chosen_by": "Qini coefficient on held-out exposures of the trial",
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


OWN = "(own sends)"  # the treatment of a tenant's own model: every message it delivered or withheld


def own_trial(
    store: Store, tenant: str, ids: list[str], attrs: list[dict], events: list[list[dict]], window_s: int
) -> tuple[Trial | None, dict[str, float]]:
    """The tenant's own randomized exposures as a trial (messages delivered, or withheld by the control or a
    past campaign's ``withheld`` events, each with the outcomes and harm within ``window_s`` after it), and what
    an outcome and a customer are worth (``revenue_per_outcome``, ``revenue_per_customer``). None without
    any withheld exposure: nothing to compare with."""
    by_id = dict(zip(ids, attrs, strict=True))
    timed: dict[str, list[dict]] = {}
    revenue = 0.0
    for cid, evs in zip(ids, events, strict=True):
        for e in evs:
            e.setdefault("_ms", _ms(e["ts"]))
            if e["type"] in MONEY_EVENTS:
                revenue += amount(e)
        timed[cid] = evs
    found = incrementality.exposures(_records(store, tenant, None, None), timed, released(store, tenant, ids))
    rows: list[tuple[dict, incrementality.Exposure]] = []
    for cid, xs in found.items():
        incrementality.credit(xs, timed.get(cid, []), window_s * 1000)
        rows += [(by_id[cid], x) for x in xs if x.message is not None and cid in by_id]
    worth = {
        "revenue_per_outcome": round(
            sum(x.revenue for _, x in rows if x.outcome) / max(1, sum(x.outcome for _, x in rows)), 4
        ),
        "revenue_per_customer": round(revenue / max(1, len(ids)), 4),
    }
    if not any(x.withheld for _, x in rows):
        return None, worth
    return Trial(
        attributes=[a for a, _ in rows],
        treated=np.array([not x.withheld for _, x in rows]),
        outcome=np.array([x.outcome for _, x in rows]),
        message=[x.message for _, x in rows if x.message is not None],
        treatment=OWN,
        harm=np.array([x.harm for _, x in rows]),
    ), worth


def fit_own(
    store: Store,
    tenant: str,
    ids: list[str],
    attrs: list[dict],
    events: list[list[dict]],
    window_s: int,
    version: str,
    cfg: UpliftConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> UpliftModel:
    """The uplift of the tenant's own messages (``own_trial``), or an absent model saying why there is none."""
    trial, worth = own_trial(store, tenant, ids, attrs, events, window_s)
    if trial is None:
        return UpliftModel(
            version=version,
            treatment=OWN,
            method="none",
            user_features=[],
            numeric_edges={},
            heads={},
            metrics=worth,
            absent="no message was withheld yet: set incrementality.control_share (or import withheld events)",
        )
    model = fit_uplift(trial, cfg, version, progress)
    model.metrics.update(worth)
    return model
