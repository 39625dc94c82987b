"""The public data shapes: events, customers, messages, decisions."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)

ID_MAX = 128
# local weekdays, Monday first (send windows in the policy; the send-time and window rules number them 1-7)
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(v: Any) -> int:
    """'7d', '12h', '30m', '45s', '2w' or a number of seconds -> seconds."""
    if isinstance(v, bool):
        raise ValueError("a duration is a number of seconds or text like '7d', '12h', '30m'")
    if isinstance(v, (int, float)):
        if v < 0:
            raise ValueError("a duration cannot be negative")
        return int(v)
    m = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", str(v))
    if not m:
        raise ValueError(f"{v!r} is not a duration like '7d', '12h', '30m' or a number of seconds")
    return int(m.group(1)) * _UNITS[m.group(2)]


def format_duration(seconds: int) -> str:
    """Seconds -> the largest exact unit ('604800' -> '7d')."""
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def opaque_id(value: str) -> str:
    """Check an identifier as the data it is: 1-128 printable characters, nothing else asked.

    Any printable id a CRM uses works (``acme|42``, ``crm/123``, ``ann@example.com``, braces,
    spaces); ids are never parsed, only stored and compared. Control characters are refused
    (they are never intended, and tabs or newlines would travel badly), as are ``.`` and ``..``,
    which cannot travel in a URL path."""
    if value.isprintable() and value not in (".", ".."):  # the common case, in C: ingest validates millions
        return value
    for i, ch in enumerate(value):
        if not ch.isprintable():
            raise ValueError(f"contains the control character U+{ord(ch):04X} at position {i}; ids are printable text")
    if value in (".", ".."):
        raise ValueError(f"{value!r} cannot be an id: it cannot travel in a URL path")
    return value


Identifier = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX), AfterValidator(opaque_id)]
TenantName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Channel = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Topic = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
AttrScalar = str | int | float | bool | None


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$")
PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
PHONE_NOISE = re.compile(r"[\s\-().]")


def email_address(value: str) -> str:
    """An e-mail address as indexed: trimmed, lower case; ValueError in words if it is not one."""
    address = value.strip().lower()
    if len(address) > 254 or not EMAIL.match(address):
        raise ValueError(f"{value!r} is not an e-mail address like 'ann@example.com'")
    return address


def phone_number(value: str) -> str:
    """A phone number as indexed: E.164 (``+`` and digits; spaces, dashes, dots, brackets dropped)."""
    number = PHONE_NOISE.sub("", value.strip())
    if number.startswith("00"):
        number = "+" + number[2:]
    if not PHONE.match(number):
        raise ValueError(f"{value!r} is not an E.164 phone number like '+15551234567' (the country code first)")
    return number


Emails = Annotated[list[Annotated[str, AfterValidator(email_address)]], AfterValidator(_unique)]
Phones = Annotated[list[Annotated[str, AfterValidator(phone_number)]], AfterValidator(_unique)]

KNOWN_CHANNELS = ("email", "sms", "push", "phone", "direct_mail")


MONEY_EVENTS = ("purchased", "converted", "service_visit")  # the events that may carry properties.amount
CURRENCY = r"^[A-Z]{3}$"


class EventType(StrEnum):
    """What a customer did (or did not do)."""

    delivered = "delivered"
    opened = "opened"
    clicked = "clicked"
    replied = "replied"
    visited = "visited"
    attended = "attended"
    converted = "converted"
    purchased = "purchased"
    service_visit = "service_visit"
    ignored = "ignored"
    unsubscribed = "unsubscribed"
    complained = "complained"
    bounced = "bounced"
    withheld = "withheld"  # the message was withheld from this customer at random: a control group


class Kind(StrEnum):
    """What a message is for."""

    sales = "sales"
    value = "value"
    service = "service"
    transactional = "transactional"


class Action(StrEnum):
    """The verdict."""

    send = "send"
    reroute = "reroute"
    defer = "defer"
    suppress = "suppress"


EXAMPLE_TS = "'2026-11-20T10:00:00Z' or '2026-11-20T04:00:00-06:00'"


def zoned(value: Any) -> Any:
    """A timestamp is ISO 8601 text with its time zone (``Z`` or an offset); numbers, dates without
    a time and times without a zone are refused, in words: each would be a guess."""
    if isinstance(value, datetime):  # from Python callers
        if value.tzinfo is None:
            raise ValueError("has no time zone")
        return value
    if not isinstance(value, str):
        raise ValueError(
            f"a timestamp is ISO 8601 text with a time zone, like {EXAMPLE_TS}; "
            f"got the {type(value).__name__} {value!r}"
        )
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 timestamp like {EXAMPLE_TS}") from None
    if len(value.strip()) <= 10:
        raise ValueError(f"{value!r} is a date without a time; give the time and zone, like {EXAMPLE_TS}")
    if ts.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone; add 'Z' for UTC or an offset like '-06:00'")
    return ts


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _aware_past(ts: datetime) -> datetime:
    if ts > datetime.now(UTC) + timedelta(days=1):
        raise ValueError("timestamp is more than a day in the future")
    if ts < EPOCH:
        raise ValueError(f"{ts.isoformat()} is before 1970: behavior is stored by unix time")
    return ts.astimezone(UTC)


Timestamp = Annotated[datetime, BeforeValidator(zoned), AfterValidator(lambda ts: ts.astimezone(UTC))]
PastTimestamp = Annotated[datetime, BeforeValidator(zoned), AfterValidator(_aware_past)]


def _unique_topics(topics: list[str]) -> list[str]:
    return sorted(set(topics))


Topics = Annotated[list[Topic], Field(default_factory=list, max_length=50), AfterValidator(_unique_topics)]


class Strict(BaseModel):
    """Unknown fields are an error: a typo must not be silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Event(Strict):
    """One behavior event; idempotent by event_id."""

    event_id: Identifier
    customer_id: Identifier
    type: EventType
    ts: PastTimestamp
    channel: Channel | None = None
    message_id: Identifier | None = None
    campaign_id: Identifier | None = None
    kind: Kind | None = None
    topics: Topics
    properties: dict[str, Any] = Field(
        default_factory=dict,
        description="free details, at most 20 keys and "
        "2,048 bytes as JSON (scope: 'channel' or 'topics' for unsubscribes)",
    )

    @field_validator("properties")
    @classmethod
    def _small(cls, props: dict[str, Any]) -> dict[str, Any]:
        if not props:
            return props
        if len(props) > 20:
            raise ValueError(f"has {len(props)} keys; at most 20")
        size = len(json.dumps(props, default=str))
        if size > 2048:
            raise ValueError(f"is {size:,} bytes as JSON; at most 2,048 (keep the details elsewhere, the id here)")
        return props

    @model_validator(mode="after")
    def _money(self) -> Event:
        if not self.properties:
            return self
        amount, currency = self.properties.get("amount"), self.properties.get("currency")
        if amount is not None:
            if self.type not in MONEY_EVENTS:
                raise ValueError(
                    f"properties.amount is counted only on {', '.join(MONEY_EVENTS)} events, not on {self.type.value}"
                )
            if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not 0 <= amount <= 1e9:
                raise ValueError(
                    f"properties.amount must be a number from 0 to 1,000,000,000 in the tenant's "
                    f"currency (a sale's value, 34999.0); got {amount!r}"
                )
        if currency is not None and not (isinstance(currency, str) and re.match(CURRENCY, currency)):
            raise ValueError(f"properties.currency must be an ISO 4217 code like 'USD'; got {currency!r}")
        return self


class EventBatch(Strict):
    """The body of POST /v1/events."""

    events: list[Event] = Field(min_length=1)


class IngestResult(BaseModel):
    """What a POST /v1/events stored."""

    accepted: int = Field(description="events stored by this call")
    duplicates: int = Field(description="events whose event_id this tenant already stored (or repeated in the batch)")
    reused_ids: list[str] = Field(
        default_factory=list,
        description="up to 10 event_ids of this batch already "
        "stored for another customer: event ids are unique per tenant, so these were not stored",
    )


class Vehicle(Strict):
    """A vehicle the customer owns (the model reads its make, segment, age and service timing)."""

    vin: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    year: int | None = Field(default=None, ge=1900, le=2100)
    make: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    model: Annotated[str, StringConstraints(min_length=1, max_length=60)] | None = None
    segment: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = Field(
        default=None, description="e.g. suv, truck, sedan, ev"
    )
    purchased_at: Timestamp | None = None
    last_service_at: Timestamp | None = None
    next_service_due: Timestamp | None = None


class CustomerIn(Strict):
    """A customer profile as PUT: attributes, consent, preferred channel, time zone, household, vehicles."""

    attributes: dict[str, AttrScalar | list[AttrScalar]] = Field(default_factory=dict)
    consent: dict[Channel, bool] = Field(default_factory=dict)
    consent_at: PastTimestamp | None = Field(
        default=None,
        description="when the customer gave this consent; a channel they unsubscribed from "
        "is re-opened only by consent=true given after the unsubscribe",
    )
    preferred_channel: Channel | None = None
    timezone: str | None = None
    household_id: Identifier | None = Field(
        default=None,
        description="customers with the same household_id share the policy's household rules "
        "(caps, offers, the quiet period after a purchase)",
    )
    vehicles: list[Vehicle] = Field(default_factory=list, max_length=20)
    emails: Emails = Field(
        default_factory=list,
        max_length=10,
        description=("the customer's e-mail addresses: a provider's webhook about one of them lands on this customer"),
    )
    phones: Phones = Field(
        default_factory=list,
        max_length=10,
        description=(
            "the customer's phone numbers in E.164 ('+15551234567'): an SMS status or STOP lands on this customer"
        ),
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, tz: str | None) -> str | None:
        if tz is None:
            return tz
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {tz!r}") from exc
        return tz

    @field_validator("attributes")
    @classmethod
    def _attribute_names(cls, attrs: dict) -> dict:
        if len(attrs) > 100:
            raise ValueError("at most 100 attributes")
        for name in attrs:
            if not name or len(name) > 64 or any(ch in name for ch in "=#{}"):
                raise ValueError(f"attribute name {name!r} must be 1-64 chars without = # {{ }}")
        return attrs


class Affinity(BaseModel):
    """A learned interest in a topic or channel, in words a person can read."""

    name: str
    chance: float = Field(
        description="calibrated chance the customer engages with a message about this topic "
        "(or on this channel), from 0 to 1"
    )
    evidence: int | None = Field(
        default=None,
        description="the customer's own events about it (null: not counted "
        "in this answer); 0 means the chance comes from customers like them",
    )
    affinity: float = Field(description="the model's log-odds contribution: > 0 draws, < 0 repels")


class ActiveOffer(BaseModel):
    """An offer standing for a customer: theirs, or another household member's (``held_by``)."""

    key: str
    terms: dict[str, Any]
    channel: str | None
    sent_at: datetime
    expires: datetime
    decision_id: str | None
    held_by: str | None = Field(description="the member who holds it")
    household_id: str | None = Field(default=None, description="set when another member of the household holds it")


class CustomerOut(CustomerIn):
    """A customer profile with what the model learned about them."""

    customer_id: str
    revoked: dict[str, datetime] = Field(
        default_factory=dict, description="channels the customer unsubscribed from or complained on, and when"
    )
    created_at: datetime | None = None
    updated_at: datetime | None = None
    event_count: int = 0
    model_version: str | None = None
    interests: list[Affinity] = Field(default_factory=list)
    channel_affinities: list[Affinity] = Field(default_factory=list)
    offers: list[ActiveOffer] = Field(
        default_factory=list,
        description="offers standing for the customer and their household, on every channel, newest first",
    )


class Signature(NamedTuple):
    """A message as the model knows it: its channel, its kind and its topics (sorted, so the same
    message always has the same signature)."""

    channel: str | None
    kind: str | None
    topics: tuple[str, ...]

    @classmethod
    def of(cls, channel: str | None, kind: str | None, topics: Iterable[str] = ()) -> Signature:
        """The signature of a message or an event (topics in any order)."""
        return cls(channel or None, kind or None, tuple(sorted(topics)))


class Offer(Strict):
    """An offer a message carries, for cross-channel conflict checks."""

    key: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    terms: dict[str, Any] = Field(default_factory=dict)
    expires: Timestamp | None = Field(
        default=None, description="when the offer ends (default: the policy's offer window)"
    )


class Message(Strict):
    """A candidate send."""

    message_id: Identifier
    campaign_id: Identifier | None = None
    channel: Channel
    kind: Kind
    topics: Topics
    offer: Offer | None = None
    priority: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="0-100: what a cap's reserved slots and "
        "a choice among candidates weigh (default: the policy's `priorities` for its kind)",
    )


class DecisionRequest(Strict):
    """The body of POST /v1/decisions."""

    customer_id: Identifier
    message: Message
    allow_reroute: StrictBool = True
    channels: list[Channel] | None = Field(
        default=None, description="channels the caller can send on (reroute targets); default: any"
    )
    dry_run: StrictBool = False


class DecisionBatch(Strict):
    """The body of POST /v1/decisions:batch."""

    items: list[DecisionRequest] = Field(min_length=1)


class ChooseRequest(Strict):
    """The body of POST /v1/decisions:choose: a customer's competing candidates, of which the best
    ``pick`` go out."""

    customer_id: Identifier
    candidates: list[Message] = Field(min_length=1, max_length=50)
    pick: int = Field(default=1, ge=1, le=50, description="how many of the candidates may go out")
    allow_reroute: StrictBool = True
    channels: list[Channel] | None = Field(
        default=None, description="channels the caller can send on (reroute targets); default: any"
    )
    dry_run: StrictBool = False

    @field_validator("candidates")
    @classmethod
    def _one_verdict_per_message(cls, v: list[Message]) -> list[Message]:
        seen: set[str] = set()
        for m in v:
            if m.message_id in seen:
                raise ValueError(f"message_id {m.message_id!r} is named twice; each candidate is its own message")
            seen.add(m.message_id)
        return v


class ChooseBatch(Strict):
    """The body of POST /v1/decisions:choose-batch (a CRM's nightly plan)."""

    items: list[ChooseRequest] = Field(min_length=1)


class Reason(BaseModel):
    """A rule that fired, with the number that decided it."""

    code: str
    message: str


class Decision(BaseModel):
    """A pre-send verdict."""

    decision_id: str
    customer_id: str
    message_id: str
    action: Action
    channel: str | None
    requested_channel: str
    not_before: datetime | None = None
    score: float | None = Field(description="calibrated P(engage) on `channel`; null without a model")
    uplift: float | None = Field(
        default=None,
        description="the calibrated difference sending makes to the chance of an outcome on `channel` (the "
        "considered one when suppressed): P(outcome | sent) - P(outcome | withheld); null while unknown (no "
        "uplift for this tenant yet: too little control data, or the message's features are new to it)",
    )
    value: float | None = Field(
        default=None,
        description="objective value: the send's expected incremental revenue (the uplift times the revenue an "
        "outcome brings, less the chance of an unsubscribe times its cost), where the relevance rule weighed it",
    )
    channel_scores: dict[str, float] = Field(default_factory=dict)
    reasons: list[Reason]
    substitute: dict[str, Any] | None = None
    policy_version: int
    model_version: str | None
    dry_run: bool = False
    replayed: bool = Field(
        default=False,
        description="true when this message was already decided and the verdict "
        "still stands: the same verdict and decision_id, nothing recorded again",
    )
    decided_at: datetime


class DecisionBatchResult(BaseModel):
    """Verdicts in request order."""

    results: list[Decision]


class Choice(BaseModel):
    """The verdicts of one choice: every candidate's, in request order; the losers ``outranked``."""

    customer_id: str
    chosen: list[str] = Field(description="the message ids that go out (send or reroute), best first")
    results: list[Decision]


class ChooseBatchResult(BaseModel):
    """Choices in request order."""

    results: list[Choice]
