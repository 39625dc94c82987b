"""How behavior becomes labeled (customer, message) pairs: one definition for training and
for folding fresh behavior into a customer's vector between retrains."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from suppressor.domain import Signature
from suppressor.model import features
from suppressor.model.features import epoch  # noqa: F401 (where the label code's callers import it)


@dataclass
class LabelRules:
    """How a customer's events about one message become a label and a weight."""

    weights: dict[str, float] = field(default_factory=lambda: dict(features.EVENT_WEIGHTS))
    delivered_only_weight: float = 0.5  # delivered, never engaged: a weak negative
    pending_days: float = 3.0  # ...unless delivered this recently (may still engage)
    half_life_days: float = 180.0  # older behavior counts less


def group_by_message(evs: list[dict]) -> dict[str, tuple[Signature, list[dict]]]:
    """A customer's events per message (message_id, or the signature of organic behavior)."""
    out: dict[str, tuple[Signature, list[dict]]] = {}
    for e in evs:
        sig = Signature.of(e.get("channel"), e.get("kind"), e.get("topics", ()))
        if not sig.kind and not sig.topics and not e.get("message_id"):
            continue  # nothing a message could be learned from
        key = e.get("message_id") or f"sig:{json.dumps(sig)}"
        out.setdefault(key, (sig, []))[1].append(e)
    return out


def label(evs: list[dict], rules: LabelRules, now: float) -> tuple[float, float, float] | None:
    """(+1/-1, weight, latest time) for one customer's events about one message, or None."""
    ws = [rules.weights.get(e["type"], 0.0) for e in evs]
    t = max(e.get("_t") or epoch(e["ts"]) for e in evs)  # "_t": the time training parsed once
    decay = 0.5 ** (max(now - t, 0.0) / 86400 / rules.half_life_days)
    worst, best = min(ws), max(ws)
    if worst <= -2.0:  # unsubscribed / complained outweighs any engagement before it
        return -1.0, -worst * decay, t
    if best > 0:
        return 1.0, best * decay, t
    if worst < 0:
        return -1.0, -worst * decay, t
    if any(e["type"] == "delivered" for e in evs) and now - t > rules.pending_days * 86400:
        return -1.0, rules.delivered_only_weight * decay, t
    return None
