"""Iterable system webhooks: one event per call, with the auth token set on the webhook."""

from __future__ import annotations

from datetime import datetime

from suppressor.customers.contacts import loose_email, loose_phone
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

TYPES = {
    "emailSend": ("email", "delivered"),
    "emailOpen": ("email", "opened"),
    "emailClick": ("email", "clicked"),
    "emailBounce": ("email", "bounced"),
    "emailComplaint": ("email", "complained"),
    "emailUnSubscribe": ("email", "unsubscribed"),
    "hostedUnsubscribeClick": ("email", "unsubscribed"),
    "emailSubscribe": ("email", RESUBSCRIBED),
    "smsSend": ("sms", "delivered"),
    "smsBounce": ("sms", "bounced"),
    "smsClick": ("sms", "clicked"),
    "smsReceived": ("sms", "replied"),
    "pushSend": ("push", "delivered"),
    "pushOpen": ("push", "opened"),
    "pushBounce": ("push", "bounced"),
}


def verify(delivery: Delivery, secret: str | None) -> None:
    """``Authorization: <token>``, ``Basic <token>`` or ``OAuth2 <token>`` as Iterable's auth types send it."""
    raw = delivery.headers.get("authorization", "").strip()
    token = raw.split(" ", 1)[1].strip() if " " in raw else raw
    if not same_secret(token, secret):
        raise Unauthorized(
            "Iterable sends the webhook's Auth Token in Authorization: it is missing or not this webhook's"
        )


def parse(delivery: Delivery) -> Parsed:
    """Email, SMS and push engagement; the customer by dataFields.customer_id, else by address."""
    body = json_body(delivery, "Iterable")
    if not isinstance(body, dict) or "eventName" not in body:
        raise BadPayload("Iterable sends one event with an eventName")
    channel, kind = TYPES.get(body["eventName"], (None, None))
    data = body.get("dataFields") if isinstance(body.get("dataFields"), dict) else {}
    created = data.get("createdAt")
    if kind is None or not isinstance(created, str):
        return Parsed(ignored=1)
    ids = custom(data)
    who = body.get("email") or data.get("email")
    ts: datetime = iso(created)
    return Parsed(
        events=[
            Incoming(
                event_id=event_id("iterable", body["eventName"], data.get("messageId"), who, created, data.get("url")),
                type=kind,
                ts=ts,
                channel=channel,
                customer_id=ids["customer_id"],
                email=loose_email(who),
                # smsReceived is the user texting us: its toPhoneNumber is our number, the user is fromPhoneNumber
                phone=loose_phone(
                    data.get("fromPhoneNumber" if body["eventName"] == "smsReceived" else "toPhoneNumber")
                ),
                message_id=ids["message_id"],
                campaign_id=ids["campaign_id"] or (str(data["campaignId"]) if data.get("campaignId") else None),
                properties={"scope": "channel"} if kind == "unsubscribed" else {},
            )
        ]
    )
