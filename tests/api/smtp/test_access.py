"""Who may hand mail to the SMTP gateway, and how much: strangers on a non-loopback address, AUTH (over
STARTTLS, and in the clear on a private network), and the limits on size, recipients, connections and
idle time, attacked with smtplib, raw sockets and a private Postfix."""

from __future__ import annotations

import datetime as dt
import ipaddress
import smtplib
import socket
import ssl
import subprocess
import sys
import time
from email.message import EmailMessage
from types import SimpleNamespace

import psutil
import pytest
from aiosmtpd.smtp import LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from suppressor.api.cli import _host_port
from suppressor.api.smtp.access import NEEDS_TLS, Door
from suppressor.api.smtp.gateway import run
from tests.faults import env_for, free_port
from tests.mail import Postfix, Sink, postfix_or_skip, wire

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]


def outside_address() -> str:
    """An IPv4 address of this machine that is not loopback (the gateway sees it as a remote client)."""
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family == socket.AF_INET and not ipaddress.ip_address(a.address).is_loopback:
                return a.address
    pytest.skip("this machine has no non-loopback IPv4 address to connect from")


def message(to: list[str], size: int = 0, mid: str = "<access@dealer.example.com>") -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Message-ID"] = "offers@dealer.example.com", ", ".join(to), "Hello", mid
    m.set_content("Come and drive the new SUV.\n" + ("x" * 69 + "\n") * (size // 70))
    return m


@pytest.fixture
def sink():
    s = Sink().start()
    yield s
    s.stop()


@pytest.fixture
def gateway(store, sink):
    """Start a gateway with settings changed (``smtp_*`` fields), listening on ``host``; stopped after."""
    started = []

    def start(host: str = "127.0.0.1", port: int | None = None, **changes):
        settings = store.settings.model_copy(update=changes)
        gw = run(
            store,
            "acme",
            (host, port or free_port()),
            ("127.0.0.1", sink.port),
            unknown="relay",
            refresh_seconds=0.0,
            settings=settings,
        )
        started.append(gw)
        return gw

    yield start
    for gw in started:
        gw.stop()


def test_beyond_loopback_a_gateway_needs_trusted_networks_or_auth(store, settings):
    s = store.settings
    with pytest.raises(ValueError, match="SUPPRESSOR_SMTP_CLIENTS"):
        Door.from_settings(s, "0.0.0.0")
    with pytest.raises(ValueError, match="open relay"):
        Door.from_settings(s.model_copy(update={"smtp_clients": [ipaddress.ip_network("0.0.0.0/0")]}), "127.0.0.1")
    with pytest.raises(ValueError, match="in the clear"):
        Door.from_settings(
            s.model_copy(update={"smtp_username": "mautic", "smtp_password": SecretStr("pw")}), "0.0.0.0"
        )
    with pytest.raises(ValueError, match="give both"):
        Door.from_settings(s.model_copy(update={"smtp_username": "mautic"}), "0.0.0.0")
    Door.from_settings(s, "127.0.0.1")
    Door.from_settings(s, _host_port("[::1]:2525")[0])  # an IPv6 --listen, brackets and all, is loopback too
    Door.from_settings(s.model_copy(update={"smtp_clients": [ipaddress.ip_network("10.0.0.0/8")]}), "0.0.0.0")
    # the command line says so and exits, listening nowhere
    port = free_port()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "suppressor.api.cli",
            "smtp-gateway",
            "--tenant",
            "acme",
            "--listen",
            f"0.0.0.0:{port}",
            "--relay",
            "127.0.0.1:25",
        ],
        env=env_for(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "SUPPRESSOR_SMTP_CLIENTS" in out.stderr, out.stderr
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def test_a_client_outside_the_trusted_networks_is_refused(gateway, sink):
    ip = outside_address()
    gw = gateway("0.0.0.0", smtp_clients=[*LOOPBACK, ipaddress.ip_network("10.99.0.0/16")])
    with pytest.raises(smtplib.SMTPConnectError) as err:
        smtplib.SMTP(ip, gw.port, timeout=10, source_address=(ip, 0))
    assert err.value.smtp_code == 554 and err.value.smtp_error.startswith(b"5.7.1")
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=10) as smtp:  # loopback is trusted: relayed
        smtp.send_message(message(["walkin@example.net"]))
    assert sink.recipients() == ["walkin@example.net"]


def test_through_postfix_a_stranger_relays_nothing(gateway, sink):
    postfix_or_skip()
    ip = outside_address()
    port = free_port()
    mta = Postfix((ip, port), smtp_bind_address=ip).start()  # it talks to the gateway from a non-loopback address
    try:
        gateway("0.0.0.0", port, smtp_clients=LOOPBACK + [ipaddress.ip_network("10.99.0.0/16")])
        with smtplib.SMTP("127.0.0.1", mta.port, timeout=10) as smtp:
            smtp.sendmail("", ["walkin@example.net"], wire(message(["walkin@example.net"])))
        mta.wait_for(lambda text: "refused to talk to me: 554 5.7.1" in text, 30, "the refusal")
    finally:
        mta.stop()
    assert sink.got == []


def test_auth_in_the_clear_only_from_a_private_network(gateway, sink):
    ip = outside_address()
    if not ipaddress.ip_address(ip).is_private:
        pytest.skip(f"{ip} is not a private address")
    gw = gateway(
        "0.0.0.0",
        smtp_clients=LOOPBACK,
        smtp_username="mautic",
        smtp_password=SecretStr("s3cret pass"),
        smtp_auth_without_tls=True,
    )
    with smtplib.SMTP(ip, gw.port, timeout=10, source_address=(ip, 0)) as smtp:
        smtp.ehlo()
        code, reply = smtp.mail("offers@dealer.example.com")
        assert (code, reply) == (530, b"5.7.0 authentication required")
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login("mautic", "wrong")
        smtp.login("mautic", "s3cret pass")
        smtp.send_message(message(["walkin@example.net"]))
    assert sink.recipients() == ["walkin@example.net"]
    door = Door.from_settings(gw.gateway.settings, "0.0.0.0")  # a public client must use TLS even so
    said = door.authenticator(
        None, SimpleNamespace(ssl=None, peer=("8.8.8.8", 4000)), None, "PLAIN", LoginPassword(b"mautic", b"s3cret pass")
    )
    assert not said.success and said.message == NEEDS_TLS


def self_signed(tmp_path) -> tuple:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway.test.example")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def test_auth_over_starttls(gateway, sink, tmp_path):
    ip = outside_address()
    cert, key = self_signed(tmp_path)
    gw = gateway(
        "0.0.0.0",
        smtp_clients=LOOPBACK,
        smtp_username="mautic",
        smtp_password=SecretStr("s3cret"),
        smtp_tls_cert=cert,
        smtp_tls_key=key,
    )
    with smtplib.SMTP(ip, gw.port, timeout=10, source_address=(ip, 0)) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("auth") and smtp.has_extn("starttls")
        code, reply = smtp.docmd("AUTH", "PLAIN AG1hdXRpYwBzM2NyZXQ=")
        assert code == 538
        smtp.starttls(context=ssl._create_unverified_context())
        smtp.ehlo()
        assert smtp.mail("offers@dealer.example.com")[0] == 530  # encrypted, still a stranger
        smtp.rset()
        smtp.login("mautic", "s3cret")
        smtp.send_message(message(["walkin@example.net"]))
    assert sink.recipients() == ["walkin@example.net"]
    time.sleep(0.2)
    assert gw.controller.door.open == 0  # counted once, though STARTTLS made the session anew


def test_an_oversized_message_is_refused_552(gateway, sink):
    gw = gateway(smtp_max_message_bytes=4096)
    big = wire(message(["walkin@example.net"], size=8000))
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.esmtp_features["size"] == "4096"  # announced: a sender refuses it before sending
        assert smtp.mail("offers@dealer.example.com", ["SIZE=8200"])[0] == 552
        smtp.rset()
        smtp.mail("offers@dealer.example.com")  # one that does not say its size is refused after DATA
        smtp.rcpt("walkin@example.net")
        assert smtp.data(big)[0] == 552
    assert sink.got == []


def test_through_postfix_an_oversized_message_bounces_and_arrives_nowhere(gateway, sink):
    postfix_or_skip()
    port = free_port()
    mta = Postfix(("127.0.0.1", port)).start()
    try:
        gateway(port=port, smtp_max_message_bytes=4096)
        with smtplib.SMTP("127.0.0.1", mta.port, timeout=10) as smtp:
            smtp.sendmail("", ["walkin@example.net"], wire(message(["walkin@example.net"], size=8000)))
        mta.wait_for(
            lambda text: "status=bounced (message size" in text and "exceeds size limit 4096" in text,
            30,
            "the bounce: Postfix read the limit in the EHLO reply",
        )
    finally:
        mta.stop()
    assert sink.got == []


def test_too_many_recipients_are_answered_452(gateway, sink):
    gw = gateway(smtp_max_recipients=3)
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("offers@dealer.example.com")
        said = [smtp.rcpt(f"r{i}@example.net") for i in range(5)]
        assert [c for c, _ in said] == [250, 250, 250, 452, 452] and said[3][1].startswith(b"4.5.3")
        assert smtp.data(wire(message(["r0@example.net"])))[0] == 250
    assert sorted(sink.recipients()) == ["r0@example.net", "r1@example.net", "r2@example.net"]


def test_through_postfix_a_message_to_many_arrives_once_for_each(gateway, sink):
    postfix_or_skip()
    port = free_port()
    mta = Postfix(("127.0.0.1", port)).start()
    everyone = [f"r{i:03d}@example.net" for i in range(150)]
    try:
        gateway(port=port)  # 100 recipients per message: Postfix sends the other 50 in a second one
        with smtplib.SMTP("127.0.0.1", mta.port, timeout=10) as smtp:
            smtp.sendmail("", everyone, wire(message(everyone[:3])))
        mta.wait_for(lambda text: text.count("status=sent") >= 150, 60, "150 deliveries", flush=True)
        time.sleep(2)
    finally:
        mta.stop()
    assert sorted(sink.recipients()) == everyone
    assert sorted(len(rcpts) for _, rcpts, _ in sink.got) == [50, 100]


def banner(port: int) -> tuple[socket.socket, bytes]:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s, s.recv(200)


def test_too_many_connections_are_answered_421_and_an_idle_one_is_closed(gateway):
    gw = gateway(smtp_max_connections=5, smtp_idle_timeout_seconds=1.0)
    held = [banner(gw.port) for _ in range(5)]
    assert all(b.startswith(b"220 ") for _, b in held)
    extra, said = banner(gw.port)
    assert said.startswith(b"421 4.7.0") and extra.recv(100) == b""  # told, then disconnected
    extra.close()
    held.pop()[0].close()
    time.sleep(0.2)
    again, said = banner(gw.port)
    assert said.startswith(b"220 ")  # a place was freed
    time.sleep(1.5)  # idle past the timeout: the gateway hangs up on all of them
    for s, _ in [*held, (again, b"")]:
        assert s.recv(100) == b""
        s.close()
    fresh, said = banner(gw.port)
    assert said.startswith(b"220 ")
    fresh.close()
    time.sleep(0.2)
    assert gw.controller.door.open == 0 and gw.controller.door.by_client == {}  # counted out, however it ended


def test_one_client_cannot_take_every_connection(gateway):
    ip = outside_address()
    gw = gateway(
        "0.0.0.0",
        smtp_clients=[*LOOPBACK, ipaddress.ip_network(f"{ip}/32")],
        smtp_max_connections=10,
        smtp_max_connections_per_client=3,
    )
    mine = [banner(gw.port) for _ in range(3)]
    extra, said = banner(gw.port)
    assert said.startswith(b"421 4.7.0")
    other = socket.create_connection((ip, gw.port), timeout=5, source_address=(ip, 0))
    assert other.recv(200).startswith(b"220 ")  # another client still gets in
    for s in (extra, other, *(s for s, _ in mine)):
        s.close()


def test_a_flood_of_strangers_is_one_log_line_per_ten_seconds(caplog):
    door = Door()
    with caplog.at_level("WARNING", logger="suppressor.smtp"):
        for i in range(500):
            door.note("refused: 554", f"198.51.100.{i % 250}")
        door.note("AUTH failed", "198.51.100.7")
    assert [r.getMessage() for r in caplog.records] == [
        "smtp: refused: 554 (last from 198.51.100.0)",
        "smtp: AUTH failed (last from 198.51.100.7)",
    ]
    door._noted["refused: 554"] = (door._noted["refused: 554"][0] - 10, 499)  # ten seconds later
    with caplog.at_level("WARNING", logger="suppressor.smtp"):
        door.note("refused: 554", "198.51.100.9")
    assert caplog.records[-1].getMessage().startswith("smtp: refused: 554 (last from 198.51.100.9); 499 more in")


def test_a_smuggled_message_stays_inside_the_one_it_hides_in(gateway, sink):
    gw = gateway()
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    f = s.makefile("rwb")
    f.readline()
    for line in (
        b"EHLO mta.test.example",
        b"MAIL FROM:<offers@dealer.example.com>",
        b"RCPT TO:<walkin@example.net>",
        b"DATA",
    ):
        f.write(line + b"\r\n")
        f.flush()
        while (reply := f.readline())[3:4] == b"-":
            pass
    assert reply.startswith(b"354")
    # a bare-LF end of data, then a second transaction to someone else (SMTP smuggling)
    f.write(
        b"Subject: hi\r\nMessage-ID: <smuggle@dealer.example.com>\r\n\r\nhello\n.\nMAIL FROM:<ceo@bank.example>\n"
        b"RCPT TO:<victim@example.org>\nDATA\nSubject: pay now\n\nspoofed\n.\n\r\n.\r\n"
    )
    f.flush()
    assert f.readline().startswith(b"250")
    f.write(b"QUIT\r\n")
    f.flush()
    s.close()
    [(sender, rcpts, raw)] = sink.got
    assert rcpts == ["walkin@example.net"] and sender == "offers@dealer.example.com"
    assert b"RCPT TO:<victim@example.org>" in raw  # it is text of the one message, nothing more
