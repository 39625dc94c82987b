"""The jobs `suppressor worker` runs from the RQ queue, each in a process forked for it (LightFM loads
there, never in the worker or the server): a tenant's training, and its nightly retrain."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from suppressor.errors import Conflict
from suppressor.model import jobs
from suppressor.settings import Settings
from suppressor.storage.store import BATCH_TIMEOUT, Store

from .__main__ import run
from .fit import TrainConfig

log = logging.getLogger(__name__)


def train(tenant: str, job_id: str) -> str:
    """Train the tenant for a queued job; how it ended. An exception (a crash) lets RQ retry it once."""
    store = Store(Settings(), bulk_timeout=BATCH_TIMEOUT)
    try:
        if not jobs.take(store, tenant, job_id):  # a retry that another training overtook meanwhile
            jobs.update(store, tenant, job_id, status="failed", error="another training of this tenant took over")
            return "failed"
        jobs.update(store, tenant, job_id, status="running", progress="started")
        return jobs.EXIT_STATUS[run(store, tenant, job_id, TrainConfig())]
    finally:
        store.close()


def nightly(tenant: str) -> str | None:
    """Queue the tenant's nightly training and schedule the next night's; the training's job id, or None
    when one was already queued or running."""
    from rq import get_current_job

    store = Store(Settings(), bulk_timeout=BATCH_TIMEOUT)
    try:
        at, planned, rq_job = store.bulk.hmget(jobs.nightly_key(tenant), "at", "next", "rq_job")
        current = get_current_job()
        if at is not None and (current is None or rq_job == current.id.encode()):  # not if it changed meanwhile
            # the night after the one this run was for (a scheduler may start it a moment early or late)
            after = max(datetime.now(UTC), datetime.fromisoformat(planned.decode()))
            jobs.schedule(store, tenant, at.decode(), now=after, running=current.id if current else None)
        try:
            return jobs.enqueue(store, tenant)
        except Conflict:
            log.info("tenant %s: nightly training skipped, one is queued or running", tenant)
            return None
    finally:
        store.close()
