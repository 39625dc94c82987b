"""SendGrid's Event Webhook: a JSON array of events, ECDSA-signed (SendGrid's own verifier)."""

from __future__ import annotations

from sendgrid.helpers.eventwebhook import EventWebhook

from suppressor.customers.contacts import loose_email
from suppressor.hooks.inbound import (
    BadPayload,
    Delivery,
    Incoming,
    Parsed,
    Proof,
    Unauthorized,
    custom,
    each,
    event_id,
    json_body,
    stamp,
)

SIGNATURE = "x-twilio-email-event-webhook-signature"
TIMESTAMP = "x-twilio-email-event-webhook-timestamp"
TYPES = {
    "delivered": "delivered",
    "open": "opened",
    "click": "clicked",
    "bounce": "bounced",
    "spamreport": "complained",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
}
# A drop because the address is on one of SendGrid's suppression lists says which list; other drops
# (a bad header, a quota) say nothing about the address.
DROPPED = {"Bounced Address": "bounced", "Spam Reporting Address": "complained", "Unsubscribed Address": "unsubscribed"}


def verify(delivery: Delivery, secret: str | None) -> Proof:
    """The signature over timestamp + raw body, with the account's verification key."""
    signature, timestamp = delivery.headers.get(SIGNATURE), delivery.headers.get(TIMESTAMP)
    if not signature or not timestamp:
        raise Unauthorized(f"SendGrid signs its events: the {SIGNATURE} and {TIMESTAMP} headers are missing")
    try:
        at = float(timestamp)
        hook = EventWebhook(secret)
        ok = hook.verify_signature(delivery.body.decode("utf-8"), signature, timestamp)
    except (ValueError, UnicodeDecodeError):  # a malformed signature or key
        ok = False
    if not ok:
        raise Unauthorized("the SendGrid signature does not verify with this webhook's verification key")
    return Proof(signature, at)


def parse(delivery: Delivery) -> Parsed:
    """Delivered, open, click, bounce (not blocks), spam reports and unsubscribes; the rest is counted."""
    body = json_body(delivery, "SendGrid")
    if not isinstance(body, list):
        raise BadPayload("SendGrid sends a JSON array of events")
    return each(body, _one)


def _one(ev: dict) -> Incoming | None:
    kind = DROPPED.get(ev.get("reason")) if ev.get("event") == "dropped" else TYPES.get(ev.get("event"))
    if kind is None or (ev.get("event") == "bounce" and ev.get("type") == "blocked") or "sg_event_id" not in ev:
        return None
    ids = custom(ev)  # custom_args arrive as top-level fields
    topics, props = [], {}
    # an unsubscribe from a group (or a drop for one: the message was sent with its group): the group and
    # the message's categories are the topics
    if ev["event"] == "group_unsubscribe" or (kind == "unsubscribed" and ev.get("asm_group_id") is not None):
        cats = ev.get("category")
        topics = [c for c in ([cats] if isinstance(cats, str) else cats or []) if isinstance(c, str)]
        if isinstance(ev.get("asm_group_id"), (int, str)) and str(ev["asm_group_id"]):
            topics.append(f"asm_group:{ev['asm_group_id']}")
        if not topics:
            return None
        props["scope"] = "topics"
    elif kind == "unsubscribed":
        props["scope"] = "channel"
    return Incoming(
        event_id=event_id("sendgrid", ev["sg_event_id"]),
        type=kind,
        ts=stamp(ev.get("timestamp", 0)),
        channel="email",
        customer_id=ids["customer_id"],
        email=loose_email(ev.get("email")),
        message_id=ids["message_id"],
        campaign_id=ids["campaign_id"],
        topics=topics,
        properties=props,
    )
