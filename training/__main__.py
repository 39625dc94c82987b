"""`python -m training --tenant T [--job ID]`: what `POST /v1/models/train` runs in a child process."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from suppressor import jobs
from suppressor.settings import Settings
from suppressor.store import Store

from .fit import TrainConfig, TrainingError, train_tenant


def main(argv: list[str] | None = None) -> int:
    """Train one tenant, reporting progress to stdout and, with --job, to the job record."""
    p = argparse.ArgumentParser(prog="python -m training")
    p.add_argument("--tenant", required=True)
    p.add_argument("--job")
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    p.add_argument("--dim", type=int, default=TrainConfig.dim)
    p.add_argument("--no-activate", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    store = Store(Settings())
    try:
        return run(store, args.tenant, args.job, TrainConfig(epochs=args.epochs, dim=args.dim, activate=not args.no_activate))
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
            jobs.update(store, tenant, job_id, status="failed", error=f"{type(exc).__name__}: {exc}", finished_at=time.time())
        raise
    rejected = model.metrics.get("rejected")
    if job_id:
        jobs.update(store, tenant, job_id, status="rejected" if rejected else "succeeded", version=model.version,
                    auc=model.metrics.get("auc"), finished_at=time.time(), **({"error": rejected} if rejected else {}))
    m = model.metrics
    print(f"{tenant}: trained {model.version} on {m['n_pairs']} pairs in {m['train_seconds']} s; "
          f"holdout AUC {m.get('auc')}, calibration error {m.get('calibration_error')}"
          f"{'; NOT activated: ' + rejected if rejected else ''}", flush=True)
    return 3 if rejected else 0


if __name__ == "__main__":
    sys.exit(main())
