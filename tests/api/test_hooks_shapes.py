"""Provider webhooks with payloads shaped as each provider really sends them (the source of every
shape is named beside it), every event type the README lists, and what a complaint does: it closes
the channel it was made on, from every provider and from POST /v1/events alike.

Signatures and credentials are made as in tests/api/test_hooks.py (its helpers are reused)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import pytest

from suppressor.hooks import registry
from suppressor.storage import keys
from tests.api import test_hooks as base
from tests.api.test_hooks import NOW, TOPIC, mailgun_body, sendgrid_keys, sendgrid_post, ses_notification, twilio_post

people, amazon = base.people, base.amazon  # the fixtures of test_hooks: Ann and Bob; Amazon's SNS side

T = int(NOW.timestamp()) - 120  # a unix time two minutes ago


def events_of(store, cid: str, tenant: str = "acme") -> list[dict]:
    """The customer's stored events, oldest first."""
    return sorted((json.loads(v) for v in store.bulk.hvals(keys.events(tenant, cid))), key=lambda e: e["ts"])


def types_of(store, cid: str) -> list[str]:
    return [e["type"] for e in events_of(store, cid)]


def decide(client, h, cid: str, channel: str = "email", mid: str = "m-1", topics=("segment:suv",)) -> dict:
    """A verdict on a "value" message (so asking many times trips no sales balance)."""
    r = client.post(
        "/v1/decisions",
        headers=h,
        json={
            "customer_id": cid,
            "allow_reroute": False,
            "message": {"message_id": mid, "channel": channel, "kind": "value", "topics": list(topics)},
        },
    )
    assert r.status_code == 200, r.text
    return r.json()


def reasons(verdict: dict) -> list[str]:
    return [r["code"] for r in verdict["reasons"]]


@pytest.fixture
def cat(client, key, people):
    """Cat: e-mail, phone and push, all consented; named by address only."""
    r = client.put(
        "/v1/customers/cat-3",
        headers=people,
        json={
            "consent": {"email": True, "sms": True, "push": True},
            "emails": ["cat@example.com"],
            "phones": ["+15550109999"],
        },
    )
    assert r.status_code == 200, r.text
    return people


def closed_only(client, h, cid: str, channel: str, others=("sms", "push")) -> None:
    """The channel answers suppress for consent; every other channel still answers send."""
    verdict = decide(client, h, cid, channel=channel, mid=f"after-{channel}")
    assert verdict["action"] == "suppress" and "consent" in reasons(verdict), verdict
    for other in others:
        verdict = decide(client, h, cid, channel=other, mid=f"after-{channel}-{other}")
        assert verdict["action"] == "send", (other, verdict)


# --- SendGrid -----------------------------------------------------------------------------------------
# Shapes: SendGrid's Event Webhook reference ("Event objects": delivered, open, click, bounce with
# type bounce/blocked, spamreport, unsubscribe, group_unsubscribe with asm_group_id); custom_args
# arrive as top-level fields beside the event's own.


def sg(event: str, n: int, **extra) -> dict:
    return {
        "email": "cat@example.com",
        "timestamp": T + n,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": event,
        "category": ["spring-suv"],
        "sg_event_id": f"sg_event_id-{event}-{n}",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        **extra,
    }


def test_sendgrid_every_event_type_as_sendgrid_sends_it(client, store, cat):
    private, public = sendgrid_keys()
    hook = registry.create(store, "acme", "sendgrid", public)
    batch = [
        sg("processed", 0, pool={"name": "new_MY_test", "id": 210}, send_at=0),
        sg("deferred", 1, response="400 try again later", attempt="5"),
        sg("delivered", 2, ip="168.1.1.1", response="250 OK", tls=1, cert_err=0),
        sg("open", 3, useragent="Mozilla/4.0", ip="255.255.255.255", sg_machine_open=False),
        sg(
            "click",
            4,
            useragent="Mozilla/4.0",
            ip="255.255.255.255",
            url="http://www.sendgrid.com/",
            url_offset={"index": 0, "type": "html"},
        ),
        sg(
            "bounce",
            5,
            reason="550 5.7.1 blocked by policy",
            status="5.7.1",
            type="blocked",
            bounce_classification="Reputation",
        ),
        sg(
            "bounce",
            6,
            reason="500 unknown recipient",
            status="5.0.0",
            type="bounce",
            bounce_classification="Invalid Address",
        ),
        sg("spamreport", 7),
        sg("unsubscribe", 8),
        sg(
            "group_unsubscribe",
            9,
            asm_group_id=10,
            useragent="Mozilla/4.0",
            ip="255.255.255.255",
            url="http://www.sendgrid.com/",
        ),
    ]
    del batch[-1]["category"]  # the message had no category: SendGrid leaves the field out
    r = sendgrid_post(client, hook, private, batch)
    assert r.status_code == 200, r.text
    assert r.json()["ignored"] == 3  # processed, deferred, a block (the receiver refused us, not the address)
    assert types_of(store, "cat-3") == [
        "delivered",
        "opened",
        "clicked",
        "bounced",
        "complained",
        "unsubscribed",
        "unsubscribed",
    ]
    group = events_of(store, "cat-3")[-1]
    # a group unsubscribe without categories still lands: the group itself is the topic
    assert group["topics"] == ["asm_group:10"] and group["properties"]["scope"] == "topics"


def test_sendgrid_dropping_an_address_on_its_suppression_lists_says_why(client, store, cat):
    """A dropped event whose reason names one of SendGrid's suppression lists is that unsubscribe,
    complaint or bounce (the list SendGrid holds the address on); other drops say nothing of the address."""
    private, public = sendgrid_keys()
    hook = registry.create(store, "acme", "sendgrid", public)
    batch = [
        sg("dropped", 30 + n, reason=reason, status="5.0.0")
        for n, reason in enumerate(
            (
                "Bounced Address",
                "Spam Reporting Address",
                "Unsubscribed Address",
                "Invalid SMTPAPI header",
                "Recipient List over Package Quota",
            )
        )
    ]
    answer = sendgrid_post(client, hook, private, batch).json()
    assert answer["accepted"] == 3 and answer["ignored"] == 2, answer
    assert types_of(store, "cat-3") == ["bounced", "complained", "unsubscribed"]
    closed_only(client, cat, "cat-3", "email")
    # sent with an unsubscribe group, the drop is that group's unsubscribe: its topics, not all e-mail
    grouped = sg("dropped", 40, reason="Unsubscribed Address", status="5.0.0", asm_group_id=7, email="ann@example.com")
    assert sendgrid_post(client, hook, private, [grouped]).json()["accepted"] == 1
    dropped = events_of(store, "ann-1")[0]
    assert sorted(dropped["topics"]) == ["asm_group:7", "spring-suv"] and dropped["properties"]["scope"] == "topics"


# --- Mailgun ------------------------------------------------------------------------------------------
# Shapes: Mailgun's webhook documentation ("Webhooks", the event-data sample payloads: delivered with
# delivery-status, opened/clicked with client-info and geolocation, failed with severity and reason,
# unsubscribed, complained), user-variables from the v: variables.


def mg(event: str, n: int, **extra) -> dict:
    return {
        "event": event,
        "id": f"CPgfbmQMTCKtHW6uIWtuV{n}",
        "timestamp": T + n + 0.908181,
        "log-level": "info",
        "recipient": "cat@example.com",
        "recipient-domain": "example.com",
        "tags": ["spring"],
        "campaigns": [],
        "user-variables": {"message_id": "m-mg"},
        "message": {
            "headers": {
                "to": "Cat <cat@example.com>",
                "message-id": "20130503182626.18666@mg.example.com",
                "from": "Dealer <dealer@mg.example.com>",
                "subject": "Spring SUVs",
            },
            "attachments": [],
            "size": 111,
        },
        "flags": {"is-routed": False, "is-authenticated": True, "is-system-test": False, "is-test-mode": False},
        **extra,
    }


def test_mailgun_every_event_type_as_mailgun_sends_it(client, store, cat):
    hook = registry.create(store, "acme", "mailgun", "key-3ax6xnjp29jd6fds4gc373sgvjxteol0")
    client_info = {
        "client-type": "browser",
        "client-os": "OS X",
        "device-type": "desktop",
        "client-name": "Chrome",
        "user-agent": "Mozilla/5.0",
    }
    geo = {"country": "US", "region": "CA", "city": "San Francisco"}
    samples = [
        mg("accepted", 0, method="HTTP"),
        mg(
            "delivered",
            1,
            **{
                "delivery-status": {
                    "tls": True,
                    "mx-host": "smtp-in.example.com",
                    "code": 250,
                    "message": "OK",
                    "attempt-no": 1,
                    "description": "",
                }
            },
        ),
        mg("opened", 2, ip="50.56.129.169", geolocation=geo, **{"client-info": client_info}),
        mg(
            "clicked",
            3,
            ip="50.56.129.169",
            url="https://dealer.example.com/suv",
            geolocation=geo,
            **{"client-info": client_info},
        ),
        mg(
            "failed",
            4,
            severity="temporary",
            reason="generic",
            **{"delivery-status": {"code": 452, "message": "Mailbox full", "attempt-no": 1}},
        ),
        mg(
            "failed",
            5,
            severity="permanent",
            reason="bounce",
            **{"delivery-status": {"code": 550, "message": "No such user", "attempt-no": 1}},
        ),
        mg("complained", 6),
        mg("unsubscribed", 7, ip="50.56.129.169", geolocation=geo, **{"client-info": client_info}),
    ]
    answers = [client.post(f"/v1/hooks/mailgun/{hook.id}", json=mailgun_body(hook.secret, s)).json() for s in samples]
    assert [a["ignored"] for a in answers] == [1, 0, 0, 0, 1, 0, 0, 0]
    assert types_of(store, "cat-3") == ["delivered", "opened", "clicked", "bounced", "complained", "unsubscribed"]
    assert {e["message_id"] for e in events_of(store, "cat-3")} == {"m-mg"}


def test_mailgun_refusing_an_address_on_its_suppression_lists_says_why(client, store, cat):
    """Mailgun's failed/permanent with reason suppress-unsubscribe or suppress-complaint is Mailgun not
    sending to an address it holds as unsubscribed or complained (its suppression lists), not a bounce:
    the channel closes even where the original unsubscribe never reached us."""
    hook = registry.create(store, "acme", "mailgun", "key-3ax6xnjp29jd6fds4gc373sgvjxteol0")
    for n, reason in enumerate(("suppress-bounce", "suppress-complaint", "suppress-unsubscribe")):
        refused = mg(
            "failed",
            20 + n,
            severity="permanent",
            reason=reason,
            **{
                "delivery-status": {
                    "code": 605,
                    "message": "",
                    "description": "Not delivering to previously bounced address",
                    "attempt-no": 1,
                }
            },
        )
        assert (
            client.post(f"/v1/hooks/mailgun/{hook.id}", json=mailgun_body(hook.secret, refused)).json()["accepted"] == 1
        )
    assert types_of(store, "cat-3") == ["bounced", "complained", "unsubscribed"]
    closed_only(client, cat, "cat-3", "email")


# --- Postmark -----------------------------------------------------------------------------------------
# Shapes: Postmark's webhook docs (developer/webhooks: delivery-webhook, bounce-webhook,
# spam-complaint-webhook, open-tracking-webhook, click-webhook, subscription-change-webhook samples).


def pm_auth(hook) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(hook.secret.encode()).decode()}


def pm_time(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.1234567Z")


def test_postmark_every_record_type_as_postmark_sends_it(client, store, cat):
    hook = registry.create(store, "acme", "postmark")
    mid = "883953f4-6105-42a2-a16a-77a8eac79483"
    meta = {"campaign_id": "spring-suv"}
    bounce = {
        "RecordType": "Bounce",
        "MessageStream": "outbound",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "Test",
        "MessageID": mid,
        "Metadata": meta,
        "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "Test bounce details",
        "Email": "cat@example.com",
        "From": "sender@example.com",
        "BouncedAt": pm_time(9),
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Test subject",
        "Content": "<Full dump of bounce>",
    }
    samples = [
        {
            "RecordType": "Delivery",
            "ServerID": 23,
            "MessageStream": "outbound",
            "MessageID": mid,
            "Recipient": "cat@example.com",
            "Tag": "welcome-email",
            "DeliveredAt": pm_time(10),
            "Details": "Test delivery webhook details",
            "Metadata": meta,
        },
        {
            **bounce,
            "ID": 4323372036854775806,
            "Type": "SoftBounce",
            "TypeCode": 4096,
            "Name": "Soft bounce",
            "Inactive": False,
        },
        bounce,
        {
            "RecordType": "Open",
            "MessageStream": "outbound",
            "FirstOpen": True,
            "Client": {"Name": "Chrome 35.0.1916.153", "Company": "Google", "Family": "Chrome"},
            "OS": {"Name": "OS X 10.7 Lion", "Company": "Apple Computer, Inc.", "Family": "OS X 10"},
            "Platform": "WebMail",
            "UserAgent": "Mozilla/5.0",
            "ReadSeconds": 5,
            "Geo": {"CountryISOCode": "RS", "Country": "Serbia", "City": "Novi Sad"},
            "MessageID": mid,
            "Metadata": meta,
            "ReceivedAt": pm_time(8),
            "Tag": "welcome-email",
            "Recipient": "cat@example.com",
        },
        {
            "RecordType": "Click",
            "MessageStream": "outbound",
            "ClickLocation": "HTML",
            "Client": {"Name": "Chrome 35.0.1916.153", "Company": "Google", "Family": "Chrome"},
            "OS": {"Name": "OS X 10.7 Lion", "Company": "Apple Computer, Inc.", "Family": "OS X 10"},
            "Platform": "Desktop",
            "UserAgent": "Mozilla/5.0",
            "OriginalLink": "https://dealer.example.com/suv",
            "Geo": {"CountryISOCode": "RS", "Country": "Serbia"},
            "MessageID": mid,
            "Metadata": meta,
            "ReceivedAt": pm_time(7),
            "Tag": "welcome-email",
            "Recipient": "cat@example.com",
        },
        {
            **bounce,
            "ID": 4323372036854775808,
            "Type": "SpamComplaint",
            "TypeCode": 512,
            "Name": "Spam complaint",
            "RecordType": "SpamComplaint",
            "BouncedAt": pm_time(6),
        },
        {
            "RecordType": "SubscriptionChange",
            "MessageID": mid,
            "ServerID": 23,
            "MessageStream": "outbound",
            "ChangedAt": pm_time(5),
            "Recipient": "cat@example.com",
            "Origin": "Recipient",
            "SuppressSending": True,
            "SuppressionReason": "ManualSuppression",
            "Tag": "my-tag",
            "Metadata": meta,
        },
        # the suppression Postmark adds after the hard bounce: already counted as the bounce itself
        {
            "RecordType": "SubscriptionChange",
            "MessageID": mid,
            "ServerID": 23,
            "MessageStream": "outbound",
            "ChangedAt": pm_time(9),
            "Recipient": "cat@example.com",
            "Origin": "Recipient",
            "SuppressSending": True,
            "SuppressionReason": "HardBounce",
            "Tag": "my-tag",
            "Metadata": meta,
        },
    ]
    answers = [client.post(f"/v1/hooks/postmark/{hook.id}", json=s, headers=pm_auth(hook)).json() for s in samples]
    assert [a["ignored"] for a in answers] == [0, 1, 0, 0, 0, 0, 0, 1]
    assert types_of(store, "cat-3") == ["delivered", "bounced", "opened", "clicked", "complained", "unsubscribed"]
    assert {e["campaign_id"] for e in events_of(store, "cat-3")} == {"spring-suv"}
    back = {
        "RecordType": "SubscriptionChange",
        "MessageID": mid,
        "ServerID": 23,
        "MessageStream": "outbound",
        "ChangedAt": pm_time(1),
        "Recipient": "cat@example.com",
        "Origin": "Customer",
        "SuppressSending": False,
        "SuppressionReason": None,
        "Tag": "my-tag",
        "Metadata": meta,
    }
    assert client.post(f"/v1/hooks/postmark/{hook.id}", json=back, headers=pm_auth(hook)).json()["consent"] == 1


# --- Amazon SES through SNS ---------------------------------------------------------------------------
# Shapes: the SES Developer Guide, "Examples of event data that Amazon SES publishes to Amazon SNS"
# (Delivery, Bounce with bounceType Permanent/Transient, Complaint, Open, Click records, each with
# the mail object: destination, commonHeaders, tags as lists).


def ses_mail(mid: str) -> dict:
    return {
        "timestamp": (NOW - timedelta(minutes=5)).isoformat(),
        "source": "Dealer <dealer@example.com>",
        "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/dealer@example.com",
        "sendingAccountId": "123456789012",
        "messageId": mid,
        "destination": ["cat@example.com"],
        "headersTruncated": False,
        "headers": [{"name": "From", "value": "dealer@example.com"}],
        "commonHeaders": {
            "from": ["dealer@example.com"],
            "to": ["cat@example.com"],
            "messageId": mid,
            "subject": "Spring SUVs",
        },
        "tags": {
            "ses:configuration-set": ["ConfigSet"],
            "ses:source-ip": ["192.0.2.0"],
            "ses:from-domain": ["example.com"],
            "ses:caller-identity": ["ses_user"],
            "campaign_id": ["spring-suv"],
        },
    }


def test_ses_every_event_type_as_ses_publishes_it(client, store, cat, amazon):
    hook = registry.create(store, "acme", "ses", TOPIC)
    at = NOW.isoformat()
    records = [
        {"eventType": "Send", "mail": ses_mail("0101-a"), "send": {}},
        {
            "eventType": "Delivery",
            "mail": ses_mail("0101-b"),
            "delivery": {
                "timestamp": at,
                "processingTimeMillis": 546,
                "recipients": ["cat@example.com"],
                "smtpResponse": "250 2.6.0 Message received",
                "reportingMTA": "mta-out.example.com",
            },
        },
        {
            "eventType": "Bounce",
            "mail": ses_mail("0101-c"),
            "bounce": {
                "feedbackId": "0100015dc6-a",
                "bounceType": "Transient",
                "bounceSubType": "MailboxFull",
                "timestamp": at,
                "bouncedRecipients": [{"emailAddress": "cat@example.com", "action": "failed", "status": "4.2.2"}],
            },
        },
        {
            "eventType": "Bounce",
            "mail": ses_mail("0101-d"),
            "bounce": {
                "feedbackId": "0100015dc6-b",
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "timestamp": at,
                "reportingMTA": "dsn; mta.example.com",
                "bouncedRecipients": [
                    {
                        "emailAddress": "cat@example.com",
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
            },
        },
        {
            "eventType": "Open",
            "mail": ses_mail("0101-e"),
            "open": {"ipAddress": "192.0.2.1", "timestamp": at, "userAgent": "Mozilla/5.0"},
        },
        {
            "eventType": "Click",
            "mail": ses_mail("0101-f"),
            "click": {
                "ipAddress": "192.0.2.1",
                "timestamp": at,
                "userAgent": "Mozilla/5.0",
                "link": "https://dealer.example.com/suv",
                "linkTags": {"samplekey0": ["samplevalue0"]},
            },
        },
        {
            "eventType": "Complaint",
            "mail": ses_mail("0101-g"),
            "complaint": {
                "feedbackId": "0100015dc6-c",
                "complaintSubType": None,
                "timestamp": at,
                "userAgent": "Mozilla/5.0",
                "complaintFeedbackType": "abuse",
                "arrivalDate": at,
                "complainedRecipients": [{"emailAddress": "cat@example.com"}],
            },
        },
    ]
    answers = [
        client.post(
            f"/v1/hooks/ses/{hook.id}", content=json.dumps(amazon.sign(ses_notification(f"sns-{i}", rec)))
        ).json()
        for i, rec in enumerate(records)
    ]
    assert [a["ignored"] for a in answers] == [1, 0, 1, 0, 0, 0, 0]
    assert sorted(types_of(store, "cat-3")) == ["bounced", "clicked", "complained", "delivered", "opened"]
    assert {e["campaign_id"] for e in events_of(store, "cat-3")} == {"spring-suv"}


def test_ses_subscription_events_close_email_or_block_the_topic(client, store, cat, amazon):
    """SES's own list management (the Developer Guide's Subscription record: contactList, source,
    newTopicPreferences / oldTopicPreferences with unsubscribeAll and topicSubscriptionStatus):
    unsubscribeAll closes e-mail; opting out of one topic blocks ses_topic:<name>; unsubscribeAll
    lifted again restores e-mail consent."""
    hook = registry.create(store, "acme", "ses", TOPIC)

    def subscription(n, new, old, minutes_ago):
        at = (NOW - timedelta(minutes=minutes_ago)).isoformat()
        rec = {
            "eventType": "Subscription",
            "mail": ses_mail(f"0103-{n}"),
            "subscription": {
                "contactList": "ContactListName",
                "timestamp": at,
                "source": "UnsubscribeHeader",
                "newTopicPreferences": new,
                "oldTopicPreferences": old,
            },
        }
        return client.post(
            f"/v1/hooks/ses/{hook.id}", content=json.dumps(amazon.sign(ses_notification(f"sns-s{n}", rec)))
        ).json()

    def prefs(everything: bool, lease: str) -> dict:
        return {
            "unsubscribeAll": everything,
            "topicSubscriptionStatus": [{"topicName": "lease-offers", "subscriptionStatus": lease}],
        }

    assert subscription(1, prefs(False, "OptOut"), prefs(False, "OptIn"), 9)["accepted"] == 1
    assert events_of(store, "cat-3")[0]["topics"] == ["ses_topic:lease-offers"]
    assert decide(client, cat, "cat-3", channel="email", mid="e-1")["action"] == "send"
    assert (
        decide(client, cat, "cat-3", channel="email", mid="e-2", topics=["ses_topic:lease-offers"])["action"]
        == "suppress"
    )
    assert subscription(2, prefs(False, "OptOut"), prefs(False, "OptOut"), 8)["ignored"] == 1  # nothing changed
    assert subscription(3, prefs(True, "OptOut"), prefs(False, "OptOut"), 7)["accepted"] == 1
    closed_only(client, cat, "cat-3", "email")
    assert subscription(4, prefs(False, "OptOut"), prefs(True, "OptOut"), 1)["consent"] == 1
    assert decide(client, cat, "cat-3", channel="email", mid="e-3")["action"] == "send"


# --- Twilio -------------------------------------------------------------------------------------------
# Shapes: Twilio's Messaging webhooks docs ("Outgoing message status callback parameters":
# MessageStatus, ErrorCode; "incoming message" parameters with OptOutType under Advanced Opt-Out).


def twilio_status(sid: str, status: str, **extra) -> dict:
    return {
        "SmsSid": sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "To": "+15550109999",
        "MessagingServiceSid": "MG" + "2" * 32,
        "MessageSid": sid,
        "AccountSid": "AC" + "1" * 32,
        "From": "+15559998888",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def twilio_inbound(sid: str, body: str, **extra) -> dict:
    return {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "CA",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "US",
        "To": "+15559998888",
        "MessagingServiceSid": "MG" + "2" * 32,
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": "AC" + "1" * 32,
        "From": "+15550109999",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def test_twilio_every_status_and_inbound_kind_as_twilio_sends_it(client, store, cat):
    hook = registry.create(store, "acme", "twilio", "12345678901234567890123456789012")
    calls = [
        twilio_status("SM" + "0" * 32, "sent"),
        twilio_status("SM" + "1" * 32, "delivered"),
        twilio_status("SM" + "7" * 32, "read", ChannelPrefix="whatsapp"),  # a read receipt (WhatsApp senders)
        twilio_status("SM" + "2" * 32, "undelivered", ErrorCode="30003"),
        twilio_status("SM" + "3" * 32, "failed", ErrorCode="30006"),
        twilio_inbound("SM" + "4" * 32, "Is the Tahoe still available?"),
        twilio_inbound("SM" + "5" * 32, "stop please", OptOutType="STOP"),
    ]
    for c in calls:  # what each did is read from the store (a mapped one is answered with empty TwiML)
        r = twilio_post(client, hook, c)
        assert r.status_code == 200, r.text
    assert sorted(types_of(store, "cat-3")) == ["bounced", "bounced", "delivered", "opened", "replied", "unsubscribed"]
    assert registry.listing(store, "acme")[0]["ignored"] == 1  # "sent" says nothing yet
    closed_only(client, cat, "cat-3", "sms", others=("email", "push"))  # STOP closes SMS only
    assert twilio_post(client, hook, twilio_status("SM" + "6" * 32, "failed", ErrorCode="21610")).status_code == 200
    assert types_of(store, "cat-3").count("unsubscribed") == 2  # 21610: the recipient had sent STOP


# --- Braze Currents -----------------------------------------------------------------------------------
# Shapes: Braze's "Partner Custom Currents Connector" page ({"events": [...]}, each event with
# event_type, id, time, user {user_id, external_user_id, ...}, properties {campaign_id or canvas_id,
# message_variation_id / canvas_step_id, dispatch_id, send_id, email_address / to_phone_number ...});
# property names per event from the Currents message-engagement and customer-behavior glossaries
# (InboundReceive: user_phone_number, inbound_phone_number, action subscribed/unsubscribed/none,
# message_body; GlobalStateChange: channel, subscription_status 'Subscribed'/'Unsubscribed'/'Opted In').


def bz(event_type: str, n: int, props: dict, canvas: bool = False) -> dict:
    tracking = (
        {
            "canvas_id": "11234567-89ab-cdef-0123-456789abcdef",
            "canvas_name": "Spring",
            "canvas_variation_id": "31234567-89ab-cdef-0123-456789abcdef",
            "canvas_step_id": "41234567-89ab-cdef-0123-456789abcdef",
        }
        if canvas
        else {
            "campaign_id": "21234567-89ab-cdef-0123-456789abcdef",
            "campaign_name": "Spring SUVs",
            "message_variation_id": "c1234567-89ab-cdef-0123-456789abcdef",
        }
    )
    return {
        "event_type": event_type,
        "id": f"a1234567-89ab-cdef-0123-4567890000{n:02d}",
        "time": T + n,
        "user": {"user_id": "0123456789abcdef01234567", "timezone": "America/Chicago"},
        "properties": {**tracking, "send_id": "f123456789abcdef01234567", "dispatch_id": "12345qwert", **props},
    }


def braze_post(client, hook, events: list[dict]) -> dict:
    r = client.post(
        f"/v1/hooks/braze/{hook.id}",
        json={"events": events},
        headers={"Authorization": f"Bearer {hook.secret}", "Braze-Currents-Version": "1"},
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_braze_every_event_type_as_currents_sends_it_with_the_dispatch_id(client, store, cat):
    hook = registry.create(store, "acme", "braze")
    mail = {"email_address": "cat@example.com"}
    sms = {
        "to_phone_number": "+15550109999",
        "from_phone_number": "+12123470922",
        "subscription_group_id": "41234567-89ab-cdef-0123-456789abcdef",
    }
    push = {"app_id": "01234567-89ab-cdef-0123-456789abcdef", "platform": "ios", "device_id": "fedcba87"}
    events = [
        bz("users.messages.email.Send", 0, mail),
        bz("users.messages.email.Delivery", 1, {**mail, "sending_ip": "10.0.0.1"}),
        bz("users.messages.email.Open", 2, {**mail, "user_agent": "Mozilla/5.0"}, canvas=True),
        bz("users.messages.email.Click", 3, {**mail, "url": "https://dealer.example.com/suv"}),
        bz("users.messages.email.SoftBounce", 4, {**mail, "bounce_reason": "mailbox full"}),
        bz("users.messages.email.Bounce", 5, {**mail, "bounce_reason": "550 5.1.1 user unknown"}),
        bz("users.messages.email.MarkAsSpam", 6, mail),
        bz("users.messages.email.Unsubscribe", 7, mail),
        bz("users.messages.sms.Delivery", 8, sms),
        bz("users.messages.sms.DeliveryFailure", 9, {**sms, "error": "queue overflow"}),
        bz("users.messages.sms.Rejection", 10, {**sms, "provider_error_code": "30007"}),
        bz(
            "users.messages.sms.InboundReceive",
            11,
            {
                "user_phone_number": "+15550109999",
                "inbound_phone_number": "+12123470922",
                "action": "none",
                "message_body": "Is the Tahoe still available?",
            },
        ),
        bz("users.messages.pushnotification.Send", 12, push),
        bz("users.messages.pushnotification.Open", 13, push),
        bz("users.messages.pushnotification.Bounce", 14, push),
    ]
    for ev in events:
        ev["user"]["external_user_id"] = "cat-3"
    answer = braze_post(client, hook, events)
    assert answer["ignored"] == 3  # Send, SoftBounce and DeliveryFailure (Braze could not hand it to its provider)
    stored = events_of(store, "cat-3")
    assert [(e["channel"], e["type"]) for e in stored] == [
        ("email", "delivered"),
        ("email", "opened"),
        ("email", "clicked"),
        ("email", "bounced"),
        ("email", "complained"),
        ("email", "unsubscribed"),
        ("sms", "delivered"),
        ("sms", "bounced"),
        ("sms", "replied"),
        ("push", "delivered"),
        ("push", "opened"),
        ("push", "bounced"),
    ]
    # the dispatch id is the message id the Connected Content recipe asked about; campaign or Canvas kept
    assert {e["message_id"] for e in stored} == {"12345qwert"}
    opened = stored[1]
    assert opened["campaign_id"] == "11234567-89ab-cdef-0123-456789abcdef"  # a Canvas: its id
    assert opened["properties"]["canvas_step_id"] == "41234567-89ab-cdef-0123-456789abcdef"
    assert stored[0]["properties"]["message_variation_id"] == "c1234567-89ab-cdef-0123-456789abcdef"


def test_braze_sms_stop_and_global_subscription_changes_close_their_own_channel(client, store, cat):
    hook = registry.create(store, "acme", "braze")
    stop = bz(
        "users.messages.sms.InboundReceive",
        20,
        {
            "user_phone_number": "+15550109999",
            "inbound_phone_number": "+12123470922",
            "action": "Unsubscribed",
            "message_body": "STOP",
        },
    )
    assert braze_post(client, hook, [stop])["accepted"] == 1
    assert types_of(store, "cat-3") == ["unsubscribed"]  # Braze acted on the keyword: not a reply
    closed_only(client, cat, "cat-3", "sms", others=("email", "push"))
    push_off = bz(
        "users.behaviors.subscription.GlobalStateChange",
        21,
        {"channel": "push", "subscription_status": "Unsubscribed", "state_change_source": "SDK"},
    )
    push_off["user"]["external_user_id"] = "cat-3"
    braze_post(client, hook, [push_off])
    assert decide(client, cat, "cat-3", channel="push", mid="p-1")["action"] == "suppress"
    assert decide(client, cat, "cat-3", channel="email", mid="e-1")["action"] == "send"  # push only
    mail_off = bz(
        "users.behaviors.subscription.GlobalStateChange",
        22,
        {
            "channel": "email",
            "channel_identifier": "cat@example.com",
            "subscription_status": "Unsubscribed",
            "state_change_source": "Subscription Page",
        },
    )
    braze_post(client, hook, [mail_off])
    assert decide(client, cat, "cat-3", channel="email", mid="e-2")["action"] == "suppress"
    mail_on = bz(
        "users.behaviors.subscription.GlobalStateChange",
        23,
        {
            "channel": "email",
            "email_address": "cat@example.com",
            "subscription_status": "Opted In",
            "state_change_source": "Preference Center",
        },
    )
    assert braze_post(client, hook, [mail_on])["consent"] == 1
    assert decide(client, cat, "cat-3", channel="email", mid="e-3")["action"] == "send"


def test_braze_subscription_group_changes(client, store, cat):
    """users.behaviors.subscriptiongroup.StateChange (glossary: subscription_group_id, channel,
    channel_identifier, subscription_status 'Subscribed'/'Unsubscribed', state_change_source): an SMS
    group is the SMS program, so leaving it closes SMS; an e-mail group is a kind of mail, so leaving
    it blocks the topic subscription_group:<id> and e-mail stays open."""
    hook = registry.create(store, "acme", "braze")
    group = "41234567-89ab-cdef-0123-456789abcdef"

    def change(n, channel, identifier, status):
        ev = bz(
            "users.behaviors.subscriptiongroup.StateChange",
            n,
            {
                "subscription_group_id": group,
                "channel": channel,
                "channel_identifier": identifier,
                "subscription_status": status,
                "state_change_source": "REST API",
            },
        )
        del ev["properties"]["dispatch_id"]
        return ev

    assert braze_post(client, hook, [change(30, "sms", "+15550109999", "Unsubscribed")])["accepted"] == 1
    closed_only(client, cat, "cat-3", "sms", others=("email", "push"))
    assert braze_post(client, hook, [change(31, "email", "cat@example.com", "Unsubscribed")])["accepted"] == 1
    assert events_of(store, "cat-3")[-1]["topics"] == [f"subscription_group:{group}"]
    assert decide(client, cat, "cat-3", channel="email", mid="e-1")["action"] == "send"
    in_group = decide(client, cat, "cat-3", channel="email", mid="e-2", topics=[f"subscription_group:{group}"])
    assert in_group["action"] == "suppress"
    answer = braze_post(
        client,
        hook,
        [
            change(32, "sms", "+15550109999", "Subscribed"),
            change(33, "email", "cat@example.com", "Subscribed"),
            change(34, "whats_app", "+15550109999", "Unsubscribed"),
        ],
    )
    assert answer["consent"] == 1 and answer["ignored"] == 2  # an e-mail group rejoined: topics stay as they are
    assert decide(client, cat, "cat-3", channel="sms", mid="s-3")["action"] == "send"


# --- Iterable -----------------------------------------------------------------------------------------
# Shapes: Iterable's "System Webhooks" docs (one event per call: {"email", "eventName", "dataFields":
# {createdAt "YYYY-MM-DD HH:MM:SS +00:00", campaignId, templateId, messageId, ...}}; SMS events carry
# toPhoneNumber / fromPhoneNumber; smsReceived is from the user to our number; emailUnSubscribe carries
# unsubSource, channelIds, messageTypeIds and emailListIds, as Iterable's export schema names them).


def it(event: str, n: int, **data) -> dict:
    created = (NOW - timedelta(minutes=30 - n)).strftime("%Y-%m-%d %H:%M:%S +00:00")
    return {
        "email": "cat@example.com",
        "eventName": event,
        "dataFields": {
            "email": "cat@example.com",
            "createdAt": created,
            "campaignId": 59667,
            "templateId": 93849,
            "messageId": f"d0aa7801f91f4824997a631f3ed583{n:02d}",
            "emailSubject": "Spring SUVs",
            "campaignName": "Spring",
            "workflowId": None,
            "workflowName": None,
            "templateName": "Spring",
            "channelId": 3420,
            "messageTypeId": 3866,
            "experimentId": None,
            **data,
        },
    }


def test_iterable_every_event_type_as_iterable_sends_it(client, store, cat):
    hook = registry.create(store, "acme", "iterable")
    sms = {"toPhoneNumber": "+15550109999", "fromPhoneNumber": "+15559998888"}
    samples = [
        it("emailSend", 0),
        it("emailOpen", 1, userAgent="Mozilla/5.0", ip="162.245.22.184"),
        it("emailClick", 2, url="https://dealer.example.com/suv", hrefIndex=2, ip="162.245.22.184"),
        it("emailBounce", 3, recipientState="HardBounce"),
        it("emailComplaint", 4, recipientState="Complaint"),
        it("smsSend", 5, **sms, smsMessage="Spring SUVs"),
        it("smsBounce", 6, **sms),
        it("smsClick", 7, **sms, url="https://dealer.example.com/suv"),
        it("smsReceived", 8, fromPhoneNumber="+15550109999", toPhoneNumber="+15559998888", smsMessage="Is it there?"),
        it("pushSend", 9, platformEndpoint="", pushMessage="Spring"),
        it("pushOpen", 10),
        it("pushBounce", 11),
        # an unsubscribe link unsubscribes from the message's channel (channelIds), read as all e-mail
        it("emailUnSubscribe", 12, unsubSource="EmailLink", channelIds=[3420], messageTypeIds=[], emailListIds=[]),
        it("hostedUnsubscribeClick", 13, url="https://links.iterable.com/e/encryptedUnsubscribe"),
        it("emailSubscribe", 14, signupSource="API", emailListIds=[1234]),
        it("inAppOpen", 15),
    ]
    answers = [
        client.post(f"/v1/hooks/iterable/{hook.id}", json=s, headers={"Authorization": hook.secret}).json()
        for s in samples
    ]
    assert [a["ignored"] for a in answers][-1] == 1 and sum(a["ignored"] for a in answers) == 1
    assert answers[-2]["consent"] == 1  # the subscribe after the unsubscribe reopens e-mail
    assert [(e["channel"], e["type"]) for e in events_of(store, "cat-3")] == [
        ("email", "delivered"),
        ("email", "opened"),
        ("email", "clicked"),
        ("email", "bounced"),
        ("email", "complained"),
        ("sms", "delivered"),
        ("sms", "bounced"),
        ("sms", "clicked"),
        ("sms", "replied"),
        ("push", "delivered"),
        ("push", "opened"),
        ("push", "bounced"),
        ("email", "unsubscribed"),
        ("email", "unsubscribed"),
    ]
    assert {e["campaign_id"] for e in events_of(store, "cat-3")} == {"59667"}


# --- Mautic -------------------------------------------------------------------------------------------
# Shapes: Mautic's source (mautic/mautic, app/bundles): WebhookModel::getWebhookPayload groups queue
# items as {"mautic.<event>": [payload + "timestamp" (the queue time, ISO 8601)]}; Client::post sends
# PHP's json_encode of it (slashes escaped) signed with base64 HMAC-SHA256. The payloads:
# - email send (EmailBundle WebhookSubscriber::onEmailSend, no serializer groups): email, contact (the
#   Lead: id, fields.core.<alias>.value, ...), contentHash, idHash, subject, source, headers;
# - email open (::onEmailOpen, groups statDetails/leadList/emailDetails): {"stat": {emailAddress,
#   dateRead, trackingHash, lead {id, points, color, fields}, email {...}}}; EmailBundle's
#   Assets/WebhookPayload/email_on_open.json is the sample;
# - sms send (SmsBundle ::onSend): smsId, contact, content;
# - page hit (PageBundle ::onPageHit, groups hitDetails/leadList/...): {"hit": {dateHit, page, url,
#   lead {...}, trackingId, ...}}; PageBundle's Assets/WebhookPayload/page_on_hit.json is the sample;
# - channel subscription changed (LeadBundle ::onChannelSubscriptionChange): contact, channel,
#   old_status, new_status, the verbs of ChannelSubscriptionChange::getDncReasonVerb (contactable,
#   unsubscribed, bounced, manual); LeadBundle's Assets/WebhookPayload/lead_channel_subscription_changed.json.


def mautic_lead(lead_id: int = 26, email: str = "cat@example.com", mobile: str = "") -> dict:
    def f(fid, alias, typ, value):
        return {
            "id": str(fid),
            "label": alias.title(),
            "alias": alias,
            "type": typ,
            "group": "core",
            "object": "lead",
            "is_fixed": "1",
            "value": value,
        }

    return {
        "id": lead_id,
        "points": 10,
        "color": None,
        "fields": {
            "core": {
                "title": f(1, "title", "lookup", ""),
                "firstname": f(2, "firstname", "text", "Cat"),
                "lastname": f(3, "lastname", "text", "Driver"),
                "email": f(6, "email", "email", email),
                "phone": f(8, "phone", "tel", ""),
                "mobile": f(7, "mobile", "tel", mobile),
            },
            "social": {
                "twitter": {
                    "id": "17",
                    "label": "Twitter",
                    "alias": "twitter",
                    "type": "text",
                    "group": "social",
                    "value": None,
                }
            },
            "personal": [],
            "professional": [],
        },
    }


def mautic_post(client, hook, secret: str, payload: dict):
    body = json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode()  # PHP json_encode
    sig = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return client.post(
        f"/v1/hooks/mautic/{hook.id}",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Origin-Base-URL": "https://mautic.example.com",
            "Webhook-Signature": sig,
        },
    )


def mautic_ts(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S+00:00")  # PHP DateTime 'c'


def test_mautic_every_event_as_mautic_sends_it(client, store, cat):
    secret = "mySuperWebhookSecretKey"
    hook = registry.create(store, "acme", "mautic", secret)
    lead = mautic_lead(mobile="+15550109999")
    email = {
        "id": 5,
        "name": "Spring SUVs",
        "subject": "Spring SUVs",
        "language": "en",
        "category": None,
        "fromAddress": None,
        "fromName": None,
        "readCount": 1,
        "sentCount": 3,
        "revision": 1,
    }
    payload = {
        "mautic.email_on_send": [
            {
                "email": email,
                "contact": lead,
                "contentHash": "d1e3b1c1a0c4b8c8f7a0b3c0d8e1f2a3",
                "idHash": "5f8a1c2b3d4e5",
                "subject": "Spring SUVs",
                "source": ["campaign.event", 12],
                "headers": {"List-Unsubscribe": "<https://mautic.example.com/email/unsubscribe/5f8a1c2b3d4e5>"},
                "timestamp": mautic_ts(9),
            }
        ],
        "mautic.email_on_open": [
            {
                "stat": {
                    "id": 8,
                    "emailAddress": "cat@example.com",
                    "ipAddress": {},
                    "dateSent": mautic_ts(9),
                    "isRead": True,
                    "isFailed": False,
                    "dateRead": mautic_ts(8),
                    "retryCount": 0,
                    "source": "email",
                    "openCount": 1,
                    "lastOpened": mautic_ts(8),
                    "sourceId": 5,
                    "trackingHash": "5f8a1c2b3d4e5",
                    "viewedInBrowser": False,
                    "lead": lead,
                    "email": email,
                },
                "timestamp": mautic_ts(8),
            }
        ],
        "mautic.sms_on_send": [
            {"smsId": 3, "contact": lead, "content": "Spring SUVs at the lot", "timestamp": mautic_ts(7)}
        ],
        "mautic.page_on_hit": [
            {
                "hit": {
                    "dateHit": mautic_ts(6),
                    "dateLeft": None,
                    "page": {"id": 1, "title": "Spring", "alias": "spring", "category": None},
                    "redirect": None,
                    "email": None,
                    "lead": lead,
                    "ipAddress": {},
                    "country": None,
                    "region": None,
                    "city": None,
                    "isp": None,
                    "organization": None,
                    "code": 200,
                    "referer": None,
                    "url": "https://dealer.example.com/spring",
                    "urlTitle": None,
                    "userAgent": "Mozilla/5.0",
                    "remoteHost": "localhost",
                    "pageLanguage": "en",
                    "browserLanguages": ["en-US", "en;q=0.8"],
                    "trackingId": "833fecc93e16d37baf1530df643b6a8b10714c65",
                    "source": None,
                    "sourceId": None,
                },
                "timestamp": mautic_ts(6),
            }
        ],
    }
    r = mautic_post(client, hook, secret, payload)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 4 and r.json()["unknown"] == 0, r.json()
    assert [(e["channel"], e["type"]) for e in events_of(store, "cat-3")] == [
        ("email", "delivered"),
        ("email", "opened"),
        ("sms", "delivered"),
        ("web", "visited"),
    ]
    assert mautic_post(client, hook, secret, payload).json()["duplicates"] == 4  # Mautic re-sending the queue


def test_mautic_subscription_changes_close_and_reopen_their_channel(client, store, cat):
    secret = "mySuperWebhookSecretKey"
    hook = registry.create(store, "acme", "mautic", secret)
    lead = mautic_lead(lead_id=38186, mobile="+15550109999")

    def change(channel, old, new, minutes_ago):
        return {
            "mautic.lead_channel_subscription_changed": [
                {
                    "contact": lead,
                    "channel": channel,
                    "old_status": old,
                    "new_status": new,
                    "timestamp": mautic_ts(minutes_ago),
                }
            ]
        }

    assert mautic_post(client, hook, secret, change("sms", "contactable", "unsubscribed", 9)).json()["accepted"] == 1
    closed_only(client, cat, "cat-3", "sms", others=("email", "push"))
    # a do-not-contact a Mautic user set by hand ("manual", the sample payload's status) closes e-mail too
    assert mautic_post(client, hook, secret, change("email", "contactable", "manual", 8)).json()["accepted"] == 1
    assert decide(client, cat, "cat-3", channel="email", mid="e-1")["action"] == "suppress"
    # a channel that is not ours (Mautic's own "notification" web push is push) closes nothing else
    assert (
        mautic_post(client, hook, secret, change("notification", "contactable", "unsubscribed", 7)).json()["accepted"]
        == 1
    )
    assert decide(client, cat, "cat-3", channel="push", mid="p-1")["action"] == "suppress"
    assert mautic_post(client, hook, secret, change("tweet", "contactable", "unsubscribed", 6)).json()["ignored"] == 1
    assert mautic_post(client, hook, secret, change("email", "manual", "contactable", 1)).json()["consent"] == 1
    assert decide(client, cat, "cat-3", channel="email", mid="e-2")["action"] == "send"
    assert decide(client, cat, "cat-3", channel="sms", mid="s-2")["action"] == "suppress"  # still closed


# --- a complaint closes the channel it was made on, from everywhere -------------------------------------


def complain_sendgrid(client, store):
    private, public = sendgrid_keys()
    hook = registry.create(store, "acme", "sendgrid", public)
    return sendgrid_post(client, hook, private, [sg("spamreport", 50)]).json()


def complain_mailgun(client, store):
    hook = registry.create(store, "acme", "mailgun", "key-3ax6xnjp29jd6fds4gc373sgvjxteol0")
    return client.post(f"/v1/hooks/mailgun/{hook.id}", json=mailgun_body(hook.secret, mg("complained", 50))).json()


def complain_postmark(client, store):
    hook = registry.create(store, "acme", "postmark")
    rec = {
        "RecordType": "SpamComplaint",
        "MessageStream": "outbound",
        "ID": 42,
        "Type": "SpamComplaint",
        "TypeCode": 512,
        "Name": "Spam complaint",
        "MessageID": "883953f4",
        "ServerID": 23,
        "Email": "cat@example.com",
        "From": "sender@example.com",
        "BouncedAt": pm_time(1),
        "Inactive": True,
        "CanActivate": False,
        "Subject": "Spring SUVs",
    }
    return client.post(f"/v1/hooks/postmark/{hook.id}", json=rec, headers=pm_auth(hook)).json()


def complain_braze(client, store):
    hook = registry.create(store, "acme", "braze")
    return braze_post(client, hook, [bz("users.messages.email.MarkAsSpam", 50, {"email_address": "cat@example.com"})])


def complain_iterable(client, store):
    hook = registry.create(store, "acme", "iterable")
    return client.post(
        f"/v1/hooks/iterable/{hook.id}",
        json=it("emailComplaint", 20, recipientState="Complaint"),
        headers={"Authorization": hook.secret},
    ).json()


def complain_events(client, store, h):
    return client.post(
        "/v1/events",
        headers=h,
        json={
            "events": [
                {
                    "event_id": "fbl-1",
                    "customer_id": "cat-3",
                    "type": "complained",
                    "ts": NOW.isoformat(),
                    "channel": "email",
                    "message_id": "m-0",
                }
            ]
        },
    ).json()


@pytest.mark.parametrize("source", ["sendgrid", "mailgun", "postmark", "braze", "iterable", "events"])
def test_a_complaint_closes_the_channel_it_was_made_on_and_no_other(client, store, cat, source):
    for channel in ("email", "sms", "push"):
        assert decide(client, cat, "cat-3", channel=channel, mid=f"before-{channel}")["action"] == "send"
    answer = (
        complain_events(client, store, cat) if source == "events" else globals()[f"complain_{source}"](client, store)
    )
    assert answer["accepted"] == 1, answer
    assert types_of(store, "cat-3") == ["complained"]
    closed_only(client, cat, "cat-3", "email")


def test_an_ses_complaint_closes_email_and_no_other_channel(client, store, cat, amazon):
    hook = registry.create(store, "acme", "ses", TOPIC)
    rec = {
        "eventType": "Complaint",
        "mail": ses_mail("0102-a"),
        "complaint": {
            "feedbackId": "0100015dc6-d",
            "timestamp": NOW.isoformat(),
            "complaintFeedbackType": "abuse",
            "complainedRecipients": [{"emailAddress": "cat@example.com"}],
        },
    }
    assert (
        client.post(f"/v1/hooks/ses/{hook.id}", content=json.dumps(amazon.sign(ses_notification("sns-c", rec)))).json()[
            "accepted"
        ]
        == 1
    )
    closed_only(client, cat, "cat-3", "email")


def test_a_complaint_sent_to_events_on_sms_closes_sms_only(client, store, cat):
    r = client.post(
        "/v1/events",
        headers=cat,
        json={
            "events": [
                {
                    "event_id": "sms-spam-1",
                    "customer_id": "cat-3",
                    "type": "complained",
                    "ts": NOW.isoformat(),
                    "channel": "sms",
                    "message_id": "m-0",
                }
            ]
        },
    )
    assert r.json()["accepted"] == 1
    closed_only(client, cat, "cat-3", "sms", others=("email", "push"))


def test_an_iterable_sms_reply_is_about_its_sender_not_our_number(client, store, cat):
    """smsReceived's toPhoneNumber is the number the user texted (ours); the user is fromPhoneNumber.
    Iterable's phone-only projects name the user by a placeholder address no profile lists."""
    hook = registry.create(store, "acme", "iterable")
    client.put("/v1/customers/desk-9", headers=cat, json={"phones": ["+15559998888"]})  # our own number, listed
    reply = it("smsReceived", 16, fromPhoneNumber="+15550109999", toPhoneNumber="+15559998888", smsMessage="Yes")
    reply["email"] = reply["dataFields"]["email"] = "15550109999@placeholder.email"
    answer = client.post(f"/v1/hooks/iterable/{hook.id}", json=reply, headers={"Authorization": hook.secret}).json()
    assert answer["accepted"] == 1 and types_of(store, "cat-3") == ["replied"] and types_of(store, "desk-9") == []


def test_a_complaint_that_names_topics_also_blocks_those_topics(client, store, cat):
    """The topics a complaint names (from /v1/events) are blocked on every channel, as an unsubscribe
    from those topics would be; the other channels stay open to other topics."""
    r = client.post(
        "/v1/events",
        headers=cat,
        json={
            "events": [
                {
                    "event_id": "fbl-2",
                    "customer_id": "cat-3",
                    "type": "complained",
                    "ts": NOW.isoformat(),
                    "channel": "email",
                    "message_id": "m-0",
                    "topics": ["offer:lease"],
                }
            ]
        },
    )
    assert r.json()["accepted"] == 1
    closed_only(client, cat, "cat-3", "email")
    lease_by_sms = decide(client, cat, "cat-3", channel="sms", mid="s-lease", topics=["offer:lease"])
    assert lease_by_sms["action"] == "suppress", lease_by_sms
    assert "offer:lease" in lease_by_sms["reasons"][0]["message"]  # the topic, not the SMS channel
