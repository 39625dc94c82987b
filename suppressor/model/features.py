"""Feature names shared by training and serving: one vocabulary, one definition."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from suppressor.domain import Signature

# A numeric attribute with more distinct values than this is bucketed by quantiles;
# below it every value is its own category (household_size=3).
MAX_CATEGORIES = 8


def item_features(sig: Signature) -> list[str]:
    """A message as features: its channel, its kind and each topic."""
    names = [f"topic:{t}" for t in sig.topics]
    if sig.channel:
        names.append(f"channel:{sig.channel}")
    if sig.kind:
        names.append(f"kind:{sig.kind}")
    return names


def _scalar(name: str, value: Any, edges: Mapping[str, list[float]]) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return f"{name}={'true' if value else 'false'}"
    if isinstance(value, (int, float)) and name in edges:
        return f"{name}#q{bisect_right(edges[name], float(value))}"
    text = str(value).strip().lower()[:64]
    return f"{name}={text}" if text else None


def user_features(attributes: Mapping[str, Any], edges: Mapping[str, list[float]]) -> list[str]:
    """A customer's attributes as features (lists give one feature per element)."""
    names: list[str] = []
    for name, value in attributes.items():
        for v in value if isinstance(value, list) else [value]:
            feat = _scalar(name, v, edges)
            if feat is not None:
                names.append(feat)
    return sorted(set(names))


def numeric_edges(profiles: Iterable[Mapping[str, Any]]) -> dict[str, list[float]]:
    """Decile edges for each attribute that is numeric with many distinct values."""
    values: dict[str, list[float]] = {}
    non_numeric: set[str] = set()
    for attrs in profiles:
        for name, value in attrs.items():
            if value is None:
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values.setdefault(name, []).append(float(value))
            else:
                non_numeric.add(name)
    edges = {}
    for name, vals in values.items():
        if name in non_numeric or len(set(vals)) <= MAX_CATEGORIES:
            continue
        qs = np.unique(np.quantile(np.asarray(vals), np.linspace(0.1, 0.9, 9)))
        edges[name] = [float(q) for q in qs]
    return edges


# How much one event says about interest: engagement positive (a purchase most),
# ignores, unsubscribes and complaints negative. `delivered` alone means "exposed".
EVENT_WEIGHTS: dict[str, float] = {
    "opened": 1.0,
    "clicked": 2.0,
    "replied": 3.0,
    "visited": 2.0,
    "attended": 3.0,
    "converted": 4.0,
    "purchased": 5.0,
    "service_visit": 3.0,
    "ignored": -1.0,
    "unsubscribed": -5.0,
    "complained": -8.0,
    "delivered": 0.0,
    "bounced": 0.0,
}
