"""`python -m suppressor.training --tenant T [--job ID]`: what `POST /v1/models/train` runs in a child process."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from suppressor.model import jobs
from suppressor.model.features import EVENT_WEIGHTS
from suppressor.model.labels import LabelRules
from suppressor.settings import Settings
from suppressor.storage.store import BATCH_TIMEOUT, Store

from .fit import TrainConfig, TrainingError, train_tenant


def main(argv: list[str] | None = None, prog: str = "python -m suppressor.training") -> int:
    """Train one tenant, reporting progress to stdout and, with --job, to the job record."""
    p = argparse.ArgumentParser(prog=prog)
    p.add_argument("--tenant", required=True)
    p.add_argument("--job")
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    p.add_argument("--dim", type=int, default=TrainConfig.dim)
    p.add_argument("--no-activate", action="store_true")
    p.add_argument(
        "--half-life-days",
        type=float,
        default=LabelRules.half_life_days,
        help="older behavior counts less: its weight halves every this many days",
    )
    p.add_argument(
        "--event-weights",
        type=json.loads,
        default={},
        help='JSON overrides of the event weights, e.g. \'{"opened": 0.5, "ignored": -2}\'',
    )
    args = p.parse_args(argv)
    unknown = set(args.event_weights) - set(EVENT_WEIGHTS)
    if unknown:
        p.error(f"--event-weights: unknown event types {sorted(unknown)}; known: {sorted(EVENT_WEIGHTS)}")
    rules = LabelRules(weights={**EVENT_WEIGHTS, **args.event_weights}, half_life_days=args.half_life_days)
    logging.basicConfig(level=logging.WARNING)
    store = Store(Settings(), bulk_timeout=BATCH_TIMEOUT)
    try:
        return run(
            store,
            args.tenant,
            args.job,
            TrainConfig(epochs=args.epochs, dim=args.dim, activate=not args.no_activate, rules=rules),
        )
    finally:
        store.close()


def run(store: Store, tenant: str, job_id: str | None, cfg: TrainConfig) -> int:
    """Train with progress; returns a process exit code."""

    def progress(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {tenant}: {msg}", flush=True)
        if job_id:
            jobs.update(store, tenant, job_id, status="running", progress=msg)

    try:
        model = train_tenant(store, tenant, cfg, progress)
    except TrainingError as exc:
        print(f"{tenant}: {exc}", file=sys.stderr)
        if job_id:
            jobs.update(store, tenant, job_id, status="failed", error=str(exc), finished_at=time.time())
        return 2
    except Exception as exc:  # the job record must say it failed, whatever happened
        if job_id:
            jobs.update(
                store, tenant, job_id, status="failed", error=f"{type(exc).__name__}: {exc}", finished_at=time.time()
            )
        raise
    rejected = model.metrics.get("rejected")
    if job_id:
        jobs.update(
            store,
            tenant,
            job_id,
            status="rejected" if rejected else "succeeded",
            version=model.version,
            auc=model.metrics.get("auc"),
            finished_at=time.time(),
            **({"error": rejected} if rejected else {}),
        )
    m = model.metrics
    print(
        f"{tenant}: trained {model.version} on {m['n_pairs']} pairs in {m['train_seconds']} s; "
        f"holdout AUC {m.get('auc')}, calibration error {m.get('calibration_error')}"
        f"{'; NOT activated: ' + rejected if rejected else ''}",
        flush=True,
    )
    return 3 if rejected else 0


if __name__ == "__main__":
    sys.exit(main())
