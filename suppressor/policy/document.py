"""The marketer's policy: per tenant with per-campaign overrides, versioned.

Every change (tenant policy or a campaign override) makes a new tenant-wide version;
decisions report the version they were made under.
"""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    PrivateAttr,
    StrictBool,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from suppressor import rules
from suppressor.domain import (
    CURRENCY,
    KNOWN_CHANNELS,
    WEEKDAYS,
    Channel,
    Kind,
    Strict,
    Topic,
    Weekday,
    format_duration,
    parse_duration,
)
from suppressor.errors import Refused
from suppressor.storage import keys
from suppressor.storage.store import Store, evalsha, run

# answered as text ('7d'); accepted as text or a number of seconds: the schema says both
Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": r"^\s*\d+\s*[smhdw]\s*$"}],
            "examples": ["7d", "12h", 3600],
        }
    ),
]
# "any" is itself a valid channel name: one string schema (a generated client reads an anyOf of a pattern and
# a const as the const alone, and refused every channel)
ChannelOrAny = Annotated[
    Channel | Literal["any"], WithJsonSchema({"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,31}$"})
]
LocalTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class FailureMode(StrEnum):
    """What to answer when the store does not answer in time."""

    send = "send"
    defer = "defer"
    suppress = "suppress"


Priority = Annotated[int, Field(ge=0, le=100)]
# transactional first (receipts, password resets must never wait for a marketing slot), then service
# (recalls, a service that is due), value content, and sales last: sales asks are what caps exist to restrain
DEFAULT_PRIORITIES = {Kind.transactional: 100, Kind.service: 60, Kind.value: 40, Kind.sales: 30}


class Reserve(Strict):
    """The last `slots` of a cap's window, kept for messages of priority `min_priority` or more."""

    slots: int = Field(ge=1, le=10_000, description="how many of the cap's last sends are kept")
    min_priority: Priority = Field(description="the priority a message needs to take a kept slot")


class CapRule(Strict):
    """A frequency cap: at most `max` sends in `window` (per channel or any, optionally per kind)."""

    channel: ChannelOrAny = Field(default="any", description="a channel, or any channel")
    kind: Kind | None = Field(default=None, description="count only this kind (default: every kind)")
    max: int = Field(ge=0, le=10_000, description="sends allowed in the window")
    window: Duration = Field(description="rolling window, e.g. '7d'")
    reserve: Reserve | None = Field(
        default=None,
        description="keep the last slots for high priorities, e.g. "
        "{slots: 1, min_priority: 50}: a lower priority is suppressed (reason reserved)",
    )

    @field_validator("window")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v <= 0 or v > 366 * 86400:
            raise ValueError("window must be between 1 second and 366 days")
        return v

    @model_validator(mode="after")
    def _reserve_fits(self) -> CapRule:
        if self.reserve is not None and self.reserve.slots > self.max:
            raise ValueError(f"reserve.slots ({self.reserve.slots}) cannot be more than the cap's max ({self.max})")
        return self

    def params(self) -> dict[str, Any]:
        """The cap as the scripts read it: channel, max, window_ms, kind?, reserve? {slots, min_priority}."""
        return {
            "channel": self.channel,
            "max": self.max,
            "window_ms": self.window * 1000,
            **({"kind": self.kind.value} if self.kind else {}),
            **({"reserve": self.reserve.model_dump()} if self.reserve else {}),
        }


class Fatigue(Strict):
    """Resting a channel after a streak of unanswered messages."""

    enabled: StrictBool = True
    ignore_streak: int = Field(default=3, ge=1, le=100, description="unanswered messages in a row on one channel")
    unanswered_after: Duration = Field(
        default=3 * 86400, description="a delivery with no engagement this long counts as ignored"
    )
    cooldown: Duration = Field(
        default=7 * 86400, description="a tired channel gets at most one send per cooldown until the customer engages"
    )


class Balance(Strict):
    """Reciprocity: sales asks balanced by value content."""

    enabled: StrictBool = True
    max_sales_share: float = Field(
        default=0.67, ge=0.0, le=1.0, description="share of sales sends in the window, this one included"
    )
    min_value_between_sales: int = Field(
        default=1, ge=0, le=20, description="non-sales sends needed between two sales asks"
    )
    window: Duration = 30 * 86400


class Offers(Strict):
    """One face to the customer: offer conflicts and duplicates across channels."""

    enabled: StrictBool = True
    conflict: Literal["suppress", "better_only"] = Field(
        default="suppress",
        description="a different offer for an active key: suppress it, or allow only a strictly better one",
    )
    window: Duration = Field(
        default=30 * 86400, description="how long a sent offer stays active (unless the message says `expires`)"
    )
    better: dict[str, Literal["lower", "higher"]] = Field(
        default_factory=lambda: dict[str, Literal["lower", "higher"]](
            {
                "apr": "lower",
                "rate": "lower",
                "monthly_payment": "lower",
                "price": "lower",
                "down_payment": "lower",
                "cash_back": "higher",
                "discount": "higher",
                "trade_in_bonus": "higher",
            }
        ),
        description="which way each numeric term is better for the customer",
    )


class Channels(Strict):
    """Rerouting to the channel the customer answers."""

    learned_reroute: StrictBool = True
    margin: float = Field(
        default=0.05, ge=0.0, le=1.0, description="reroute when another consented channel scores this much higher"
    )


class QuietHours(Strict):
    """No sends during the customer's local night."""

    enabled: StrictBool = True
    start: LocalTime = "21:00"
    end: LocalTime = "08:00"
    channels: list[Channel] | None = Field(default=None, description="channels it applies to (default: all)")


LocalEnd = Annotated[str, Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")]


class SendWindow(Strict):
    """When one channel (or any) may send, in the customer's local time: weekdays, from start to end."""

    channel: Channel | Literal["any"] = Field(description="a channel, or any channel")
    days: list[Weekday] = Field(
        default_factory=lambda: list(WEEKDAYS),
        min_length=1,
        max_length=7,
        description="the local weekdays it is open on",
    )
    start: LocalTime = Field(default="00:00", description="local time it opens")
    end: LocalEnd = Field(default="24:00", description="local time it closes (exclusive; 24:00 is midnight)")

    @model_validator(mode="after")
    def _ordered(self) -> SendWindow:
        if self.end <= self.start:
            raise ValueError(
                f"a send window closes after it opens: {self.start}-{self.end} (two windows make an overnight one)"
            )
        return self


class SendWindows(Strict):
    """Send windows per channel and weekday in the customer's local time, and blackout dates."""

    windows: list[SendWindow] = Field(
        default_factory=list,
        max_length=50,
        description="a channel with windows sends only inside one of them "
        "(a channel without any is not held by this rule); e.g. sms 08:00-21:00 every day",
    )
    blackout_dates: list[date] = Field(
        default_factory=list, max_length=400, description="local dates on which no channel sends (holidays)"
    )


def within(v: int, lo: int, hi: int, words: str) -> int:
    """``v`` if ``lo <= v <= hi``, else ValueError(``words``)."""
    if not lo <= v <= hi:
        raise ValueError(words)
    return v


class SendTime(Strict):
    """Sending at the hour the customer answers: learned per hour of the week in their time zone."""

    optimize: StrictBool = Field(
        default=False,
        description="defer a send asked for at an hour the customer rarely "
        "answers to their best hour within `within` (reason send_time)",
    )
    within: Duration = Field(default=86_400, description="how far ahead the best hour may be (1 hour to 7 days)")
    channels: list[Channel] | None = Field(default=None, description="channels it applies to (default: all)")
    min_ratio: float = Field(
        default=2.0,
        ge=1.0,
        le=100.0,
        description="defer only when the best hour's chance of an answer is at least this many times the asked hour's",
    )

    _within = field_validator("within")(
        lambda v: within(v, 3600, 7 * 86400, "send_time.within is between 1 hour and 7 days")
    )


class Objective(StrEnum):
    """What the relevance rule decides by."""

    engagement = "engagement"
    uplift = "uplift"
    value = "value"


class Incrementality(Strict):
    """Measuring what messages add: a randomized control withheld from would-be sends."""

    control_share: float = Field(
        default=0.0,
        ge=0.0,
        le=0.5,
        description="share of would-be sends withheld at random (reason `control`, "
        "logged with this probability) so each message's effect is measured; 0 = off",
    )
    window: Duration = Field(
        default=14 * 86400,
        description="an outcome counts for every message delivered to or "
        "withheld from the customer this long before it, attributed or not",
    )

    _window = field_validator("window")(
        lambda v: within(v, 3600, 90 * 86400, "the incrementality window is between 1 hour and 90 days")
    )


class Lifecycle(Strict):
    """Dealership lifecycle gates."""

    post_purchase_quiet: Duration = Field(default=30 * 86400, description="no sales asks this long after a purchase")
    block_sales_while_service_open: StrictBool = Field(
        default=True, description="uses the customer attribute service_order_open"
    )
    service_due_within: Duration = Field(
        default=30 * 86400,
        description="a service message to a customer whose vehicle is due for service within this "
        "long (or overdue: vehicles[].next_service_due) is relevant whatever its score (0 = off)",
    )
    trade_in_age_years: float = Field(
        default=8.0,
        ge=0.0,
        le=50.0,
        description="a sales message on one of trade_in_topics to the owner of a vehicle "
        "at least this old (vehicles[].year, else purchased_at) is relevant whatever its score (0 = off)",
    )
    trade_in_topics: list[Topic] = Field(
        default_factory=lambda: ["offer:trade-in"],
        max_length=20,
        description="the topics that make a message a trade-in offer",
    )
    thresholds_by_stage: dict[str, float] = Field(
        default_factory=dict,
        description="relevance threshold per value of the customer attribute lead_stage, e.g. {'researching': 0.12, 'ready': 0.03}",
    )

    @field_validator("thresholds_by_stage")
    @classmethod
    def _probabilities(cls, v: dict[str, float]) -> dict[str, float]:
        for stage, th in v.items():
            if not 0.0 <= th <= 1.0:
                raise ValueError(f"threshold for {stage!r} must be between 0 and 1")
        return v


class HouseholdCap(CapRule):
    """A cap on the sends to all members of a household together."""

    per_offer: StrictBool = Field(default=False, description="count per offer key: at most `max` pieces of one offer")


class Household(Strict):
    """Rules that hold across the members of a household (customers with the same household_id)."""

    caps: list[HouseholdCap] = Field(
        default_factory=list,
        max_length=20,
        description="caps over all members' sends, e.g. one direct-mail piece per "
        "offer per 30 days: {channel: direct_mail, max: 1, window: 30d, per_offer: true}",
    )
    offers: StrictBool = Field(
        default=True,
        description="a member's active offer binds the household: other "
        "terms for the same offer key are a conflict (offers.conflict and offers.better apply)",
    )
    shared_channels: list[Channel] = Field(
        default_factory=lambda: ["direct_mail"],
        description="channels that "
        "reach the whole household: an offer already sent to one member on them "
        "is not sent again to another",
    )
    post_purchase_quiet: Duration = Field(
        default=30 * 86400,
        description="no sales asks to the other members this long after a member's purchase (0 = off)",
    )


class Transactional(Strict):
    """How transactional messages are treated."""

    honor_consent: StrictBool = True
    count_toward_caps: StrictBool = False


StageName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_ -]{0,39}$")]
# decided before the customer's stage is read (in Python, or by the household script)
NOT_BY_STAGE = frozenset(
    {
        "stages",
        "currency",
        "declared_channels",
        "household",
        "holdout_fraction",
        "failure_mode",
        "failure_retry_seconds",
        "verdict_window",
    }
)


class Policy(Strict):
    """The marketer's knobs (see the README, field by field)."""

    declared_channels: list[Channel] = Field(
        default_factory=lambda: list(KNOWN_CHANNELS),
        min_length=1,
        max_length=32,
        description="the channels this tenant sends on; a message, event or content item on any other is refused "
        "(422), and reroutes only go to these",
    )
    relevance_threshold: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="suppress when the calibrated chance of engagement is below this (objective engagement)",
    )
    objective: Objective = Field(
        default=Objective.engagement,
        description="what relevance is judged by: the chance of engagement (`engagement`), what sending adds to "
        "the chance of an outcome (`uplift`, against `uplift_threshold`) or what the send is worth (`value`: the "
        "uplift times the revenue an outcome brings, less the chance of an unsubscribe times `unsubscribe_cost`, "
        "against `value_threshold`); without an uplift (too little control data) it is decided on engagement",
    )
    uplift_threshold: float = Field(
        default=0.0,
        ge=-1.0,
        le=1.0,
        description="objective uplift: suppress when sending adds less than this to the chance of an outcome "
        "(0.01 = one point)",
    )
    value_threshold: float = Field(
        default=0.0,
        ge=-1e9,
        le=1e9,
        description="objective value: suppress when the send's expected incremental revenue (in `currency`) is below this",
    )
    unsubscribe_cost: float | None = Field(
        default=None,
        ge=0.0,
        le=1e9,
        description="objective value: what losing a customer to an unsubscribe or complaint costs (in `currency`); "
        "unset: the revenue per customer the model measured",
    )
    require_opt_in: list[Channel] = Field(
        default_factory=lambda: ["sms", "phone"],
        description="channels that need an explicit consent=true (others: allowed unless opted out)",
    )
    caps: list[CapRule] = Field(
        default_factory=lambda: [
            CapRule(channel="any", max=7, window=7 * 86400),
            CapRule(channel="sms", max=2, window=7 * 86400),
        ],
        max_length=50,
        description="frequency caps; the most restrictive wins",
    )
    priorities: dict[Kind, Priority] = Field(
        default_factory=lambda: dict(DEFAULT_PRIORITIES),
        description="each kind's priority (0-100) when a message names none: reserved cap slots and choices "
        "among candidates weigh it (kinds left out keep their default)",
    )
    min_gap: Duration = Field(default=0, description="cool-down between any two sends to a customer (0 = off)")
    fatigue: Fatigue = Field(default_factory=Fatigue)
    balance: Balance = Field(default_factory=Balance)
    offers: Offers = Field(default_factory=Offers)
    channels: Channels = Field(default_factory=Channels)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    send_windows: SendWindows = Field(default_factory=SendWindows)
    incrementality: Incrementality = Field(default_factory=Incrementality)
    send_time: SendTime = Field(default_factory=SendTime)
    household: Household = Field(default_factory=Household)
    allowed_kinds: list[Kind] = Field(
        default_factory=lambda: list(Kind),
        min_length=1,
        description="the kinds of message that may go out at all (a stage may allow fewer)",
    )
    stages: dict[StageName, dict[str, Any]] = Field(
        default_factory=dict,
        description="overrides per lead stage (the customer attribute lead_stage), merged over "
        "the policy like a campaign override: any field but " + ", ".join(sorted(NOT_BY_STAGE)),
    )
    transactional: Transactional = Field(default_factory=Transactional)
    currency: Annotated[str, StringConstraints(pattern=CURRENCY)] = Field(
        default="USD",
        description="ISO 4217 code of the amounts on purchased, converted and service_visit events "
        "(an event naming another currency is refused); lift and what-ifs report revenue in it",
    )
    holdout_fraction: float = Field(
        default=0.0,
        ge=0.0,
        le=0.5,
        description="share of customers who get every relevant-or-not message (to measure lift)",
    )
    failure_mode: FailureMode = Field(
        default=FailureMode.defer,
        description="verdict when the store is unavailable within the deadline: "
        "send (consent unchecked!), defer (retry at not_before) or suppress",
    )
    failure_retry_seconds: int = Field(
        default=300, ge=1, le=86_400, description="not_before offset for a degraded defer"
    )
    verdict_window: Duration = Field(
        default=86_400,
        description="how long a verdict stands: asking again for the same customer and message_id "
        "within it returns the same verdict and records nothing (a deferred message is decided anew at not_before)",
    )

    @field_validator("priorities")
    @classmethod
    def _every_kind(cls, v: dict[Kind, int]) -> dict[Kind, int]:
        return {**DEFAULT_PRIORITIES, **v}

    def priority_of(self, priority: int | None, kind: Kind) -> int:
        """A message's priority: its own, else its kind's."""
        return self.priorities[kind] if priority is None else priority

    def script_params(self) -> dict[str, Any]:
        """``_base_params`` and ``by_stage``: per lead stage, the parameters its override changes."""
        mine = self._base_params()
        return {**mine, "by_stage": self._by_stage(mine)}

    def _base_params(self) -> dict[str, Any]:
        """What the decide script reads of this policy (lua/decide.lua, ``P.<name>``): every rule's
        parameters (``suppressor.rules``: each unit names its own, under the policy's names), and
        the script head's ``ledger_ms`` (the longest window any rule reads back) and
        ``verdict_window_ms`` (how long a verdict stands)."""
        return {
            **rules.params(self),
            "ledger_ms": rules.ledger_window(self) * 1000,
            "verdict_window_ms": self.verdict_window * 1000,
        }

    def household_params(self) -> dict[str, Any]:
        """What lua/household.lua reads of this policy (``P.household``), apart from the decide
        script's parameters (it never reads these): ``caps`` [{channel, kind?, max, window_ms,
        per_offer}], ``offers`` (on), ``shared`` (channels), ``quiet_ms``, ``ledger_ms``, and the
        tenant's offer rules ``conflict``, ``better``, ``offer_window_ms``."""
        h = self.household
        return {
            "caps": [{**c.params(), "per_offer": c.per_offer} for c in h.caps],
            "offers": h.offers and self.offers.enabled,
            "shared": h.shared_channels,
            "quiet_ms": h.post_purchase_quiet * 1000,
            "ledger_ms": max([c.window for c in h.caps] + [self.offers.window, 86400]) * 1000,
            "conflict": self.offers.conflict,
            "better": self.offers.better,
            "offer_window_ms": self.offers.window * 1000,
        }

    def _by_stage(self, mine: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Per lead stage, the script parameters its override changes (the script swaps them in)."""
        if not self.stages:
            return {}
        base = self.model_dump(exclude={"stages", "version", "campaigns"})
        out = {}
        for stage, override in self.stages.items():
            theirs = Policy.model_validate(merge(base, override))._base_params()
            out[stage] = {k: v for k, v in theirs.items() if v != mine[k]}
        return out

    @field_validator("stages")
    @classmethod
    def _stage_overrides(cls, stages: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for stage, override in stages.items():
            fixed = sorted(NOT_BY_STAGE & set(override))
            if fixed:
                raise ValueError(f"stages.{stage}: {', '.join(fixed)} cannot change by stage")
            try:
                validate_override(override)
            except ValidationError as exc:  # named under its stage: stages.<stage>.<field>
                errors = [{**e, "loc": (stage, *e["loc"])} for e in exc.errors()]
                raise ValidationError.from_exception_data(exc.title, errors) from None  # type: ignore[arg-type]
        return stages

    @model_validator(mode="after")
    def _channels_declared(self) -> Policy:
        declared = set(self.declared_channels)
        named = [("require_opt_in", ch) for ch in self.require_opt_in]
        named += [(f"caps[{i}].channel", c.channel) for i, c in enumerate(self.caps) if c.channel != "any"]
        named += [
            (f"household.caps[{i}].channel", c.channel) for i, c in enumerate(self.household.caps) if c.channel != "any"
        ]
        named += [("quiet_hours.channels", ch) for ch in self.quiet_hours.channels or ()]
        for where, ch in named:
            if ch not in declared:
                raise ValueError(f"{where} names the channel {ch!r}, which declared_channels does not list")
        return self

    @field_validator("verdict_window")
    @classmethod
    def _window_bounds(cls, v: int) -> int:
        if not 60 <= v <= 30 * 86400:
            raise ValueError("verdict_window must be between 1 minute and 30 days")
        return v


class VersionedPolicy(Policy):
    """The tenant policy with its version and campaign overrides."""

    version: int = 0
    campaigns: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="campaign overrides (partial policies)"
    )

    _effective: dict[str, Policy] = PrivateAttr(default_factory=dict)

    def for_campaign(self, campaign_id: str | None) -> Policy:
        """The effective policy of one campaign: the tenant policy with the override merged in."""
        if not campaign_id or not (override := self.campaigns.get(campaign_id)):
            return self
        # built once per policy version: the decision path asks for it on every request
        if campaign_id not in self._effective:
            merged = merge(self.model_dump(exclude={"version", "campaigns"}), override)
            self._effective[campaign_id] = Policy.model_validate(merged)
        return self._effective[campaign_id]


def merge(base: dict, override: dict) -> dict:
    """Deep-merge ``override`` into ``base`` (nested objects merge; lists and values replace)."""
    out = dict(base)
    for k, v in override.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) and k not in _REPLACED else v
    return out


_REPLACED = {"thresholds_by_stage", "better"}  # maps that an override replaces whole


def with_changes(current: VersionedPolicy, changes: dict[str, Any]) -> Policy:
    """The tenant policy with ``changes`` merged in (what PATCH saves); raises pydantic.ValidationError."""
    return Policy.model_validate(merge(current.model_dump(mode="json", exclude={"version", "campaigns"}), changes))


def as_candidate(current: VersionedPolicy, tenant_policy: Policy) -> VersionedPolicy:
    """``tenant_policy`` in place of the current one, campaign overrides kept (for what-ifs)."""
    return VersionedPolicy(
        version=current.version,
        campaigns=current.campaigns,
        **tenant_policy.model_dump(exclude={"version", "campaigns"}),
    )


def candidate(
    current: VersionedPolicy, whole: Policy | None = None, changes: dict[str, Any] | None = None
) -> VersionedPolicy:
    """The policy a what-if asks about: a whole tenant policy, changes to the current one, or the
    current one itself; raises pydantic.ValidationError for changes that make no valid policy."""
    if whole is not None:
        return as_candidate(current, whole)
    if changes:
        return as_candidate(current, with_changes(current, changes))
    return current


def validate_override(override: dict[str, Any]) -> dict[str, Any]:
    """Check a campaign override merges into a valid policy; raises pydantic.ValidationError. The currency is
    the tenant's (its events' amounts and what training measured are in it): no override changes it."""
    if "currency" in override:
        why = ValueError("the currency is the tenant's (its amounts are in it): an override cannot change it")
        raise ValidationError.from_exception_data(
            "Policy",
            [{"type": "value_error", "loc": ("currency",), "input": override["currency"], "ctx": {"error": why}}],
        )
    Policy.model_validate(merge(Policy().model_dump(), override))
    return override


def _entry(at: str, field: str, doc: Any) -> str:
    """A history entry as JSON (every caller string escaped by json.dumps; the script adds the version)."""
    return json.dumps({"at": at, "field": field, "doc": doc})


def from_hash(raw: dict[bytes, bytes]) -> VersionedPolicy:
    """Rebuild the versioned policy from its Redis hash."""
    fields = {k.decode(): v for k, v in raw.items()}
    doc = json.loads(fields["doc"]) if "doc" in fields else {}
    campaigns = {k.split(":", 1)[1]: json.loads(v) for k, v in fields.items() if k.startswith("campaign:")}
    return VersionedPolicy(version=int(fields.get("version", 0)), campaigns=campaigns, **doc)


def get(store: Store, tenant: str) -> VersionedPolicy:
    """The tenant's effective policy (defaults at version 0 until first saved)."""
    return from_hash(store.bulk.hgetall(keys.policy(tenant)))


def put(store: Store, tenant: str, policy: Policy, at: str) -> VersionedPolicy:
    """Save a new tenant policy version (the caller validated it)."""
    doc = policy.model_dump(mode="json")
    _change(store, tenant, "policy_put", ["doc", json.dumps(doc), _entry(at, "doc", doc)])
    return get(store, tenant)


def put_campaign(store: Store, tenant: str, campaign_id: str, override: dict[str, Any], at: str) -> VersionedPolicy:
    """Save a campaign override (validated by ``validate_override``) as a new version."""
    field = f"campaign:{campaign_id}"
    _change(store, tenant, "policy_put", [field, json.dumps(override), _entry(at, field, override)])
    return get(store, tenant)


def delete_campaign(store: Store, tenant: str, campaign_id: str, at: str) -> bool:
    """Drop a campaign override (a new version); False if there was none."""
    field = f"campaign:{campaign_id}"
    return bool(_change(store, tenant, "policy_delete", [field, _entry(at, field, None)]))


def _change(store: Store, tenant: str, script: str, args: list) -> Any:
    """One policy script on the tenant's policy and its history; its answer."""
    [answer] = run(store, evalsha(store, script, [([keys.policy(tenant), keys.policy_history(tenant)], args)]))
    return answer


def check_channels(policy: Policy, named: list[tuple[str, str | None]]) -> None:
    """Refuse each (field, channel) whose channel the policy does not declare."""
    declared = policy.declared_channels
    bad = [
        (
            where,
            f"channel {ch!r} is not declared by this tenant's policy (declared: {', '.join(declared)}); "
            "add it to declared_channels or fix the name",
        )
        for where, ch in named
        if ch is not None and ch not in declared
    ]
    if bad:
        raise Refused(bad)


def check_currency(policy: Policy, named: list[tuple[str, Any]]) -> None:
    """Refuse each (field, currency) that is not the tenant's: amounts in two currencies cannot be summed."""
    bad = [
        (
            where,
            f"currency {cur!r} is not this tenant's ({policy.currency}); send amounts in "
            f"{policy.currency} or change the policy's currency",
        )
        for where, cur in named
        if cur is not None and cur != policy.currency
    ]
    if bad:
        raise Refused(bad)


def check_terms(policy: Policy, where: str, terms: dict[str, Any]) -> None:
    """Refuse an offer term the policy compares (``offers.better``) that is not a number ('2.9%' is a typo)."""
    bad = [
        (f"{where}.{term}", f"must be a number: the policy compares {term!r} ({way} is better); got {value!r}")
        for term, way in policy.offers.better.items()
        if term in terms and (isinstance(terms[term], bool) or not isinstance(terms[term], (int, float)))
        for value in (terms[term],)
    ]
    if bad:
        raise Refused(bad)


def history(store: Store, tenant: str, limit: int = 50) -> list[dict]:
    """Past versions, newest first."""
    return [json.loads(x) for x in store.bulk.lrange(keys.policy_history(tenant), 0, limit - 1)]
