"""`suppressor evaluate hillstrom`: the whole product path on a real randomized e-mail campaign.

The Hillstrom data (64,000 customers randomly sent a men's e-mail, a women's e-mail or none;
visits tracked for two weeks) is split in halves. The training half goes in through the normal
ingestion path (customers with their attributes, the e-mail as a message, a visit as
engagement, no visit as ignored), is trained with the normal training path, and the held-out
half is scored through the normal decision path as customers the model has never seen.
"""

from __future__ import annotations

import csv
import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from suppressor.customers import events, profiles
from suppressor.decisions.decide import Decider
from suppressor.domain import CustomerIn, DecisionRequest, EventBatch, Signature
from suppressor.settings import Settings
from suppressor.storage.store import BATCH_TIMEOUT, Store
from suppressor.tenants import apikeys
from suppressor.tenants.state import TenantStateCache

from .baselines import BASELINES
from .fit import TrainConfig, train_tenant
from .metrics import auc, kept_by_ipw, qini, uplift_at
from .uplift import Trial, UpliftConfig, fit_all

TENANT = "eval-hillstrom"
EMAILS = {"Mens E-Mail": "mens", "Womens E-Mail": "womens"}
ATTRS = ("recency", "history", "mens", "womens", "zip_code", "newbie", "channel")
START = datetime(2008, 3, 1, tzinfo=UTC)  # the campaign ran in 2008


@dataclass
class Rows:
    """The Hillstrom file as arrays."""

    attrs: list[dict]
    segment: np.ndarray  # "mens" / "womens" / "none"
    visit: np.ndarray
    conversion: np.ndarray
    spend: np.ndarray


def read(path: Path) -> Rows:
    """The CSV as customer attributes, assigned e-mail and outcomes (visit, conversion, spend)."""
    attrs, seg, visit, conversion, spend = [], [], [], [], []
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            attrs.append(
                {
                    "recency": int(r["recency"]),
                    "history": float(r["history"]),
                    "mens": int(r["mens"]),
                    "womens": int(r["womens"]),
                    "zip_code": r["zip_code"],
                    "newbie": int(r["newbie"]),
                    "channel": r["channel"],
                }
            )
            seg.append(EMAILS.get(r["segment"], "none"))
            visit.append(int(r["visit"]))
            conversion.append(int(r["conversion"]))
            spend.append(float(r["spend"]))
    return Rows(attrs, np.array(seg), np.array(visit), np.array(conversion), np.array(spend))


def message(kind: str) -> dict:
    """The campaign e-mail as a message."""
    return {
        "message_id": f"{kind}-email",
        "campaign_id": "hillstrom-2008",
        "channel": "email",
        "kind": "sales",
        "topics": [f"merchandise:{kind}"],
    }


def ingest_half(store: Store, rows: Rows, idx: np.ndarray, rng: np.random.Generator) -> int:
    """Customers of the training half and their e-mail outcomes, through the ingestion path."""
    evs = []
    for i in idx:
        cid = f"h-{i}"
        profiles.put(store, TENANT, cid, CustomerIn(attributes=rows.attrs[i], consent={"email": True}), None)
        kind = rows.segment[i]
        if kind == "none":
            continue  # no message, nothing the model can learn about a message
        sent = START + timedelta(days=float(rng.uniform(0, 28)))
        outcome = sent + timedelta(days=float(rng.uniform(0, 14)))
        base = {
            "customer_id": cid,
            **{
                k: v
                for k, v in message(kind).items()
                if k in ("message_id", "campaign_id", "channel", "kind", "topics")
            },
        }
        evs.append({**base, "event_id": f"{cid}-d", "type": "delivered", "ts": sent.isoformat()})
        evs.append(
            {
                **base,
                "event_id": f"{cid}-o",
                "type": "visited" if rows.visit[i] else "ignored",
                "ts": outcome.isoformat(),
            }
        )
    for k in range(0, len(evs), 10_000):
        events.ingest(store, TENANT, EventBatch.model_validate({"events": evs[k : k + 10_000]}).events)
    return len(evs)


def score_half(store: Store, rows: Rows, idx: np.ndarray) -> dict[str, np.ndarray]:
    """Scores of both e-mails for every held-out customer, from the decision path (dry runs)."""
    states = TenantStateCache(store, 0.0)
    model = states.get(TENANT).model  # new customers get their vector from attributes, as over the API
    for i in idx:
        profiles.put(store, TENANT, f"h-{i}", CustomerIn(attributes=rows.attrs[i], consent={"email": True}), model)
    decider = Decider(store, states, None)
    out = {}
    for kind in EMAILS.values():
        reqs = [
            DecisionRequest.model_validate(
                dict(customer_id=f"h-{i}", message=message(kind), allow_reroute=False, channels=["email"], dry_run=True)
            )
            for i in idx
        ]
        scores = []
        for k in range(0, len(reqs), 5000):
            scores += [d.channel_scores["email"] for d in decider.decide(TENANT, reqs[k : k + 5000])]
        out[kind] = np.array(scores)
    return out


def _estimates(seg: np.ndarray, visit: np.ndarray, s_mens: np.ndarray, s_womens: np.ndarray) -> dict[str, float | None]:
    """All reported figures for one (re)sample of the held-out half (an AUC None when a sample has one class)."""
    res: dict[str, float | None] = {}
    emailed = seg != "none"
    own = np.where(seg == "mens", s_mens, s_womens)
    for kind, s in (("mens", s_mens), ("womens", s_womens)):
        m = seg == kind
        res[f"auc_{kind}"] = auc(s[m], visit[m])
    res["auc_emailed"] = auc(own[emailed], visit[emailed])
    # visits kept when only the top q of the e-mailed customers (by score) get their e-mail
    v, sc = visit[emailed], own[emailed]
    order = np.argsort(-sc, kind="stable")
    for q in (25, 50, 75):
        top = order[: int(len(order) * q / 100)]
        res[f"visits_kept_top{q}"] = float(v[top].sum() / max(v.sum(), 1))
    # IPW with the randomized assignment (1/3 each): total visits when the best-scoring e-mail
    # goes to the top q of all customers and the rest get none, vs everyone e-mailed as assigned
    best_kind = np.where(s_mens >= s_womens, "mens", "womens")
    best = np.maximum(s_mens, s_womens)
    p = 1.0 / 3.0
    everyone = float(np.mean(np.where(emailed, visit, 0.0) / (2 * p)))  # E[Y | any e-mail], reweighted
    for q in (50, 65, 80):
        cut = np.quantile(best, 1 - q / 100)
        chosen = np.where(best >= cut, best_kind, "none")
        value = float(np.mean((seg == chosen) * visit / p))
        res[f"total_visits_kept_send{q}"] = value / everyone if everyone else float("nan")
    return res


def evaluate(path: Path, seed: int = 7, bootstrap: int = 200, progress=print) -> dict:
    """Ingest, train, score and measure; returns figures with bootstrap 95% intervals."""
    rows = read(path)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(rows.visit))
    train_idx, test_idx = np.sort(perm[: len(perm) // 2]), np.sort(perm[len(perm) // 2 :])
    with tempfile.TemporaryDirectory(prefix="suppressor-hillstrom-") as tmp:
        settings = Settings(data_dir=Path(tmp), redis_url=None)
        store = Store(settings, bulk_timeout=BATCH_TIMEOUT)
        try:
            apikeys.purge(store, TENANT)
            n = ingest_half(store, rows, train_idx, rng)
            progress(f"ingested {len(train_idx)} customers and {n} events (training half)")
            model = train_tenant(store, TENANT, TrainConfig(seed=seed), progress=lambda m: progress(f"  {m}"))
            progress(f"trained {model.version}: holdout AUC {model.metrics.get('auc')}")
            scores = score_half(store, rows, test_idx)
            progress(f"scored {len(test_idx)} held-out customers through the decision path")
        finally:
            store.close()
    seg, visit = rows.segment[test_idx], rows.visit[test_idx]
    figures = _intervals(
        lambda b: _estimates(seg[b], visit[b], scores["mens"][b], scores["womens"][b]), len(seg), bootstrap, seed + 1
    )
    uplift = evaluate_uplift(rows, train_idx, test_idx, scores, seed, bootstrap, progress)
    return {
        "seed": seed,
        "n_train": int(len(train_idx)),
        "n_test": int(len(test_idx)),
        "bootstrap": bootstrap,
        "model": {
            "version": model.version,
            "metrics": {k: model.metrics.get(k) for k in ("auc", "calibration_error", "log_loss", "train_seconds")},
        },
        "figures": figures,
        "uplift": uplift,
    }


def _intervals(estimate, n: int, bootstrap: int, seed: int) -> dict[str, dict]:
    """``estimate(index)`` on all n rows, with 95% intervals from ``bootstrap`` resamples of them."""
    point = estimate(np.arange(n))
    brng = np.random.default_rng(seed)
    boots = [estimate(brng.integers(0, n, n)) for _ in range(bootstrap)]
    out = {}
    for k, v in point.items():
        vals = np.array([x[k] for x in boots if x[k] is not None and np.isfinite(x[k])])
        ci = [float(np.quantile(vals, 0.025)), float(np.quantile(vals, 0.975))] if len(vals) else [None, None]
        out[k] = {"value": v, "ci95": ci}
    return out


SHARES = (50, 65, 80)
REFERENCE = "logistic two-model uplift"  # the baseline each score's paired difference is measured against
OUTCOMES = ("visits", "conversions", "spend")


def trial(rows: Rows, idx: np.ndarray, kind: str) -> tuple[np.ndarray, Trial]:
    """The customers of ``idx`` sent the ``kind`` e-mail (treated) or no e-mail (control), a visit as engagement."""
    mine = idx[(rows.segment[idx] == kind) | (rows.segment[idx] == "none")]
    m = message(kind)
    return mine, Trial(
        attributes=[rows.attrs[i] for i in mine],
        treated=rows.segment[mine] == kind,
        outcome=rows.visit[mine] > 0,
        message=Signature.of(m["channel"], m["kind"], m["topics"]),
        treatment=m["message_id"],
    )


def _uplift_estimates(score: np.ndarray, treated: np.ndarray, outcomes: dict[str, np.ndarray]) -> dict[str, float]:
    """Qini, uplift@30% (on visits) and the outcomes kept at each share of sends, for one (re)sample."""
    res = {
        "qini": qini(outcomes["visits"], score, treated),
        "uplift_at_30": uplift_at(outcomes["visits"], score, treated, 0.3),
    }
    for (name, share), v in kept_by_ipw(score, treated, outcomes, tuple(q / 100 for q in SHARES)).items():
        res[f"{name}_kept_send{round(share * 100)}"] = v
    return res


def evaluate_uplift(
    rows: Rows,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    response: dict[str, np.ndarray],
    seed: int,
    bootstrap: int,
    progress,
    cfg: UpliftConfig | None = None,
) -> dict:
    """Per e-mail, on its randomized arms of the held-out half: the product's response score (``response``,
    aligned with ``test_idx``), the product's uplift models (each method and the one chosen) and the baselines."""
    cfg = cfg or UpliftConfig(train=TrainConfig(seed=seed, threads=1))
    return {
        kind: _evaluate_arm(rows, train_idx, test_idx, response[kind], kind, seed, bootstrap, progress, cfg)
        for kind in EMAILS.values()
    }


def _evaluate_arm(
    rows: Rows,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    response: np.ndarray,
    kind: str,
    seed: int,
    bootstrap: int,
    progress,
    cfg: UpliftConfig,
) -> dict:
    """``evaluate_uplift`` for one e-mail."""
    _, fit_on = trial(rows, train_idx, kind)
    held, test = trial(rows, test_idx, kind)
    chosen, each = fit_all(fit_on, cfg, progress=lambda m: progress(f"  {kind}: {m}"))
    scores = {"suppressor response score": response[np.isin(test_idx, held)]}
    if chosen.absent:
        progress(f"{kind}: no uplift model: {chosen.absent}")
    else:
        scores[f"suppressor uplift (chosen: {chosen.method})"] = chosen.score(test.attributes, test.messages[0])
        scores.update({f"  LightFM {m}": model.score(test.attributes, test.messages[0]) for m, model in each.items()})
    y = fit_on.outcome.astype(int)
    for name, fit in BASELINES.items():
        scores[name] = fit(fit_on.attributes, fit_on.treated, y, seed)(test.attributes)
    progress(f"{kind}: fitted the product's uplift ({chosen.method}) and {len(BASELINES)} baselines")
    outcomes = dict(zip(OUTCOMES, (rows.visit[held], rows.conversion[held], rows.spend[held]), strict=True))
    t = test.treated

    def estimate(b: np.ndarray) -> dict[str, float]:
        """Every score's figures on one resample, and each one's difference to the reference baseline's."""
        figs = {
            name: _uplift_estimates(s[b], t[b], {k: v[b] for k, v in outcomes.items()}) for name, s in scores.items()
        }
        ref = figs[REFERENCE]
        return {
            f"{name}\t{d}{col}": v - (ref[col] if d else 0.0)
            for name, mine in figs.items()
            for col, v in mine.items()
            for d in ("", "vs_reference:")
        }

    figures: dict[str, dict] = {}
    for key, f in _intervals(estimate, len(t), bootstrap, seed + 2).items():
        name, col = key.split("\t")
        figures.setdefault(name, {})[col] = f
    return {
        "n_train_trial": len(fit_on.attributes),
        "n_test_trial": len(test.attributes),
        "chosen": chosen.method,
        "absent": chosen.absent,
        "validation": chosen.metrics.get("methods"),
        "reference": REFERENCE,
        "figures": figures,
    }


LABELS = {
    "auc_mens": "AUC, visit | men's e-mail",
    "auc_womens": "AUC, visit | women's e-mail",
    "auc_emailed": "AUC, visit | either e-mail",
    "visits_kept_top25": "visits kept, top 25% e-mailed",
    "visits_kept_top50": "visits kept, top 50% e-mailed",
    "visits_kept_top75": "visits kept, top 75% e-mailed",
    "total_visits_kept_send50": "total visits kept (IPW), 50% sent",
    "total_visits_kept_send65": "total visits kept (IPW), 65% sent",
    "total_visits_kept_send80": "total visits kept (IPW), 80% sent",
}


UPLIFT_COLUMNS = ("qini", "uplift_at_30", *(f"{o}_kept_send{q}" for o in OUTCOMES for q in SHARES))


def uplift_table(result: dict, kind: str) -> str:
    """One e-mail's uplift figures as a Markdown table (95% intervals for Qini and visits kept at 50%)."""
    arm = result["uplift"][kind]
    head = ["score", "Qini", "uplift@30%", *(f"{o} kept @{q}%" for o in OUTCOMES for q in SHARES)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, f in arm["figures"].items():
        cells = []
        for col in UPLIFT_COLUMNS:
            v, (lo, hi) = f[col]["value"], f[col]["ci95"]
            text = f"{v:.3f}" if col in ("qini", "uplift_at_30") else f"{v:.1%}"
            if col in ("qini", "visits_kept_send50") and lo is not None:
                text += f" [{lo:.3f}, {hi:.3f}]" if col == "qini" else f" [{lo:.1%}, {hi:.1%}]"
            cells.append(text)
        lines.append(f"| {name.strip()} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def difference_table(result: dict, kind: str) -> str:
    """The product's chosen uplift minus the reference baseline, per figure, with paired bootstrap intervals."""
    arm = result["uplift"][kind]
    name = next((n for n in arm["figures"] if n.startswith("suppressor uplift")), None)
    if name is None:
        return f"(no uplift model for the {kind} e-mail)"
    lines = [f"| {name} minus {arm['reference']} | difference | 95% interval (paired) |", "|---|---|---|"]
    for col in UPLIFT_COLUMNS:
        f = arm["figures"][name][f"vs_reference:{col}"]
        fmt = (lambda x: f"{x:+.3f}") if col in ("qini", "uplift_at_30") else (lambda x: f"{x * 100:+.1f} pt")
        lo, hi = f["ci95"]
        lines.append(
            f"| {col} | {fmt(f['value'])} | [{fmt(lo)}, {fmt(hi)}] |"
            if lo is not None
            else f"| {col} | {fmt(f['value'])} | |"
        )
    return "\n".join(lines)


def report(result: dict) -> str:
    """The figures as text tables."""
    lines = [
        f"Hillstrom, seed {result['seed']}: trained on {result['n_train']}, scored {result['n_test']} "
        f"held-out customers; 95% intervals from {result['bootstrap']} bootstrap resamples",
        "",
    ]
    for key, label in LABELS.items():
        f = result["figures"][key]
        pct = not key.startswith("auc")
        fmt = (lambda x: f"{x:.1%}") if pct else (lambda x: f"{x:.3f}")
        lines.append(f"{label:<38} {fmt(f['value']):>7}  [{fmt(f['ci95'][0])}, {fmt(f['ci95'][1])}]")
    for kind, arm in result.get("uplift", {}).items():
        lines += [
            "",
            f"Uplift, {kind}' e-mail vs no e-mail: trained on {arm['n_train_trial']}, measured on "
            f"{arm['n_test_trial']} held-out customers; product method chosen: {arm['chosen']}"
            + (f" ({arm['absent']})" if arm["absent"] else ""),
            "",
            uplift_table(result, kind),
            "",
            difference_table(result, kind),
        ]
    return "\n".join(lines)


def main(path: Path, seed: int, as_json: bool) -> int:
    """CLI entry: print the table (or JSON)."""
    quiet = (lambda m: None) if as_json else (lambda m: print(m, flush=True))
    result = evaluate(path, seed, progress=quiet)
    print(json.dumps(result, indent=2) if as_json else report(result))
    return 0
