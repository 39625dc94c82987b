"""Mautic webhooks: event arrays by type, HMAC-SHA256 of the raw body (base64) in Webhook-Signature."""

from __future__ import annotations

import base64
import hashlib
import hmac

from suppressor.customers.contacts import loose_email, loose_phone
from suppressor.hooks.inbound import (
    RESUBSCRIBED,
    BadPayload,
    Delivery,
    Incoming,
    Parsed,
    Proof,
    Unauthorized,
    each,
    event_id,
    iso,
    json_body,
)

SENDS = {
    "mautic.email_on_send": ("email", "delivered"),
    "mautic.email_on_open": ("email", "opened"),
    "mautic.sms_on_send": ("sms", "delivered"),
    "mautic.page_on_hit": ("web", "visited"),
}
SUBSCRIPTION = "mautic.lead_channel_subscription_changed"
CHANNELS = {"email": "email", "sms": "sms", "notification": "push"}  # Mautic's channel names -> ours
# Mautic's do-not-contact reasons as its webhook words them (ChannelSubscriptionChange::getDncReasonVerb):
# "manual" is a do-not-contact a Mautic user set by hand, which closes the channel as an unsubscribe does.
STATUSES = {"unsubscribed": "unsubscribed", "manual": "unsubscribed", "bounced": "bounced", "contactable": RESUBSCRIBED}


def verify(delivery: Delivery, secret: str | None) -> Proof:
    """base64(HMAC-SHA256(secret, raw body)) in the Webhook-Signature header; the body's top-level
    ``timestamp`` (when Mautic sent it) is signed with it, and dates the proof."""
    given = delivery.headers.get("webhook-signature", "")
    expected = base64.b64encode(hmac.new((secret or "").encode(), delivery.body, hashlib.sha256).digest()).decode()
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("the Mautic Webhook-Signature does not verify with this webhook's secret")
    try:  # the body is proven now: reading it is no longer a stranger's cost
        body = json_body(delivery, "Mautic")
        at = iso(body["timestamp"]).timestamp() if isinstance(body, dict) and "timestamp" in body else None
    except (BadPayload, TypeError, ValueError, AttributeError):
        at = None  # a body of the wrong shape is parse's to refuse
    return Proof(given, at)


def _field(contact: dict, name: str) -> str | None:
    fields = contact.get("fields") if isinstance(contact, dict) else None
    core = fields.get("core", {}) if isinstance(fields, dict) else {}
    value = core.get(name, {}).get("value") if isinstance(core.get(name), dict) else None
    return value or (contact.get(name) if isinstance(contact, dict) else None)


def parse(delivery: Delivery) -> Parsed:
    """Sends, opens, page hits and channel subscription changes (unsubscribed, manual, bounced, contactable)."""
    body = json_body(delivery, "Mautic")
    if not isinstance(body, dict):
        raise BadPayload('Mautic sends {"mautic.<event>": [...]}')
    out = Parsed()
    for name, items in body.items():
        if isinstance(items, list):  # not the top-level timestamp
            mapped = each(items, lambda item, name=name: _one(name, item))
            out.events += mapped.events
            out.ignored += mapped.ignored
    return out


def _one(name: str, item: dict) -> Incoming | None:
    # Where the contact rides (Mautic's WebhookSubscribers): email and SMS sends and subscription changes
    # carry it as "contact"; an open as the stat's "lead" (beside stat.emailAddress); a page hit as hit.lead.
    stat, hit = item.get("stat") or {}, item.get("hit") or {}
    contact = item.get("contact") or stat.get("lead") or hit.get("lead") or item.get("lead") or {}
    at = item.get("timestamp") or hit.get("dateHit") or stat.get("lastOpened") or stat.get("dateRead")
    if name in SENDS and at:
        channel, kind = SENDS[name]
        key = item.get("idHash") or stat.get("trackingHash") or item.get("smsId") or hit.get("id") or hit.get("url")
        eid = event_id("mautic", name, key, contact.get("id"), at)
    elif name == SUBSCRIPTION and at:
        channel, kind = CHANNELS.get(item.get("channel")), STATUSES.get(item.get("new_status"))
        eid = event_id("mautic", name, contact.get("id"), channel, item.get("new_status"), at)
    else:
        return None
    if kind is None or channel is None:
        return None
    return Incoming(
        event_id=eid,
        type=kind,
        ts=iso(at),
        channel=channel,
        email=loose_email(_field(contact, "email") or stat.get("emailAddress")),
        phone=loose_phone(_field(contact, "mobile") or _field(contact, "phone")),
        properties={"scope": "channel"} if kind == "unsubscribed" else {},
    )
