"""Uplift baselines from scikit-learn (and scikit-uplift), fitted in the same run as the product's models.

Each takes the trial's customers as attribute dicts (one-hot for text, numbers as they are, via
``DictVectorizer``) and returns a fitted scorer of new customers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklift.models import ClassTransformation

Scorer = Callable[[list[dict[str, Any]]], np.ndarray]


def _logistic(seed: int) -> Pipeline:
    return make_pipeline(
        DictVectorizer(sparse=False), StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed)
    )


def logistic_response(attrs: list[dict], treated: np.ndarray, y: np.ndarray, seed: int = 7) -> Scorer:
    """P(engage | sent, x) from the treated arm alone: what a response model ranks by."""
    m = _logistic(seed).fit([a for a, t in zip(attrs, treated, strict=True) if t], y[treated])
    return lambda xs: m.predict_proba(xs)[:, 1]


def logistic_two_model(attrs: list[dict], treated: np.ndarray, y: np.ndarray, seed: int = 7) -> Scorer:
    """P(engage | sent, x) - P(engage | not sent, x), one logistic regression per arm."""
    m_t = _logistic(seed).fit([a for a, t in zip(attrs, treated, strict=True) if t], y[treated])
    m_c = _logistic(seed).fit([a for a, t in zip(attrs, treated, strict=True) if not t], y[~treated])
    return lambda xs: m_t.predict_proba(xs)[:, 1] - m_c.predict_proba(xs)[:, 1]


def class_transformation_gbm(attrs: list[dict], treated: np.ndarray, y: np.ndarray, seed: int = 7) -> Scorer:
    """scikit-uplift's class transformation (z = y == t; uplift = 2 P(z) - 1) over a histogram GBM."""
    vec = DictVectorizer(sparse=False).fit(attrs)
    gbm = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=seed)
    m = ClassTransformation(gbm).fit(vec.transform(attrs), y.astype(int), treated.astype(int))
    return lambda xs: m.predict(vec.transform(xs))


BASELINES: dict[str, Callable[..., Scorer]] = {
    "logistic response": logistic_response,
    "logistic two-model uplift": logistic_two_model,
    "class-transformation GBM": class_transformation_gbm,
}
