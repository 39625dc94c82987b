"""An SMTP relay that asks for a verdict per recipient: any sender that speaks SMTP (Mautic, listmonk,
Postal, a CRM's own mailer) is governed without code. Who may hand it mail, and how much, is
``access``; what it does with a message is here.

The message says what it is in headers: ``X-Suppressor-Message-Id`` (else its ``Message-ID``),
``X-Suppressor-Kind`` (else the gateway's default), ``X-Suppressor-Topics`` (comma-separated),
``X-Suppressor-Campaign``, and ``X-Suppressor-Customer`` for a single recipient; otherwise each
recipient's address finds the customer through the contact index. Per recipient:

- send: relayed (the ``X-Suppressor-*`` headers removed, the rest byte for byte);
- suppress: dropped, the sender told 250 (it must not retry);
- defer: if any recipient is deferred the message is answered ``451`` with the time it may go, and the
  sender retries the whole message;
- an address no profile lists: dropped by default (``smtp_unknown``; docs/integrations.md says why).

Every recipient relayed is remembered (a digest of the Message-ID and of the address, in Redis for
``smtp_remember_days``, and in this process): a retry of the same message never relays it again,
whether a profile lists it or not. A store that fails or does not answer within the decision
deadline is the tenant's failure mode: ``defer`` is ``451 4.3.0``, never a 5xx, and no reply names
the store or the error. A relay that fails gives its sends' capacity back and answers 451, so the
retry decides again. Every verdict is logged like any other (the decision log, the studio, the
timeline)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import smtplib
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import default as email_policy

import redis
import redis.asyncio
from aiosmtpd.controller import Controller
from pydantic import ValidationError

from suppressor.customers import contacts
from suppressor.decisions.decide import Decider, StoreDown, release
from suppressor.decisions.log import DecisionLog
from suppressor.domain import Action, Decision, DecisionRequest
from suppressor.settings import Settings
from suppressor.storage import keys
from suppressor.storage.store import Store, aclose_clients, arun
from suppressor.tenants.state import TenantStateCache

from .access import TOO_MANY_RECIPIENTS, Door, GatewaySMTP

log = logging.getLogger("suppressor.smtp")
HEADER = b"x-suppressor-"
FAILED = (redis.RedisError, asyncio.TimeoutError, StoreDown)
RELAY_TIMEOUT = 30.0  # seconds the onward SMTP server has for each step of one message
WHERE = {
    "kind": "X-Suppressor-Kind",
    "topics": "X-Suppressor-Topics",
    "message_id": "X-Suppressor-Message-Id",
    "campaign_id": "X-Suppressor-Campaign",
    "customer_id": "X-Suppressor-Customer",
}


def strip_headers(raw: bytes) -> bytes:
    """The message without its ``X-Suppressor-*`` header fields (folded lines included); the body and
    every other header untouched, byte for byte."""
    end = raw.find(b"\r\n\r\n")
    end = raw.find(b"\n\n") if end < 0 else end
    head, body = (raw, b"") if end < 0 else (raw[:end], raw[end:])
    kept, dropping = [], False
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):  # a folded continuation belongs to the field above
            if not dropping:
                kept.append(line)
            continue
        dropping = line[: len(HEADER)].lower() == HEADER
        if not dropping:
            kept.append(line)
    return b"".join(kept) + body


def digest(text: str) -> str:
    """A short stable digest (what the store keeps instead of a Message-ID or an address)."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class Recent:
    """The recipients this process relayed lately, by (tenant, message digest, address digest): what a
    retry is checked against when the store cannot say (bounded; the oldest go first)."""

    def __init__(self, seconds: float, size: int = 100_000):
        self.seconds, self.size = seconds, size
        self._at: OrderedDict[tuple[str, str, str], float] = OrderedDict()

    def __contains__(self, entry: tuple[str, str, str]) -> bool:
        at = self._at.get(entry)
        return at is not None and time.monotonic() - at < self.seconds

    def add(self, entry: tuple[str, str, str]) -> None:
        """Remember one relayed recipient."""
        self._at[entry] = time.monotonic()
        self._at.move_to_end(entry)
        while len(self._at) > self.size:
            self._at.popitem(last=False)


@dataclass
class Recipient:
    """One recipient of a message and what happens to it."""

    address: str  # as the envelope gave it
    key: str  # digest of the address as indexed
    customer_id: str | None = None
    decision: Decision | None = None
    fate: str = ""  # relayed, dropped, deferred, already relayed


class Gateway:
    """The aiosmtpd handler (``handle_RCPT``, ``handle_DATA``) for one tenant."""

    def __init__(
        self,
        store: Store,
        tenant: str,
        relay: tuple[str, int],
        default_kind: str = "sales",
        unknown: str | None = None,
        refresh_seconds: float = 1.0,
        settings: Settings | None = None,
    ):
        self.store, self.tenant, self.relay, self.default_kind = store, tenant, relay, default_kind
        self.settings = settings or store.settings
        self.unknown = unknown or self.settings.smtp_unknown
        self.remember_ms = int(self.settings.smtp_remember_days * 86_400_000)
        self.recent = Recent(self.remember_ms / 1000)
        self.decision_log = DecisionLog(store)
        self.decider = Decider(store, TenantStateCache(store, refresh_seconds), self.decision_log)
        self._clients: tuple[redis.asyncio.Redis, redis.asyncio.Redis] | None = None

    def clients(self) -> tuple[redis.asyncio.Redis, redis.asyncio.Redis]:
        """The asyncio (hot, bulk) clients of the gateway's event loop, made on first use."""
        if self._clients is None:
            self._clients = self.store.async_clients()
        return self._clients

    async def aclose(self) -> None:
        """Close the asyncio clients (on the gateway's event loop)."""
        if self._clients is not None:
            await aclose_clients(*self._clients)
            self._clients = None

    def close(self) -> None:
        """Write the pending decision records."""
        self.decision_log.close()

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options: list) -> str:  # noqa: N802
        """Take a recipient, up to ``smtp_max_recipients`` per message (then 452: the sender sends the rest later)."""
        if len(envelope.rcpt_tos) >= self.settings.smtp_max_recipients:
            return TOO_MANY_RECIPIENTS
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        """Decide, relay, answer."""
        return await self.deliver(
            envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content
        )

    async def handle_exception(self, error: Exception) -> str:
        """Anything unforeseen is a temporary failure (the sender retries), never a 5xx naming it."""
        log.error("smtp: unexpected error", exc_info=error)
        return "451 4.3.0 temporary failure; try again later"

    async def deliver(self, sender: str, addresses: list[str], raw: bytes) -> str:
        """One message: the SMTP reply line for its DATA."""
        t0 = time.monotonic()
        budget = self.settings.decision_deadline_ms / 1000 * 0.8  # as Decider.adecide: the rest is ours

        def left() -> float:
            return max(0.0, budget - (time.monotonic() - t0))

        headers = BytesHeaderParser(policy=email_policy).parsebytes(raw)
        try:
            mid, message, named = self._message(headers, addresses)
        except ValueError as exc:
            return f"550 5.6.0 {exc}"
        mkey = digest(mid)
        people = [Recipient(a, digest(contacts.loose_email(a) or a.strip().lower())) for a in addresses]
        state = await self.decider.states.aget(self.tenant, left())
        policy = state.policy.for_campaign(message.get("campaign_id"))
        for p in people:
            if (self.tenant, mkey, p.key) in self.recent:
                p.fate = "already relayed"
        todo = [p for p in people if not p.fate]
        try:
            await self._decide(todo, mkey, message, named, t0, left())
        except FAILED as exc:
            return await self._undecided(sender, raw, mkey, todo, policy, exc)
        sends = [p for p in todo if p.fate == "relay"]
        try:
            sends = await self._claim(mkey, sends, left())
        except FAILED as exc:
            if policy.failure_mode == "defer":  # the verdicts stand: the retry finds them, relays and remembers
                self._log(mid, people, "deferred (store failed)")
                return self._unavailable(policy)
            log.warning(
                "smtp: relayed recipients not remembered (%r); tenant failure mode is %s", exc, policy.failure_mode
            )
            if policy.failure_mode == "suppress":
                await self._give_back(sends)
                for p in sends:
                    p.fate = "dropped"
                sends = []
        failed = await self._relay(sender, raw, mkey, sends)
        self._log(mid, people)
        if failed:
            return failed
        return self._reply(people, policy)

    async def _decide(
        self, todo: list[Recipient], mkey: str, message: dict, named: str | None, t0: float, budget: float
    ) -> None:
        """Each recipient's fate: already relayed (the store remembers it), else its verdict's (relay,
        deferred, dropped) or, for an address no profile lists, ``smtp_unknown``'s. Raises what the
        store raised when it cannot say who the recipients are or what was relayed."""
        if not self.store.up:
            raise StoreDown()
        if not todo:
            return
        hot, bulk = self.clients()
        wanted = (
            [] if named else list(dict.fromkeys(("email", a) for p in todo if (a := contacts.loose_email(p.address))))
        )
        got = await arun(
            self.store,
            hot,
            [
                ("HMGET", keys.smtp_relayed(self.tenant, mkey), *(p.key for p in todo)),
                *contacts.find_commands(self.tenant, wanted),
            ],
            budget,
        )
        found = contacts.held(wanted, got[1:])
        for p, was in zip(todo, got[0], strict=True):
            if was is not None:
                p.fate = "already relayed"
            else:
                p.customer_id = named or found.get(("email", contacts.loose_email(p.address) or ""))
        governed = [p for p in todo if not p.fate and p.customer_id]
        asks = [
            DecisionRequest.model_validate(
                dict(customer_id=p.customer_id, message=message, allow_reroute=False, channels=["email"])
            )
            for p in governed
        ]
        for p, decided in zip(
            governed, await self.decider.adecide(self.tenant, asks, hot, bulk, t0) if asks else [], strict=True
        ):
            p.decision = decided
        for p in todo:
            if p.fate:
                continue
            d = p.decision
            go = self.unknown == "relay" if d is None else d.action in (Action.send, Action.reroute)
            p.fate = "relay" if go else "deferred" if d is not None and d.action == Action.defer else "dropped"

    def _message(self, headers, addresses: list[str]) -> tuple[str, dict, str | None]:
        """The message id, the decision request's message, and the customer the headers name (or None);
        ValueError in words naming the header at fault."""
        mid = headers.get("X-Suppressor-Message-Id") or (headers.get("Message-ID") or "").strip().strip("<>")
        if not mid:
            raise ValueError(
                "the message needs an X-Suppressor-Message-Id or a Message-ID header: a verdict "
                "stands per message, so a retry is not counted twice"
            )
        named = (headers.get("X-Suppressor-Customer") or "").strip() or None
        if named and len(addresses) != 1:
            raise ValueError(
                "X-Suppressor-Customer names one customer; send one message per recipient, or "
                "list the addresses on the profiles (emails) instead"
            )
        message = {
            "message_id": mid,
            "channel": "email",
            "kind": (headers.get("X-Suppressor-Kind") or self.default_kind).strip(),
            "topics": [t.strip() for t in (headers.get("X-Suppressor-Topics") or "").split(",") if t.strip()],
            **({"campaign_id": c.strip()} if (c := headers.get("X-Suppressor-Campaign")) else {}),
        }
        try:  # checked before anything is read: a bad header is refused, and changes nothing
            DecisionRequest.model_validate(
                dict(customer_id=named or "smtp", message=message, allow_reroute=False, channels=["email"])
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            field = next((WHERE[str(p)] for p in err["loc"] if str(p) in WHERE), "a header")
            raise ValueError(f"{field}: {err['msg']}") from None
        return mid, message, named

    async def _claim(self, mkey: str, sends: list[Recipient], budget: float) -> list[Recipient]:
        """Remember ``sends`` as relayed before relaying them; those another delivery of the same message
        claimed first are left out (two connections never relay one recipient twice)."""
        if not sends:
            return []
        hot, _ = self.clients()
        key, now_ms = keys.smtp_relayed(self.tenant, mkey), int(time.time() * 1000)
        *won, _expiry = await arun(
            self.store,
            hot,
            [*(("HSETNX", key, p.key, now_ms) for p in sends), ("PEXPIRE", key, self.remember_ms)],
            budget,
        )
        won = won[: len(sends)]  # the HSETNX replies (the last is PEXPIRE's)
        for p, ok in zip(sends, won, strict=True):
            if not ok:
                p.fate = "already relayed"
        return [p for p, ok in zip(sends, won, strict=True) if ok]

    async def _relay(self, sender: str, raw: bytes, mkey: str, sends: list[Recipient]) -> str | None:
        """Hand ``sends`` to the onward server; None when it took them, else the 451 to answer (their claims
        and capacity given back, so the retry decides again)."""
        if not sends:
            return None
        try:
            await asyncio.to_thread(self._send, sender, [p.address for p in sends], strip_headers(raw))
        except (smtplib.SMTPException, OSError) as exc:
            log.warning("smtp relay %s:%s failed: %r", *self.relay, exc)
            try:
                hot, _ = self.clients()
                await arun(
                    self.store,
                    hot,
                    [("HDEL", keys.smtp_relayed(self.tenant, mkey), *(p.key for p in sends))],
                    self.store.bulk_timeout,
                )
            except FAILED as err:
                log.error(
                    "smtp: %d recipient(s) of a message the relay refused stay marked relayed (%r): a retry "
                    "will not relay them",
                    len(sends),
                    err,
                )
            await self._give_back(sends)
            for p in sends:
                p.fate = "relay failed"
            return "451 4.4.1 the relay did not take the message; try again later"
        for p in sends:
            p.fate = "relayed"
            self.recent.add((self.tenant, mkey, p.key))
        return None

    def _send(self, sender: str, recipients: list[str], body: bytes) -> None:
        with smtplib.SMTP(*self.relay, timeout=RELAY_TIMEOUT) as smtp:
            refused = smtp.sendmail(sender, recipients, body)
        if refused:  # the relay took the others; these it refused for good (its own policy)
            log.warning("smtp relay refused %d recipient(s): %s", len(refused), sorted(refused))

    async def _give_back(self, people: list[Recipient]) -> None:
        for p in people:
            if p.decision is not None and not p.decision.replayed:
                try:
                    await asyncio.to_thread(release, self.store, self.tenant, p.decision.decision_id)
                except redis.RedisError as exc:
                    log.warning("smtp: capacity of an unsent decision not given back: %r", exc)

    async def _undecided(
        self, sender: str, raw: bytes, mkey: str, todo: list[Recipient], policy, exc: BaseException
    ) -> str:
        """The store could not say who the recipients are or what was relayed: the tenant's failure mode
        for every recipient not relayed by this process already."""
        mode = policy.failure_mode
        log.warning("smtp: store unavailable (%r); tenant %s failure mode is %s", exc, self.tenant, mode)
        if mode == "defer":
            return self._unavailable(policy)
        if mode == "suppress":
            return f"250 2.0.0 OK: dropped {len(todo)} (store unavailable, failure mode suppress)"
        failed = await self._relay(sender, raw, mkey, todo)
        return failed or f"250 2.0.0 OK: relayed {len(todo)} (store unavailable, failure mode send)"

    @staticmethod
    def _unavailable(policy) -> str:
        return f"451 4.3.0 suppressor cannot decide now; try again in {policy.failure_retry_seconds} s"

    def _reply(self, people: list[Recipient], policy) -> str:
        # a deferred recipient has its verdict (a defer)
        deferred = [p.decision for p in people if p.fate == "deferred" and p.decision is not None]
        if any(any(r.code == "degraded" for r in d.reasons) for d in deferred):
            return self._unavailable(policy)
        if deferred:
            until = max(d.not_before for d in deferred if d.not_before is not None)
            wait = max(1, int((until - datetime.now(UTC)).total_seconds() + 0.999))
            codes = ", ".join(dict.fromkeys(r.code for d in deferred for r in d.reasons))
            return (
                f"451 4.7.1 deferred by suppressor until {until.isoformat(timespec='seconds')} "
                f"({codes}); retry in {wait} s"
            )
        counts = {fate: sum(p.fate == fate for p in people) for fate in ("relayed", "dropped", "already relayed")}
        return "250 2.0.0 OK: " + ", ".join(f"{fate} {n}" for fate, n in counts.items() if n)

    def _log(self, mid: str, people: list[Recipient], fate: str | None = None) -> None:
        for p in people:
            d = p.decision
            log.info(
                "smtp %s -> %s (customer %s): %s%s",
                mid,
                p.address,
                p.customer_id or "unknown",
                fate or p.fate,
                f" {[r.code for r in d.reasons]}" if d is not None and d.reasons else "",
            )


class _Controller(Controller):
    """aiosmtpd's controller (its own thread and event loop) making the gateway's SMTP sessions."""

    def __init__(self, handler: Gateway, door: Door, settings: Settings, **kwargs):
        super().__init__(
            handler,
            data_size_limit=settings.smtp_max_message_bytes,
            timeout=settings.smtp_idle_timeout_seconds,
            **kwargs,
        )
        self.door = door

    def factory(self) -> GatewaySMTP:
        """One connection's SMTP session."""
        return GatewaySMTP(self.handler, self.door, **self.SMTP_kwargs)


@dataclass
class Running:
    """A gateway serving: ``stop`` it."""

    controller: _Controller
    gateway: Gateway

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self.controller.port

    def stop(self) -> None:
        """Stop listening, close the store clients, write the pending decision records."""
        asyncio.run_coroutine_threadsafe(self.gateway.aclose(), self.controller.loop).result(10)
        self.controller.stop()
        self.gateway.close()


def run(
    store: Store,
    tenant: str,
    listen: tuple[str, int],
    relay: tuple[str, int],
    default_kind: str = "sales",
    unknown: str | None = None,
    refresh_seconds: float = 1.0,
    settings: Settings | None = None,
) -> Running:
    """Start the gateway on ``listen`` (a thread of its own); ValueError (in words) for settings that would
    make an open relay or send a password in the clear."""
    settings = settings or store.settings
    door = Door.from_settings(settings, listen[0])
    gateway = Gateway(store, tenant, relay, default_kind, unknown, refresh_seconds, settings)
    # the greeting's name, looked up once (aiosmtpd would look it up for every connection, on the event loop)
    controller = _Controller(
        gateway, door, settings, hostname=listen[0], port=listen[1], server_hostname=socket.getfqdn()
    )
    try:
        controller.start()
    except BaseException:
        gateway.close()
        raise
    return Running(controller, gateway)
