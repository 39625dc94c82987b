"""A signature proves one delivery, once, while it is fresh.

A provider that signs its deliveries hands over a ``Proof``: the signature and, where the provider
signs a time, that time. A proof dated outside the provider's window is refused; one inside it is
remembered for the hook (``keys.hook_seen``, expiring with the window) with the digest of the body it
came with. Seen again, it is refused, unless it comes with the same body after that delivery was
answered: then it is the provider resending a delivery whose 2xx it did not get, and it is answered
again without anything being applied (a 4xx there would make the provider retry it for hours). A
delivery that fails forgets its proof; one whose process died while it was in flight is taken over
by the same bytes after ``ABANDONED`` seconds (events are idempotent by id: applying it is safe).

Providers that authenticate with a shared token (Postmark, Braze, Iterable) prove nothing per
delivery: their proof is None, and what keeps their replays harmless is the event id and the
order of consent changes (see customers/profiles.py)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Literal

from suppressor.storage import keys
from suppressor.storage.store import Store, evalsha, run

# seconds a signature stays acceptable, per provider: the span of the provider's documented retries
# when it resends the original signature (and memory of it); Twilio signs no time, only remembers
WINDOWS = {
    "mailgun": 9 * 3600,  # Mailgun retries for 8 hours
    "sendgrid": 25 * 3600,  # SendGrid retries for 24 hours
    "ses": 6 * 3600,  # SNS's HTTP delivery policy retries for up to an hour by default, longer if set
    "mautic": 3600,  # the time Mautic stamps on the payload when it sends it
    "twilio": 24 * 3600,  # no signed time: the signature is remembered this long
}
SKEW = 300  # a provider's clock ahead of ours by up to this much is accepted


@dataclass(frozen=True)
class Proof:
    """What one delivery's signature proves: the signature itself, and the time it signs (if any)."""

    signature: str
    at: float | None = None  # unix seconds
    pin: str | None = None  # what the hook is to keep from now on (the SNS topic a first confirmation names)


class Stale(Exception):
    """The proof is outside its window, or was used before (said in words)."""


ABANDONED = 60  # seconds: a delivery in flight this long died with its process; its retry may take over


def window(provider: str, overrides: dict[str, int] | None = None) -> int:
    """The provider's window in seconds (``SUPPRESSOR_HOOK_WINDOWS`` may set each)."""
    return (overrides or {}).get(provider, WINDOWS.get(provider, 3600))


def _key(tenant: str, hook_id: str, proof: Proof) -> str:
    return keys.hook_seen(tenant, hook_id, hashlib.blake2b(proof.signature.encode(), digest_size=16).hexdigest())


def admit(
    store: Store,
    tenant: str,
    hook_id: str,
    provider: str,
    proof: Proof,
    body: bytes,
    seconds: int,
    now: float | None = None,
) -> Literal["new", "resent"]:
    """Take the proof for this delivery: "new", or "resent" (the same delivery answered before); Stale if
    it is too old, dated ahead, or was used with another body or is still being processed."""
    now = time.time() if now is None else now
    if proof.at is not None:
        if proof.at < now - seconds:
            raise Stale(
                f"the {provider} signature is {_span(now - proof.at)} old; this webhook accepts "
                f"signatures at most {_span(seconds)} old"
            )
        if proof.at > now + SKEW:
            raise Stale(f"the {provider} signature is dated {_span(proof.at - now)} ahead of our clock")
    digest = hashlib.blake2b(body, digest_size=16).hexdigest()
    [answer] = run(
        store, evalsha(store, "hook_claim", [([_key(tenant, hook_id, proof)], [digest, seconds + SKEW, ABANDONED])])
    )
    if answer == 2:
        raise Stale(f"this {provider} signature was already used (a signature proves one delivery, once)")
    return "resent" if answer else "new"


def settle(store: Store, tenant: str, hook_id: str, proof: Proof, body: bytes) -> None:
    """The delivery was answered: a resend of it, byte for byte, is answered again."""
    digest = hashlib.blake2b(body, digest_size=16).hexdigest()
    store.bulk.set(_key(tenant, hook_id, proof), "d" + digest, xx=True, keepttl=True)


def release(store: Store, tenant: str, hook_id: str, proof: Proof) -> None:
    """The delivery failed before it was answered: the provider's retry of it is welcome."""
    store.bulk.delete(_key(tenant, hook_id, proof))


def _span(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 86400:
        return f"{seconds // 86400} d {seconds % 86400 // 3600} h"
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 60} min {seconds % 60} s"
