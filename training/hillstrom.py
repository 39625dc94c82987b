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
from suppressor.domain import CustomerIn, DecisionRequest, EventBatch
from suppressor.settings import Settings
from suppressor.storage.store import BATCH_TIMEOUT, Store
from suppressor.tenants import apikeys
from suppressor.tenants.state import TenantStateCache

from .fit import TrainConfig, train_tenant
from .metrics import auc

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


def read(path: Path) -> Rows:
    """The CSV as customer attributes, assigned e-mail and visit outcome."""
    attrs, seg, visit = [], [], []
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
    return Rows(attrs, np.array(seg), np.array(visit))


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
            DecisionRequest(
                customer_id=f"h-{i}", message=message(kind), allow_reroute=False, channels=["email"], dry_run=True
            )
            for i in idx
        ]
        scores = []
        for k in range(0, len(reqs), 5000):
            scores += [d.channel_scores["email"] for d in decider.decide(TENANT, reqs[k : k + 5000])]
        out[kind] = np.array(scores)
    return out


def _estimates(seg: np.ndarray, visit: np.ndarray, s_mens: np.ndarray, s_womens: np.ndarray) -> dict[str, float]:
    """All reported figures for one (re)sample of the held-out half."""
    res: dict[str, float] = {}
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
    point = _estimates(seg, visit, scores["mens"], scores["womens"])
    boots = []
    brng = np.random.default_rng(seed + 1)
    for _ in range(bootstrap):
        b = brng.integers(0, len(seg), len(seg))
        boots.append(_estimates(seg[b], visit[b], scores["mens"][b], scores["womens"][b]))
    figures = {}
    for k, v in point.items():
        vals = np.array([x[k] for x in boots if x[k] is not None])
        figures[k] = {"value": v, "ci95": [float(np.quantile(vals, 0.025)), float(np.quantile(vals, 0.975))]}
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


def report(result: dict) -> str:
    """The figures as a text table."""
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
    return "\n".join(lines)


def main(path: Path, seed: int, as_json: bool) -> int:
    """CLI entry: print the table (or JSON)."""
    quiet = (lambda m: None) if as_json else (lambda m: print(m, flush=True))
    result = evaluate(path, seed, progress=quiet)
    print(json.dumps(result, indent=2) if as_json else report(result))
    return 0
