"""Postmark webhooks: one record per call, authenticated by basic auth in the webhook's URL."""

from __future__ import annotations

import base64

from suppressor.customers.contacts import loose_email
from suppressor.hooks.inbound import (
    RESUBSCRIBED,
    BadPayload,
    Delivery,
    Incoming,
    Parsed,
    Unauthorized,
    custom,
    event_id,
    iso,
    json_body,
    same_secret,
)

HARD = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated", "Blocked", "DMARCPolicy"}


def verify(delivery: Delivery, secret: str | None) -> None:
    """The basic auth credentials the URL carried are this webhook's."""
    raw = delivery.headers.get("authorization", "")
    try:
        given = base64.b64decode(raw[6:], validate=True).decode() if raw[:6].lower() == "basic " else None
    except ValueError:
        given = None
    if not same_secret(given, secret):
        raise Unauthorized(
            "Postmark webhooks carry basic auth: put the URL printed by "
            "'suppressor hooks create', credentials included, in Postmark"
        )


def parse(delivery: Delivery) -> Parsed:
    """Delivery, hard bounces, spam complaints, opens, clicks and subscription changes."""
    rec = json_body(delivery, "Postmark")
    if not isinstance(rec, dict) or "RecordType" not in rec:
        raise BadPayload("Postmark sends one record with a RecordType")
    kind, ids = rec["RecordType"], custom(rec.get("Metadata"))
    mid = rec.get("MessageID")
    if kind == "Delivery":
        mapped = ("delivered", event_id("postmark", mid, "delivery"), rec.get("DeliveredAt"), rec.get("Recipient"))
    elif kind == "Bounce" and rec.get("Type") in HARD:
        mapped = ("bounced", event_id("postmark", "bounce", rec.get("ID")), rec.get("BouncedAt"), rec.get("Email"))
    elif kind == "SpamComplaint":
        mapped = ("complained", event_id("postmark", "spam", rec.get("ID")), rec.get("BouncedAt"), rec.get("Email"))
    elif kind == "Open":
        mapped = (
            "opened",
            event_id("postmark", mid, "open", rec.get("ReceivedAt")),
            rec.get("ReceivedAt"),
            rec.get("Recipient"),
        )
    elif kind == "Click":
        mapped = (
            "clicked",
            event_id("postmark", mid, "click", rec.get("ReceivedAt"), rec.get("OriginalLink")),
            rec.get("ReceivedAt"),
            rec.get("Recipient"),
        )
    elif kind == "SubscriptionChange" and rec.get("SuppressionReason") in (None, "ManualSuppression"):
        change = "unsubscribed" if rec.get("SuppressSending") else RESUBSCRIBED
        mapped = (
            change,
            event_id("postmark", mid, "subscription", rec.get("ChangedAt")),
            rec.get("ChangedAt"),
            rec.get("Recipient"),
        )
    else:
        return Parsed(ignored=1)
    kind, eid, at, to = mapped
    if not at or (not mid and kind not in ("bounced", "complained")):
        return Parsed(ignored=1)
    return Parsed(
        events=[
            Incoming(
                event_id=eid,
                type=kind,
                ts=iso(at),
                channel="email",
                customer_id=ids["customer_id"],
                email=loose_email(to),
                message_id=ids["message_id"],
                campaign_id=ids["campaign_id"],
                properties={"scope": "channel"} if kind == "unsubscribed" else {},
            )
        ]
    )
