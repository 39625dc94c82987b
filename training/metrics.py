"""Evaluation and calibration helpers (numpy/scipy only)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.stats import rankdata


def auc(scores: np.ndarray, y: np.ndarray) -> float | None:
    """ROC AUC by ranks (ties averaged); None when only one class is present."""
    y = np.asarray(y) > 0
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(scores)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def fit_platt(raw: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling: a, b minimizing log loss of sigmoid(a*raw + b) against y."""
    raw = np.asarray(raw, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    # Platt's smoothed targets keep a perfectly separable slice from blowing up a.
    n_pos, n_neg = y.sum(), len(y) - y.sum()
    t = np.where(y > 0, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def loss(ab):
        z = ab[0] * raw + ab[1]
        p = 1 / (1 + np.exp(-z))
        ll = np.logaddexp(0, z) - t * z
        g = p - t
        return ll.mean(), np.array([(g * raw).mean(), g.mean()])

    res = minimize(loss, x0=np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    return float(res.x[0]), float(res.x[1])


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    """Mean binary cross-entropy."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    y = np.asarray(y) > 0
    return float(-np.mean(np.where(y, np.log(p), np.log(1 - p))))


def calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over equal-width probability bins."""
    p = np.asarray(p, dtype=np.float64)
    y = (np.asarray(y) > 0).astype(np.float64)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    err = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            err += m.sum() / len(p) * abs(p[m].mean() - y[m].mean())
    return float(err)


def precision_at_k(scores: np.ndarray, y: np.ndarray, groups: np.ndarray, k: int) -> float | None:
    """Mean share of engaged pairs among each customer's top-k scored pairs (customers with >= k pairs)."""
    order = np.lexsort((-np.asarray(scores), groups))
    g, yy = np.asarray(groups)[order], (np.asarray(y) > 0)[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    ends = np.r_[starts[1:], len(g)]
    precisions = [yy[s : s + k].mean() for s, e in zip(starts, ends, strict=True) if e - s >= k]
    return float(np.mean(precisions)) if precisions else None
