"""GET /v1/models, POST /v1/models/train, GET /v1/models/jobs/{id}, POST /v1/models/{v}/activate."""

import os
import subprocess
import sys

from fastapi import APIRouter

from suppressor import jobs
from suppressor import model as models

from ..deps import ServicesDep, StoreDep, TenantDep, StoreUp
from ..responses import Activated, ModelList, TrainingJob, TrainingStarted
from ..errors import CONFLICT, NOT_FOUND, RESPONSES, ApiError

router = APIRouter(prefix="/v1/models", tags=["models"], dependencies=[StoreUp], responses=RESPONSES)


@router.get("")
def list_models(tenant: TenantDep, store: StoreDep) -> ModelList:
    """Every stored version with its evaluation metrics; the active one marked."""
    return ModelList(active=models.active_version(store, tenant), models=models.list_models(store, tenant))


@router.post("/train", status_code=202, responses=CONFLICT)
def train(tenant: TenantDep, store: StoreDep, services: ServicesDep) -> TrainingStarted:
    """Start training in a child process (LightFM never loads into the server); poll the job."""
    job_id = jobs.create(store, tenant)
    if job_id is None:
        raise ApiError(409, "Training already running", "a training job for this tenant is still running", None)
    env = dict(os.environ)
    env["SUPPRESSOR_DATA_DIR"] = str(services.settings.data_dir.resolve())
    if services.settings.redis_url:
        env["REDIS_URL"] = services.settings.redis_url
    subprocess.Popen([sys.executable, "-m", "suppressor.training", "--tenant", tenant, "--job", job_id], env=env,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    return TrainingStarted(job_id=job_id, poll=f"/v1/models/jobs/{job_id}")


@router.get("/jobs/{job_id}", responses=NOT_FOUND)
def job(job_id: str, tenant: TenantDep, store: StoreDep) -> TrainingJob:
    """Status and latest progress line of a training job."""
    found = jobs.get(store, tenant, job_id)
    if found is None:
        raise ApiError(404, "Not found", f"no training job {job_id!r}", "job_id")
    return TrainingJob(**{**found, "job_id": job_id})


@router.post("/{version}/activate", responses=NOT_FOUND)
def activate(version: str, tenant: TenantDep, store: StoreDep, services: ServicesDep) -> Activated:
    """Make a stored version active (roll back or forward); servers pick it up within a second."""
    m = models.activate(store, tenant, version)  # NotFound -> 404, Refused -> 422 (api/errors.py)
    services.states.invalidate(tenant)
    return Activated(active=m.version)
