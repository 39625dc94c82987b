"""What a replayed verdict is worth: engagement of a replayed send is what was observed when the
same message really went out on the same channel, and the model's calibrated score otherwise;
unsubscribes and complaints of sends that never happened are estimated from the observed rate
at that score. Sales that follow a send (conversions, service visits and their revenue, credited
when the event names the message) are observed where the send happened; for a send that never
happened they follow its expected engagement at the rate observed per engagement for that kind of
message. Intervals resample customers."""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from suppressor import rules
from suppressor.whatif.history import SENT, History, Logged, Outcome, observed

# reasons that stop or delay a send (the others explain a send): from the reasons registry
BLOCKING = rules.blocking()


@dataclass
class RateByScore:
    """An observed rate (unsubscribes, complaints) as a step function of the calibrated score."""

    edges: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=lambda: [0.0])

    @classmethod
    def fit(
        cls, scores: list[float], flags: list[bool], bins: int = 10, min_per_bin: int = 50, prior_weight: float = 20.0
    ) -> RateByScore:
        """Quantile bins of at least ``min_per_bin`` sends, each shrunk toward the overall rate."""
        if not flags:
            return cls()
        s, f = np.asarray(scores, float), np.asarray(flags, float)
        overall = float(f.mean())
        n_bins = max(1, min(bins, len(s) // min_per_bin))
        edges = sorted(set(np.quantile(s, np.linspace(0, 1, n_bins + 1)[1:-1]).tolist()))
        which = np.searchsorted(edges, s, side="right")
        rates = [
            float((f[which == b].sum() + overall * prior_weight) / ((which == b).sum() + prior_weight))
            for b in range(len(edges) + 1)
        ]
        return cls(edges, rates)

    def __call__(self, score: float | None) -> float:
        if score is None:
            return float(np.mean(self.rates))
        return self.rates[bisect_right(self.edges, score)]


COLUMNS = ("sends", "engagement", "unsubscribes", "complaints", "conversions", "service_visits", "revenue")


@dataclass
class Estimator:
    """Turns a replayed verdict into expected engagement, unsubscribes, complaints and sales."""

    outcomes: list[Outcome | None]
    unsubscribes: RateByScore
    complaints: RateByScore
    engagement_rate: float  # observed, for sends the model cannot score
    # per kind of message, per observed engagement: (conversions, service visits, revenue)
    sales_per_engagement: dict[str, tuple[float, float, float]] = field(default_factory=dict)

    @classmethod
    def fit(cls, history: History, baseline: list[dict]) -> Estimator:
        """Rates by score from the sends that really went out, scored as the baseline replay scores them."""
        outcomes = observed(history)
        scores, unsub, compl, engaged = [], [], [], []
        sales: dict[str, np.ndarray] = {}
        for d, o, v in zip(history.decisions, outcomes, baseline, strict=True):
            if o is None:
                continue
            engaged.append(o.engaged)
            sales.setdefault(d.request.message.kind.value, np.zeros(4))[:] += (
                o.engaged,
                o.converted,
                o.service_visit,
                o.revenue,
            )
            s = (v.get("scores") or {}).get(d.record.get("channel"))
            if s is not None:
                scores.append(s)
                unsub.append(o.unsubscribed)
                compl.append(o.complained)
        per = {kind: tuple(float(x / n[0]) for x in n[1:]) for kind, n in sales.items() if n[0]}
        return cls(
            outcomes,
            RateByScore.fit(scores, unsub),
            RateByScore.fit(scores, compl),
            float(np.mean(engaged)) if engaged else 0.0,
            per,
        )

    def expect(self, d: Logged, o: Outcome | None, v: dict) -> tuple[tuple[float, ...], bool]:
        """The ``COLUMNS`` expected of one replayed send, and whether they were observed."""
        ch = v.get("channel")
        if o is not None and ch == d.record.get("channel"):
            return (
                1.0,
                float(o.engaged),
                float(o.unsubscribed),
                float(o.complained),
                float(o.converted),
                float(o.service_visit),
                o.revenue,
            ), True
        s = (v.get("scores") or {}).get(ch)
        e = s if s is not None else self.engagement_rate
        conv, visit, rev = self.sales_per_engagement.get(d.request.message.kind.value, (0.0, 0.0, 0.0))
        return (1.0, e, self.unsubscribes(s), self.complaints(s), e * conv, e * visit, e * rev), False


def summarize(history: History, verdicts: list[dict], est: Estimator) -> tuple[dict, np.ndarray]:
    """Counts by action, reason and kind, and the engagement, unsubscribes, complaints and sales
    expected; with the same per customer (columns: ``COLUMNS``) for intervals."""
    row = {cid: i for i, cid in enumerate(history.events)}  # every sampled customer, in a fixed order
    per = np.zeros((len(row), len(COLUMNS)))
    actions: Counter = Counter()
    suppressed: Counter = Counter()
    deferred: Counter = Counter()
    rerouted: Counter = Counter()
    mix: Counter = Counter()
    eng_observed = 0.0
    observed_sends = 0
    for d, o, v in zip(history.decisions, est.outcomes, verdicts, strict=True):
        act = v["action"]
        actions[act] += 1
        codes = [r["code"] for r in v.get("reasons") or []]
        if act in SENT:
            mix[d.request.message.kind.value] += 1
            values, seen = est.expect(d, o, v)
            per[row[d.customer_id]] += values
            if seen:
                eng_observed += values[1]
                observed_sends += 1
            if act == "reroute":
                rerouted.update(c for c in codes if c in ("channel_preference", "consent"))
        else:
            (suppressed if act == "suppress" else deferred).update({c for c in codes if c in BLOCKING})
    sends = actions["send"] + actions["reroute"]
    _, eng, unsub, compl, conv, visits, revenue = (float(x) for x in per.sum(axis=0))
    return {
        "decisions": len(verdicts),
        "sends": sends,
        "actions": {a: actions[a] for a in ("send", "reroute", "defer", "suppress")},
        "suppressed_by": dict(suppressed.most_common()),
        "deferred_by": dict(deferred.most_common()),
        "rerouted_by": dict(rerouted.most_common()),
        "mix": {
            **{k: mix[k] for k in ("sales", "value", "service", "transactional")},
            "sales_share": round(mix["sales"] / sends, 4) if sends else 0.0,
        },
        "engagement": round(eng, 2),
        "engagement_observed": round(eng_observed, 2),
        "engagement_modeled": round(eng - eng_observed, 2),
        "sends_with_observed_outcome": observed_sends,
        "unsubscribes": round(unsub, 2),
        "complaints": round(compl, 2),
        "conversions": round(conv, 2),
        "service_visits": round(visits, 2),
        "revenue": round(revenue, 2),
        "revenue_per_customer": round(revenue / len(row), 2) if row else 0.0,
    }, per


def intervals(cur: np.ndarray, cand: np.ndarray, draws: int = 200, seed: int = 0) -> dict:
    """95% bootstrap intervals of the change, resampling customers (the same ones under both policies).

    Rows are customers, columns ``COLUMNS``. They cover the noise in who happened to engage,
    unsubscribe or buy, not the model's own error."""
    n = len(cur)
    if n < 2:
        return {}
    rng = np.random.default_rng(seed)
    c, k = np.empty((draws, len(COLUMNS))), np.empty((draws, len(COLUMNS)))
    for b in range(draws):
        w = np.bincount(rng.integers(0, n, n), minlength=n)
        c[b], k[b] = w @ cur, w @ cand
    with np.errstate(divide="ignore", invalid="ignore"):
        stats = {
            "sends_pct": 100 * k[:, 0] / c[:, 0],
            "engagement_pct": 100 * k[:, 1] / c[:, 1],
            "unsubscribes_pct": 100 * k[:, 2] / c[:, 2],
            "unsubscribes_avoided": c[:, 2] - k[:, 2],
            "complaints_avoided": c[:, 3] - k[:, 3],
            "conversions_pct": 100 * k[:, 4] / c[:, 4],
            "service_visits_pct": 100 * k[:, 5] / c[:, 5],
            "revenue_pct": 100 * k[:, 6] / c[:, 6],
            "revenue_per_customer_change": (k[:, 6] - c[:, 6]) / n,
        }
    out = {}
    for name, x in stats.items():
        x = x[np.isfinite(x)]
        out[name] = [round(float(v), 2) for v in np.percentile(x, [2.5, 97.5])] if len(x) else None
    return out
