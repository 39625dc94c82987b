"""Braze Currents' custom HTTP connector: batches of ``{"events": [...]}`` with the bearer token we gave."""

from __future__ import annotations

from suppressor.customers.contacts import loose_email, loose_phone
from suppressor.hooks.inbound import (
    RESUBSCRIBED,
    BadPayload,
    Delivery,
    Incoming,
    Parsed,
    Unauthorized,
    each,
    event_id,
    json_body,
    same_secret,
    stamp,
)

TYPES = {
    "users.messages.email.Delivery": ("email", "delivered"), "users.messages.email.Open": ("email", "opened"),
    "users.messages.email.Click": ("email", "clicked"), "users.messages.email.Bounce": ("email", "bounced"),
    "users.messages.email.MarkAsSpam": ("email", "complained"),
    "users.messages.email.Unsubscribe": ("email", "unsubscribed"),
    "users.messages.sms.Delivery": ("sms", "delivered"), "users.messages.sms.DeliveryFailure": ("sms", "bounced"),
    "users.messages.sms.InboundReceive": ("sms", "replied"),
    "users.messages.pushnotification.Send": ("push", "delivered"),
    "users.messages.pushnotification.Open": ("push", "opened"),
    "users.messages.pushnotification.Bounce": ("push", "bounced"),
}
GLOBAL_STATE = "users.behaviors.subscription.GlobalStateChange"


def verify(delivery: Delivery, secret: str | None) -> None:
    """``Authorization: Bearer <the token printed by suppressor hooks create>``."""
    raw = delivery.headers.get("authorization", "")
    if not same_secret(raw[7:].strip() if raw[:7].lower() == "bearer " else None, secret):
        raise Unauthorized("Braze Currents sends the bearer token set in the export: it is missing or not this "
                           "webhook's")


def parse(delivery: Delivery) -> Parsed:
    """Message engagement events and global subscription changes; a user is named by external_user_id."""
    body = json_body(delivery, "Braze Currents")
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise BadPayload("Braze Currents sends {\"events\": [...]}")
    return each(body["events"], _one)


def _one(ev: dict) -> Incoming | None:
    if "id" not in ev or "time" not in ev:
        return None
    user, props = ev.get("user") or {}, ev.get("properties") or {}
    if ev.get("event_type") == GLOBAL_STATE:
        status = str(props.get("subscription_status", "")).lower().replace(" ", "_")
        channel = "sms" if str(props.get("channel", "")).lower() == "sms" else "email"
        kind = "unsubscribed" if status == "unsubscribed" else RESUBSCRIBED if status in (
            "subscribed", "opted_in") else None
    else:
        channel, kind = TYPES.get(ev.get("event_type"), (None, None))
    if kind is None:
        return None
    return Incoming(
        event_id=event_id("braze", ev["id"]), type=kind, ts=stamp(ev["time"]), channel=channel,
        customer_id=user.get("external_user_id") or None, email=loose_email(props.get("email_address")),
        phone=loose_phone(props.get("user_phone_number") or props.get("to_phone_number")),
        campaign_id=props.get("campaign_id") or props.get("canvas_id"),
        properties={"scope": "channel"} if kind == "unsubscribed" else {})
