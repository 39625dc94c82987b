"""Fit the LightFM hybrid, evaluate it on the latest slice of time, calibrate, export."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.sparse as sp
from lightfm import LightFM

from suppressor.model import exported as models
from suppressor.model.exported import ExportedModel, identity_field, pack, uplift_field
from suppressor.model.labels import LabelRules
from suppressor.policy import document as policies
from suppressor.storage import keys
from suppressor.storage.store import Store, run

from . import dataset as ds_mod
from . import send_hours as send_hours_mod
from .dataset import Dataset
from .metrics import auc, calibration_error, fit_platt, log_loss, precision_at_k

log = logging.getLogger(__name__)


class TrainingError(RuntimeError):
    """Training could not produce a model (e.g. not enough behavior yet)."""


@dataclass
class TrainConfig:
    """Hyperparameters and gates of one training run."""

    dim: int = 32
    epochs: int = 30
    learning_rate: float = 0.1
    alpha: float = 1e-6  # L2 on user and item features
    holdout: float = 0.2  # latest share of pairs, by time, for evaluation and calibration
    seed: int = 7
    threads: int = 2
    min_pairs: int = 10
    min_user_feature_count: int = 2
    min_history_pairs: int = 2  # customers with fewer labeled pairs are scored from attributes only
    activate: bool = True
    min_auc: float = 0.55  # quality floor on the holdout slice
    max_auc_drop: float = 0.02  # ...and no worse than the active model by more than this
    large_data_pairs: int = 200_000  # above this many pairs, fewer epochs (see epochs_for)
    min_epochs: int = 8
    uplift_dim: int = 8  # the uplift heads see customers' attributes only: a small embedding is enough
    uplift_epochs: int = 20
    rules: LabelRules = field(default_factory=LabelRules)


def epochs_for(cfg: TrainConfig, n_pairs: int) -> int:
    """Epochs for this much data: big data converges in fewer passes (keeps 1M pairs near a minute)."""
    if n_pairs <= cfg.large_data_pairs:
        return cfg.epochs
    return max(cfg.min_epochs, int(cfg.epochs * cfg.large_data_pairs / n_pairs))


def _fit(
    ds: Dataset,
    mask: np.ndarray,
    uf: sp.csr_matrix,
    itf: sp.csr_matrix,
    cfg: TrainConfig,
    progress: Callable[[str], None],
    label: str,
    epochs: int,
    model: LightFM | None = None,
) -> LightFM:
    """Fit (or, given ``model``, keep fitting) on the pairs in ``mask``."""
    shape = (len(ds.customer_ids), len(ds.item_keys))
    inter = sp.coo_matrix((ds.labels[mask], (ds.users[mask], ds.items[mask])), shape=shape)
    weight = sp.coo_matrix((ds.weights[mask], (ds.users[mask], ds.items[mask])), shape=shape)
    m = model or LightFM(
        no_components=cfg.dim,
        loss="logistic",
        learning_rate=cfg.learning_rate,
        item_alpha=cfg.alpha,
        user_alpha=cfg.alpha,
        random_state=cfg.seed,
    )
    step = max(1, epochs // 5)
    for epoch in range(epochs):
        m.fit_partial(
            inter, user_features=uf, item_features=itf, sample_weight=weight, epochs=1, num_threads=cfg.threads
        )
        if (epoch + 1) % step == 0 or epoch + 1 == epochs:
            progress(f"{label}: epoch {epoch + 1}/{epochs}")
    return m


def _predict(
    m: LightFM, ds: Dataset, mask: np.ndarray, uf: sp.csr_matrix, itf: sp.csr_matrix, threads: int
) -> np.ndarray:
    return m.predict(ds.users[mask], ds.items[mask], user_features=uf, item_features=itf, num_threads=threads)


def evaluate_holdout(ds: Dataset, uf, itf, cfg: TrainConfig, progress) -> tuple[dict, dict, LightFM, bool]:
    """Fit on all but the latest slice; calibrate on half of it, measure on the other half.

    Returns calibration, metrics, the fitted model, and whether it has seen every pair."""
    epochs = epochs_for(cfg, ds.n_pairs)
    cutoff = np.quantile(ds.ts, 1.0 - cfg.holdout)
    test = ds.ts >= cutoff
    train = ~test
    y = (ds.labels > 0).astype(np.float64)
    usable = train.sum() >= cfg.min_pairs and test.sum() >= 20 and 0 < y[test].mean() < 1
    if not usable:
        m = _fit(ds, np.ones(ds.n_pairs, bool), uf, itf, cfg, progress, "fit (no holdout)", epochs)
        raw = _predict(m, ds, np.ones(ds.n_pairs, bool), uf, itf, cfg.threads)
        a, b = fit_platt(raw, y)
        return (
            {"a": a, "b": b, "source": "in-sample"},
            {
                "holdout": False,
                "note": "too little behavior for a time holdout; calibrated in-sample",
                "n_pairs": int(ds.n_pairs),
                "positive_rate": float(y.mean()),
            },
            m,
            True,
        )
    m = _fit(ds, train, uf, itf, cfg, progress, "holdout fit", epochs)
    raw = _predict(m, ds, test, uf, itf, cfg.threads)
    yt = y[test]
    rng = np.random.default_rng(cfg.seed)
    half = rng.random(len(raw)) < 0.5
    a, b = fit_platt(raw[half], yt[half])
    ev = ~half
    p = 1.0 / (1.0 + np.exp(-(a * raw[ev] + b)))
    metrics = {
        "holdout": True,
        "holdout_from": float(cutoff),
        "n_train_pairs": int(train.sum()),
        "n_test_pairs": int(test.sum()),
        "auc": auc(raw[ev], yt[ev]),
        "log_loss": log_loss(p, yt[ev]),
        "calibration_error": calibration_error(p, yt[ev]),
        "precision_at_5": precision_at_k(raw[ev], yt[ev], ds.users[test][ev], 5),
        "positive_rate": float(yt.mean()),
    }
    metrics["epochs"] = epochs
    return {"a": a, "b": b, "source": "holdout"}, metrics, m, False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a while (refcounting still frees nearly everything).

    Reading a tenant builds millions of event dicts that all stay alive; each full collection walks all
    of them again, which made the collector half of the read phase (bench/train_speed.py)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def train_tenant(
    store: Store, tenant: str, cfg: TrainConfig | None = None, progress: Callable[[str], None] | None = None
) -> ExportedModel:
    """Read the tenant's behavior, fit, evaluate, export as a new version and activate it."""
    with collector_paused():
        return _train(store, tenant, cfg, progress)


def _train(store: Store, tenant: str, cfg: TrainConfig | None, progress: Callable[[str], None] | None) -> ExportedModel:
    cfg = cfg or TrainConfig()
    progress = progress or (lambda msg: log.info("%s: %s", tenant, msg))
    t0 = time.time()
    ids, attrs, events, zones = ds_mod.read(store, tenant, progress)
    ds = ds_mod.build(ids, attrs, events, cfg.rules)
    y = ds.labels > 0
    if ds.n_pairs < cfg.min_pairs or y.all() or not y.any():
        raise TrainingError(
            f"not enough behavior to train: {ds.n_pairs} labeled customer-message pairs "
            f"({int(y.sum())} engaged); need {cfg.min_pairs}+ with both engagement and ignores"
        )
    item_vocab, user_vocab, edges = ds_mod.vocabularies(ds, cfg.min_user_feature_count)
    identity = ds_mod.identity_mask(ds, cfg.min_history_pairs)
    uf = ds_mod.user_matrix(ds.attributes, user_vocab, edges, identity)
    itf = ds_mod.item_matrix(ds.item_sigs, item_vocab)
    progress(
        f"{len(ids)} customers, {len(ds.item_keys)} messages, {ds.n_pairs} pairs, "
        f"{len(item_vocab)} message features, {len(user_vocab)} customer features"
    )

    calibration, metrics, final, complete = evaluate_holdout(ds, uf, itf, cfg, progress)
    if not complete:
        # keep training the evaluated model on everything, latest slice included (a warm
        # start costs a quarter of a refit and stays close to what was calibrated)
        final = _fit(
            ds,
            np.ones(ds.n_pairs, bool),
            uf,
            itf,
            cfg,
            progress,
            "final fit",
            max(3, epochs_for(cfg, ds.n_pairs) // 4),
            model=final,
        )
    metrics.update(
        {
            "n_customers": len(ids),
            "n_with_identity": int(identity.sum()),
            "data_until": float(ds.ts.max()),
            "n_messages": len(ds.item_keys),
            "n_pairs": int(ds.n_pairs),
            "n_events": ds.n_events,
            "train_seconds": round(time.time() - t0, 2),
            "config": {k: v for k, v in asdict(cfg).items() if k != "rules"},
        }
    )

    send_hours, pooled = send_hours_mod.learn(events, zones)
    n_attr = len(user_vocab)
    version = models.next_version(store, tenant)
    from . import uplift as uplift_mod  # here: the uplift's fitting is built on this module's

    lift = uplift_mod.fit_own(
        store,
        tenant,
        ids,
        attrs,
        events,
        policies.get(store, tenant).incrementality.window,
        version,
        uplift_mod.UpliftConfig(
            train=TrainConfig(dim=cfg.uplift_dim, epochs=cfg.uplift_epochs, seed=cfg.seed, threads=1)
        ),
        progress,
    )
    progress(f"uplift: {lift.absent or lift.method + ', Qini ' + format(lift.metrics['qini'], '.4f')}")
    metrics["uplift"] = {
        "method": lift.method,
        "absent": lift.absent,
        **{k: lift.metrics.get(k) for k in ("qini", "n_treated", "n_control", "treated_rate", "control_rate", "harm")},
        **{k: lift.metrics.get(k) for k in ("revenue_per_outcome", "revenue_per_customer")},
    }
    exported = ExportedModel(
        version=version,
        item_features=list(item_vocab),
        item_emb=final.item_embeddings.astype(np.float32),
        item_bias=final.item_biases.astype(np.float32),
        user_features=list(user_vocab),
        user_emb=final.user_embeddings[:n_attr].astype(np.float32),
        user_bias=final.user_biases[:n_attr].astype(np.float32),
        numeric_edges=edges,
        calibration=calibration,
        metrics=metrics,
        send_hours=send_hours,
        uplift=lift,
    )
    exported.validate()  # before anything is written: a broken model never lands
    rejection = quality_gate(store, tenant, metrics, cfg)
    if rejection:
        exported.metrics["rejected"] = rejection
        models.save(store, tenant, exported, status="rejected")
        progress(f"{exported.version} not activated: {rejection}")
        return exported
    _write_vectors(store, tenant, exported, ds, final, uf, n_attr, identity, progress)
    send_hours_mod.write(store, tenant, ids, pooled)
    models.save(store, tenant, exported)
    if cfg.activate:
        models.activate(store, tenant, exported.version)
        progress(f"activated {exported.version}")
    models.prune(store, tenant, store.settings.models_kept)
    return exported


def quality_gate(store: Store, tenant: str, metrics: dict, cfg: TrainConfig) -> str | None:
    """Why a new model must not go live (None if it may): below the floor, or worse than the active one."""
    new = metrics.get("auc")
    if new is None:
        return None  # no holdout to judge by (little data): the model is still better than none
    if new < cfg.min_auc:
        return f"holdout AUC {new:.3f} is below the floor {cfg.min_auc:.3f}"
    active = models.active_version(store, tenant)
    if active:
        row = next((r for r in models.list_models(store, tenant) if r["version"] == active), None)
        old = (row or {}).get("metrics", {}).get("auc")
        if old is not None and new < old - cfg.max_auc_drop:
            return f"holdout AUC {new:.3f} is worse than the active {active}'s {old:.3f} by more than {cfg.max_auc_drop:.3f}"
    return None


def _write_vectors(
    store: Store,
    tenant: str,
    exported: ExportedModel,
    ds: Dataset,
    fitted: LightFM,
    uf: sp.csr_matrix,
    n_attr: int,
    trained: np.ndarray,
    progress,
    chunk: int = 2000,
) -> None:
    """Each customer's vector for this version: with their identity where they have history, else from attributes."""
    biases, embs = fitted.get_user_representations(uf)
    ttl = store.settings.customer_ttl_days * 86400
    v, idf, upf = exported.version, identity_field(exported.version), uplift_field(exported.version)
    # vectors of the versions prune() drops once this one lands go now, in the same pass
    doomed = models.versions_to_drop(store, tenant, store.settings.models_kept - 1)
    doomed_fields = [f for x in doomed for f in (x, identity_field(x), uplift_field(x))]
    lifts = exported.lifts.packed_users(ds.attributes) if exported.lifts is not None else None
    full = np.hstack([embs, biases[:, None]]).astype("<f4")  # each row as pack() gives it
    ident = np.hstack([fitted.user_embeddings[n_attr:], fitted.user_biases[n_attr:, None]]).astype("<f4")
    for start in range(0, len(ds.customer_ids), chunk):
        commands: list[tuple] = []
        for u in range(start, min(start + chunk, len(ds.customer_ids))):
            key = keys.vectors(tenant, ds.customer_ids[u])
            if trained[u]:
                commands.append(("HSET", key, v, full[u].tobytes(), idf, ident[u].tobytes()))
            else:
                commands.append(("HSET", key, v, pack(exported.user_vector(ds.attributes[u]))))
            if lifts is not None:
                commands.append(("HSET", key, upf, lifts[u].tobytes()))
            if doomed_fields:
                commands.append(("HDEL", key, *doomed_fields))
            commands.append(("EXPIRE", key, ttl))
        run(store, commands)
        progress(f"wrote vectors {min(start + chunk, len(ds.customer_ids))}/{len(ds.customer_ids)}")
