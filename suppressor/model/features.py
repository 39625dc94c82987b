"""Feature names shared by training and serving: one vocabulary, one definition."""

from __future__ import annotations

import json
import time
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
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


# A customer with history keeps this share of their representation for their own identity feature,
# however many attribute features they have: with rows summing to 1 feature by feature, every
# attribute (or vehicle fact) added would dilute what the model learned of the person themselves.
IDENTITY_SHARE = 0.5


def row_weights(n_attributes: int, identity: bool) -> tuple[float, float]:
    """(weight of each attribute feature, weight of the identity feature) in a customer's row."""
    if not identity:
        return (1.0 / n_attributes if n_attributes else 0.0), 0.0
    if not n_attributes:
        return 0.0, 1.0
    return (1.0 - IDENTITY_SHARE) / n_attributes, IDENTITY_SHARE


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


YEAR_S = 365.25 * 86400


def epoch(ts: str) -> float:
    """ISO-8601 text -> seconds since the epoch."""
    return datetime.fromisoformat(ts).timestamp()  # Python 3.11+ reads a trailing "Z"


def _when(value: Any) -> float | None:
    """A stored or given timestamp (text or datetime) in epoch seconds; None when absent or unreadable."""
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return epoch(value) if isinstance(value, str) else None
    except ValueError:
        return None


def vehicle_born(vehicle: Mapping[str, Any]) -> float | None:
    """When a vehicle's age starts (epoch seconds): 1 January of its model year, else its purchase."""
    year = vehicle.get("year")
    if isinstance(year, int):
        return datetime(year, 1, 1, tzinfo=UTC).timestamp()
    return _when(vehicle.get("purchased_at"))


def vehicle_age_years(vehicle: Mapping[str, Any], now: float) -> float | None:
    """How old a vehicle is: from its model year (1 January), else from when it was bought."""
    born = vehicle_born(vehicle)
    return max(0.0, (now - born) / YEAR_S) if born is not None else None


def service_due_at(vehicles: Iterable[Mapping[str, Any]]) -> float | None:
    """The earliest next service due among the vehicles (epoch seconds), or None."""
    due = [t for v in vehicles if (t := _when(v.get("next_service_due"))) is not None]
    return min(due) if due else None


def vehicle_attributes(vehicles: Iterable[Mapping[str, Any]], now: float) -> dict[str, Any]:
    """What a customer's vehicles say, as model attributes: makes and segments they own, the age
    of the oldest (in bands: a 9-year-old car is a trade-in prospect) and the months until the
    next service is due (in bands: due soon is a service prospect)."""
    vehicles = list(vehicles)
    out: dict[str, Any] = {}
    makes = sorted({str(v["make"]).strip().lower() for v in vehicles if v.get("make")})
    segments = sorted({str(v["segment"]).strip().lower() for v in vehicles if v.get("segment")})
    if makes:
        out["vehicle_make"] = makes
    if segments:
        out["vehicle_segment"] = segments
    ages = [a for v in vehicles if (a := vehicle_age_years(v, now)) is not None]
    if ages:
        oldest = max(ages)
        out["vehicle_age"] = "0-2y" if oldest < 3 else "3-5y" if oldest < 6 else "6-8y" if oldest < 9 else "9y+"
    due = service_due_at(vehicles)
    if due is not None:
        months = (due - now) / (YEAR_S / 12)
        out["service_due"] = (
            "overdue" if months < 0 else "within 1 month" if months < 1 else "1-3 months" if months < 3 else "3+ months"
        )
    return out


def model_attributes(
    attributes: Mapping[str, Any], vehicles: Iterable[Mapping[str, Any]] | str | bytes | None, now: float | None = None
) -> dict[str, Any]:
    """The attributes the model reads of a customer: their own, and their vehicles' (``vehicles``
    as stored, JSON text, or a list of dicts)."""
    if isinstance(vehicles, (str, bytes)):
        vehicles = json.loads(vehicles)
    if not vehicles:
        return dict(attributes)
    return {**attributes, **vehicle_attributes(vehicles, time.time() if now is None else now)}


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
    "withheld": 0.0,  # a control group's exposure: no interaction to learn from, only a comparison
}
