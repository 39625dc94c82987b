"""Training over HTTP in a child process; the running server picks the model up; rollback."""

import itertools
import time

from suppressor.model import jobs
from tests.factories import auth, fan_events, ingest, message


def wait_for(client, key, job_id, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/v1/models/jobs/{job_id}", headers=auth(key)).json()
        if job["status"] in ("succeeded", "failed", "rejected"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"training job {job_id} did not finish: {job}")


_mids = itertools.count()


def decide(client, key, team):
    return client.post(
        "/v1/decisions",
        headers=auth(key),
        json={"customer_id": "yankees-fan-1", "message": message(f"m-{next(_mids)}", [f"team:{team}"])},
    ).json()


def test_train_endpoint_then_live_server_uses_the_model(client, key, store):
    assert decide(client, key, "yankees")["model_version"] is None
    ingest(store, "acme", fan_events())
    r = client.post("/v1/models/train", headers=auth(key))
    assert r.status_code == 202
    job = wait_for(client, key, r.json()["job_id"])
    assert job["status"] == "succeeded", job
    assert job["version"] == "v1"
    assert metric(client, 'suppressor_training_jobs_total{status="succeeded"} 1.0')

    listing = client.get("/v1/models", headers=auth(key)).json()
    assert listing["active"] == "v1"
    assert listing["models"][0]["metrics"]["n_pairs"] > 0
    d = decide(client, key, "yankees")
    assert d["model_version"] == "v1" and d["score"] > decide(client, key, "red-sox")["score"]


def metric(client, line: str, timeout: float = 10) -> bool:
    """True once /metrics shows ``line`` (the job's watcher records it as the child exits)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if line in client.get("/metrics").text:
            return True
        time.sleep(0.1)
    return False


def test_one_training_at_a_time_and_clear_failure(client, key, store):
    assert jobs.create(store, "acme") is not None
    r = client.post("/v1/models/train", headers=auth(key))
    assert r.status_code == 409
    store.bulk.delete(jobs.lock_key("acme"))
    r = client.post("/v1/models/train", headers=auth(key))  # no events at all
    job = wait_for(client, key, r.json()["job_id"])
    assert job["status"] == "failed" and "not enough behavior" in job["error"]
    assert metric(client, 'suppressor_training_jobs_total{status="failed"} 1.0')
    assert "suppressor_training_seconds_count 1.0" in client.get("/metrics").text


def test_a_killed_training_is_marked_failed_and_frees_the_tenant(store):
    """A worker killed mid-job (the OOM killer, a deploy) must not hold the tenant's training lock
    for an hour: the job says it crashed and the next training may start at once."""
    import signal
    import threading

    import psutil

    ingest(store, "acme", fan_events())
    ended: list = []
    done = threading.Event()
    job_id = jobs.launch(store, "acme", lambda status, seconds: (ended.append((status, seconds)), done.set()))
    deadline = time.time() + 30
    child = None
    while child is None and time.time() < deadline:
        child = next((p for p in psutil.process_iter(["cmdline"]) if job_id in (p.info["cmdline"] or [])), None)
        time.sleep(0.05)
    assert child is not None, "the training process did not start"
    child.send_signal(signal.SIGKILL)
    assert done.wait(30)
    assert ended[0][0] == "crashed"
    job = jobs.get(store, "acme", job_id)
    assert job["status"] == "failed" and "before it finished" in job["error"]
    assert store.bulk.get(jobs.lock_key("acme")) is None  # the next training may start now


def test_activate_unknown_version_is_404(client, key):
    r = client.post("/v1/models/v7/activate", headers=auth(key))
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "version"
