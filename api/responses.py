"""Typed answers of the routes that are not a domain object themselves: the OpenAPI schema, the
CLI and the studio read the same shapes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from suppressor.content import Content


class Released(BaseModel):
    """A decision's capacity was given back."""

    decision_id: str
    released: bool = True


class DecisionLogPage(BaseModel):
    """The latest logged decisions, newest first: each verdict with the request it answered."""

    decisions: list[dict[str, Any]]


class ModelList(BaseModel):
    """Stored model versions, newest first, with their evaluation metrics."""

    active: str | None = Field(description="the version decisions use")
    models: list[dict[str, Any]]


class TrainingStarted(BaseModel):
    """A training job was queued."""

    job_id: str
    status: str = "queued"
    poll: str = Field(description="where to follow it")


class TrainingJob(BaseModel):
    """A training job: status (queued, running, succeeded, failed, rejected), progress, result."""

    model_config = {"extra": "allow"}
    job_id: str
    status: str
    progress: str | None = None
    version: str | None = None
    error: str | None = None


class Activated(BaseModel):
    """The version decisions use now."""

    active: str


class PolicyHistory(BaseModel):
    """Past policy versions, newest first: what changed (the tenant policy or a campaign), when, and to what."""

    versions: list[dict[str, Any]]


class CampaignPolicy(BaseModel):
    """A campaign's override and the effective policy it yields."""

    campaign_id: str
    version: int
    override: dict[str, Any] | None
    effective: dict[str, Any]


class ContentList(BaseModel):
    """The substitute catalog."""

    content: list[Content]


class Status(BaseModel):
    """Liveness or readiness."""

    status: str
