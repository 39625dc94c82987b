"""The what-if reports: a candidate policy against the current one (simulate), and one parameter
swept into a trade-off curve."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from pydantic import ValidationError

from suppressor import rules
from suppressor.errors import Refused
from suppressor.model import exported as models
from suppressor.model.exported import ExportedModel
from suppressor.policy import document as policies
from suppressor.policy.document import Objective, VersionedPolicy
from suppressor.storage.store import Store
from suppressor.whatif.estimate import Estimator, intervals, summarize
from suppressor.whatif.history import ATTRIBUTION_DAYS, History, iso, load_history
from suppressor.whatif.questions import check_sweep
from suppressor.whatif.replay import replay

THRESHOLDS = ("relevance_threshold", "uplift_threshold", "value_threshold")  # each objective's, in Objective order
SWEEPABLE = (*THRESHOLDS, "cap_scale")
# the logged decision field each threshold is weighed against (its sweep's points are its deciles)
MEASURES = {"relevance_threshold": "score", "uplift_threshold": "uplift", "value_threshold": "value"}


def threshold_of(policy: VersionedPolicy) -> str:
    """The threshold the policy's objective decides by (what the studio and a tradeoff sweep by default)."""
    return THRESHOLDS[list(Objective).index(policy.objective)]


def _pct(a: float, b: float) -> float | None:
    return round(100 * a / b, 1) if b else None


def _compare(cur: dict, cand: dict) -> dict:
    return {
        "sends_pct": _pct(cand["sends"], cur["sends"]),
        "engagement_kept_pct": _pct(cand["engagement"], cur["engagement"]),
        "unsubscribes_avoided": round(cur["unsubscribes"] - cand["unsubscribes"], 2),
        "complaints_avoided": round(cur["complaints"] - cand["complaints"], 2),
        "conversions_kept_pct": _pct(cand["conversions"], cur["conversions"]),
        "service_visits_kept_pct": _pct(cand["service_visits"], cur["service_visits"]),
        "revenue_kept_pct": _pct(cand["revenue"], cur["revenue"]),
        "revenue_per_customer_change": round(cand["revenue_per_customer"] - cur["revenue_per_customer"], 2),
        "sales_share": [cur["mix"]["sales_share"], cand["mix"]["sales_share"]],
    }


def _view(v: dict, model_version: str | None) -> dict:
    return {
        "action": v["action"],
        "channel": v.get("channel"),
        "reasons": [{"code": r["code"], "message": rules.text(r, model_version)} for r in v.get("reasons") or []],
    }


@dataclass
class Prepared:
    """A loaded history, the model that scores it and the policy to compare with (reused by sweeps)."""

    history: History
    model: ExportedModel | None
    current: VersionedPolicy


def prepare(
    store: Store,
    tenant: str,
    since: datetime | None = None,
    until: datetime | None = None,
    max_decisions: int = 50_000,
    current: VersionedPolicy | None = None,
) -> Prepared:
    """Load what every simulation of this tenant needs; ``current`` defaults to the saved policy."""
    active = models.active_version(store, tenant)
    model = models.load(store, tenant, active) if active else None
    return Prepared(
        load_history(store, tenant, since, until, max_decisions), model, current or policies.get(store, tenant)
    )


def _frame(p: Prepared) -> dict:
    h = p.history
    times = [d.at_ms for d in h.decisions]
    return {
        "window": {"from": iso(min(times)) if times else None, "to": iso(max(times)) if times else None},
        "decisions": len(h.decisions),
        "customers": h.customers,
        "sampled": {
            "decisions": len(h.decisions),
            "of_decisions": h.decisions_total,
            "customers": h.customers,
            "of_customers": h.customers_total,
        },
        "model_version": p.model.version if p.model else None,
        "attribution_days": ATTRIBUTION_DAYS,
        "currency": p.current.currency,
    }


def simulate(
    store: Store,
    tenant: str,
    candidate: VersionedPolicy,
    prepared: Prepared | None = None,
    examples: int = 20,
    **load: Any,
) -> dict:
    """Candidate vs current policy over the logged decisions: what each keeps, stops and costs."""
    p = prepared or prepare(store, tenant, **load)
    h = p.history
    cur_v, cand_v = replay(store, h, [p.current, candidate], p.model) if h.decisions else ([], [])
    est = Estimator.fit(h, cur_v)
    (cur, cur_rows), (cand, cand_rows) = summarize(h, cur_v, est), summarize(h, cand_v, est)
    changed = [
        i
        for i, (a, b) in enumerate(zip(cur_v, cand_v, strict=True))
        if (a["action"], a.get("channel")) != (b["action"], b.get("channel"))
    ]
    version = p.model.version if p.model else None
    agree = sum(d.record["action"] == v["action"] for d, v in zip(h.decisions, cur_v, strict=True))
    return {
        **_frame(p),
        "current": {"policy_version": p.current.version, **cur},
        "candidate": cand,
        "change": {
            **_compare(cur, cand),
            "decisions_changed": len(changed),
            "intervals": intervals(cur_rows, cand_rows),
        },
        # how faithfully the replay reproduces what was decided at the time (model or policy since changed?)
        "agreement_with_log_pct": _pct(agree, len(h.decisions)),
        "examples": [
            {
                "decision_id": h.decisions[i].record["decision_id"],
                "customer_id": h.decisions[i].customer_id,
                "message_id": h.decisions[i].request.message.message_id,
                "decided_at": h.decisions[i].record["decided_at"],
                "current": _view(cur_v[i], version),
                "candidate": _view(cand_v[i], version),
            }
            for i in changed[:examples]
        ],
    }


def vary(base: VersionedPolicy, param: str, value: float) -> VersionedPolicy:
    """``base`` with one swept parameter set (campaign overrides kept)."""
    doc = base.model_dump(mode="json")
    if param in THRESHOLDS:  # a threshold weighs only under its own objective: the point decides by it
        doc[param] = value
        doc["objective"] = list(Objective)[THRESHOLDS.index(param)].value
    elif param == "cap_scale":
        doc["caps"] = [_scaled(c, value) for c in doc["caps"]]
    else:
        raise ValueError(f"cannot sweep {param!r}; choose one of {', '.join(SWEEPABLE)}")
    try:
        return VersionedPolicy.model_validate(doc)
    except ValidationError as exc:
        raise Refused([("values", f"{param} = {value:g}: {e['msg']}") for e in exc.errors()]) from None


def _scaled(cap: dict, value: float) -> dict:
    """A cap with its max scaled (a reserve keeps its slots, as many as the scaled cap holds)."""
    top = cap["max"] and max(1, round(cap["max"] * value))
    keep = cap.get("reserve")
    return {
        **cap,
        "max": top,
        **({"reserve": {**keep, "slots": min(keep["slots"], top)}} if keep and top else {"reserve": None}),
    }


def default_values(store: Store, p: Prepared, param: str) -> list[float]:
    """Sweep points: a threshold at the deciles of what it is weighed against in the logged decisions (the
    score, the uplift or the value), or cap multipliers."""
    if param == "cap_scale":
        return [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0]
    field = MEASURES[param]
    seen = [d.record[field] for d in p.history.decisions if d.record.get(field) is not None]
    if not seen and p.history.decisions:  # logged before the objective weighed it: as its objective sees them
        short = {"uplift": "up", "value": "val"}.get(field, field)
        seen = [
            v[short]
            for v in replay(store, p.history, [vary(p.current, param, 0.0)], p.model)[0]
            if v.get(short) is not None
        ]
    qs = np.quantile(seen, np.linspace(0, 0.9, 10)).tolist() if seen else []
    return sorted({0.0, round(getattr(p.current, param), 4), *(round(q, 4) for q in qs)})


def tradeoff(
    store: Store,
    tenant: str,
    param: str | None = None,
    values: list[float] | None = None,
    prepared: Prepared | None = None,
    **load: Any,
) -> dict:
    """Sends vs expected engagement vs expected unsubscribes as one parameter sweeps (by default the threshold
    of the policy's objective), vs the current policy."""
    p = prepared or prepare(store, tenant, **load)
    param = param or threshold_of(p.current)
    if param not in SWEEPABLE:
        raise ValueError(f"cannot sweep {param!r}; choose one of {', '.join(SWEEPABLE)}")
    check_sweep(param, values or [])
    values = sorted(set(values)) if values else default_values(store, p, param)
    h = p.history
    pols = [p.current, *(vary(p.current, param, v) for v in values)]
    verdicts = replay(store, h, pols, p.model) if h.decisions else [[] for _ in pols]
    est = Estimator.fit(h, verdicts[0])
    cur, cur_rows = summarize(h, verdicts[0], est)
    current_value = getattr(p.current, param) if param in THRESHOLDS else 1.0
    # a threshold of another objective than the current policy's: no point of the sweep is the current policy
    same = param not in THRESHOLDS or threshold_of(p.current) == param
    points = []
    for value, vs in zip(values, verdicts[1:], strict=True):
        s, rows = summarize(h, vs, est)
        ci = intervals(cur_rows, rows)
        points.append(
            {
                "value": value,
                "current": same and value == current_value,
                "sends": s["sends"],
                "sends_pct": _pct(s["sends"], cur["sends"]),
                "engagement": s["engagement"],
                "engagement_pct": _pct(s["engagement"], cur["engagement"]),
                "unsubscribes": s["unsubscribes"],
                "unsubscribes_pct": _pct(s["unsubscribes"], cur["unsubscribes"]),
                "complaints": s["complaints"],
                "sales_share": s["mix"]["sales_share"],
                "conversions": s["conversions"],
                "revenue": s["revenue"],
                "revenue_pct": _pct(s["revenue"], cur["revenue"]),
                "intervals": {k: ci.get(k) for k in ("sends_pct", "engagement_pct", "unsubscribes_pct", "revenue_pct")},
            }
        )
    picks = {}
    for target in (95, 98, 99):
        ok = [pt for pt in points if (pt["engagement_pct"] or 0) >= target]
        if ok:
            best = min(ok, key=lambda pt: pt["sends"])
            picks[f"{target}%"] = {
                "value": best["value"],
                "sends_pct": best["sends_pct"],
                "engagement_pct": best["engagement_pct"],
                "unsubscribes_pct": best["unsubscribes_pct"],
            }
    return {
        **_frame(p),
        "param": param,
        "policy_version": p.current.version,
        "current": {
            "value": current_value,
            "sends": cur["sends"],
            "engagement": cur["engagement"],
            "unsubscribes": cur["unsubscribes"],
            "complaints": cur["complaints"],
            "conversions": cur["conversions"],
            "revenue": cur["revenue"],
        },
        "points": points,
        "picks": picks,
    }
