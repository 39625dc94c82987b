"""Typed answers of the routes that are not a domain object themselves: the OpenAPI schema, the
CLI and the studio read the same shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from suppressor.domain import ActiveOffer
from suppressor.policy.content import Content


class Released(BaseModel):
    """A decision's capacity was given back."""

    decision_id: str
    released: bool = True


class DecisionLogPage(BaseModel):
    """The latest logged decisions, newest first: each verdict with the request it answered."""

    decisions: list[dict[str, Any]]


class DeferredVerdict(BaseModel):
    """A deferred verdict that is due: ask again with ``request`` (POST /v1/decisions) to decide it anew."""

    customer_id: str
    message_id: str
    decision_id: str = Field(description="the deferral's decision")
    not_before: datetime
    request: dict[str, Any] = Field(description="the decision request that was deferred, as it was asked")


class DeferredPage(BaseModel):
    """Due deferred verdicts, soonest first; ``next_cursor`` (null on the last page) asks for the next page."""

    deferred: list[DeferredVerdict]
    next_cursor: str | None


class TimelineItem(BaseModel):
    """One verdict (type "decision") or one piece of behavior (type "event")."""

    type: str = Field(description="decision or event")
    at: datetime
    decision_id: str | None = None
    message_id: str | None = None
    campaign_id: str | None = None
    action: str | None = None
    channel: str | None = None
    requested_channel: str | None = None
    reasons: list[dict[str, str]] = Field(default_factory=list, description="each rule that fired, in words")
    offer: dict[str, Any] | None = None
    event_id: str | None = None
    event: str | None = Field(default=None, description="the event type")
    topics: list[str] = Field(default_factory=list)


class Timeline(BaseModel):
    """What the person who answers the phone needs: standing offers, then verdicts and behavior."""

    customer_id: str
    offers: list[ActiveOffer]
    items: list[TimelineItem] = Field(description="newest first")
    next_before: datetime | None = Field(description="pass as `before` for the next page (null: no more)")


class ModelList(BaseModel):
    """Stored model versions, newest first, with their evaluation metrics."""

    active: str | None = Field(description="the version decisions use")
    models: list[dict[str, Any]]


class TrainingStarted(BaseModel):
    """A training job was queued."""

    job_id: str
    status: str = "queued"
    poll: str = Field(description="where to follow it")


class ScheduleIn(BaseModel):
    """A nightly retrain."""

    model_config = {"extra": "forbid"}
    at: str = Field(
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="time of day, HH:MM, UTC", examples=["03:00"]
    )


class TrainingSchedule(BaseModel):
    """The tenant's nightly retrain (empty when none is set)."""

    at: str | None = Field(default=None, description="time of day, HH:MM, UTC")
    next: datetime | None = Field(default=None, description="when the next one is queued")


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


# what-if reports: extra="forbid" so a field the core adds without a type here fails the tests


class _Report(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Span(_Report):
    """A time window (ISO-8601 UTC)."""

    from_: str | None = Field(alias="from")
    to: str | None


class Sampled(_Report):
    """How much of the log the answer is built on: whole customers, sampled stably."""

    decisions: int
    of_decisions: int
    customers: int
    of_customers: int


class Outcomes(_Report):
    """What one policy's verdicts send and what they are expected to yield."""

    decisions: int
    sends: int
    actions: dict[str, int] = Field(description="verdicts by action: send, reroute, defer, suppress")
    suppressed_by: dict[str, int] = Field(description="suppressions by the reason code that blocked them")
    deferred_by: dict[str, int]
    rerouted_by: dict[str, int]
    mix: dict[str, float] = Field(description="sends by kind, and the sales share")
    engagement: float = Field(description="expected engagements: observed where the send happened, modeled otherwise")
    engagement_observed: float
    engagement_modeled: float
    sends_with_observed_outcome: int
    unsubscribes: float
    complaints: float
    conversions: float = Field(description="expected conversions and purchases credited to the sends")
    service_visits: float = Field(description="expected service visits credited to the sends")
    revenue: float = Field(description="expected revenue credited to the sends, in the tenant's currency")
    revenue_per_customer: float


class CurrentOutcomes(Outcomes):
    """The current policy's replay."""

    policy_version: int


class CandidateOutcomes(Outcomes):
    """The candidate's replay, and the candidate itself."""

    policy: dict[str, Any] | None = None


class Change(_Report):
    """Candidate against current, with 95% bootstrap intervals (customers resampled)."""

    sends_pct: float | None
    engagement_kept_pct: float | None
    unsubscribes_avoided: float
    complaints_avoided: float
    conversions_kept_pct: float | None
    service_visits_kept_pct: float | None
    revenue_kept_pct: float | None
    revenue_per_customer_change: float = Field(description="candidate minus current, in the tenant's currency")
    sales_share: list[float] = Field(description="[current, candidate]")
    decisions_changed: int
    intervals: dict[str, list[float] | None]


class Verdict(_Report):
    """One replayed verdict with its sentences."""

    action: str
    channel: str | None
    reasons: list[dict[str, str]]


class Example(_Report):
    """A logged decision the candidate would answer differently."""

    decision_id: str
    customer_id: str
    message_id: str
    decided_at: str
    current: Verdict
    candidate: Verdict


class _Frame(_Report):
    window: Span
    decisions: int
    customers: int
    sampled: Sampled
    model_version: str | None
    attribution_days: int
    currency: str = Field(description="the tenant's currency: every revenue figure is in it")


class SimulateReport(_Frame):
    """What a candidate policy would have done with the logged decisions, against the current one."""

    current: CurrentOutcomes
    candidate: CandidateOutcomes
    change: Change
    agreement_with_log_pct: float | None = Field(
        description="how often replaying the current policy reproduces the logged verdict"
    )
    examples: list[Example]


class CurvePoint(_Report):
    """One value of the swept parameter."""

    value: float
    current: bool
    sends: int
    sends_pct: float | None
    engagement: float
    engagement_pct: float | None
    unsubscribes: float
    unsubscribes_pct: float | None
    complaints: float
    sales_share: float
    conversions: float
    revenue: float
    revenue_pct: float | None
    intervals: dict[str, list[float] | None]


class Pick(_Report):
    """The value that keeps a share of the engagement with the fewest sends."""

    value: float
    sends_pct: float | None
    engagement_pct: float | None
    unsubscribes_pct: float | None


class CurveBase(_Report):
    """The current policy on the curve."""

    value: float
    sends: int
    engagement: float
    unsubscribes: float
    complaints: float
    conversions: float
    revenue: float


class TradeoffCurve(_Frame):
    """Sends vs expected engagement vs unsubscribes as one parameter sweeps."""

    param: str
    policy_version: int
    current: CurveBase
    points: list[CurvePoint]
    picks: dict[str, Pick] = Field(description="for 95%, 98%, 99% of the engagement kept: the fewest sends")


class Rate(_Report):
    """A group's rate of customers with an outcome, with its 95% Wilson interval."""

    count: int
    rate: float
    low: float
    high: float


class Revenue(_Report):
    """A group's revenue per customer (in the tenant's currency), with its 95% interval."""

    total: float
    mean: float
    low: float
    high: float


class Group(_Report):
    """One group's customers, sends per customer, outcome rates and revenue per customer."""

    customers: int
    sends_per_customer: float | None
    engaged: Rate
    unsubscribed: Rate
    complained: Rate
    converted: Rate = Field(description="customers with a converted or purchased event")
    service_visit: Rate = Field(description="customers who came in for service")
    revenue_per_customer: Revenue = Field(description="amounts on purchased, converted and service_visit events")


class Difference(_Report):
    """Governed minus holdout, with a 95% interval (Newcombe's for rates, Welch's for revenue)."""

    diff: float
    low: float
    high: float


class LiftBlock(_Report):
    """Governed vs holdout over a span."""

    governed: Group
    holdout: Group
    difference: dict[str, Difference]


class LiftBucket(LiftBlock):
    """One bucket of the series."""

    from_: str = Field(alias="from")
    to: str


class HoldoutLift(_Report):
    """Governed customers vs the holdout: outcome rates with intervals, overall and per bucket."""

    bucket_days: float
    holdout_fraction: float
    currency: str = Field(description="the tenant's currency (policy.currency)")
    customers: dict[str, int]
    window: Span | None = None
    overall: LiftBlock | None
    buckets: list[LiftBucket]


class ArmOutcomes(_Report):
    """One arm of a campaign: its exposures, those followed by an outcome within the window, the rate
    with its 95% Wilson interval, and revenue per exposure (the tenant's currency)."""

    exposures: int
    outcomes: int
    rate: float
    low: float
    high: float
    revenue_per_exposure: float


class CampaignIncrementality(_Report):
    """What one campaign added: delivered against withheld (``difference`` is null until both arms exist)."""

    campaign_id: str
    delivered: ArmOutcomes
    withheld: ArmOutcomes
    difference: Difference | None = Field(description="outcome rate delivered minus withheld, Newcombe's 95% interval")
    revenue_per_exposure: Difference | None = Field(description="delivered minus withheld, Welch's 95% interval")
    measured: bool = Field(description="both arms have exposures")


class PooledIncrementality(_Report):
    """The campaigns with both arms, their differences weighted by exposures (normal 95% intervals)."""

    campaigns: int
    exposures: int
    difference: Difference
    revenue_per_exposure: Difference


class IncrementalityReport(_Report):
    """Outcomes after delivered messages against outcomes after messages withheld at random, per campaign."""

    window: str = Field(description="an outcome counts for every exposure this long before it")
    control_share: float = Field(description="the policy's share of would-be sends withheld (reason control)")
    currency: str
    customers: int = Field(description="customers read (a stable sample past max_customers)")
    since: str | None = None
    until: str | None = None
    overall: PooledIncrementality | None
    campaigns: list[CampaignIncrementality]


class HookReceipt(BaseModel):
    """What one provider webhook delivery did."""

    received: int = Field(description="provider events in the delivery")
    accepted: int = Field(description="events stored")
    duplicates: int = Field(description="events this tenant already had (a provider's retry)")
    unknown: int = Field(
        description="events about an address no profile lists (not stored: add the address to "
        "the customer's emails or phones)"
    )
    unknown_addresses: list[str] = Field(description="up to 10 of those addresses, masked")
    ignored: int = Field(description="provider events with nothing for us (sends queued, soft bounces, ...)")
    consent: int = Field(description="customers whose consent was restored (an SMS START, a resubscribe)")


class Webhook(BaseModel):
    """A provider webhook endpoint and what it received (never its secret, but once: see ``secret``)."""

    id: str
    provider: str
    url: str = Field(description="give this URL to the provider (Postmark's carries its credentials)")
    created: str
    secret: str | None = Field(
        default=None,
        description="the generated token (Braze, Iterable) or credentials "
        "(Postmark), answered only when the webhook is created",
    )
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    unknown: int = Field(default=0, description="events about an address no profile lists")
    ignored: int = 0
    consent: int = 0
    last_unknown: str | None = None
    last_at: str | None = None


class WebhookList(BaseModel):
    """A tenant's provider webhooks."""

    webhooks: list[Webhook]
