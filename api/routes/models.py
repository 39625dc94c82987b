"""GET /v1/models, POST /v1/models/train, GET /v1/models/jobs/{id}, GET/PUT/DELETE /v1/models/schedule,
POST /v1/models/{v}/activate."""

from fastapi import APIRouter, Response

from suppressor.errors import Conflict, NotFound
from suppressor.model import exported as models
from suppressor.model import jobs

from ..deps import ServicesDep, StoreDep, StoreUp, TenantDep
from ..errors import CONFLICT, NOT_FOUND, RESPONSES, doc
from ..responses import Activated, ModelList, ScheduleIn, TrainingJob, TrainingSchedule, TrainingStarted

router = APIRouter(prefix="/v1/models", tags=["models"], dependencies=[StoreUp], responses=RESPONSES)


@router.get("")
def list_models(tenant: TenantDep, store: StoreDep) -> ModelList:
    """Every stored version with its evaluation metrics; the active one marked."""
    return ModelList(active=models.active_version(store, tenant), models=models.list_models(store, tenant))


@router.post("/train", status_code=202, responses=CONFLICT)
def train_model(tenant: TenantDep, store: StoreDep, services: ServicesDep) -> TrainingStarted:
    """Start training: in a child process (LightFM never loads into the server), or, with
    SUPPRESSOR_TRAINING_RUNNER=queue, as a job for `suppressor worker`; poll the job."""
    if services.settings.training_runner == "queue":
        job_id = jobs.enqueue(store, tenant, services.settings.queue_url)  # Conflict -> 409 while one is queued or runs
        return TrainingStarted(job_id=job_id, poll=f"/v1/models/jobs/{job_id}")
    metrics = services.metrics

    def finished(status: str, seconds: float) -> None:
        metrics.training_jobs.labels(status).inc()
        metrics.training_seconds.observe(seconds)

    job_id = jobs.launch(store, tenant, finished)  # Conflict -> 409 while one runs
    return TrainingStarted(job_id=job_id, poll=f"/v1/models/jobs/{job_id}")


@router.get("/jobs/{job_id}", responses=NOT_FOUND)
def get_training_job(job_id: str, tenant: TenantDep, store: StoreDep) -> TrainingJob:
    """Status and latest progress line of a training job."""
    found = jobs.get(store, tenant, job_id)
    if found is None:
        raise NotFound(f"no training job {job_id!r}", "job_id")
    return TrainingJob(**{**found, "job_id": job_id})


@router.get("/schedule")
def get_training_schedule(tenant: TenantDep, store: StoreDep) -> TrainingSchedule:
    """The tenant's nightly retrain, if any."""
    return TrainingSchedule(**(jobs.nightly(store, tenant) or {}))


@router.put(
    "/schedule",
    responses={
        409: doc(
            "training runs in the server's own processes: nothing would run "
            "the schedule (set SUPPRESSOR_TRAINING_RUNNER=queue)"
        )
    },
)
def put_training_schedule(
    body: ScheduleIn, tenant: TenantDep, store: StoreDep, services: ServicesDep
) -> TrainingSchedule:
    """Retrain the tenant every night at ``at`` (HH:MM, UTC): `suppressor worker` queues the job then."""
    if services.settings.training_runner != "queue":
        raise Conflict(
            "No training queue",
            "nightly retrains run on the training queue: set "
            "SUPPRESSOR_TRAINING_RUNNER=queue and run `suppressor worker`",
        )
    return TrainingSchedule(
        at=body.at, next=jobs.schedule(store, tenant, body.at, queue_url=services.settings.queue_url)
    )


@router.delete("/schedule", status_code=204)
def delete_training_schedule(tenant: TenantDep, store: StoreDep, services: ServicesDep) -> Response:
    """No more nightly retrains for the tenant."""
    if jobs.nightly(store, tenant) is not None:
        jobs.schedule(store, tenant, None, queue_url=services.settings.queue_url)
    return Response(status_code=204)


@router.post("/{version}/activate", responses=NOT_FOUND)
def activate_model(version: str, tenant: TenantDep, services: ServicesDep) -> Activated:
    """Make a stored version active (roll back or forward); servers pick it up within a second."""
    m = services.admin.activate_model(tenant, version)  # NotFound -> 404, Refused -> 422 (api/errors.py)
    return Activated(active=m.version)
