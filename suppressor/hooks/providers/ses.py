"""Amazon SES notifications through SNS: the SNS message signature, checked against Amazon's
certificate (fetched only from an ``sns.<region>.amazonaws.com`` HTTPS URL); the subscription is
confirmed by visiting its SubscribeURL (same check)."""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

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
    iso,
    json_body,
)

SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
TYPES = {"Delivery": "delivered", "Bounce": "bounced", "Complaint": "complained", "Open": "opened", "Click": "clicked"}
DETAIL = {"Delivery": "delivery", "Bounce": "bounce", "Complaint": "complaint", "Open": "open", "Click": "click"}


def sns_url(url: str | None) -> bool:
    """An HTTPS URL on Amazon's SNS domain (the only place a certificate or a confirmation may come from)."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(SNS_HOST.match(parts.hostname or "")) and parts.port in (None, 443)


@lru_cache(maxsize=32)
def _certificate(url: str, pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


_pems: dict[str, bytes] = {}  # Amazon's public signing certificates by URL: shared data, not a tenant's


def verify(delivery: Delivery, secret: str | None) -> Proof:
    """SNS signature (version 1: SHA1, 2: SHA256) over the canonical fields; the topic, if pinned."""
    try:
        msg = json_body(delivery, "SNS")
        kind, cert_url = msg["Type"], msg["SigningCertURL"]
        names = SIGNED[kind]
        signature = base64.b64decode(msg["Signature"])
        algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}[str(msg.get("SignatureVersion", "1"))]
        text = "".join(f"{n}\n{msg[n]}\n" for n in names if n in msg).encode()
        at = iso(msg["Timestamp"]).timestamp()
    except (BadPayload, KeyError, TypeError, ValueError):
        raise Unauthorized("not a signed SNS message (Type, Signature, SignatureVersion, SigningCertURL)") from None
    if not sns_url(cert_url) or not cert_url.endswith(".pem"):
        raise Unauthorized(f"the signing certificate must come from https://sns.<region>.amazonaws.com; "
                           f"refused {cert_url!r}")
    if secret and msg.get("TopicArn") != secret:
        raise Unauthorized(f"this webhook accepts the SNS topic {secret}, not {msg.get('TopicArn')!r}")
    if delivery.fetch is None:
        raise Unauthorized("cannot fetch the SNS signing certificate here")
    for attempt in range(2):  # a cached certificate that fails is fetched again once (Amazon rotated it)
        if attempt or cert_url not in _pems:
            _pems[cert_url] = delivery.fetch(cert_url)
        try:
            _certificate(cert_url, _pems[cert_url]).public_key().verify(signature, text, padding.PKCS1v15(), algorithm)
            return Proof(msg["Signature"], at)
        except (InvalidSignature, ValueError, TypeError):
            continue
    raise Unauthorized("the SNS signature does not verify with Amazon's certificate")


def parse(delivery: Delivery) -> Parsed:
    """A subscription confirmation is confirmed; a notification's SES event yields one event per recipient."""
    msg = json_body(delivery, "SNS")
    if msg["Type"] == "SubscriptionConfirmation":
        if not sns_url(msg.get("SubscribeURL")):
            raise BadPayload("the SubscribeURL is not on Amazon's SNS domain")
        delivery.fetch(msg["SubscribeURL"])
        return Parsed()
    if msg["Type"] != "Notification":
        return Parsed(ignored=1)
    try:
        ses = json_body(Delivery(msg["Message"].encode(), {}, ""), "SES")
    except (BadPayload, AttributeError):
        return Parsed(ignored=1)
    kind = ses.get("eventType") or ses.get("notificationType")
    detail = ses.get(DETAIL.get(kind, ""), {}) if isinstance(ses, dict) else {}
    if kind not in TYPES or (kind == "Bounce" and detail.get("bounceType") != "Permanent"):
        return Parsed(ignored=1)
    mail = ses.get("mail") or {}
    recipients = {"Bounce": [r.get("emailAddress") for r in detail.get("bouncedRecipients", [])],
                  "Complaint": [r.get("emailAddress") for r in detail.get("complainedRecipients", [])],
                  "Delivery": detail.get("recipients")}.get(kind) or mail.get("destination") or []
    ids = custom(mail.get("tags"))
    at = iso(detail.get("timestamp") or mail.get("timestamp") or msg["Timestamp"])
    return Parsed(events=[Incoming(
        event_id=event_id("ses", msg["MessageId"], to), type=TYPES[kind], ts=at, channel="email",
        customer_id=ids["customer_id"], email=loose_email(to), message_id=ids["message_id"],
        campaign_id=ids["campaign_id"]) for to in recipients])
