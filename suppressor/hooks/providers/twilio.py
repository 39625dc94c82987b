"""Twilio SMS: status callbacks and inbound messages (STOP revokes SMS consent, START restores it),
verified with Twilio's own RequestValidator over the URL Twilio called and the form parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, parse_qsl, urlsplit

from twilio.request_validator import RequestValidator

from suppressor.customers.contacts import loose_phone
from suppressor.hooks.inbound import RESUBSCRIBED, Delivery, Incoming, Parsed, Proof, Unauthorized, event_id

STOP = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
START = {"START", "YES", "UNSTOP"}
STATUS = {"delivered": "delivered", "read": "opened", "undelivered": "bounced", "failed": "bounced"}
UNSUBSCRIBED_RECIPIENT = "21610"  # Twilio's error: the recipient replied STOP earlier
TWIML = ("text/xml", b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>')


def _params(delivery: Delivery) -> dict[str, str]:
    return dict(parse_qsl(delivery.body.decode("utf-8", "replace"), keep_blank_values=True))


def verify(delivery: Delivery, secret: str | None) -> Proof:
    """X-Twilio-Signature: HMAC of the called URL and the sorted form parameters, with the Auth Token; it
    signs no time, so the proof is the signature alone (remembered: hooks.freshness)."""
    signature = delivery.headers.get("x-twilio-signature")
    if not signature:
        raise Unauthorized("Twilio signs its requests: the X-Twilio-Signature header is missing")
    if not RequestValidator(secret or "").validate(delivery.url, _params(delivery), signature):
        raise Unauthorized(
            "the Twilio signature does not verify with this webhook's Auth Token for the URL "
            f"{delivery.url} (behind a proxy, set SUPPRESSOR_PUBLIC_URL to the URL Twilio calls)"
        )
    return Proof(signature)


def parse(delivery: Delivery) -> Parsed:
    """A status callback maps by MessageStatus; an inbound message is a reply, a STOP or a START.
    Our ids may ride on the status callback URL's query (``?customer_id=…&message_id=…``)."""
    p, now = _params(delivery), datetime.now(UTC)
    query = {k: v[0] for k, v in parse_qs(urlsplit(delivery.url).query).items()}
    sid = p.get("MessageSid") or p.get("SmsSid")
    if not sid:
        return Parsed(ignored=1)
    status = p.get("MessageStatus") or p.get("SmsStatus")
    if status and status != "received":  # our message's fate; the customer is To
        kind = STATUS.get(status)
        if p.get("ErrorCode") == UNSUBSCRIBED_RECIPIENT:
            kind = "unsubscribed"
        if kind is None:
            return Parsed(ignored=1)
        return Parsed(
            events=[
                Incoming(
                    event_id=event_id("twilio", sid, status),
                    type=kind,
                    ts=now,
                    channel="sms",
                    customer_id=query.get("customer_id"),
                    phone=loose_phone(p.get("To")),
                    message_id=query.get("message_id"),
                    campaign_id=query.get("campaign_id"),
                    properties={"scope": "channel"} if kind == "unsubscribed" else {},
                )
            ],
            reply=TWIML,
        )
    word = (p.get("OptOutType") or p.get("Body", "")).strip().upper()
    kind = "unsubscribed" if word in STOP else RESUBSCRIBED if word in START else "replied"
    return Parsed(
        events=[
            Incoming(
                event_id=event_id("twilio", sid),
                type=kind,
                ts=now,
                channel="sms",
                phone=loose_phone(p.get("From")),
                properties={"scope": "channel"} if kind == "unsubscribed" else {},
            )
        ],
        reply=TWIML,
    )
