"""Training on the RQ queue: `POST /v1/models/train` queues, a real `suppressor worker` process runs the
job (retried once when its process is killed), and a nightly retrain is scheduled per tenant."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import psutil
import pytest
import redis
from fastapi.testclient import TestClient
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from suppressor.api.app import create_app
from suppressor.model import exported as models
from suppressor.model import jobs
from suppressor.settings import Settings
from suppressor.storage.store import Store
from suppressor.tenants import apikeys
from tests import cluster
from tests.factories import auth, fan_events, ingest
from tests.faults import ROOT, RedisServer, env_for, free_port, redis_server_or_skip

ENDED = ("succeeded", "failed", "rejected")


@pytest.fixture
def queued(settings, store, tmp_path):
    """Settings with training on the queue (beside a cluster, the queue is a plain server of its own)."""
    extra = {"training_runner": "queue"}
    server = None
    if store.cluster:
        redis_server_or_skip()
        server = RedisServer(tmp_path / "queue").start()
        extra["queue_url"] = server.url
    yield settings.model_copy(update=extra)
    if server:
        server.close()


@pytest.fixture
def qclient(queued, store):
    with TestClient(create_app(queued, store)) as c:
        yield c


def worker(settings, *args: str) -> subprocess.Popen:
    """A `suppressor worker` process on the test store (and queue)."""
    env = env_for(
        settings,
        SUPPRESSOR_TRAINING_RUNNER="queue",
        **({"SUPPRESSOR_QUEUE_URL": settings.queue_url} if settings.queue_url else {}),
    )
    return subprocess.Popen(
        [sys.executable, "-c", "from suppressor.api.cli import main; main()", "worker", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(client, poll: str, key: str, statuses, seconds: float = 120.0) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        job = client.get(poll, headers=auth(key)).json()
        if job["status"] in statuses or time.monotonic() > deadline:
            return job
        time.sleep(0.01)


def test_a_queued_training_is_run_by_a_worker_and_followed_through_its_job(queued, store, qclient):
    ingest(store, "acme", fan_events())
    key = apikeys.create_key(store, "acme")
    r = qclient.post("/v1/models/train", headers=auth(key))
    assert r.status_code == 202
    poll = r.json()["poll"]
    assert qclient.get(poll, headers=auth(key)).json()["status"] == "queued"  # no worker yet
    again = qclient.post("/v1/models/train", headers=auth(key))
    assert again.status_code == 409 and "queued or running" in again.json()["detail"]

    assert worker(queued, "--burst").wait(timeout=300) == 0  # takes the job, exits when the queue is empty
    job = qclient.get(poll, headers=auth(key)).json()
    assert job["status"] == "succeeded" and job["attempts"] == "1", job
    assert models.active_version(store, "acme") == job["version"]
    assert qclient.post("/v1/models/train", headers=auth(key)).status_code == 202  # the lock is free again


def test_a_job_whose_process_is_killed_is_retried_once_and_never_runs_twice_at_once(queued, store, qclient):
    ingest(store, "acme", fan_events())
    key = apikeys.create_key(store, "acme")
    w = worker(queued)
    try:
        poll = qclient.post("/v1/models/train", headers=auth(key)).json()["poll"]
        assert wait_for(qclient, poll, key, ("running", *ENDED))["status"] == "running"
        # the process forked for the job leads a process group of its own (the scheduler's does not)
        [horse] = [p for p in psutil.Process(w.pid).children() if os.getpgid(p.pid) == p.pid]
        horse.kill()
        assert qclient.post("/v1/models/train", headers=auth(key)).status_code == 409  # still this tenant's turn
        job = wait_for(qclient, poll, key, ENDED)
    finally:
        w.terminate()
        w.wait(timeout=30)
    assert job["status"] == "succeeded" and job["attempts"] == "2", job
    assert models.active_version(store, "acme") == job["version"]


def test_a_nightly_retrain_is_scheduled_moved_run_and_cancelled(queued, store, qclient):
    ingest(store, "acme", fan_events())
    key = apikeys.create_key(store, "acme")
    queue = Queue(
        jobs.QUEUE,
        connection=redis.Redis.from_url(queued.queue_url) if queued.queue_url else jobs.queue_connection(store),
    )
    scheduled = ScheduledJobRegistry(queue=queue)

    r = qclient.put("/v1/models/schedule", json={"at": "03:00"}, headers=auth(key))
    assert r.status_code == 200
    first = datetime.fromisoformat(r.json()["next"])
    now = datetime.now(UTC)
    assert (first.hour, first.minute) == (3, 0) and now < first <= now + timedelta(days=1)
    r = qclient.put("/v1/models/schedule", json={"at": "04:30"}, headers=auth(key))
    planned = datetime.fromisoformat(r.json()["next"])
    [tonight] = scheduled.get_job_ids()  # moved, not doubled
    assert (planned.hour, planned.minute) == (4, 30)
    assert qclient.get("/v1/models/schedule", headers=auth(key)).json()["at"] == "04:30"

    # the night comes (moved to now): a worker's scheduler queues it, and the worker runs it and the
    # training it queues
    scheduled.schedule(Job.fetch(tonight, connection=queue.connection), now - timedelta(seconds=1))
    assert worker(queued, "--burst").wait(timeout=300) == 0
    assert models.active_version(store, "acme") is not None  # trained by the nightly run
    [tomorrow] = scheduled.get_job_ids()
    assert tomorrow != tonight
    after = datetime.fromisoformat(qclient.get("/v1/models/schedule", headers=auth(key)).json()["next"])
    assert after == planned + timedelta(days=1)  # the night after the one it ran for

    other = apikeys.create_key(store, "globex")  # another tenant's schedule at the same time of night
    assert qclient.put("/v1/models/schedule", json={"at": "04:30"}, headers=auth(other)).status_code == 200
    assert qclient.delete("/v1/models/schedule", headers=auth(key)).status_code == 204
    [theirs] = scheduled.get_job_ids()  # acme's cancel took only acme's
    assert theirs != tomorrow and "globex" in theirs
    assert qclient.get("/v1/models/schedule", headers=auth(other)).json()["at"] == "04:30"
    assert qclient.delete("/v1/models/schedule", headers=auth(other)).status_code == 204
    assert scheduled.get_job_ids() == []
    assert qclient.get("/v1/models/schedule", headers=auth(key)).json() == {"at": None, "next": None}


def test_a_queue_that_does_not_answer_is_a_503_and_holds_no_lock(settings, store):
    dead = settings.model_copy(update={"training_runner": "queue", "queue_url": f"redis://127.0.0.1:{free_port()}/0"})
    key = apikeys.create_key(store, "acme")
    with TestClient(create_app(dead, store)) as c:
        for _ in range(2):  # the second is not a 409: the first left no lock behind
            r = c.post("/v1/models/train", headers=auth(key))
            assert r.status_code == 503 and r.headers["retry-after"], r.text
    assert store.bulk.get(jobs.lock_key("acme")) is None


def test_beside_a_cluster_without_a_queue_url_training_is_a_503_naming_the_setting(tmp_path):
    redis_server_or_skip()
    nodes = cluster.start(tmp_path / "cluster", cluster.free_ports(3))
    settings = Settings(redis_url=nodes.url, data_dir=tmp_path / "data", training_runner="queue")
    st = Store(settings)
    try:
        key = apikeys.create_key(st, "acme")
        with TestClient(create_app(settings, st)) as c:
            r = c.post("/v1/models/train", headers=auth(key))
        assert r.status_code == 503 and r.json()["errors"][0]["field"] == "SUPPRESSOR_QUEUE_URL"
        assert st.bulk.get(jobs.lock_key("acme")) is None  # nothing taken: a queue set later works at once
    finally:
        st.close()
        nodes.stop()


def test_without_the_queue_a_schedule_is_refused_in_words(client, key):
    r = client.put("/v1/models/schedule", json={"at": "03:00"}, headers=auth(key))
    assert r.status_code == 409 and "SUPPRESSOR_TRAINING_RUNNER=queue" in r.json()["detail"]
    assert client.put("/v1/models/schedule", json={"at": "25:00"}, headers=auth(key)).status_code == 422
