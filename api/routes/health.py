"""Liveness, readiness and Prometheus metrics."""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from suppressor.storage.store import memory_problems

from ..deps import ServicesDep
from ..errors import doc, problem
from ..responses import Status

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Status:
    """The process is up."""
    return Status(status="ok")


@router.get(
    "/readyz",
    response_model=Status,
    responses={503: doc("the store does not answer, may evict keys, or is full (the reasons, in words)")},
)
async def readyz(services: ServicesDep):
    """The store answers, cannot evict keys and has room (as its monitor last saw it; this call never
    waits on the store). Public: it names no tenant and no store location (the log does, at start)."""
    store = services.store
    if not store.up:
        return problem(503, "Not ready", "the store does not answer", headers={"Retry-After": "1"})
    reasons = memory_problems(store.memory, services.settings)
    if reasons:
        return problem(503, "Not ready", "; ".join(reasons), headers={"Retry-After": "10"})
    return Status(status="ready")


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text exposition"},
        401: doc("no ops token (or not on loopback)"),
    },
)
def metrics(services: ServicesDep) -> Response:
    """Prometheus exposition (the ops token guards it: see api.gate)."""
    return Response(services.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
