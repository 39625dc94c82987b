"""Contact points: the e-mail addresses and phone numbers a customer's profile lists, and the index
that finds the customer who holds one (a provider's webhook names an address, not our id).

The index is sharded like the event-id claims: a digest of ``email:<address>`` or
``phone:<number>`` is a field in one of ``SHARDS`` hashes, each on a slot of its own (cluster-safe),
holding the customer id. Addresses never appear in key names, only as digests. When two profiles
list the same address, the one written last holds it (a CRM's newest record is its truth)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from email.utils import parseaddr

from suppressor.domain import email_address as email
from suppressor.domain import phone_number as phone
from suppressor.storage import keys
from suppressor.storage.store import Store, evalsha, run

SHARDS = 16


def loose_email(value: str | None) -> str | None:
    """An address from a provider's payload ('Ann <ann@example.com>' too), or None if there is none."""
    if not value or not isinstance(value, str):
        return None
    try:
        return email(parseaddr(value)[1] or value)
    except ValueError:
        return None


def loose_phone(value: str | None) -> str | None:
    """A number from a provider's payload (Twilio's ``From``), or None if it is not E.164."""
    try:
        return phone(value) if value and isinstance(value, str) else None
    except ValueError:
        return None


def _field(kind: str, value: str) -> bytes:
    return hashlib.blake2b(f"{kind}:{value}".encode(), digest_size=16).digest()


def _key(tenant: str, field: bytes) -> str:
    return keys.contacts(tenant, field[0] % SHARDS)


def points(emails: list[str], phones: list[str]) -> set[tuple[str, str]]:
    """A profile's contact points as (kind, value) pairs."""
    return {("email", e) for e in emails} | {("phone", p) for p in phones}


def update(
    store: Store, tenant: str, customer_id: str, old: set[tuple[str, str]], new: set[tuple[str, str]], take: bool = True
) -> None:
    """Point the index at ``customer_id`` for ``new`` and drop what they held of ``old`` and no longer list;
    ``take`` False points it only at what nobody holds (a repair must not take an address back)."""
    by_key: dict[str, list] = defaultdict(lambda: [customer_id, store.settings.customer_ttl_days * 86400])
    for op, pairs in (("-", old - new), ("+" if take else "?", new)):
        for kind, value in pairs:
            field = _field(kind, value)
            by_key[_key(tenant, field)] += [op, field]
    if by_key:
        run(store, evalsha(store, "contacts", [([key], args) for key, args in by_key.items()]))


def find(store: Store, tenant: str, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The customers holding these contact points (those held by nobody are left out)."""
    if not wanted:
        return {}
    return held(wanted, run(store, find_commands(tenant, wanted)))


def find_commands(tenant: str, wanted: list[tuple[str, str]]) -> list[tuple]:
    """The HGETs that read who holds each of ``wanted`` (for a caller's own pipeline; see ``held``)."""
    return [("HGET", _key(tenant, field), field) for field in (_field(kind, value) for kind, value in wanted)]


def held(wanted: list[tuple[str, str]], answers: list) -> dict[tuple[str, str], str]:
    """``find``'s answer from the replies to ``find_commands``."""
    return {point: cid.decode() for point, cid in zip(wanted, answers, strict=True) if cid is not None}
