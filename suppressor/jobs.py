"""Training jobs: status and progress in Redis, so any process can report on them."""

from __future__ import annotations

import secrets
import time

from . import keys
from .store import Store

JOB_TTL = 7 * 86400


def lock_key(tenant: str) -> str:
    """One training at a time per tenant."""
    return keys.tenant(tenant, "train", "lock")


def create(store: Store, tenant: str, lock_seconds: int = 3600) -> str | None:
    """Register a queued job and take the tenant's training lock; None if one is running."""
    job_id = f"j_{secrets.token_hex(6)}"
    if not store.bulk.set(lock_key(tenant), job_id, nx=True, ex=lock_seconds):
        return None
    update(store, tenant, job_id, status="queued", created_at=time.time(), progress="")
    return job_id


def update(store: Store, tenant: str, job_id: str, **fields) -> None:
    """Set fields of a job (status, progress, version, error, ...)."""
    key = keys.train_job(tenant, job_id)
    pipe = store.bulk.pipeline(transaction=False)
    pipe.hset(key, mapping={k: str(v) for k, v in fields.items()})
    pipe.expire(key, JOB_TTL)
    if fields.get("status") in ("succeeded", "failed", "rejected"):
        pipe.delete(lock_key(tenant))
    pipe.execute()


def get(store: Store, tenant: str, job_id: str) -> dict[str, str] | None:
    """A job's fields, or None."""
    raw = store.bulk.hgetall(keys.train_job(tenant, job_id))
    return {k.decode(): v.decode() for k, v in raw.items()} or None
