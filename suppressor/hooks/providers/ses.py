"""Amazon SES notifications through SNS: the SNS message signature, checked against Amazon's
certificate (fetched only from an ``sns.<region>.amazonaws.com`` HTTPS URL of an allowed region, kept,
and fetched at a bounded rate); the subscription is confirmed by visiting its SubscribeURL (same
check), for the hook's topic only."""

from __future__ import annotations

import base64
import re
import threading
import time
from collections import OrderedDict
from functools import lru_cache
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from suppressor.customers.contacts import loose_email
from suppressor.hooks.inbound import (
    RESUBSCRIBED,
    BadPayload,
    Busy,
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

SNS_HOST = re.compile(r"^sns\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
CERT_PATH = re.compile(r"^/SimpleNotificationService-[A-Za-z0-9]+\.pem$")
SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
TYPES = {"Delivery": "delivered", "Bounce": "bounced", "Complaint": "complained", "Open": "opened", "Click": "clicked"}
DETAIL = {
    "Delivery": "delivery",
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Open": "open",
    "Click": "click",
    "Subscription": "subscription",
}
SUBSCRIPTION = "Subscription"  # SES's own list management: a contact's topic preferences changed
# the regions whose SNS certificates may be fetched unless SUPPRESSOR_SES_REGIONS says otherwise: SES's
REGIONS = frozenset(
    (
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "sa-east-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "il-central-1",
        "me-south-1",
        "me-central-1",
        "af-south-1",
        "ap-south-1",
        "ap-south-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-5",
        "us-gov-east-1",
        "us-gov-west-1",
    )
)
CERTS_KEPT = 32
FETCHES_PER_MINUTE = 10  # certificate fetches a process makes, at most (Amazon rotates them rarely)
REFETCH_AFTER = 600.0  # seconds: a certificate that fails a signature is fetched again at most this often


def sns_url(url: str | None) -> bool:
    """An HTTPS URL on Amazon's SNS domain (the only place a certificate or a confirmation may come from)."""
    return _region(url) is not None


def _region(url: str | None) -> str | None:
    """The region of an HTTPS URL on Amazon's SNS domain, or None."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    host = SNS_HOST.match(parts.hostname or "")
    return host.group(1) if parts.scheme == "https" and host and parts.port in (None, 443) else None


@lru_cache(maxsize=CERTS_KEPT)
def _certificate(url: str, pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


class _Certificates:
    """Amazon's public signing certificates by URL (shared data, not a tenant's): kept, and fetched one
    at a time, at most FETCHES_PER_MINUTE a minute; a fetch that cannot happen now is ``Busy``."""

    def __init__(self) -> None:
        self.pems: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self.fetching = threading.Lock()
        self.tokens, self.at = float(FETCHES_PER_MINUTE), time.monotonic()

    def get(self, url: str, fetch, stale: bool = False) -> bytes | None:
        """The certificate at ``url``; ``stale``: the kept one failed, so fetch it again if it is old
        enough (else None: the kept one stands)."""
        kept = self.pems.get(url)
        if kept and not (stale and time.monotonic() - kept[1] > REFETCH_AFTER):
            self.pems.move_to_end(url)
            return None if stale else kept[0]
        if not self.fetching.acquire(blocking=False):
            raise Busy("another SNS signing certificate is being fetched; retry in a second")
        try:
            now = time.monotonic()
            self.tokens = min(FETCHES_PER_MINUTE, self.tokens + (now - self.at) * FETCHES_PER_MINUTE / 60)
            self.at = now
            if self.tokens < 1:
                raise Busy(f"SNS signing certificates are fetched at most {FETCHES_PER_MINUTE} a minute; retry shortly")
            self.tokens -= 1
            pem = fetch(url)
            self.pems[url] = (pem, time.monotonic())
            while len(self.pems) > CERTS_KEPT:
                self.pems.popitem(last=False)
            return pem
        finally:
            self.fetching.release()


_certs = _Certificates()


def verify(delivery: Delivery, secret: str | None) -> Proof:
    """SNS signature (version 1: SHA1, 2: SHA256) over the canonical fields, checked only for the hook's
    topic (``secret``; unset, only a subscription confirmation, whose topic the hook then keeps: the
    proof's ``pin``) and with a certificate from the topic's own region's SNS host, an allowed region."""
    try:
        msg = json_body(delivery, "SNS")
        kind, cert_url, topic = msg["Type"], msg["SigningCertURL"], msg["TopicArn"]
        names = SIGNED[kind]
        signature = base64.b64decode(msg["Signature"])
        algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}[str(msg.get("SignatureVersion", "1"))]
        text = "".join(f"{n}\n{msg[n]}\n" for n in names if n in msg).encode()
        at = iso(msg["Timestamp"]).timestamp()
        topic_region = topic.split(":")[3]
    except (BadPayload, KeyError, TypeError, ValueError, AttributeError, IndexError):
        raise Unauthorized(
            "not a signed SNS message (Type, TopicArn, Timestamp, Signature, SignatureVersion, SigningCertURL)"
        ) from None
    region = _region(cert_url)
    if region is None or not CERT_PATH.match(urlsplit(cert_url).path):
        raise Unauthorized(
            f"the signing certificate must come from https://sns.<region>.amazonaws.com; refused {cert_url!r}"
        )
    allowed = delivery.sns_regions if delivery.sns_regions is not None else REGIONS
    if region not in allowed or region != topic_region:
        raise Unauthorized(
            f"SNS certificates are fetched from the topic's own region, one of SUPPRESSOR_SES_REGIONS; "
            f"refused {region!r} for a topic in {topic_region!r}"
        )
    if secret and topic != secret:
        raise Unauthorized(f"this webhook accepts the SNS topic {secret}, not {topic!r}")
    if not secret and kind != "SubscriptionConfirmation":
        raise Unauthorized(
            "this webhook has no SNS topic yet: it takes the topic of the first subscription "
            "confirmation it receives (or name one: the hook's secret)"
        )
    if kind != "Notification" and not _names_topic(msg.get("SubscribeURL"), region, topic):
        raise Unauthorized("the SubscribeURL must be this topic's, on its region's SNS host")
    if delivery.fetch is None:
        raise Unauthorized("cannot fetch the SNS signing certificate here")
    pem = _certs.get(cert_url, delivery.fetch)
    while pem is not None:  # a kept certificate that fails is fetched again, if old enough (Amazon rotated it)
        try:
            _certificate(cert_url, pem).public_key().verify(signature, text, padding.PKCS1v15(), algorithm)
            return Proof(msg["Signature"], at, pin=None if secret else topic)
        except (InvalidSignature, ValueError, TypeError):
            pem = _certs.get(cert_url, delivery.fetch, stale=True)
    raise Unauthorized("the SNS signature does not verify with Amazon's certificate")


def _names_topic(url: str | None, region: str, topic: str) -> bool:
    """A SubscribeURL on the region's SNS host, for this topic."""
    return _region(url) == region and parse_qs(urlsplit(url).query).get("TopicArn") == [topic]


def parse(delivery: Delivery) -> Parsed:
    """A subscription confirmation is confirmed; an SES event or list change yields one event per recipient."""
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
    change = _subscription(detail) if kind == SUBSCRIPTION else (TYPES.get(kind), [])
    if change is None or change[0] is None or (kind == "Bounce" and detail.get("bounceType") != "Permanent"):
        return Parsed(ignored=1)
    typ, topics = change
    mail = ses.get("mail") or {}
    recipients = (
        {
            "Bounce": [r.get("emailAddress") for r in detail.get("bouncedRecipients", [])],
            "Complaint": [r.get("emailAddress") for r in detail.get("complainedRecipients", [])],
            "Delivery": detail.get("recipients"),
        }.get(kind)
        or mail.get("destination")
        or []
    )
    ids = custom(mail.get("tags"))
    at = iso(detail.get("timestamp") or mail.get("timestamp") or msg["Timestamp"])
    scope = {"scope": "topics" if topics else "channel"} if typ == "unsubscribed" else {}
    return Parsed(
        events=[
            Incoming(
                event_id=event_id("ses", msg["MessageId"], to),
                type=typ,
                ts=at,
                channel="email",
                customer_id=ids["customer_id"],
                email=loose_email(to),
                message_id=ids["message_id"],
                campaign_id=ids["campaign_id"],
                topics=topics,
                properties=scope,
            )
            for to in recipients
        ]
    )


def _opted_out(prefs: dict) -> set[str]:
    return {
        t["topicName"]
        for t in prefs.get("topicSubscriptionStatus") or []
        if t.get("subscriptionStatus") == "OptOut" and isinstance(t.get("topicName"), str)
    }


def _subscription(detail: dict) -> tuple[str, list[str]] | None:
    """What a Subscription record changed: leaving (or rejoining) the whole list, or opting out of topics
    (``ses_topic:<name>``); None when it changed nothing a decision reads (opting in to a topic)."""
    new, old = detail.get("newTopicPreferences") or {}, detail.get("oldTopicPreferences") or {}
    if bool(new.get("unsubscribeAll")) != bool(old.get("unsubscribeAll")):
        return ("unsubscribed" if new.get("unsubscribeAll") else RESUBSCRIBED), []
    topics = sorted(f"ses_topic:{name}" for name in _opted_out(new) - _opted_out(old))
    return ("unsubscribed", topics) if topics else None
