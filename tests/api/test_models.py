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
    return client.post("/v1/decisions", headers=auth(key), json={
        "customer_id": "yankees-fan-1", "message": message(f"m-{next(_mids)}", [f"team:{team}"])}).json()


def test_train_endpoint_then_live_server_uses_the_model(client, key, store):
    assert decide(client, key, "yankees")["model_version"] is None
    ingest(store, "acme", fan_events())
    r = client.post("/v1/models/train", headers=auth(key))
    assert r.status_code == 202
    job = wait_for(client, key, r.json()["job_id"])
    assert job["status"] == "succeeded", job
    assert job["version"] == "v1"

    listing = client.get("/v1/models", headers=auth(key)).json()
    assert listing["active"] == "v1"
    assert listing["models"][0]["metrics"]["n_pairs"] > 0
    d = decide(client, key, "yankees")
    assert d["model_version"] == "v1" and d["score"] > decide(client, key, "red-sox")["score"]


def test_one_training_at_a_time_and_clear_failure(client, key, store):
    assert jobs.create(store, "acme") is not None
    r = client.post("/v1/models/train", headers=auth(key))
    assert r.status_code == 409
    store.bulk.delete(jobs.lock_key("acme"))
    r = client.post("/v1/models/train", headers=auth(key))  # no events at all
    job = wait_for(client, key, r.json()["job_id"])
    assert job["status"] == "failed" and "not enough behavior" in job["error"]


def test_activate_unknown_version_is_404(client, key):
    r = client.post("/v1/models/v7/activate", headers=auth(key))
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "version"
