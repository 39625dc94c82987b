"""The SMTP gateway end to end: smtplib sends through it, a real SMTP server (aiosmtpd) is the relay."""

from __future__ import annotations

import smtplib
import socket
import threading
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from suppressor.api.smtp_gateway import run, strip_headers
from suppressor.customers import profiles
from suppressor.domain import CustomerIn
from suppressor.policy import document as policy
from suppressor.storage import keys
from tests.factories import quiet_policy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """A real SMTP server that keeps what it is given."""

    def __init__(self):
        self.got: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            self.got.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


@pytest.fixture
def sink():
    s = Sink()
    controller = Controller(s, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield s, controller.port
    controller.stop()


@pytest.fixture
def gateway(store, sink):
    policy.put(store, "acme", quiet_policy(min_gap="1h"), "test")
    for cid, emails, consent in (("ann-1", ["ann@example.com"], True), ("bob-2", ["bob@example.com"], False)):
        profiles.put(store, "acme", cid, CustomerIn(emails=emails, consent={"email": consent}), None)
    running = run(store, "acme", ("127.0.0.1", free_port()), ("127.0.0.1", sink[1]), unknown="relay",
                  refresh_seconds=0.0)
    yield running.port
    running.stop()


def mail(to: list[str], mid="<spring-suv-1@dealer.example.com>", **headers) -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Message-ID"] = "offers@dealer.example.com", ", ".join(to), "Spring SUV event", mid
    for name, value in {"X_Suppressor_Kind": "sales", "X_Suppressor_Topics": "segment:suv, offer:lease",
                        **headers}.items():
        m[name.replace("_", "-")] = value
    m.set_content("Come and drive the new SUV.\n")
    return m


def send(port: int, m: EmailMessage):
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        return smtp.send_message(m)


def test_per_recipient_relay_drop_and_no_double_send_on_retry(store, sink, gateway):
    got = sink[0].got
    assert send(gateway, mail(["ann@example.com", "Bob <bob@example.com>", "walkin@example.net"])) == {}
    assert len(got) == 1
    sender, rcpts, raw = got[0]
    # Ann (consent) and the unknown walk-in are relayed; Bob (no consent) is dropped, the sender told OK
    assert sorted(rcpts) == ["ann@example.com", "walkin@example.net"]
    assert b"X-Suppressor" not in raw and b"Come and drive the new SUV." in raw and b"Spring SUV event" in raw
    assert store.bulk.zcard(keys.sends("acme", "ann-1")) == 1
    # the sender retries the same message (a lost 250): nobody we know gets it twice
    send(gateway, mail(["ann@example.com", "bob@example.com"]))
    assert len(got) == 1 and store.bulk.zcard(keys.sends("acme", "ann-1")) == 1


def test_a_deferred_recipient_gets_a_451_with_the_time(store, sink, gateway):
    got = sink[0].got
    send(gateway, mail(["ann@example.com"], mid="<first@dealer.example.com>"))
    with pytest.raises(smtplib.SMTPDataError) as err:  # an hour's gap between sends: not yet
        send(gateway, mail(["ann@example.com"], mid="<second@dealer.example.com>"))
    assert err.value.smtp_code == 451 and b"deferred by suppressor until" in err.value.smtp_error
    assert b"cooldown" in err.value.smtp_error and b"retry in" in err.value.smtp_error
    assert len(got) == 1


def test_headers_name_the_customer_and_bad_ones_are_refused_in_words(store, sink, gateway):
    got = sink[0].got
    send(gateway, mail(["someone@elsewhere.example"], X_Suppressor_Customer="ann-1",
                       X_Suppressor_Message_Id="m-77", X_Suppressor_Campaign="spring"))
    assert len(got) == 1 and store.bulk.zcard(keys.sends("acme", "ann-1")) == 1
    with pytest.raises(smtplib.SMTPDataError) as err:
        send(gateway, mail(["ann@example.com"], mid="<x@y>", X_Suppressor_Kind="newsletter"))
    assert err.value.smtp_code == 550 and b"X-Suppressor-Kind" in err.value.smtp_error
    assert len(got) == 1


def test_a_failing_relay_gives_the_capacity_back(store, sink, gateway):
    dead = run(store, "acme", ("127.0.0.1", free_port()), ("127.0.0.1", free_port()), refresh_seconds=0.0)
    try:  # nothing listens where it relays
        with pytest.raises(smtplib.SMTPDataError) as err:
            send(dead.port, mail(["ann@example.com"], mid="<relay-down@dealer.example.com>"))
        assert err.value.smtp_code == 451 and err.value.smtp_error.startswith(b"4.4.1")
        assert store.bulk.zcard(keys.sends("acme", "ann-1")) == 0  # released: the retry decides again
    finally:
        dead.stop()
    send(gateway, mail(["ann@example.com"], mid="<relay-down@dealer.example.com>"))
    assert len(sink[0].got) == 1


def test_strip_headers_keeps_everything_else_byte_for_byte():
    raw = (b"From: a@b.example\r\nX-Suppressor-Topics: segment:suv,\r\n offer:lease\r\nSubject: hi\r\n"
           b"x-suppressor-kind: value\r\nDKIM-Signature: v=1;\r\n\tb=abc\r\n\r\nbody\r\nX-Suppressor-Kind: not a header\r\n")
    assert strip_headers(raw) == (b"From: a@b.example\r\nSubject: hi\r\nDKIM-Signature: v=1;\r\n\tb=abc\r\n"
                                  b"\r\nbody\r\nX-Suppressor-Kind: not a header\r\n")
