"""The tenant's catalog of value content (service reminders, clinics, tutorials, events),
offered as a substitute when a sales ask is suppressed to keep the relationship balanced."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from suppressor.domain import Channel, Kind, Signature, Strict, Timestamp, Topics
from suppressor.model.exported import ExportedModel
from suppressor.storage import keys
from suppressor.storage.store import Store


class ContentIn(Strict):
    """A value-content item as PUT: what a substitute can be."""

    title: str = Field(min_length=1, max_length=200)
    kind: Kind = Kind.value
    topics: Topics
    channels: list[Channel] = Field(default_factory=list, description="channels it can go out on (empty: any)")
    valid_from: Timestamp | None = None
    valid_until: Timestamp | None = None
    url: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _sane(self) -> "ContentIn":
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
    return sorted((Content.model_validate_json(v) for v in store.bulk.hvals(keys.content(tenant))),
                  key=lambda c: c.content_id)


def best_substitute(catalog: list[Content], model: ExportedModel | None, user: np.ndarray | None,
                    channel: str, now: datetime | None = None) -> dict[str, Any] | None:
    """The valid item this customer is most likely to engage with on ``channel`` (or its own channel)."""
    now = now or datetime.now(timezone.utc)
    live = [c for c in catalog if (c.valid_from is None or c.valid_from <= now)
            and (c.valid_until is None or now < c.valid_until)]
    best, best_score = None, -1.0
    for c in live:
        ch = channel if not c.channels or channel in c.channels else c.channels[0]
        score = None
        if model is not None:
            item = model.item_vector(Signature.of(ch, c.kind, c.topics))
            if item is not None:
                u = user if user is not None else np.zeros(model.dim + 1, np.float32)
                raw = float(item[:-1] @ u[:-1] + item[-1] + u[-1])
                score = float(model.calibrate(raw))
        rank = score if score is not None else 0.0
        if best is None or rank > best_score:
            best, best_score = {"content_id": c.content_id, "title": c.title, "kind": c.kind.value,
                                "channel": ch, "topics": c.topics, "url": c.url,
                                "score": round(score, 6) if score is not None else None}, rank
    return best

