"""An SMTP relay that asks for a verdict per recipient: any sender that speaks SMTP (Mautic, listmonk,
Postal, a CRM's own mailer) is governed without code.

The message says what it is in headers: ``X-Suppressor-Message-Id`` (else its ``Message-ID``),
``X-Suppressor-Kind`` (else the gateway's default), ``X-Suppressor-Topics`` (comma-separated),
``X-Suppressor-Campaign``, and ``X-Suppressor-Customer`` for a single recipient; otherwise each
recipient's address finds the customer through the contact index. Per recipient:

- send: relayed (the ``X-Suppressor-*`` headers removed, the rest byte for byte);
- suppress: dropped, the sender told 250 (it must not retry);
- defer: if any recipient is deferred the message is answered ``451`` with the time it may go; the
  sender's retry relays only them: a recipient already relayed or dropped has a standing verdict
  (``replayed``) and is not relayed again.

A relay that fails gives its sends' capacity back (release) and answers 451, so the retry decides
again. Every verdict is logged like any other (the decision log, the studio, the timeline)."""

from __future__ import annotations

import asyncio
import logging
import re
import smtplib
from dataclasses import dataclass
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from email.policy import default as email_policy

from pydantic import ValidationError

from suppressor.customers import contacts
from suppressor.decisions.decide import Decider, release
from suppressor.decisions.log import DecisionLog
from suppressor.domain import Decision, DecisionRequest
from suppressor.storage.store import Store
from suppressor.tenants.state import TenantStateCache

log = logging.getLogger("suppressor.smtp")
HEADER = re.compile(rb"^x-suppressor-", re.IGNORECASE)


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
        dropping = bool(HEADER.match(line))
        if not dropping:
            kept.append(line)
    return b"".join(kept) + body


@dataclass
class Outcome:
    """What happened to one recipient."""

    recipient: str
    customer_id: str | None
    decision: Decision | None


class Gateway:
    """The aiosmtpd handler (``handle_DATA``) for one tenant."""

    def __init__(self, store: Store, tenant: str, relay: tuple[str, int], default_kind: str = "sales",
                 unknown: str = "relay", refresh_seconds: float = 1.0):
        self.store, self.tenant, self.relay = store, tenant, relay
        self.default_kind, self.unknown = default_kind, unknown
        self.decision_log = DecisionLog(store)
        self.decider = Decider(store, TenantStateCache(store, refresh_seconds), self.decision_log)

    def close(self) -> None:
        """Write the pending decision records."""
        self.decision_log.close()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        """Decide, relay, answer; the work runs off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(
            None, self.deliver, envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or
            envelope.content)

    def deliver(self, sender: str, recipients: list[str], raw: bytes) -> str:
        """One message: the SMTP reply line for its DATA."""
        headers = BytesHeaderParser(policy=email_policy).parsebytes(raw)
        try:
            outcomes = self._decide(headers, recipients)
        except ValueError as exc:
            return f"550 5.6.0 {exc}"
        sends = [o for o in outcomes if (o.decision is None and self.unknown == "relay")
                 or (o.decision is not None and o.decision.action == "send" and not o.decision.replayed)]
        for o in outcomes:
            d = o.decision
            log.info("smtp %s -> %s (customer %s): %s%s", headers.get("X-Suppressor-Message-Id") or
                     headers.get("Message-ID"), o.recipient, o.customer_id or "unknown",
                     f"{self.unknown} (unknown recipient)" if d is None else d.action.value,
                     f" {[r.code for r in d.reasons]}" if d is not None and d.reasons else "")
        if sends:
            try:
                with smtplib.SMTP(*self.relay, timeout=30) as smtp:
                    smtp.sendmail(sender, [o.recipient for o in sends], strip_headers(raw))
            except (smtplib.SMTPException, OSError) as exc:
                for o in sends:
                    if o.decision is not None:
                        release(self.store, self.tenant, o.decision.decision_id)
                log.warning("smtp relay %s:%s failed: %r", *self.relay, exc)
                return "451 4.4.1 the relay did not take the message; try again later"
        deferred = [o.decision for o in outcomes if o.decision is not None and o.decision.action == "defer"]
        if deferred:
            until = max(d.not_before for d in deferred if d.not_before is not None)
            wait = max(1, int((until - datetime.now(timezone.utc)).total_seconds() + 0.999))
            return (f"451 4.7.1 deferred by suppressor until {until.isoformat(timespec='seconds')} "
                    f"({', '.join(r.code for r in deferred[0].reasons)}); retry in {wait} s")
        return "250 OK"

    def _decide(self, headers, recipients: list[str]) -> list[Outcome]:
        """A verdict for each recipient we know (an unknown one is relayed or dropped, per --unknown)."""
        mid = headers.get("X-Suppressor-Message-Id") or (headers.get("Message-ID") or "").strip("<> ")
        if not mid:
            raise ValueError("the message needs an X-Suppressor-Message-Id or a Message-ID header: a verdict "
                             "stands per message, so a retry is not counted twice")
        named = headers.get("X-Suppressor-Customer")
        if named and len(recipients) != 1:
            raise ValueError("X-Suppressor-Customer names one customer; send one message per recipient, or "
                             "list the addresses on the profiles (emails) instead")
        addresses = [contacts.loose_email(r) for r in recipients]
        found = {} if named else contacts.find(self.store, self.tenant, [("email", a) for a in addresses if a])
        customers = [named or found.get(("email", a)) for a in addresses]
        message = {"message_id": mid, "channel": "email",
                   "kind": (headers.get("X-Suppressor-Kind") or self.default_kind).strip(),
                   "topics": [t.strip() for t in (headers.get("X-Suppressor-Topics") or "").split(",") if t.strip()],
                   **({"campaign_id": c.strip()} if (c := headers.get("X-Suppressor-Campaign")) else {})}
        try:
            asks = [DecisionRequest(customer_id=cid, message=message, allow_reroute=False, channels=["email"])
                    for cid in customers if cid]
        except ValidationError as exc:
            err = exc.errors()[0]
            where = {"kind": "X-Suppressor-Kind", "topics": "X-Suppressor-Topics", "message_id": "X-Suppressor-Message-Id",
                     "campaign_id": "X-Suppressor-Campaign", "customer_id": "X-Suppressor-Customer"}
            field = next((where[str(p)] for p in err["loc"] if str(p) in where), "a header")
            raise ValueError(f"{field}: {err['msg']}") from None
        verdicts = iter(self.decider.decide(self.tenant, asks) if asks else [])
        out = []
        for r, cid in zip(recipients, customers):
            out.append(Outcome(r, cid, next(verdicts) if cid else None))
        return out


def run(store: Store, tenant: str, listen: tuple[str, int], relay: tuple[str, int], default_kind: str = "sales",
        unknown: str = "relay", refresh_seconds: float = 1.0):
    """Start the gateway on ``listen`` (a thread of its own); returns (controller, gateway): stop both."""
    from aiosmtpd.controller import Controller

    gateway = Gateway(store, tenant, relay, default_kind, unknown, refresh_seconds)
    controller = Controller(gateway, hostname=listen[0], port=listen[1])
    controller.start()
    return controller, gateway
