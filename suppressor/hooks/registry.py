"""Webhook endpoints: one per tenant and provider account, named by an unguessable id in its URL.

The id finds the tenant (``sup:hooks``, like API keys); the tenant's hash holds the provider and
the secret that authenticates it: the provider's key for signatures it computes (SendGrid's public
verification key, Mailgun's signing key, Twilio's auth token, Mautic's secret), or a token we make
for providers that send one back (Postmark's basic auth, Braze's bearer token, Iterable's
Authorization header). For SES the secret is the only SNS topic ARN accepted: named when the hook is
made, or kept from the first subscription confirmation it receives."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import quote, urlsplit

import redis
from pydantic import Field

from suppressor.domain import Strict
from suppressor.errors import NotFound, Refused
from suppressor.storage import keys
from suppressor.storage.store import Store

# provider -> (what its secret is, whether we generate it)
PROVIDERS: dict[str, tuple[str, bool]] = {
    "sendgrid": ("the Event Webhook's verification key (Settings > Mail Settings > Signed Event Webhook)", False),
    "mailgun": ("the HTTP webhook signing key (Sending > Webhooks)", False),
    "postmark": ("basic auth user:password, generated: put the printed URL, credentials included, in Postmark", True),
    "ses": (
        "optional: the SNS topic ARN to accept (unset: the first topic that confirms a subscription; others "
        "are refused)",
        False,
    ),
    "twilio": ("the account's Auth Token", False),
    "braze": ("the bearer token, generated: paste it in the Custom Currents export", True),
    "iterable": ("the auth token, generated: paste it as the system webhook's Auth Token", True),
    "mautic": ("the webhook's secret (shown in Mautic when the webhook is saved)", False),
}
OUTCOMES = ("received", "accepted", "duplicates", "unknown", "ignored", "consent")


class HookIn(Strict):
    """The body of POST /v1/webhooks."""

    provider: Literal["sendgrid", "mailgun", "postmark", "ses", "twilio", "braze", "iterable", "mautic"]
    secret: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        description=(
            "the provider's key or token: SendGrid's verification key, Mailgun's signing key, Twilio's auth token, "
            "Mautic's secret, optionally SES's topic ARN; generated (and answered once) for Postmark, Braze, Iterable"
        ),
    )


@dataclass(frozen=True)
class Hook:
    """One webhook endpoint."""

    id: str
    tenant: str
    provider: str
    secret: str | None
    created: str


def create(store: Store, tenant: str, provider: str, secret: str | None = None) -> Hook:
    """A new endpoint; Refused (field, words) when the provider is unknown or its secret is missing."""
    if provider not in PROVIDERS:
        raise Refused([("provider", f"unknown provider {provider!r}; one of {', '.join(PROVIDERS)}")])
    what, generated = PROVIDERS[provider]
    if generated and secret is None:
        secret = f"sup:{secrets.token_urlsafe(18)}" if provider == "postmark" else secrets.token_urlsafe(24)
    if secret is None and provider != "ses":
        raise Refused([("secret", f"{provider} needs a secret: {what}")])
    hook = Hook(secrets.token_urlsafe(18), tenant, provider, secret, datetime.now(UTC).isoformat())
    pipe = store.bulk.pipeline(transaction=False)
    pipe.hset(
        keys.hooks(tenant), hook.id, json.dumps({"provider": provider, "secret": secret, "created": hook.created})
    )
    pipe.hset(keys.HOOKS, hook.id, tenant)
    pipe.execute()
    return hook


def url(base: str, provider: str, hook_id: str, credentials: str | None = None) -> str:
    """The URL to give the provider under ``base``; with ``credentials`` (Postmark's user:password) they
    travel in it as basic auth."""
    out = f"{base.rstrip('/')}/v1/hooks/{provider}/{hook_id}"
    if provider == "postmark" and credentials:
        parts = urlsplit(out)
        user, _, password = credentials.partition(":")
        out = parts._replace(netloc=f"{quote(user)}:{quote(password)}@{parts.netloc}").geturl()
    return out


def get(store: Store, hook_id: str) -> Hook | None:
    """The endpoint an id names, or None."""
    tenant = store.bulk.hget(keys.HOOKS, hook_id)
    raw = store.bulk.hget(keys.hooks(tenant.decode()), hook_id) if tenant else None
    if raw is None:
        return None
    doc = json.loads(raw)
    return Hook(hook_id, tenant.decode(), doc["provider"], doc["secret"], doc["created"])


def listing(store: Store, tenant: str) -> list[dict]:
    """The tenant's endpoints with what each received (secrets left out); one round trip for the stats."""
    hooks = sorted(
        (hook_id.decode(), json.loads(raw)) for hook_id, raw in store.bulk.hgetall(keys.hooks(tenant)).items()
    )
    pipe = store.bulk.pipeline(transaction=False)
    for hook_id, _ in hooks:
        pipe.hgetall(keys.hook_stats(tenant, hook_id))
    out = []
    for (hook_id, doc), raw_stats in zip(hooks, pipe.execute() if hooks else [], strict=True):
        stats = {k.decode(): v.decode() for k, v in raw_stats.items()}
        out.append(
            {
                "id": hook_id,
                "provider": doc["provider"],
                "created": doc["created"],
                **{k: int(stats.get(k, 0)) for k in OUTCOMES},
                "last_unknown": stats.get("last_unknown"),
                "last_at": stats.get("last_at"),
            }
        )
    return out


def revoke(store: Store, tenant: str, hook_id: str) -> None:
    """Delete an endpoint: its URL answers 404 from now on."""
    if not store.bulk.hdel(keys.hooks(tenant), hook_id):
        raise NotFound(f"tenant {tenant!r} has no webhook {hook_id!r}", "hook_id")
    store.bulk.hdel(keys.HOOKS, hook_id)
    store.bulk.delete(keys.hook_stats(tenant, hook_id))


def pin(store: Store, hook: Hook, secret: str) -> bool:
    """Keep ``secret`` as the hook's if it has none yet (SES: the first confirmed topic); True if the hook
    keeps it now, False if it keeps another."""
    key = keys.hooks(hook.tenant)
    with store.bulk.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(key)
                raw = pipe.hget(key, hook.id)
                doc = json.loads(raw) if raw else None
                if doc is None or doc.get("secret") is not None:
                    return doc is not None and doc["secret"] == secret
                pipe.multi()
                pipe.hset(key, hook.id, json.dumps({**doc, "secret": secret}))
                pipe.execute()
                return True
            except redis.WatchError:
                continue


def record(store: Store, hook: Hook, counts: dict[str, int], last_unknown: str | None) -> None:
    """Add one delivery's outcome to the endpoint's counters."""
    pipe = store.bulk.pipeline(transaction=False)
    key = keys.hook_stats(hook.tenant, hook.id)
    for name, n in counts.items():
        if n:
            pipe.hincrby(key, name, n)
    pipe.hset(key, "last_at", datetime.now(UTC).isoformat())
    if last_unknown:
        pipe.hset(key, "last_unknown", last_unknown)
    pipe.execute()
