"""Who may hand mail to the SMTP gateway, and how much: the client networks it trusts, SMTP AUTH (over
STARTTLS, or in the clear on a private network when the operator says so), and the limits on
connections, idle time, message size and recipients (docs/integrations.md, "SMTP gateway").

A gateway that relays for anyone is an open relay: a client outside ``smtp_clients`` must
authenticate before MAIL, or is refused at the greeting when no account is configured."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import ssl
import time
from dataclasses import dataclass, field

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from suppressor.settings import Settings

log = logging.getLogger("suppressor.smtp")

BUSY = "421 4.7.0 too many connections; try again later"
STRANGER = "554 5.7.1 this gateway relays only for its own clients"
NEEDS_AUTH = "530 5.7.0 authentication required"
NEEDS_TLS = "538 5.7.11 encryption required: STARTTLS first"
TOO_MANY_RECIPIENTS = "452 4.5.3 too many recipients; send the rest in another message"


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    ip = ipaddress.ip_address(host.split("%", 1)[0])
    return getattr(ip, "ipv4_mapped", None) or ip  # a dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d


def _loopback(host: str) -> bool:
    try:
        return _ip(host).is_loopback
    except ValueError:
        return host == "localhost"


@dataclass
class Door:
    """What every connection of one gateway shares: whom it trusts, its account, its limits, and the count
    of connections open now."""

    networks: list = field(default_factory=list)
    username: str | None = None
    password: str | None = None
    tls: ssl.SSLContext | None = None
    auth_without_tls: bool = False
    max_connections: int = 100
    max_per_client: int = 20
    open: int = 0
    by_client: dict[str, int] = field(default_factory=dict)
    _noted: dict[str, tuple[float, int]] = field(default_factory=dict)  # what -> (last logged, how many since)

    @classmethod
    def from_settings(cls, settings: Settings, listen_host: str) -> Door:
        """The door ``settings`` describe, for a gateway listening on ``listen_host``; a setting that would
        make an open relay, or send a password in the clear, is refused (ValueError, in words)."""
        for net in settings.smtp_clients:
            if net.prefixlen == 0:
                raise ValueError(f"SUPPRESSOR_SMTP_CLIENTS: {net} is every address: that is an open relay")
        if bool(settings.smtp_username) != bool(settings.smtp_password and settings.smtp_password.get_secret_value()):
            raise ValueError("SUPPRESSOR_SMTP_USERNAME and SUPPRESSOR_SMTP_PASSWORD: give both, or neither")
        if bool(settings.smtp_tls_cert) != bool(settings.smtp_tls_key):
            raise ValueError("SUPPRESSOR_SMTP_TLS_CERT and SUPPRESSOR_SMTP_TLS_KEY: give both, or neither")
        tls = None
        if settings.smtp_tls_cert:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            try:
                tls.load_cert_chain(settings.smtp_tls_cert, settings.smtp_tls_key)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"SUPPRESSOR_SMTP_TLS_CERT/KEY: cannot load them ({exc})") from None
        if settings.smtp_username and tls is None and not settings.smtp_auth_without_tls:
            raise ValueError(
                "SMTP AUTH without TLS sends the password in the clear: give SUPPRESSOR_SMTP_TLS_CERT "
                "and SUPPRESSOR_SMTP_TLS_KEY, or set SUPPRESSOR_SMTP_AUTH_WITHOUT_TLS=true (accepted "
                "from clients on private networks only)"
            )
        beyond_loopback = any(not net.is_loopback for net in settings.smtp_clients)
        if not _loopback(listen_host) and not beyond_loopback and not settings.smtp_username:
            raise ValueError(
                f"--listen {listen_host}: listening beyond loopback needs the client networks that may "
                "relay (SUPPRESSOR_SMTP_CLIENTS, a JSON list of CIDRs) or SMTP AUTH "
                "(SUPPRESSOR_SMTP_USERNAME and SUPPRESSOR_SMTP_PASSWORD); anything else is refused"
            )
        return cls(
            list(settings.smtp_clients),
            settings.smtp_username,
            settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            tls,
            settings.smtp_auth_without_tls,
            settings.smtp_max_connections,
            settings.smtp_max_connections_per_client,
        )

    def enter(self, host: str) -> str | None:
        """Count a new connection from ``host`` in, or the reply that turns it away (busy, stranger)."""
        if self.open >= self.max_connections or self.by_client.get(host, 0) >= self.max_per_client:
            return BUSY
        if not (self.trusts(host) or self.username):
            return STRANGER
        self.open += 1
        self.by_client[host] = self.by_client.get(host, 0) + 1
        return None

    def leave(self, host: str) -> None:
        """Count a connection from ``host`` out."""
        self.open -= 1
        left = self.by_client.pop(host, 1) - 1
        if left:
            self.by_client[host] = left

    def note(self, what: str, host: str) -> None:
        """Log a refusal or a failed AUTH: at most one line per kind every 10 s, with the count since (a
        flood of strangers must not flood the log)."""
        last, count = self._noted.get(what, (0.0, 0))
        now = time.monotonic()
        if now - last < 10:
            self._noted[what] = (last, count + 1)
            return
        self._noted[what] = (now, 0)
        log.warning(
            "smtp: %s (last from %s)%s", what, host, f"; {count} more in the last {now - last:.0f} s" if count else ""
        )

    def trusts(self, host: str) -> bool:
        """True for a client on one of the trusted networks."""
        try:
            ip = _ip(host)
        except ValueError:
            return False
        return any(ip.version == net.version and ip in net for net in self.networks)

    def authenticator(self, server: SMTP, session, envelope, mechanism: str, auth_data) -> AuthResult:
        """aiosmtpd's authenticator: the one account, compared in constant time; without TLS only from a
        private network (``auth_without_tls``)."""
        if session.ssl is None and not _ip(session.peer[0]).is_private:
            return AuthResult(success=False, handled=False, message=NEEDS_TLS)
        if not isinstance(auth_data, LoginPassword) or self.username is None or self.password is None:
            return AuthResult(success=False, handled=False)
        ok = hmac.compare_digest(auth_data.login, self.username.encode()) & hmac.compare_digest(
            auth_data.password, self.password.encode()
        )
        if not ok:
            self.note("AUTH failed", session.peer[0])
        return AuthResult(success=ok, handled=False)


class GatewaySMTP(SMTP):
    """aiosmtpd's SMTP session with the gateway's door: busy (421: too many connections, or too many from
    one client) and strangers (554) are answered at the greeting and disconnected; a client outside the
    trusted networks must AUTH before MAIL (530)."""

    def __init__(self, handler, door: Door, **kwargs):
        super().__init__(
            handler,
            authenticator=door.authenticator if door.username else None,
            auth_require_tls=not door.auth_without_tls,
            tls_context=door.tls,
            **kwargs,
        )
        self.door = door
        self._counted: str | None = None  # the client's address while it is counted in
        self._refused = False
        self._trusted = False  # the client is on a trusted network (may relay without AUTH)

    def connection_made(self, transport) -> None:
        """Admit the client or answer why not; after STARTTLS the same client goes on, encrypted."""
        if self.transport is None:  # a new connection (STARTTLS calls this again with the TLS transport)
            peer = transport.get_extra_info("peername")
            host = peer[0] if isinstance(peer, tuple) else ""
            refusal = self.door.enter(host)
            if refusal is not None:
                self._refused = True
                self.door.note(f"refused: {refusal}", host)
                transport.write(refusal.encode() + b"\r\n")
                transport.close()
                return
            self._counted = host
        super().connection_made(transport)
        # aiosmtpd's session.peer is this peername (typed str | None there, though a tuple)
        self._trusted = self.door.trusts(transport.get_extra_info("peername")[0])

    def connection_lost(self, error) -> None:
        """Count the connection closed (a refused one was never opened)."""
        if self._refused:
            return
        if self._counted is not None:
            self.door.leave(self._counted)
            self._counted = None
        super().connection_lost(error)

    async def check_auth_needed(self, caller_method: str) -> bool:
        """A trusted or authenticated client goes on; anyone else is told to AUTH (530)."""
        assert self.session is not None  # connection_made made it
        if self._trusted or self.session.authenticated:
            return False
        await self.push(NEEDS_AUTH)
        return True
