"""Mailgun webhooks: one event per call, HMAC-SHA256 of timestamp + token inside the JSON body."""

from __future__ import annotations

import hashlib
import hmac

from suppressor.customers.contacts import loose_email
from suppressor.hooks.inbound import (
    BadPayload,
    Delivery,
    Incoming,
    Parsed,
    Proof,
    Unauthorized,
    custom,
    event_id,
    json_body,
    stamp,
)

TYPES = {
    "delivered": "delivered",
    "opened": "opened",
    "clicked": "clicked",
    "failed": "bounced",
    "unsubscribed": "unsubscribed",
    "complained": "complained",
}
# A permanent failure because the address is on one of Mailgun's suppression lists says which list.
SUPPRESSED = {"suppress-unsubscribe": "unsubscribed", "suppress-complaint": "complained"}


def verify(delivery: Delivery, secret: str | None) -> Proof:
    """``signature.signature`` = HMAC-SHA256(signing key, timestamp + token), hex; it signs no body, so
    the proof is the signature with its timestamp (fresh, once: hooks.freshness)."""
    try:
        sig = json_body(delivery, "Mailgun")["signature"]
        given, message, at = sig["signature"], f"{sig['timestamp']}{sig['token']}", float(sig["timestamp"])
    except (BadPayload, KeyError, TypeError, ValueError):
        raise Unauthorized(
            "Mailgun signs its webhooks: the body has no signature object (timestamp, token, signature)"
        ) from None
    expected = hmac.new((secret or "").encode(), message.encode(), hashlib.sha256).hexdigest()
    if not isinstance(given, str) or not hmac.compare_digest(expected, given):
        raise Unauthorized("the Mailgun signature does not verify with this webhook's signing key")
    return Proof(given, at)


def parse(delivery: Delivery) -> Parsed:
    """Delivered, opened, clicked, permanent failures (bounces), unsubscribes and complaints."""
    data = json_body(delivery, "Mailgun").get("event-data")
    if not isinstance(data, dict):
        raise BadPayload("Mailgun sends the event in 'event-data'")
    kind = TYPES.get(data.get("event"))
    if kind is None or (kind == "bounced" and data.get("severity") != "permanent") or "id" not in data:
        return Parsed(ignored=1)
    if kind == "bounced":
        kind = SUPPRESSED.get(data.get("reason"), kind)
    ids = custom(data.get("user-variables"))
    return Parsed(
        events=[
            Incoming(
                event_id=event_id("mailgun", data["id"]),
                type=kind,
                ts=stamp(data.get("timestamp", 0)),
                channel="email",
                customer_id=ids["customer_id"],
                email=loose_email(data.get("recipient")),
                message_id=ids["message_id"],
                campaign_id=ids["campaign_id"],
                properties={"scope": "channel"} if kind == "unsubscribed" else {},
            )
        ]
    )
