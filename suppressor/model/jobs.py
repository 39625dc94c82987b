"""Training jobs: status and progress in Redis, so any process can report on them."""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import redis

from suppressor.errors import Conflict
from suppressor.storage import keys
from suppressor.storage.store import Store

JOB_TTL = 7 * 86400
# how `python -m suppressor.training` exits (training/__main__.py); anything else (a signal) is a crash
EXIT_STATUS = {0: "succeeded", 1: "failed", 2: "failed", 3: "rejected"}
log = logging.getLogger(__name__)


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


def launch(store: Store, tenant: str, finished: Callable[[str, float], None] | None = None) -> str:
    """Start training in a child process (LightFM never loads into the server); its job id.

    Conflict while another training of the tenant runs. The child reads the same store.
    ``finished(status, seconds)`` is called from a watcher thread when the child exits."""
    job_id = create(store, tenant)
    if job_id is None:
        raise Conflict("Training already running", "a training job for this tenant is still running")
    env = dict(os.environ, SUPPRESSOR_DATA_DIR=str(store.settings.data_dir.resolve()))
    if store.settings.redis_url:
        env["REDIS_URL"] = store.settings.redis_url
    # by module name, not import: the core never imports training (nor LightFM)
    t0 = time.monotonic()
    child = subprocess.Popen([sys.executable, "-m", "suppressor.training", "--tenant", tenant, "--job", job_id],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def watch() -> None:
        code = child.wait()
        status = EXIT_STATUS.get(code, "crashed")
        if status == "crashed":  # killed before it could say how it ended: say it, and free the lock now
            try:
                update(store, tenant, job_id, status="failed",
                       error=f"the training process ended with code {code} before it finished")
            except redis.RedisError as exc:
                log.warning("tenant %s: job %s crashed and could not be marked failed: %r", tenant, job_id, exc)
        if finished is not None:
            finished(status, time.monotonic() - t0)

    threading.Thread(target=watch, name=f"train-{job_id}", daemon=True).start()
    return job_id
