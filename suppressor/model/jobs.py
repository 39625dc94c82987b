"""Training jobs: status and progress in Redis, so any process can report on them."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from suppressor.errors import Conflict, Unavailable
from suppressor.storage import keys
from suppressor.storage.store import Store, evalsha, run

JOB_TTL = 7 * 86400
LOCK_SECONDS = 3600  # a training holds its tenant's lock this long at most (also a queued job's time limit)
QUEUE = "suppressor-training"  # the RQ queue `suppressor worker` takes jobs from
# how `python -m suppressor.training` exits (training/__main__.py); anything else (a signal) is a crash
EXIT_STATUS = {0: "succeeded", 1: "failed", 2: "failed", 3: "rejected"}
log = logging.getLogger(__name__)


def lock_key(tenant: str) -> str:
    """One training at a time per tenant."""
    return keys.tenant(tenant, "train", "lock")


def create(store: Store, tenant: str, lock_seconds: int = LOCK_SECONDS) -> str | None:
    """Register a queued job and take the tenant's training lock; None if one is running."""
    job_id = f"j_{secrets.token_hex(6)}"
    if not store.bulk.set(lock_key(tenant), job_id, nx=True, ex=lock_seconds):
        return None
    update(store, tenant, job_id, status="queued", created_at=time.time(), progress="")
    return job_id


def update(store: Store, tenant: str, job_id: str, **fields) -> None:
    """Set fields of a job (status, progress, version, error, ...); an ending status frees the tenant's
    training lock if this job holds it."""
    key = keys.train_job(tenant, job_id)
    pipe = store.bulk.pipeline(transaction=False)
    pipe.hset(key, mapping={k: str(v) for k, v in fields.items()})
    pipe.expire(key, JOB_TTL)
    pipe.execute()
    if fields.get("status") in ("succeeded", "failed", "rejected"):
        run(store, evalsha(store, "release_lock", [([lock_key(tenant)], [job_id])]))


def take(store: Store, tenant: str, job_id: str) -> bool:
    """Hold the tenant's training lock for this job as it starts (a retried job holds it again); False
    when another training of the tenant holds it. Counts the job's attempts."""
    lock = lock_key(tenant)
    if not store.bulk.set(lock, job_id, nx=True, ex=LOCK_SECONDS) and store.bulk.get(lock) != job_id.encode():
        return False
    store.bulk.expire(lock, LOCK_SECONDS)
    store.bulk.hincrby(keys.train_job(tenant, job_id), "attempts", 1)
    return True


def queue_connection(store: Store, timeout: float | None = None, url: str | None = None) -> redis.Redis:
    """The plain Redis that holds the training queue: ``url`` or SUPPRESSOR_QUEUE_URL, else the store.

    ``timeout`` None for a worker (it blocks waiting for jobs), the store timeout for a request."""
    url = url or store.settings.queue_url
    options: dict[str, Any] = dict(socket_timeout=timeout, socket_connect_timeout=timeout or store.bulk_timeout)
    if url:
        return redis.Redis.from_url(url, **options)
    if store.cluster:
        raise Unavailable(
            "the training queue needs a plain Redis (RQ cannot use a Redis Cluster): set SUPPRESSOR_QUEUE_URL",
            "SUPPRESSOR_QUEUE_URL",
        )
    if store.embedded is not None:
        return redis.Redis(unix_socket_path=store.embedded.socket_file, **options)
    assert store.url is not None  # a store without an embedded server has a URL
    return redis.Redis.from_url(store.url, **options)


def enqueue(store: Store, tenant: str, queue_url: str | None = None) -> str:
    """Queue a training of the tenant for `suppressor worker` (retried once if it crashes); its job id.

    Conflict while another training of the tenant is queued or runs."""
    from rq import Queue, Retry

    queue = Queue(QUEUE, connection=queue_connection(store, store.bulk_timeout, queue_url))  # none: nothing taken
    job_id = create(store, tenant)
    if job_id is None:
        raise Conflict("Training already running", "a training job for this tenant is queued or running")
    try:
        # by name: the core never imports training (nor LightFM); the worker's job process does
        queue.enqueue(
            "suppressor.training.worker.train",
            tenant,
            job_id,
            job_id=job_id,
            retry=Retry(max=1),
            job_timeout=LOCK_SECONDS,
            result_ttl=JOB_TTL,
            failure_ttl=JOB_TTL,
        )
    except redis.RedisError as exc:
        update(store, tenant, job_id, status="failed", error=f"the training queue did not take the job: {exc}")
        raise
    return job_id


def nightly_key(tenant: str) -> str:
    """Hash: the tenant's nightly retrain (at, next, the scheduled queue job)."""
    return keys.tenant(tenant, "train", "nightly")


def schedule(
    store: Store,
    tenant: str,
    at: str | None,
    now: datetime | None = None,
    running: str | None = None,
    queue_url: str | None = None,
) -> datetime | None:
    """Retrain the tenant every night at ``at`` ("HH:MM", UTC) on the queue, replacing any schedule it had;
    None cancels it. The next run's time after ``now`` (the worker's scheduler queues it then).

    ``running``: the queue job calling, the night's own (left to the worker that runs it)."""
    from rq import Queue
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    conn = queue_connection(store, store.bulk_timeout, queue_url)
    old = store.bulk.hget(nightly_key(tenant), "rq_job")
    if old and old.decode() != running:
        with contextlib.suppress(NoSuchJobError):  # it ran (and is rescheduling itself right now) or expired
            Job.fetch(old.decode(), connection=conn).delete()
    if at is None:
        store.bulk.delete(nightly_key(tenant))
        return None
    when = next_run(at, now)
    job = Queue(QUEUE, connection=conn).enqueue_at(
        when,
        "suppressor.training.worker.nightly",
        tenant,
        job_id=f"nightly_{tenant}_{int(when.timestamp())}",
        result_ttl=JOB_TTL,
        failure_ttl=JOB_TTL,
    )
    store.bulk.hset(nightly_key(tenant), mapping={"at": at, "next": when.isoformat(), "rq_job": job.id})
    return when


def nightly(store: Store, tenant: str) -> dict[str, str] | None:
    """The tenant's nightly retrain ({at, next}), or None."""
    raw = store.bulk.hgetall(nightly_key(tenant))
    return {k.decode(): v.decode() for k, v in raw.items() if k != b"rq_job"} or None


def next_run(at: str, now: datetime | None = None) -> datetime:
    """The next time of day ``at`` ("HH:MM", UTC) after ``now``."""
    hour, minute = (int(x) for x in at.split(":"))
    now = now or datetime.now(UTC)
    when = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return when if when > now else when + timedelta(days=1)


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
    child = subprocess.Popen(
        [sys.executable, "-m", "suppressor.training", "--tenant", tenant, "--job", job_id],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )

    def watch() -> None:
        code = child.wait()
        status = EXIT_STATUS.get(code, "crashed")
        if status == "crashed":  # killed before it could say how it ended: say it, and free the lock now
            try:
                update(
                    store,
                    tenant,
                    job_id,
                    status="failed",
                    error=f"the training process ended with code {code} before it finished",
                )
            except redis.RedisError as exc:
                log.warning("tenant %s: job %s crashed and could not be marked failed: %r", tenant, job_id, exc)
        if finished is not None:
            finished(status, time.monotonic() - t0)

    threading.Thread(target=watch, name=f"train-{job_id}", daemon=True).start()
    return job_id
