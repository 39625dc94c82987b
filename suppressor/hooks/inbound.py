"""One provider delivery in: verify, map, find the customers, store (see the package docstring).

A delivery whose signature (or credentials) does not verify raises ``Unauthorized`` before anything
is read from its body: nothing is stored. A signature is accepted fresh and once (hooks.freshness).
Every mapped event gets the id ``<provider>:<the provider's event id>``, so a provider's retry is a
duplicate and never collides with the tenant's own ids. An event about an address no profile lists
is counted (``unknown``) and reported with the address masked, not stored: the customer it belongs
to cannot be known."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from suppressor.customers import contacts, events, profiles
from suppressor.domain import ID_MAX, Event
from suppressor.storage.store import Store

from . import freshness, registry
from .freshness import Proof

log = logging.getLogger(__name__)
RESUBSCRIBED = "resubscribed"  # not an event type: consent restored on the channel (SMS START)


class Unauthorized(Exception):
    """The delivery's signature or credentials do not verify (said in words, without the secret)."""


class Busy(Exception):
    """The delivery cannot be checked now (a certificate fetch is not allowed yet): the provider retries."""


class BadPayload(ValueError):
    """The body is not what this provider sends."""


@dataclass
class Delivery:
    """One HTTP call from a provider, as it arrived."""

    body: bytes
    headers: dict[str, str]  # lower-case names
    url: str  # the full URL the provider called (query included)
    fetch: Callable[[str], bytes] | None = None  # GET over HTTPS (SNS certificates and confirmations)
    sns_regions: frozenset[str] | None = None  # regions whose SNS certificates may be fetched (None: SES's)


@dataclass
class Incoming:
    """One provider event, mapped to ours and not yet tied to a customer."""

    event_id: str
    type: str
    ts: datetime
    channel: str
    customer_id: str | None = None
    email: str | None = None
    phone: str | None = None
    message_id: str | None = None
    campaign_id: str | None = None
    topics: list[str] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class Parsed:
    """What a provider's body holds: mapped events, how many were not ours to map, and a reply."""

    events: list[Incoming] = field(default_factory=list)
    ignored: int = 0
    reply: tuple[str, bytes] | None = None  # (content type, body) when the provider expects one


class Provider(Protocol):
    """A provider module: ``verify`` raises Unauthorized, or gives the delivery's Proof (None for a shared
    token, which proves nothing per delivery); ``parse`` raises BadPayload."""

    def verify(self, delivery: Delivery, secret: str | None) -> Proof | None: ...

    def parse(self, delivery: Delivery) -> Parsed: ...


@dataclass
class HookResult:
    """What one delivery did."""

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    unknown: int = 0
    ignored: int = 0
    consent: int = 0
    unknown_addresses: list[str] = field(default_factory=list)  # masked, at most 10
    reply: tuple[str, bytes] | None = None

    def counts(self) -> dict[str, int]:
        """The counters an endpoint's stats keep."""
        return {k: getattr(self, k) for k in registry.OUTCOMES}


def stamp(seconds: float | int | str) -> datetime:
    """A unix time (seconds) as a UTC datetime."""
    return datetime.fromtimestamp(float(seconds), UTC)


def iso(text: str) -> datetime:
    """An ISO 8601 time from a provider ('2026-11-20T10:00:00.1234567Z', '2026-11-20 10:00:00 +00:00')."""
    ts = datetime.fromisoformat(text.strip())
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def event_id(provider: str, *parts: object) -> str:
    """``<provider>:<id>``; an id too long for ours is replaced by its digest."""
    raw = ":".join(str(p) for p in parts)
    whole = f"{provider}:{raw}"
    if len(whole) <= ID_MAX and whole.isprintable():
        return whole
    return f"{provider}:#" + hashlib.blake2b(raw.encode(), digest_size=20).hexdigest()


def mask(address: str) -> str:
    """An address as reported: enough to recognize, not to harvest ('a***@example.com', '+1555***67')."""
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    return address[:5] + "***" + address[-2:]


def receive(
    store: Store,
    hook: registry.Hook,
    provider: Provider,
    delivery: Delivery,
    changed: set[str] | None = None,
    windows: dict[str, int] | None = None,
) -> HookResult:
    """Verify, map, resolve and store one delivery; Unauthorized or BadPayload change nothing.

    A signature is taken once: a delivery that fails here leaves it free for the provider's retry."""
    proof = provider.verify(delivery, hook.secret)
    if proof is None:
        return _receive(store, hook, provider, delivery, changed)
    try:
        taken = freshness.admit(
            store, hook.tenant, hook.id, hook.provider, proof, delivery.body, freshness.window(hook.provider, windows)
        )
    except freshness.Stale as exc:
        raise Unauthorized(str(exc)) from None
    if proof.pin and not registry.pin(store, hook, proof.pin):
        freshness.release(store, hook.tenant, hook.id, proof)
        raise Unauthorized(f"this webhook already keeps another {hook.provider} topic; refused {proof.pin!r}")
    if taken == "resent":  # parsed for its counts and reply only: it fetches nothing (an SNS confirmation)
        parsed = _parse(hook, provider, replace(delivery, fetch=lambda url: b""))
        mapped = len(parsed.events)
        return HookResult(
            received=mapped + parsed.ignored, duplicates=mapped, ignored=parsed.ignored, reply=parsed.reply
        )
    try:
        result = _receive(store, hook, provider, delivery, changed)
    except BaseException:
        freshness.release(store, hook.tenant, hook.id, proof)
        raise
    freshness.settle(store, hook.tenant, hook.id, proof, delivery.body)
    return result


def _parse(hook: registry.Hook, provider: Provider, delivery: Delivery) -> Parsed:
    try:
        return provider.parse(delivery)
    except BadPayload:
        raise
    except SHAPE_ERRORS as exc:
        raise BadPayload(f"the body is not what {hook.provider} sends ({type(exc).__name__}: {exc})") from None


def _receive(
    store: Store, hook: registry.Hook, provider: Provider, delivery: Delivery, changed: set[str] | None
) -> HookResult:
    parsed = _parse(hook, provider, delivery)
    result = HookResult(received=len(parsed.events) + parsed.ignored, ignored=parsed.ignored, reply=parsed.reply)
    wanted = sorted({p for inc in parsed.events if inc.customer_id is None for p in _points(inc)})
    holders = contacts.find(store, hook.tenant, wanted)
    to_store: list[Event] = []
    for inc in parsed.events:
        cid = inc.customer_id or next((holders[p] for p in _points(inc) if p in holders), None)
        if cid is None:
            result.unknown += 1
            shown = mask(inc.email or inc.phone or "(no address)")
            if shown not in result.unknown_addresses and len(result.unknown_addresses) < 10:
                result.unknown_addresses.append(shown)
            continue
        if inc.type == RESUBSCRIBED:
            at_ms = int(inc.ts.timestamp() * 1000)
            applied = profiles.reconsent(store, hook.tenant, cid, inc.event_id, inc.channel, at_ms)
            result.consent += applied == 1
            result.duplicates += applied == -1
            continue
        try:
            to_store.append(
                Event(
                    event_id=inc.event_id,
                    customer_id=cid,
                    type=inc.type,
                    ts=inc.ts,
                    channel=inc.channel,
                    message_id=inc.message_id,
                    campaign_id=inc.campaign_id,
                    topics=inc.topics,
                    properties=inc.properties,
                )
            )
        except ValidationError as exc:  # a provider's value outside our bounds: count it, keep the rest
            log.info("%s webhook event %s not stored: %s", hook.provider, inc.event_id, exc.errors()[0]["msg"])
            result.ignored += 1
    if to_store:
        stored = events.ingest(store, hook.tenant, to_store, changed)
        result.accepted, result.duplicates = stored.accepted, stored.duplicates
    registry.record(store, hook, result.counts(), result.unknown_addresses[-1] if result.unknown_addresses else None)
    return result


def _points(inc: Incoming) -> list[tuple[str, str]]:
    return ([("email", inc.email)] if inc.email else []) + ([("phone", inc.phone)] if inc.phone else [])


def custom(fields: dict[str, Any] | None) -> dict[str, str | None]:
    """Our ids from a provider's custom fields (``customer_id``, ``message_id``, ``campaign_id``), if the
    sender passed them; a list (SES tags) gives its first value."""
    fields = fields if isinstance(fields, dict) else {}

    def one(name: str) -> str | None:
        value = fields.get(name)
        value = value[0] if isinstance(value, list) and value else value
        return str(value) if isinstance(value, (str, int)) and str(value) else None

    return {name: one(name) for name in ("customer_id", "message_id", "campaign_id")}


SHAPE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError)  # a field of the wrong shape


def each(items: list, one: Callable[[Any], Incoming | None]) -> Parsed:
    """Map a batch's items one by one: an item that maps to nothing, or has a field of the wrong
    shape, is counted as ignored and the rest of the batch still counts (a provider retries a
    refused batch whole, forever)."""
    out = Parsed()
    for item in items:
        try:
            inc = one(item) if isinstance(item, dict) else None
        except SHAPE_ERRORS:
            inc = None
        if inc is None:
            out.ignored += 1
        else:
            out.events.append(inc)
    return out


def json_body(delivery: Delivery, provider: str) -> Any:
    """The body as JSON, or BadPayload in words."""
    try:
        return json.loads(delivery.body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise BadPayload(f"the body is not JSON, as {provider} sends it") from None


def same_secret(given: str | None, secret: str | None) -> bool:
    """Constant-time comparison of a credential the provider sent back with the one we keep."""
    return bool(given and secret) and hmac.compare_digest(given.encode(), secret.encode())
