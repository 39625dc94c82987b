"""The tenant's catalog of value content (service reminders, clinics, tutorials, events),
offered as a substitute when a sales ask is suppressed to keep the relationship balanced."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import numpy as np
from pydantic import Field, StringConstraints, model_validator

from suppressor.domain import Channel, Kind, Signature, Strict, Timestamp, Topics
from suppressor.model import features
from suppressor.model.exported import ExportedModel
from suppressor.storage import keys
from suppressor.storage.store import Store

Label = Annotated[str, StringConstraints(min_length=1, max_length=40, strip_whitespace=True, to_lower=True)]
# substitutes whose calibrated scores are this close to the best take turns: within 0.02, or within
# a quarter of the best score (0.2 and 0.16 are close; 0.2 and 0.05 are not)
CLOSE, CLOSE_SHARE = 0.02, 0.25


class Audience(Strict):
    """Who an item is for: every criterion given must hold (any one value of a list will do)."""

    segments: list[Label] = Field(
        default_factory=list,
        max_length=20,
        description="a vehicle segment the customer owns, or their attribute `segment`",
    )
    makes: list[Label] = Field(
        default_factory=list, max_length=50, description="a make the customer owns, or their attribute `make`"
    )
    stages: list[Label] = Field(default_factory=list, max_length=10, description="the customer's `lead_stage`")
    min_vehicle_age: float | None = Field(
        default=None, ge=0, le=100, description="years; some vehicle at least this old"
    )
    max_vehicle_age: float | None = Field(
        default=None, ge=0, le=100, description="years; some vehicle at most this old"
    )

    def admits(self, attributes: Mapping[str, Any], vehicles: list[Mapping[str, Any]], now: float) -> bool:
        """Whether a customer with these attributes and vehicles is in the audience."""

        def owned(field: str, attr: str) -> set[str]:
            mine = {str(v[field]).strip().lower() for v in vehicles if v.get(field)}
            value = attributes.get(attr)
            return mine | {str(x).strip().lower() for x in (value if isinstance(value, list) else [value]) if x}

        if self.segments and not owned("segment", "segment") & set(self.segments):
            return False
        if self.makes and not owned("make", "make") & set(self.makes):
            return False
        stage = attributes.get("lead_stage")
        if self.stages and not (isinstance(stage, str) and stage.strip().lower() in self.stages):
            return False
        if self.min_vehicle_age is not None or self.max_vehicle_age is not None:
            ages = [a for v in vehicles if (a := features.vehicle_age_years(v, now)) is not None]
            lo, hi = self.min_vehicle_age or 0.0, self.max_vehicle_age if self.max_vehicle_age is not None else 1e9
            if not any(lo <= a <= hi for a in ages):
                return False
        return True


class ContentIn(Strict):
    """A value-content item as PUT: what a substitute can be."""

    title: str = Field(min_length=1, max_length=200)
    kind: Kind = Kind.value
    topics: Topics
    channels: list[Channel] = Field(default_factory=list, description="channels it can go out on (empty: any)")
    valid_from: Timestamp | None = None
    valid_until: Timestamp | None = None
    url: str | None = Field(default=None, max_length=2000)
    audience: Audience | None = Field(
        default=None, description="who it is for (segments, makes, stages, vehicle age); none: everyone"
    )

    @model_validator(mode="after")
    def _sane(self) -> ContentIn:
        if self.kind in (Kind.sales, Kind.transactional):
            raise ValueError("substitute content must be of kind 'value' or 'service'")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class Content(ContentIn):
    """A stored content item."""

    content_id: str


def put(store: Store, tenant: str, content_id: str, body: ContentIn) -> Content:
    """Create or replace one content item."""
    item = Content(content_id=content_id, **body.model_dump())
    pipe = store.bulk.pipeline(transaction=True)
    pipe.hset(keys.content(tenant), content_id, item.model_dump_json())
    pipe.incr(keys.content_version(tenant))
    pipe.execute()
    return item


def get(store: Store, tenant: str, content_id: str) -> Content | None:
    """One item, or None."""
    raw = store.bulk.hget(keys.content(tenant), content_id)
    return Content.model_validate_json(raw) if raw else None


def delete(store: Store, tenant: str, content_id: str) -> bool:
    """Remove one item; False if it did not exist."""
    pipe = store.bulk.pipeline(transaction=True)
    pipe.hdel(keys.content(tenant), content_id)
    pipe.incr(keys.content_version(tenant))
    return bool(pipe.execute()[0])


def load_all(store: Store, tenant: str) -> list[Content]:
    """The whole catalog (cached per process, reloaded when its version changes)."""
    return sorted(
        (Content.model_validate_json(v) for v in store.bulk.hvals(keys.content(tenant))), key=lambda c: c.content_id
    )


@dataclass
class Customer:
    """What a substitute is chosen by: the customer's attributes and vehicles, and the last one
    offered ({"mid": message id, "content": content id})."""

    attributes: Mapping[str, Any] = field(default_factory=dict)
    vehicles: list[dict[str, Any]] = field(default_factory=list)
    last: dict[str, str] | None = None

    @classmethod
    def stored(cls, attributes: bytes | str, vehicles: bytes | str, last: bytes | str) -> Customer:
        """From the decide script's answer (JSON as stored; '' for no last substitute)."""
        return cls(json.loads(attributes or "{}"), json.loads(vehicles or "[]"), json.loads(last) if last else None)


def best_substitute(
    catalog: list[Content],
    model: ExportedModel | None,
    user: np.ndarray | None,
    channel: str,
    now: datetime | None = None,
    customer: Customer | None = None,
    message_id: str | None = None,
) -> dict[str, Any] | None:
    """The valid item for this customer (its audience admits them) most likely to engage them on
    ``channel`` (or its own channel); items that score close to the best take turns: the one
    offered last time is passed over, unless this is the same message asked again."""
    now = now or datetime.now(UTC)
    customer = customer or Customer()
    live = [
        c
        for c in catalog
        if (c.valid_from is None or c.valid_from <= now)
        and (c.valid_until is None or now < c.valid_until)
        and (c.audience is None or c.audience.admits(customer.attributes, customer.vehicles, now.timestamp()))
    ]
    ranked = []
    for c in live:
        ch = channel if not c.channels or channel in c.channels else c.channels[0]
        score = None
        if model is not None:
            item = model.item_vector(Signature.of(ch, c.kind, c.topics))
            if item is not None:
                u = user if user is not None else np.zeros(model.dim + 1, np.float32)
                raw = float(item[:-1] @ u[:-1] + item[-1] + u[-1])
                score = float(model.calibrate(raw))
        ranked.append((score if score is not None else 0.0, c, ch, score))
    if not ranked:
        return None
    ranked.sort(key=lambda r: (-r[0], r[1].content_id))
    best = ranked[0][0]
    close = [r for r in ranked if r[0] >= best - max(CLOSE, CLOSE_SHARE * best)]
    last = customer.last or {}
    if last.get("mid") == message_id:  # a retry: the same answer
        pick = next((r for r in ranked if r[1].content_id == last.get("content")), close[0])
    else:
        pick = next((r for r in close if r[1].content_id != last.get("content")), close[0])
    _, c, ch, score = pick
    return {
        "content_id": c.content_id,
        "title": c.title,
        "kind": c.kind.value,
        "channel": ch,
        "topics": c.topics,
        "url": c.url,
        "score": round(score, 6) if score is not None else None,
    }
