"""The SMTP gateway end to end: smtplib and a private Postfix send through it, a real SMTP server
(aiosmtpd) is the relay it hands mail on to, and its store is a real Redis (killed and hung in the
fault tests)."""

from __future__ import annotations

import smtplib
import threading
import time
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from suppressor.api.smtp.gateway import digest, run, strip_headers
from suppressor.customers import profiles
from suppressor.domain import CustomerIn
from suppressor.policy import document as policy
from suppressor.settings import Settings
from suppressor.storage import keys
from suppressor.storage.store import Store
from tests.factories import quiet_policy
from tests.faults import RedisServer, free_port, redis_server_or_skip
from tests.mail import Postfix, Sink, postfix_or_skip, wire


@pytest.fixture
def sink():
    s = Sink().start()
    yield s, s.port
    s.stop()


@pytest.fixture
def gateway(store, sink):
    policy.put(store, "acme", quiet_policy(min_gap="1h"), "test")
    for cid, emails, consent in (("ann-1", ["ann@example.com"], True), ("bob-2", ["bob@example.com"], False)):
        profiles.put(store, "acme", cid, CustomerIn(emails=emails, consent={"email": consent}), None)
    running = run(
        store, "acme", ("127.0.0.1", free_port()), ("127.0.0.1", sink[1]), unknown="relay", refresh_seconds=0.0
    )
    yield running.port
    running.stop()


def mail(to: list[str], mid="<spring-suv-1@dealer.example.com>", **headers) -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Message-ID"] = (
        "offers@dealer.example.com",
        ", ".join(to),
        "Spring SUV event",
        mid,
    )
    for name, value in {
        "X_Suppressor_Kind": "sales",
        "X_Suppressor_Topics": "segment:suv, offer:lease",
        **headers,
    }.items():
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
    send(
        gateway,
        mail(
            ["someone@elsewhere.example"],
            X_Suppressor_Customer="ann-1",
            X_Suppressor_Message_Id="m-77",
            X_Suppressor_Campaign="spring",
        ),
    )
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


def zone_at(hour: int) -> str:
    """A time zone where it is ``hour`` o'clock now (give or take the minutes)."""
    offset = (hour - datetime.now(UTC).hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # Etc/GMT-5 is UTC+5


def people(store, tenant="acme", **policy_fields):
    """Ann: night where she lives (quiet hours: deferred); Bob: no consent (suppressed); Carol: daytime,
    consent (sent); walkin@example.net is on no profile."""
    policy.put(
        store,
        tenant,
        quiet_policy(quiet_hours={"enabled": True, "start": "21:00", "end": "08:00"}, **policy_fields),
        "test",
    )
    for cid, email, consent, zone in (
        ("ann-1", "ann@example.com", True, zone_at(2)),
        ("bob-2", "bob@example.com", False, zone_at(12)),
        ("carol-3", "carol@example.com", True, zone_at(12)),
    ):
        profiles.put(store, tenant, cid, CustomerIn(emails=[email], consent={"email": consent}, timezone=zone), None)


EVERYONE = ["ann@example.com", "bob@example.com", "carol@example.com", "walkin@example.net"]


def test_a_retry_never_relays_a_recipient_twice_governed_or_not(store, sink):
    people(store)
    gw = run(store, "acme", ("127.0.0.1", free_port()), ("127.0.0.1", sink[1]), unknown="relay", refresh_seconds=0.0)
    try:
        for _ in range(3):  # the sender retries the deferred message, as every MTA does
            with pytest.raises(smtplib.SMTPDataError) as err:
                send(gw.port, mail(EVERYONE, mid="<spring-retry@dealer.example.com>"))
            assert err.value.smtp_code == 451 and b"quiet_hours" in err.value.smtp_error
    finally:
        gw.stop()
    # Carol (sent) and the walk-in (ungoverned, relayed) once each; Ann (deferred) and Bob (no consent) never
    assert sorted(sink[0].recipients()) == ["carol@example.com", "walkin@example.net"]
    remembered = keys.smtp_relayed("acme", digest("spring-retry@dealer.example.com"))  # digests, not addresses
    assert store.bulk.hlen(remembered) == 2 and 6.9 * 86400 < store.bulk.ttl(remembered) <= 7 * 86400
    assert sorted(store.bulk.hkeys(remembered)) == sorted(digest(a).encode() for a in sink[0].recipients())


def test_the_same_message_on_many_connections_at_once_is_relayed_once(store, sink):
    gw = run(store, "acme", ("127.0.0.1", free_port()), ("127.0.0.1", sink[1]), unknown="relay", refresh_seconds=0.0)
    start = threading.Barrier(8)

    def one() -> None:
        start.wait()
        send(gw.port, mail(["walkin@example.net"], mid="<twice@dealer.example.com>"))

    try:
        threads = [threading.Thread(target=one) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        gw.stop()
    assert sink[0].recipients() == ["walkin@example.net"]


def test_a_recipient_no_profile_lists_is_dropped_by_default(store, sink):
    people(store)
    gw = run(store, "acme", ("127.0.0.1", free_port()), ("127.0.0.1", sink[1]), refresh_seconds=0.0)
    try:
        with smtplib.SMTP("127.0.0.1", gw.port, timeout=10) as smtp:
            smtp.ehlo()
            smtp.mail("offers@dealer.example.com")
            for r in ("carol@example.com", "walkin@example.net"):
                smtp.rcpt(r)
            code, reply = smtp.data(wire(mail(["carol@example.com", "walkin@example.net"])))
    finally:
        gw.stop()
    assert code == 250 and reply == b"2.0.0 OK: relayed 1, dropped 1"
    assert sink[0].recipients() == ["carol@example.com"]


def test_through_postfix_each_recipient_arrives_at_most_once_across_retries(store, sink):
    postfix_or_skip()
    people(store)
    port = free_port()
    mta = Postfix(("127.0.0.1", port)).start()
    gw = run(store, "acme", ("127.0.0.1", port), ("127.0.0.1", sink[1]), unknown="relay", refresh_seconds=0.0)
    try:
        with smtplib.SMTP("127.0.0.1", mta.port, timeout=10) as smtp:
            smtp.send_message(mail(EVERYONE, mid="<spring-postfix@dealer.example.com>"))
        # Postfix tries again every second: wait for the fourth 451
        mta.wait_for(
            lambda text: text.count("said: 451 4.7.1 deferred by suppressor") >= 4, 60, "four retries", flush=True
        )
        [queued] = mta.queued()  # still queued for all four (a 451 to DATA defers every recipient)
        assert sorted(r["address"] for r in queued["recipients"]) == sorted(EVERYONE)
        assert "status=bounced" not in mta.log()
    finally:
        gw.stop()
        mta.stop()
    assert sorted(sink[0].recipients()) == ["carol@example.com", "walkin@example.net"]


@pytest.fixture
def private_store(tmp_path):
    """A store on a private redis-server to kill and hang, with a 250 ms decision deadline, monitored as
    `suppressor smtp-gateway` monitors its store."""
    redis_server_or_skip()
    server = RedisServer(tmp_path / "redis").start()
    st = Store(
        Settings(
            redis_url=server.url,
            data_dir=tmp_path / "data",
            decision_deadline_ms=250,
            store_timeout_ms=1000,
            model_refresh_seconds=0.0,
        )
    )
    st.watch()
    yield server, st
    st.close()
    server.close()


def data_reply(port: int, m: EmailMessage) -> tuple[int, bytes, float]:
    """The reply to DATA and how long it took (seconds), the envelope taken from the message."""
    to = [a.strip() for a in m["To"].split(",")]
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("offers@dealer.example.com")
        for r in to:
            smtp.rcpt(r)
        t0 = time.monotonic()
        code, reply = smtp.data(wire(m))
        return code, reply, time.monotonic() - t0


def says_nothing_of_the_store(reply: bytes, server: RedisServer) -> bool:
    text = reply.decode()
    return not any(w in text for w in ("127.0.0.1", str(server.port), "Error", "rror", "Connection", "redis"))


@pytest.mark.parametrize("fault", ["killed", "hung"])
def test_a_store_that_fails_is_a_451_within_the_deadline_naming_nothing(private_store, sink, fault):
    server, st = private_store
    people(st)
    gw = run(st, "acme", ("127.0.0.1", free_port()), ("127.0.0.1", sink[1]), unknown="relay", refresh_seconds=0.0)
    try:
        assert data_reply(gw.port, mail(["carol@example.com"], mid="<before@dealer.example.com>"))[0] == 250
        server.kill() if fault == "killed" else server.pause()
        for i in range(3):  # at once, and while the monitor knows the store is down
            code, reply, took = data_reply(gw.port, mail(EVERYONE, mid=f"<during-{i}@dealer.example.com>"))
            assert (code, reply) == (451, b"4.3.0 suppressor cannot decide now; try again in 300 s")
            assert took < 0.25 + 0.1, took  # the decision deadline, and a little for the SMTP exchange
            assert says_nothing_of_the_store(reply, server)
            time.sleep(0.2)
    finally:
        if fault == "hung":
            server.resume()
        gw.stop()
    assert sink[0].recipients() == ["carol@example.com"]


@pytest.mark.parametrize("fault", ["killed", "hung"])
def test_through_postfix_a_failed_store_defers_and_the_mail_goes_once_it_is_back(private_store, sink, fault):
    postfix_or_skip()
    server, st = private_store
    people(st)
    port = free_port()
    mta = Postfix(("127.0.0.1", port)).start()
    gw = run(st, "acme", ("127.0.0.1", port), ("127.0.0.1", sink[1]), unknown="relay", refresh_seconds=0.0)
    try:
        server.kill() if fault == "killed" else server.pause()
        with smtplib.SMTP("127.0.0.1", mta.port, timeout=10) as smtp:
            smtp.send_message(mail(["carol@example.com", "walkin@example.net"], mid="<outage@dealer.example.com>"))
        mta.wait_for(lambda text: text.count("said: 451 4.3.0 suppressor cannot decide now") >= 2, 30, "451s")
        assert len(mta.queued()) == 1 and "status=bounced" not in mta.log() and sink[0].got == []
        server.start() if fault == "killed" else server.resume()  # the same port, the same data
        # Postfix retries on its own schedule (here about every second, though now and then it waits
        # longer after a 451); an operator's flush makes the test wait for the gateway, not for that
        mta.wait_for(lambda text: "status=sent" in text, 30, "delivery once the store is back", flush=True)
        time.sleep(2)  # a few more queue runs: nothing goes twice
    finally:
        server.resume()
        gw.stop()
        mta.stop()
    assert sorted(sink[0].recipients()) == ["carol@example.com", "walkin@example.net"]


@pytest.mark.parametrize("mode", ["send", "suppress"])
def test_a_dead_store_is_the_tenants_failure_mode(private_store, sink, mode):
    server, st = private_store
    people(st, failure_mode=mode)
    gw = run(st, "acme", ("127.0.0.1", free_port()), ("127.0.0.1", sink[1]), unknown="relay", refresh_seconds=0.0)
    try:
        assert data_reply(gw.port, mail(["carol@example.com"], mid="<before@dealer.example.com>"))[0] == 250
        server.kill()
        for _ in range(2):  # the sender sends it again (a lost 250): this process remembers what it relayed
            code, reply, _took = data_reply(gw.port, mail(EVERYONE, mid="<down@dealer.example.com>"))
            assert code == 250 and says_nothing_of_the_store(reply, server)
    finally:
        gw.stop()
    # send: consent unchecked (the tenant chose it), each once; suppress: nothing more
    assert sorted(sink[0].recipients()) == sorted(
        ["carol@example.com", *EVERYONE] if mode == "send" else ["carol@example.com"]
    )


def test_a_fault_of_ours_is_a_451_never_a_5xx(store, sink, gateway, monkeypatch):
    from suppressor.api.smtp.gateway import Gateway

    async def broken(self, *args):
        raise RuntimeError("a bug at 10.1.2.3:6379")

    monkeypatch.setattr(Gateway, "deliver", broken)
    with pytest.raises(smtplib.SMTPDataError) as err:
        send(gateway, mail(["ann@example.com"]))
    assert (err.value.smtp_code, err.value.smtp_error) == (451, b"4.3.0 temporary failure; try again later")


def test_strip_headers_keeps_everything_else_byte_for_byte():
    raw = (
        b"From: a@b.example\r\nX-Suppressor-Topics: segment:suv,\r\n offer:lease\r\nSubject: hi\r\n"
        b"x-suppressor-kind: value\r\nDKIM-Signature: v=1;\r\n\tb=abc\r\n\r\nbody\r\nX-Suppressor-Kind: not a header\r\n"
    )
    assert strip_headers(raw) == (
        b"From: a@b.example\r\nSubject: hi\r\nDKIM-Signature: v=1;\r\n\tb=abc\r\n"
        b"\r\nbody\r\nX-Suppressor-Kind: not a header\r\n"
    )
