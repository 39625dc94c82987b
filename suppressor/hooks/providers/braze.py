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
    "users.messages.email.Delivery": ("email", "delivered"),
    "users.messages.email.Open": ("email", "opened"),
    "users.messages.email.Click": ("email", "clicked"),
    "users.messages.email.Bounce": ("email", "bounced"),
    "users.messages.email.MarkAsSpam": ("email", "complained"),
    "users.messages.email.Unsubscribe": ("email", "unsubscribed"),
    # sms.DeliveryFailure is Braze failing to hand the message to its SMS provider (queue overflow, a
    # suspended account): nothing about the recipient, so it is not mapped; the carrier's refusal is Rejection.
    "users.messages.sms.Delivery": ("sms", "delivered"),
    "users.messages.sms.Rejection": ("sms", "bounced"),
    "users.messages.sms.InboundReceive": ("sms", "replied"),
    "users.messages.pushnotification.Send": ("push", "delivered"),
    "users.messages.pushnotification.Open": ("push", "opened"),
    "users.messages.pushnotification.Bounce": ("push", "bounced"),
}
GLOBAL_STATE = "users.behaviors.subscription.GlobalStateChange"
# A subscription group: on SMS it is the SMS program (leaving it closes SMS, like a STOP); on e-mail it is
# a kind of mail (leaving it blocks this topic, and e-mail stays open).
GROUP_STATE = "users.behaviors.subscriptiongroup.StateChange"
GROUP_TOPIC = "subscription_group:{}"
CHANNELS = {"email": "email", "push": "push", "sms": "sms"}  # a global state's channel; another is not ours
INBOUND = "users.messages.sms.InboundReceive"
KEYWORD = {"unsubscribed": "unsubscribed", "subscribed": RESUBSCRIBED}  # InboundReceive's action (opt-out keyword)
TRACKING = ("canvas_id", "canvas_step_id", "message_variation_id", "canvas_variation_id")  # kept as they are


def verify(delivery: Delivery, secret: str | None) -> None:
    """``Authorization: Bearer <the token printed by suppressor hooks create>``."""
    raw = delivery.headers.get("authorization", "")
    if not same_secret(raw[7:].strip() if raw[:7].lower() == "bearer " else None, secret):
        raise Unauthorized(
            "Braze Currents sends the bearer token set in the export: it is missing or not this webhook's"
        )


def parse(delivery: Delivery) -> Parsed:
    """Message engagement events, global and group subscription changes; a user is named by external_user_id."""
    body = json_body(delivery, "Braze Currents")
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise BadPayload('Braze Currents sends {"events": [...]}')
    return each(body["events"], _one)


def _one(ev: dict) -> Incoming | None:
    if "id" not in ev or "time" not in ev:
        return None
    user, props = ev.get("user") or {}, ev.get("properties") or {}
    topics: list[str] = []
    if ev.get("event_type") in (GLOBAL_STATE, GROUP_STATE):
        status = str(props.get("subscription_status", "")).lower().replace(" ", "_")
        channel = CHANNELS.get(str(props.get("channel", "")).lower())
        kind = (
            "unsubscribed"
            if status == "unsubscribed"
            else RESUBSCRIBED
            if status in ("subscribed", "opted_in")
            else None
        )
        if ev.get("event_type") == GROUP_STATE and channel != "sms":
            group = props.get("subscription_group_id")
            topics = [GROUP_TOPIC.format(group)] if channel == "email" and isinstance(group, str) and group else []
            kind = kind if kind == "unsubscribed" and topics else None  # rejoining cannot unblock a topic
    else:
        channel, kind = TYPES.get(ev.get("event_type"), (None, None))
        if ev.get("event_type") == INBOUND:  # a STOP (or START) keyword Braze acted on, else a reply
            kind = KEYWORD.get(str(props.get("action", "")).lower(), kind)
    if kind is None or channel is None:
        return None
    extra = {k: str(props[k]) for k in TRACKING if isinstance(props.get(k), (str, int)) and str(props[k])}
    scope = {"scope": "topics" if topics else "channel"} if kind == "unsubscribed" else {}
    identifier = props.get("channel_identifier")
    return Incoming(
        event_id=event_id("braze", ev["id"]),
        type=kind,
        ts=stamp(ev["time"]),
        channel=channel,
        customer_id=user.get("external_user_id") or None,
        email=loose_email(props.get("email_address") or (identifier if channel == "email" else None)),
        phone=loose_phone(
            props.get("user_phone_number") or props.get("to_phone_number") or (identifier if channel == "sms" else None)
        ),
        message_id=props.get("dispatch_id") or None,
        campaign_id=props.get("campaign_id") or props.get("canvas_id"),
        topics=topics,
        properties={**extra, **scope},
    )
