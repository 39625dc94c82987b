"""Provider webhooks in, over HTTP, with payloads and signatures made the way each provider makes
them: SendGrid's ECDSA, Mailgun's HMAC of timestamp + token, Postmark's basic auth, Amazon SNS's
RSA signature over its canonical text (certificate served by a real local HTTP server), Twilio's
RequestValidator scheme, Braze's and Iterable's tokens, Mautic's HMAC of the raw body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from suppressor.hooks import registry
from suppressor.hooks.providers import ses
from suppressor.storage import keys
from tests.factories import auth

NOW = datetime.now(UTC).replace(microsecond=0)


def stored(store, cid: str, tenant: str = "acme") -> int:
    return store.bulk.zcard(keys.events_by_time(tenant, cid))


@pytest.fixture
def people(client, key):
    """Ann by e-mail, Bob by phone (sms consent), in tenant acme."""
    h = auth(key)
    client.patch("/v1/policy", headers=h, json={"quiet_hours": {"enabled": False}})
    assert (
        client.put(
            "/v1/customers/ann-1", headers=h, json={"consent": {"email": True}, "emails": ["Ann@Example.com"]}
        ).status_code
        == 200
    )
    assert (
        client.put(
            "/v1/customers/bob-2",
            headers=h,
            json={"consent": {"sms": True, "email": True}, "phones": ["+1 555 010 2030"]},
        ).status_code
        == 200
    )
    return h


def decide(client, h, cid, channel="email", mid="m-1"):
    return client.post(
        "/v1/decisions",
        headers=h,
        json={
            "customer_id": cid,
            "allow_reroute": False,
            "message": {"message_id": mid, "channel": channel, "kind": "sales", "topics": ["segment:suv"]},
        },
    ).json()


# --- SendGrid: ECDSA P-256 over timestamp + body, the public key given as base64 DER -----------------


def sendgrid_keys():
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public).decode()


def sendgrid_post(client, hook, private, events, tamper=False):
    body = json.dumps(events).encode()
    ts = str(int(time.time()))
    sig = base64.b64encode(private.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
    return client.post(
        f"/v1/hooks/sendgrid/{hook.id}",
        content=body + (b" " if tamper else b""),
        headers={
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": sig,
            "X-Twilio-Email-Event-Webhook-Timestamp": ts,
        },
    )


def sg_event(kind, email="ann@example.com", n=1, **extra):
    return {
        "email": email,
        "timestamp": int(NOW.timestamp()) - 60,
        "event": kind,
        "sg_event_id": f"sg-{kind}-{n}",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        **extra,
    }


def test_sendgrid_events_land_on_the_customer_by_address_once(client, store, people):
    private, public = sendgrid_keys()
    hook = registry.create(store, "acme", "sendgrid", public)
    batch = [
        sg_event("processed"),
        sg_event("delivered"),
        sg_event("open"),
        sg_event("click", customer_id="bob-2", message_id="m-7"),  # custom_args name the customer directly
        sg_event("delivered", email="stranger@example.com", n=2),
    ]
    r = sendgrid_post(client, hook, private, batch)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "received": 5,
        "accepted": 3,
        "duplicates": 0,
        "unknown": 1,
        "unknown_addresses": ["s***@example.com"],
        "ignored": 1,
        "consent": 0,
    }
    assert stored(store, "ann-1") == 2 and stored(store, "bob-2") == 1
    again = sendgrid_post(client, hook, private, batch).json()  # SendGrid retries a batch it thinks failed
    assert again["accepted"] == 0 and again["duplicates"] == 3 and stored(store, "ann-1") == 2
    listed = registry.listing(store, "acme")[0]
    assert listed["unknown"] == 2 and listed["accepted"] == 3 and listed["last_unknown"] == "s***@example.com"


def test_a_bad_sendgrid_signature_is_refused_and_stores_nothing(client, store, people):
    private, public = sendgrid_keys()
    hook = registry.create(store, "acme", "sendgrid", public)
    other, _ = sendgrid_keys()
    for r in (
        sendgrid_post(client, hook, private, [sg_event("delivered")], tamper=True),
        sendgrid_post(client, hook, other, [sg_event("delivered")]),
        client.post(f"/v1/hooks/sendgrid/{hook.id}", json=[sg_event("delivered")]),
    ):
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert stored(store, "ann-1") == 0
    assert client.post(f"/v1/hooks/mailgun/{hook.id}", json={}).status_code == 404  # the id is SendGrid's
    assert client.post("/v1/hooks/sendgrid/no-such-hook", json=[]).status_code == 404


def test_a_sendgrid_unsubscribe_stops_the_next_email(client, store, people):
    private, public = sendgrid_keys()
    hook = registry.create(store, "acme", "sendgrid", public)
    assert decide(client, people, "ann-1")["action"] == "send"
    sendgrid_post(client, hook, private, [sg_event("unsubscribe")])
    verdict = decide(client, people, "ann-1", mid="m-2")
    assert verdict["action"] == "suppress" and verdict["reasons"][0]["code"] == "consent"


# --- Mailgun: HMAC-SHA256(signing key, timestamp + token) inside the body ------------------------------


def mailgun_body(key, event, tamper=False):
    ts, token = str(int(time.time())), hashlib.sha256(str(time.time_ns()).encode()).hexdigest()[:50]
    sig = hmac.new(key.encode(), (ts + token).encode(), hashlib.sha256).hexdigest()
    if tamper:  # one hex digit changed (to a different one: "0" over a "0" would change nothing)
        sig = ("1" if sig[0] == "0" else "0") + sig[1:]
    return {"signature": {"timestamp": ts, "token": token, "signature": sig}, "event-data": event}


def test_mailgun_permanent_failures_bounce_and_temporary_ones_wait(client, store, people):
    hook = registry.create(store, "acme", "mailgun", "key-3ax6xnjp29jd6fds4gc373sgvjxteol0")
    at = NOW.timestamp() - 30
    perm = {
        "event": "failed",
        "severity": "permanent",
        "id": "G9Bn5sl1TC6m3Mnn0bGcbg",
        "timestamp": at,
        "recipient": "ann@example.com",
        "reason": "bounce",
        "user-variables": {"message_id": "m-1"},
    }
    temp = {**perm, "severity": "temporary", "id": "Ase7i2zsRYeDXztHGENqRA"}
    url = f"/v1/hooks/mailgun/{hook.id}"
    assert client.post(url, json=mailgun_body(hook.secret, temp)).json()["ignored"] == 1
    assert client.post(url, json=mailgun_body(hook.secret, perm)).json()["accepted"] == 1
    # a new signature on the same event (Mailgun retrying): still one event
    assert client.post(url, json=mailgun_body(hook.secret, perm)).json()["duplicates"] == 1
    assert client.post(url, json=mailgun_body(hook.secret, perm, tamper=True)).status_code == 401
    assert client.post(url, json=mailgun_body("another-key", perm)).status_code == 401
    timeline = client.get("/v1/timeline/ann-1", headers=people).json()
    bounced = [i for i in timeline["items"] if i.get("event_type") == "bounced" or i.get("type") == "event"]
    assert bounced and stored(store, "ann-1") == 1


# --- Postmark: basic auth in the URL -----------------------------------------------------------------


def test_postmark_records_by_basic_auth(client, store, people):
    hook = registry.create(store, "acme", "postmark")
    user, _, password = hook.secret.partition(":")
    good = httpx.BasicAuth(user, password).auth_flow(httpx.Request("POST", "http://x")).__next__().headers
    url = f"/v1/hooks/postmark/{hook.id}"
    open_ = {
        "RecordType": "Open",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Recipient": "ann@example.com",
        "ReceivedAt": (NOW - timedelta(minutes=5)).isoformat()[:-6] + ".1234567Z",
        "Metadata": {"campaign_id": "spring-suv"},
    }
    r = client.post(url, json=open_, headers={"Authorization": good["Authorization"]})
    assert r.status_code == 200 and r.json()["accepted"] == 1
    bounce = {
        "RecordType": "Bounce",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "Email": "ann@example.com",
        "BouncedAt": NOW.isoformat(),
        "MessageID": "883953f4",
    }
    soft = {**bounce, "ID": 1, "Type": "SoftBounce"}
    assert client.post(url, json=soft, headers={"Authorization": good["Authorization"]}).json()["ignored"] == 1
    assert client.post(url, json=bounce, headers={"Authorization": good["Authorization"]}).json()["accepted"] == 1
    wrong = httpx.BasicAuth(user, "guess").auth_flow(httpx.Request("POST", "http://x")).__next__().headers
    assert client.post(url, json=bounce, headers={"Authorization": wrong["Authorization"]}).status_code == 401
    assert client.post(url, json=bounce).status_code == 401
    assert stored(store, "ann-1") == 2


def test_postmark_resubscribe_reopens_email_after_an_unsubscribe(client, store, people):
    hook = registry.create(store, "acme", "postmark")
    h = {"Authorization": "Basic " + base64.b64encode(hook.secret.encode()).decode()}
    url = f"/v1/hooks/postmark/{hook.id}"
    change = {
        "RecordType": "SubscriptionChange",
        "MessageID": "a4909a96",
        "Recipient": "ann@example.com",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "ChangedAt": (NOW - timedelta(minutes=10)).isoformat(),
    }
    client.post(url, json=change, headers=h)
    assert decide(client, people, "ann-1")["action"] == "suppress"
    back = {**change, "SuppressSending": False, "SuppressionReason": None, "ChangedAt": NOW.isoformat()}
    assert client.post(url, json=back, headers=h).json()["consent"] == 1
    assert decide(client, people, "ann-1", mid="m-2")["action"] == "send"


# --- Amazon SES through SNS: RSA signature, certificate from an sns.*.amazonaws.com URL ----------------


class AmazonSide:
    """A real HTTP server standing in for sns.us-east-1.amazonaws.com: serves the signing certificate
    and records subscription confirmations. Requests to Amazon's host are sent here (a DNS override)."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(1)
            .not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        ).public_bytes(serialization.Encoding.PEM)
        self.confirmed: list[str] = []
        self.certificates_served = 0
        side = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.endswith(".pem"):
                    side.certificates_served += 1
                    body = side.cert
                else:
                    side.confirmed.append(self.path)
                    body = b"<ConfirmSubscriptionResponse/>"
                self.send_response(200)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def fetch(self, url: str) -> bytes:
        parts = urlsplit(url)
        assert parts.hostname == "sns.us-east-1.amazonaws.com"  # what the service asked for
        local = f"http://127.0.0.1:{self.server.server_port}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        answer = httpx.get(local, timeout=5)
        answer.raise_for_status()
        return answer.content

    def sign(self, msg: dict, version: str = "2", key=None, cert: str = "test") -> dict:
        names = ("Message", "MessageId", "SubscribeURL", "Subject", "Timestamp", "Token", "TopicArn", "Type")
        text = "".join(f"{n}\n{msg[n]}\n" for n in names if n in msg).encode()
        algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()
        sig = (key or self.key).sign(text, padding.PKCS1v15(), algorithm)
        return {
            **msg,
            "SignatureVersion": version,
            "Signature": base64.b64encode(sig).decode(),
            "SigningCertURL": f"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-{cert}.pem",
        }


TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"


@pytest.fixture
def amazon(app, client, monkeypatch):
    monkeypatch.setattr(ses, "_certs", ses._Certificates())  # this Amazon's certificates, fetched anew
    side = AmazonSide()
    app.state.services.fetch = side.fetch
    yield side
    side.server.shutdown()


def confirmation(topic: str, token: str = "2336412f37") -> dict:
    return {
        "Type": "SubscriptionConfirmation",
        "MessageId": f"c-{token}",
        "Token": token,
        "TopicArn": topic,
        "Message": "You have chosen to subscribe to the topic.",
        "Timestamp": NOW.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?"
        + urlencode({"Action": "ConfirmSubscription", "TopicArn": topic, "Token": token}),
    }


def ses_notification(mid, ses, subject=None, topic=TOPIC):
    msg = {
        "Type": "Notification",
        "MessageId": mid,
        "TopicArn": topic,
        "Message": json.dumps(ses),
        "Timestamp": NOW.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }
    return {**msg, **({"Subject": subject} if subject else {})}


def test_ses_confirms_its_subscription_and_maps_notifications(client, store, people, amazon):
    hook = registry.create(store, "acme", "ses", TOPIC)
    url = f"/v1/hooks/ses/{hook.id}"
    confirm = amazon.sign(confirmation(TOPIC))
    r = client.post(url, content=json.dumps(confirm), headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    assert amazon.confirmed and "Action=ConfirmSubscription" in amazon.confirmed[0]
    bounce = {
        "notificationType": "Bounce",
        "mail": {
            "messageId": "0100",
            "timestamp": NOW.isoformat(),
            "destination": ["ann@example.com", "bob@example.com"],
        },
        "bounce": {
            "bounceType": "Permanent",
            "timestamp": NOW.isoformat(),
            "bouncedRecipients": [{"emailAddress": "Ann <ann@example.com>"}],
        },
    }
    r = client.post(url, content=json.dumps(amazon.sign(ses_notification("n-1", bounce), version="1")))
    assert r.status_code == 200 and r.json()["accepted"] == 1
    opened = {
        "eventType": "Open",
        "mail": {
            "messageId": "0101",
            "destination": ["ann@example.com"],
            "tags": {"customer_id": ["ann-1"], "message_id": ["m-1"]},
        },
        "open": {"timestamp": NOW.isoformat()},
    }
    assert (
        client.post(url, content=json.dumps(amazon.sign(ses_notification("n-2", opened, "x")))).json()["accepted"] == 1
    )
    assert stored(store, "ann-1") == 2


def test_ses_refuses_forged_or_foreign_sns_messages(client, store, people, amazon):
    hook = registry.create(store, "acme", "ses", TOPIC)
    url = f"/v1/hooks/ses/{hook.id}"
    complaint = {
        "notificationType": "Complaint",
        "mail": {"messageId": "0102", "destination": ["ann@example.com"]},
        "complaint": {"timestamp": NOW.isoformat(), "complainedRecipients": [{"emailAddress": "ann@example.com"}]},
    }
    forged = amazon.sign(
        ses_notification("n-3", complaint), key=rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    assert client.post(url, content=json.dumps(forged)).status_code == 401
    elsewhere = {
        **amazon.sign(ses_notification("n-3", complaint)),
        "SigningCertURL": "https://attacker.example.com/cert.pem",
    }
    r = client.post(url, content=json.dumps(elsewhere))
    assert r.status_code == 401 and "sns.<region>.amazonaws.com" in r.json()["detail"]
    other_topic = amazon.sign({**ses_notification("n-4", complaint), "TopicArn": TOPIC + "-other"})
    assert client.post(url, content=json.dumps(other_topic)).status_code == 401
    assert stored(store, "ann-1") == 0
    good = amazon.sign(ses_notification("n-3", complaint))
    assert client.post(url, content=json.dumps(good)).json()["accepted"] == 1
    assert decide(client, people, "ann-1")["action"] == "suppress"  # a complaint closes the channel


# --- Twilio: HMAC-SHA1 of the URL + sorted form parameters, with the Auth Token ------------------------


def twilio_post(client, hook, params, url_query="", token=None):
    path = f"/v1/hooks/twilio/{hook.id}" + (f"?{url_query}" if url_query else "")
    sig = RequestValidator(token or hook.secret).compute_signature("http://testserver" + path, params)
    return client.post(
        path,
        content=urlencode(params),
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig},
    )


def inbound_sms(sid, body, sender="+15550102030"):
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC" + "1" * 32,
        "From": sender,
        "To": "+15559998888",
        "Body": body,
        "NumMedia": "0",
        "SmsStatus": "received",
    }


def test_twilio_stop_revokes_sms_consent_and_start_restores_it(client, store, people):
    hook = registry.create(store, "acme", "twilio", "12345678901234567890123456789012")
    assert decide(client, people, "bob-2", channel="sms")["action"] == "send"
    r = twilio_post(client, hook, inbound_sms("SM" + "a" * 32, "Stop"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml") and b"<Response>" in r.content
    stopped = decide(client, people, "bob-2", channel="sms", mid="m-2")
    assert stopped["action"] == "suppress" and stopped["reasons"][0]["code"] == "consent"
    email = decide(client, people, "bob-2", channel="email", mid="m-3")
    assert "consent" not in [r["code"] for r in email["reasons"]], email  # only SMS closed
    time.sleep(0.01)  # START comes after STOP
    twilio_post(client, hook, inbound_sms("SM" + "b" * 32, "START"))
    again = decide(client, people, "bob-2", channel="sms", mid="m-4")
    assert "consent" not in [r["code"] for r in again["reasons"]], again["reasons"]
    profile = client.get("/v1/customers/bob-2", headers=people).json()
    assert profile["consent"]["sms"] is True and "sms" not in profile["revoked"]


def test_twilio_status_callbacks_carry_our_ids_and_forgeries_are_refused(client, store, people):
    hook = registry.create(store, "acme", "twilio", "12345678901234567890123456789012")
    status = {
        "MessageSid": "SM" + "c" * 32,
        "MessageStatus": "delivered",
        "To": "+15550102030",
        "From": "+15559998888",
        "AccountSid": "AC" + "1" * 32,
    }
    assert twilio_post(client, hook, status, "message_id=m-9&campaign_id=spring").status_code == 200
    assert twilio_post(client, hook, status, "message_id=m-9&campaign_id=spring").status_code == 200  # retried
    assert twilio_post(client, hook, {**status, "MessageStatus": "sent"}).status_code == 200  # nothing for us
    assert stored(store, "bob-2") == 1
    events = store.bulk.hvals(keys.events("acme", "bob-2"))
    assert json.loads(events[0])["message_id"] == "m-9"
    assert twilio_post(client, hook, {**status, "MessageStatus": "failed"}, token="0" * 32).status_code == 401
    reply = inbound_sms("SM" + "d" * 32, "Is the Tahoe still available?")
    r = twilio_post(client, hook, reply)
    assert r.status_code == 200 and stored(store, "bob-2") == 2  # a reply is engagement


# --- Braze Currents, Iterable, Mautic ----------------------------------------------------------------


def test_braze_currents_batches_by_external_id_and_address(client, store, people):
    hook = registry.create(store, "acme", "braze")
    batch = {
        "events": [
            {
                "event_type": "users.messages.email.Open",
                "id": "a1b2c3",
                "time": int(NOW.timestamp()),
                "user": {"user_id": "5e7d9f", "external_user_id": "ann-1"},
                "properties": {"campaign_id": "spring-suv", "email_address": "ann@example.com"},
            },
            {
                "event_type": "users.messages.sms.Delivery",
                "id": "a1b2c4",
                "time": int(NOW.timestamp()),
                "user": {"user_id": "5e7da0"},
                "properties": {"to_phone_number": "+15550102030"},
            },
            {"event_type": "users.behaviors.CustomEvent", "id": "a1b2c5", "time": int(NOW.timestamp()), "user": {}},
        ]
    }
    url = f"/v1/hooks/braze/{hook.id}"
    r = client.post(url, json=batch, headers={"Authorization": f"Bearer {hook.secret}"})
    assert r.json() == {
        "received": 3,
        "accepted": 2,
        "duplicates": 0,
        "unknown": 0,
        "unknown_addresses": [],
        "ignored": 1,
        "consent": 0,
    }
    assert client.post(url, json=batch, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert stored(store, "ann-1") == 1 and stored(store, "bob-2") == 1


def test_iterable_events_by_token(client, store, people):
    hook = registry.create(store, "acme", "iterable")
    url = f"/v1/hooks/iterable/{hook.id}"
    click = {
        "email": "ann@example.com",
        "eventName": "emailClick",
        "dataFields": {
            "email": "ann@example.com",
            "createdAt": (NOW - timedelta(minutes=2)).strftime("%Y-%m-%d %H:%M:%S +00:00"),
            "campaignId": 59667,
            "templateId": 93849,
            "messageId": "d0aa7801f91f4824997a631f3ed583c3",
            "url": "https://dealer.example.com/suv",
        },
    }
    for auth_header in (hook.secret, f"Basic {hook.secret}", f"OAuth2 {hook.secret}"):  # Iterable's auth types
        r = client.post(url, json=click, headers={"Authorization": auth_header})
        assert r.status_code == 200
    assert stored(store, "ann-1") == 1
    assert client.post(url, json=click).status_code == 401
    unsub = {**click, "eventName": "emailUnSubscribe"}
    client.post(url, json=unsub, headers={"Authorization": hook.secret})
    assert decide(client, people, "ann-1")["action"] == "suppress"


def test_mautic_signed_batches(client, store, people):
    hook = registry.create(store, "acme", "mautic", "mySuperWebhookSecretKey")
    contact = {"id": 47, "fields": {"core": {"email": {"value": "ann@example.com"}}}}
    body = json.dumps(
        {
            "mautic.email_on_open": [
                {"email": {"id": 3}, "contact": contact, "idHash": "5f8a1", "timestamp": NOW.isoformat()}
            ],
            "mautic.lead_channel_subscription_changed": [
                {
                    "contact": contact,
                    "channel": "email",
                    "old_status": "contactable",
                    "new_status": "unsubscribed",
                    "timestamp": NOW.isoformat(),
                }
            ],
            "timestamp": NOW.isoformat(),
        }
    ).encode()
    sig = base64.b64encode(hmac.new(b"mySuperWebhookSecretKey", body, hashlib.sha256).digest()).decode()
    url = f"/v1/hooks/mautic/{hook.id}"
    assert client.post(url, content=body, headers={"Webhook-Signature": sig}).json()["accepted"] == 2
    assert client.post(url, content=body + b"\n", headers={"Webhook-Signature": sig}).status_code == 401
    assert decide(client, people, "ann-1")["action"] == "suppress"


# --- isolation and the gate --------------------------------------------------------------------------


def test_a_webhook_lands_only_in_its_own_tenant(client, store, people, other_key):
    client.put("/v1/customers/g-1", headers=auth(other_key), json={"emails": ["ann@example.com"]})
    hook = registry.create(store, "globex", "iterable")
    event = {
        "email": "ann@example.com",
        "eventName": "emailOpen",
        "dataFields": {"createdAt": NOW.strftime("%Y-%m-%d %H:%M:%S +00:00"), "messageId": "x1"},
    }
    assert (
        client.post(f"/v1/hooks/iterable/{hook.id}", json=event, headers={"Authorization": hook.secret}).json()[
            "accepted"
        ]
        == 1
    )
    assert stored(store, "g-1", "globex") == 1 and stored(store, "ann-1") == 0


def test_revoked_webhooks_answer_404(client, store, people):
    hook = registry.create(store, "acme", "braze")
    registry.revoke(store, "acme", hook.id)
    r = client.post(
        f"/v1/hooks/braze/{hook.id}", json={"events": []}, headers={"Authorization": f"Bearer {hook.secret}"}
    )
    assert r.status_code == 404


# --- hostile bodies from an authenticated sender ------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
SHAPES = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {
            "events": st.lists(
                st.dictionaries(st.sampled_from(["event_type", "id", "time", "user", "properties"]), JSON, max_size=5),
                max_size=3,
            )
        }
    ),
    st.fixed_dictionaries(
        {
            "eventName": st.sampled_from(["emailOpen", "smsReceived", "x"]),
            "email": JSON,
            "dataFields": st.dictionaries(
                st.sampled_from(["createdAt", "messageId", "customer_id", "email"]), JSON, max_size=4
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "RecordType": st.sampled_from(["Open", "Bounce", "SubscriptionChange", "Delivery"]),
            "MessageID": JSON,
            "ReceivedAt": JSON,
            "Recipient": JSON,
            "Type": JSON,
            "ID": JSON,
            "BouncedAt": JSON,
            "Email": JSON,
            "Metadata": JSON,
        }
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=SHAPES)
def test_no_body_from_an_authenticated_sender_makes_a_server_error(client, store, body):
    """A verified delivery of any JSON shape is stored, ignored or refused with 400 (422 for a non-finite
    number or a repeated key, as on every route), never a 500."""
    hooks = {
        p: registry.create(store, "acme", p, "mautic-secret" if p == "mautic" else None)
        for p in ("braze", "iterable", "postmark", "mautic")
    }
    raw = json.dumps(body).encode()
    creds = {
        "braze": {"Authorization": f"Bearer {hooks['braze'].secret}"},
        "iterable": {"Authorization": hooks["iterable"].secret},
        "postmark": {"Authorization": "Basic " + base64.b64encode(hooks["postmark"].secret.encode()).decode()},
        "mautic": {
            "Webhook-Signature": base64.b64encode(hmac.new(b"mautic-secret", raw, hashlib.sha256).digest()).decode()
        },
    }
    for provider, hook in hooks.items():
        r = client.post(f"/v1/hooks/{provider}/{hook.id}", content=raw, headers=creds[provider])
        assert r.status_code in (200, 400, 422), (provider, r.status_code, r.text)


# --- managing webhooks over HTTP ---------------------------------------------------------------------


def test_a_crm_manages_its_tenants_webhooks_over_http(client, store, people, other_key):
    h = people
    made = client.post("/v1/webhooks", headers=h, json={"provider": "iterable"})
    assert made.status_code == 201
    hook = made.json()
    assert hook["url"] == f"http://testserver/v1/hooks/iterable/{hook['id']}" and hook["secret"]
    event = {
        "email": "ann@example.com",
        "eventName": "emailOpen",
        "dataFields": {"createdAt": NOW.strftime("%Y-%m-%d %H:%M:%S +00:00"), "messageId": "x9"},
    }
    assert client.post(hook["url"], json=event, headers={"Authorization": hook["secret"]}).json()["accepted"] == 1
    listed = client.get("/v1/webhooks", headers=h).json()["webhooks"]
    assert [(w["id"], w["accepted"], w["secret"]) for w in listed] == [(hook["id"], 1, None)]  # never again
    # another tenant neither sees nor deletes it
    assert client.get("/v1/webhooks", headers=auth(other_key)).json()["webhooks"] == []
    assert client.delete(f"/v1/webhooks/{hook['id']}", headers=auth(other_key)).status_code == 404
    assert client.delete(f"/v1/webhooks/{hook['id']}", headers=h).status_code == 204
    assert client.post(hook["url"], json=event, headers={"Authorization": hook["secret"]}).status_code == 404
    # what is missing is named; nothing is made
    r = client.post("/v1/webhooks", headers=h, json={"provider": "sendgrid"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "secret"
    r = client.post("/v1/webhooks", headers=h, json={"provider": "carrier-pigeon"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "provider"
    assert client.get("/v1/webhooks", headers=h).json()["webhooks"] == []
    assert client.get("/v1/webhooks").status_code == 401  # managing them takes the tenant's key


def test_a_provider_delivering_the_same_batch_concurrently_stores_it_once(client, store, people):
    """Providers retry on a timeout while the first attempt is still in flight: ten copies at once."""
    from concurrent.futures import ThreadPoolExecutor

    private, public = sendgrid_keys()
    hook = registry.create(store, "acme", "sendgrid", public)
    batch = [sg_event("delivered", n=k) for k in range(5)] + [sg_event("open", n=k) for k in range(5)]
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: sendgrid_post(client, hook, private, batch).json(), range(10)))
    assert sum(a["accepted"] for a in answers) == 10 and sum(a["duplicates"] for a in answers) == 90
    assert stored(store, "ann-1") == 10
    assert registry.listing(store, "acme")[0]["accepted"] == 10


# --- freshness and replay: a signature proves one delivery, once --------------------------------------


def mailgun_signed(key, event, ts=None, token=None):
    ts = str(int(time.time()) if ts is None else int(ts))
    token = token or hashlib.sha256(str(time.time_ns()).encode()).hexdigest()[:50]
    sig = hmac.new(key.encode(), (ts + token).encode(), hashlib.sha256).hexdigest()
    return {"signature": {"timestamp": ts, "token": token, "signature": sig}, "event-data": event}


def test_a_mailgun_signature_proves_one_fresh_delivery(client, store, people):
    """Mailgun signs only timestamp + token: a genuine signature put on other event-data, or one
    dated long ago, is refused and stores nothing."""
    hook = registry.create(store, "acme", "mailgun", "key-3ax6xnjp29jd6fds4gc373sgvjxteol0")
    url = f"/v1/hooks/mailgun/{hook.id}"
    opened = {"event": "opened", "id": "op-1", "timestamp": NOW.timestamp(), "recipient": "ann@example.com"}
    genuine = mailgun_signed(hook.secret, opened)
    assert client.post(url, json=genuine).json()["accepted"] == 1
    complaint = {
        "event": "complained",
        "id": "cp-1",
        "timestamp": NOW.timestamp(),
        "recipient": "bob@example.com",
        "user-variables": {"customer_id": "bob-2"},
    }
    for forged in (
        {**genuine, "event-data": complaint},
        {**genuine, "event-data": {**opened, "event": "clicked", "id": "cl-1"}},
    ):
        r = client.post(url, json=forged)
        assert r.status_code == 401 and "used" in r.json()["detail"], r.text
    for age in (86400, 30 * 86400):  # a signature made a day, a month ago, never seen here
        r = client.post(url, json=mailgun_signed(hook.secret, complaint, ts=time.time() - age))
        assert r.status_code == 401 and "old" in r.json()["detail"], r.text
    assert client.post(url, json=mailgun_signed(hook.secret, complaint, ts=time.time() + 3600)).status_code == 401
    assert stored(store, "bob-2") == 0 and stored(store, "ann-1") == 1
    assert decide(client, people, "bob-2", mid="m-9")["action"] == "send"
    # the same delivery again, byte for byte (our 2xx was lost on the way): answered, nothing re-applied
    again = client.post(url, json=genuine)
    assert again.status_code == 200 and again.json()["accepted"] == 0 and stored(store, "ann-1") == 1


def test_a_replayed_twilio_start_cannot_reopen_sms(client, store, people):
    """STOP, START, STOP, then the START posted again (validly signed): SMS stays closed."""
    hook = registry.create(store, "acme", "twilio", "12345678901234567890123456789012")
    start = inbound_sms("SM" + "2" * 32, "START")
    for params in (inbound_sms("SM" + "1" * 32, "STOP"), start, inbound_sms("SM" + "3" * 32, "STOP")):
        assert twilio_post(client, hook, params).status_code == 200
        time.sleep(0.01)
    assert twilio_post(client, hook, start).status_code in (200, 401)
    verdict = decide(client, people, "bob-2", channel="sms", mid="m-5")
    assert verdict["action"] == "suppress" and verdict["reasons"][0]["code"] == "consent"
    assert client.get("/v1/customers/bob-2", headers=people).json()["consent"]["sms"] is False


def test_a_start_resent_under_a_new_signature_is_applied_once(client, store, people):
    """The START's own id (MessageSid) is remembered on the customer: the same START reaching us again by
    another route (a new URL query, so a new signature) changes nothing after a later STOP."""
    hook = registry.create(store, "acme", "twilio", "12345678901234567890123456789012")
    start = inbound_sms("SM" + "5" * 32, "START")
    for params in (inbound_sms("SM" + "4" * 32, "STOP"), start, inbound_sms("SM" + "6" * 32, "STOP")):
        twilio_post(client, hook, params)
        time.sleep(0.01)
    assert twilio_post(client, hook, start, url_query="retry=1").status_code == 200
    assert decide(client, people, "bob-2", channel="sms", mid="m-6")["action"] == "suppress"


# --- unsigned bytes are cheap ------------------------------------------------------------------------


def test_a_body_larger_than_the_provider_sends_is_refused_before_it_is_read(client, store, people):
    hook = registry.create(store, "acme", "mailgun", "key-3ax6xnjp29jd6fds4gc373sgvjxteol0")
    url = f"/v1/hooks/mailgun/{hook.id}"
    flood = b"[" + b"{}," * (8 * 1024 * 1024 // 3 - 10) + b"{}]"  # under the 8 MiB every other route takes
    r = client.post(url, content=flood, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "262,144" in r.json()["detail"], r.text

    def chunks():  # no Content-Length: cut at the bound as it arrives
        for k in range(0, len(flood), 65536):
            yield flood[k : k + 65536]

    r = client.post(url, content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert (
        client.post(
            url,
            json=mailgun_signed(
                hook.secret,
                {"event": "opened", "id": "o-9", "recipient": "ann@example.com", "timestamp": NOW.timestamp()},
            ),
        ).json()["accepted"]
        == 1
    )  # what Mailgun sends still fits


def test_a_webhook_is_rate_limited_with_retry_after(client, store, people, settings, monkeypatch):
    monkeypatch.setattr(settings, "hook_rate_per_second", 1.0)
    monkeypatch.setattr(settings, "hook_rate_burst", 3.0)
    hook = registry.create(store, "acme", "braze")
    url, h = f"/v1/hooks/braze/{hook.id}", {"Authorization": f"Bearer {hook.secret}"}
    answers = [client.post(url, json={"events": []}, headers=h) for _ in range(5)]
    assert [a.status_code for a in answers[:3]] == [200] * 3
    assert answers[4].status_code == 429 and int(answers[4].headers["Retry-After"]) >= 1
    other = registry.create(store, "acme", "braze")  # each webhook has its own bucket
    assert (
        client.post(
            f"/v1/hooks/braze/{other.id}", json={"events": []}, headers={"Authorization": f"Bearer {other.secret}"}
        ).status_code
        == 200
    )


def test_a_served_hook_stays_small_under_floods_and_quiet_when_a_client_hangs_up(settings, store):
    """A real server: eight 8 MiB bodies of [{},{},...] at once to a Mailgun hook (announced and
    chunked) grow it by little; a client that announces a body and hangs up leaves one log line."""
    import socket
    from concurrent.futures import ThreadPoolExecutor

    import psutil

    from tests.faults import served

    hook = registry.create(store, "acme", "mailgun", "key-3ax6xnjp29jd6fds4gc373sgvjxteol0")
    flood = b"[" + b"{}," * (8 * 1024 * 1024 // 3 - 10) + b"{}]"  # under the 8 MiB every other route takes

    def post(url: str, chunked: bool) -> int:
        content = (flood[k : k + 65536] for k in range(0, len(flood), 65536)) if chunked else flood
        try:
            return httpx.post(url, content=content, timeout=30).status_code
        except httpx.HTTPError:  # the server answered 413 and closed while we were still sending
            return 413

    with served(settings) as child:
        url = f"{child.url}/v1/hooks/mailgun/{hook.id}"
        rss = psutil.Process(child.proc.pid).memory_info().rss
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda k: post(url, k % 2 == 1), range(16)))
        grown = (psutil.Process(child.proc.pid).memory_info().rss - rss) / 2**20
        assert set(codes) == {413} and grown < 24, (codes, grown)
        port = int(child.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(
                f"POST /v1/hooks/mailgun/{hook.id} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                'Content-Length: 100000\r\n\r\n{"signature":'.encode()
            )
            time.sleep(0.3)
        time.sleep(0.5)
        log = child.log()
    assert "Traceback" not in log and log.count("went away") == 1, log[-3000:]


# --- SES needs its topic; certificates come from allowed regions, kept, at a bounded rate -------------

COMPLAINT = {
    "notificationType": "Complaint",
    "mail": {"messageId": "0103", "destination": ["ann@example.com"]},
    "complaint": {"timestamp": NOW.isoformat(), "complainedRecipients": [{"emailAddress": "ann@example.com"}]},
}


def test_an_ses_hook_without_a_topic_keeps_the_first_confirmed_one(client, store, people, amazon):
    hook = registry.create(store, "acme", "ses")
    url = f"/v1/hooks/ses/{hook.id}"
    early = client.post(url, content=json.dumps(amazon.sign(ses_notification("n-5", COMPLAINT))))
    assert early.status_code == 401 and "no SNS topic yet" in early.json()["detail"]
    assert amazon.certificates_served == 0  # refused before anything was fetched
    confirm = json.dumps(amazon.sign(confirmation(TOPIC)))
    assert client.post(url, content=confirm).status_code == 200
    assert registry.get(store, hook.id).secret == TOPIC and len(amazon.confirmed) == 1
    assert client.post(url, content=confirm).status_code == 200 and len(amazon.confirmed) == 1  # resent: not again
    # another account's topic, in the same region: not confirmed, not accepted
    foreign = "arn:aws:sns:us-east-1:999999999999:theirs"
    r = client.post(url, content=json.dumps(amazon.sign(confirmation(foreign, token="77"))))
    assert r.status_code == 401 and len(amazon.confirmed) == 1
    r = client.post(url, content=json.dumps(amazon.sign(ses_notification("n-6", COMPLAINT, topic=foreign))))
    assert r.status_code == 401 and stored(store, "ann-1") == 0
    assert client.post(url, content=json.dumps(amazon.sign(ses_notification("n-7", COMPLAINT)))).json()["accepted"] == 1


def test_a_confirmation_is_followed_only_for_its_own_topic_and_region(client, store, people, amazon):
    hook = registry.create(store, "acme", "ses")
    url = f"/v1/hooks/ses/{hook.id}"
    elsewhere = {
        **confirmation(TOPIC),
        "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action="
        "ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:999999999999:theirs&Token=1",
    }
    assert client.post(url, content=json.dumps(amazon.sign(elsewhere))).status_code == 401
    far = amazon.sign(confirmation(TOPIC.replace("us-east-1", "eu-west-1")))  # its certificate is us-east-1's
    assert client.post(url, content=json.dumps(far)).status_code == 401
    assert amazon.certificates_served == 0 and amazon.confirmed == [] and registry.get(store, hook.id).secret is None


def test_ses_regions_outside_the_setting_are_not_fetched(client, store, people, amazon, settings, monkeypatch):
    monkeypatch.setattr(settings, "ses_regions", ["eu-west-1"])
    hook = registry.create(store, "acme", "ses", TOPIC)
    r = client.post(f"/v1/hooks/ses/{hook.id}", content=json.dumps(amazon.sign(ses_notification("n-8", COMPLAINT))))
    assert r.status_code == 401 and "SUPPRESSOR_SES_REGIONS" in r.json()["detail"]
    assert amazon.certificates_served == 0


def test_new_certificate_urls_are_fetched_at_a_bounded_rate(client, store, people, amazon):
    """Each post naming a new certificate URL cost a fetch: now a few are fetched, the rest answered
    503 with Retry-After (SNS retries those) at once, and an API call is not held up meanwhile."""
    from concurrent.futures import ThreadPoolExecutor

    hook = registry.create(store, "acme", "ses", TOPIC)
    url = f"/v1/hooks/ses/{hook.id}"
    posts = [json.dumps(amazon.sign(ses_notification(f"n-f{k}", COMPLAINT), cert=f"f{k}")) for k in range(60)]
    with ThreadPoolExecutor(16) as pool:
        flood = [pool.submit(client.post, url, content=body) for body in posts]
        started = time.monotonic()
        put = client.put("/v1/customers/c-9", headers=people, json={"consent": {"email": True}})
        waited = time.monotonic() - started
        answers = [f.result() for f in flood]
    assert put.status_code == 200 and waited < 1.0
    codes = [a.status_code for a in answers]
    assert amazon.certificates_served <= ses.FETCHES_PER_MINUTE and set(codes) <= {200, 503}, codes
    assert all(a.headers["Retry-After"] for a in answers if a.status_code == 503)
    # a forged signature on a kept certificate does not fetch it again
    served, kept = amazon.certificates_served, next(k for k, a in enumerate(answers) if a.status_code == 200)
    intruder = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = amazon.sign(ses_notification("n-x", COMPLAINT), key=intruder, cert=f"f{kept}")
    assert client.post(url, content=json.dumps(forged)).status_code == 401 and amazon.certificates_served == served


def test_sendgrid_sns_and_mautic_signatures_are_dated_and_used_once(client, store, people, amazon):
    private, public = sendgrid_keys()
    sg = registry.create(store, "acme", "sendgrid", public)
    body = json.dumps([sg_event("open", n=7)]).encode()
    old = str(int(time.time()) - 26 * 3600)  # past SendGrid's 24 hours of retries
    sig = base64.b64encode(private.sign(old.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
    headers = {"X-Twilio-Email-Event-Webhook-Signature": sig, "X-Twilio-Email-Event-Webhook-Timestamp": old}
    r = client.post(f"/v1/hooks/sendgrid/{sg.id}", content=body, headers=headers)
    assert r.status_code == 401 and "old" in r.json()["detail"]
    ses_hook = registry.create(store, "acme", "ses", TOPIC)
    stale = {
        **ses_notification("n-old", COMPLAINT),
        "Timestamp": (NOW - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }
    assert client.post(f"/v1/hooks/ses/{ses_hook.id}", content=json.dumps(amazon.sign(stale))).status_code == 401
    mautic = registry.create(store, "acme", "mautic", "mySuperWebhookSecretKey")
    contact = {"id": 47, "fields": {"core": {"email": {"value": "ann@example.com"}}}}
    for at in (NOW - timedelta(hours=3), NOW):
        opened = [{"contact": contact, "idHash": f"h{at.hour}", "timestamp": at.isoformat()}]
        raw = json.dumps({"mautic.email_on_open": opened, "timestamp": at.isoformat()}).encode()
        sig = base64.b64encode(hmac.new(b"mySuperWebhookSecretKey", raw, hashlib.sha256).digest()).decode()
        r = client.post(f"/v1/hooks/mautic/{mautic.id}", content=raw, headers={"Webhook-Signature": sig})
        assert r.status_code == (401 if at < NOW else 200), r.text
    assert stored(store, "ann-1") == 1


def test_a_delivery_that_failed_leaves_its_signature_for_the_retry(client, store, people):
    hook = registry.create(store, "acme", "mailgun", "key-3ax6xnjp29jd6fds4gc373sgvjxteol0")
    url = f"/v1/hooks/mailgun/{hook.id}"
    bad = mailgun_signed(hook.secret, "not an event")
    assert client.post(url, json=bad).status_code == 400
    fixed = {
        **bad,
        "event-data": {"event": "opened", "id": "op-7", "recipient": "ann@example.com", "timestamp": NOW.timestamp()},
    }
    assert client.post(url, json=fixed).json()["accepted"] == 1


@pytest.mark.parametrize("provider", ["sendgrid", "twilio", "mautic", "postmark", "braze", "iterable"])
def test_a_header_signed_provider_checks_before_it_parses(client, store, provider):
    """A body that is not even JSON, without credentials: 401 (verified first), never 400 (parsed first)."""
    hook = registry.create(store, "acme", provider, "s3cret" if provider in ("twilio", "mautic", "sendgrid") else None)
    r = client.post(f"/v1/hooks/{provider}/{hook.id}", content=b"[[[[{" * 1000, headers={"X-Twilio-Signature": "x"})
    assert r.status_code == 401, r.text
