"""Liveness, readiness and Prometheus metrics."""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..deps import ServicesDep
from ..errors import problem

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep):
    """The store answers (as its monitor last saw it; this call never waits on the store)."""
    if services.store.up:
        return {"status": "ready", "store": services.store.location}
    return problem(503, "Not ready", f"store {services.store.location} does not answer")


@router.get("/metrics")
def metrics(services: ServicesDep) -> Response:
    """Prometheus exposition."""
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
