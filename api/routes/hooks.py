"""POST /v1/hooks/{provider}/{hook_id}: a provider's own webhook payload in, authenticated by the
hook id and the provider's signature (the gate lets these through without an API key)."""

import logging
from typing import Annotated

import httpx
import redis
from fastapi import APIRouter, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from suppressor.errors import NotFound
from suppressor.hooks import inbound, registry
from suppressor.hooks.providers import BY_NAME
from suppressor.tenants.limits import take

from ..deps import ServicesDep, StoreUp
from ..errors import RESPONSES, ApiError, doc
from ..responses import HookReceipt

log = logging.getLogger(__name__)
router = APIRouter(
    prefix="/v1/hooks",
    tags=["webhooks"],
    dependencies=[StoreUp],
    responses={k: v for k, v in RESPONSES.items() if k != 429},
)


def fetch(url: str) -> bytes:
    """GET over HTTPS for a provider's verification material (SNS certificates, confirmations)."""
    answer = httpx.get(url, timeout=5.0, follow_redirects=False)
    answer.raise_for_status()
    return answer.content


def called_url(request: Request, public_url: str | None) -> str:
    """The URL the provider called: behind a proxy, SUPPRESSOR_PUBLIC_URL's base with this path and query."""
    if not public_url:
        return str(request.url)
    query = request.url.query
    return public_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")


@router.post(
    "/{provider}/{hook_id}",
    response_model=HookReceipt,
    openapi_extra={"security": []},
    responses={
        401: doc(
            "the provider's signature or credentials do not verify, or the signature is stale "
            "or was used before; nothing was stored"
        ),
        404: doc("no such webhook for this provider"),
        413: doc("the body is larger than this provider sends"),
        503: doc("the delivery cannot be checked now (a certificate fetch is rate-limited); the provider retries"),
        429: doc("this webhook's rate limit (SUPPRESSOR_HOOK_RATE_PER_SECOND); see Retry-After"),
    },
)
async def receive_webhook(
    provider: Annotated[str, Path(description="sendgrid, mailgun, postmark, ses, twilio, braze, iterable or mautic")],
    hook_id: Annotated[str, Path(description="printed by `suppressor hooks create`")],
    request: Request,
    services: ServicesDep,
) -> Response | HookReceipt:
    """A provider's webhook: the hook found and its rate limit taken before the body is read (the gate
    bounds the body by what the provider sends), verified on the raw body, mapped to events,
    idempotent by the provider's event id; addresses find customers through their profiles' emails
    and phones."""
    hook = await run_in_threadpool(registry.get, services.store, hook_id)
    if hook is None or hook.provider != provider or provider not in BY_NAME:
        raise NotFound(
            f"no {provider} webhook {hook_id!r}: create one with POST /v1/webhooks or 'suppressor hooks create'",
            "hook_id",
        )
    await _within_rate(services, hook)
    try:
        body = await request.body()
    except ClientDisconnect:  # nobody is left to answer: one line, no traceback (none if the gate cut it: 413)
        if not request.scope.get("body_refused"):
            log.warning("%s webhook %s: the client went away before its body arrived whole", provider, hook_id)
        return Response(status_code=400)
    delivery = inbound.Delivery(
        body,
        {k.lower(): v for k, v in request.headers.items()},
        called_url(request, services.settings.public_url),
        services.fetch,
        frozenset(services.settings.ses_regions) if services.settings.ses_regions else None,
    )
    return await run_in_threadpool(_receive, services, hook, delivery)


async def _within_rate(services, hook: registry.Hook) -> None:
    """Take a token from the hook's bucket (shared by every process); 429 with Retry-After when empty."""
    rate, burst = services.settings.hook_rate_per_second, services.settings.hook_rate_burst
    if rate <= 0 or not services.store.up:
        return
    try:
        budget = services.settings.decision_deadline_ms / 1000
        wait_ms = await take(services.store, services.ahot, hook.tenant, f"hook~{hook.id}", rate, max(burst, 1), budget)
    except (TimeoutError, redis.RedisError):
        return  # a limiter that cannot be read does not stop the provider
    if wait_ms:
        seconds = max(1, -(-wait_ms // 1000))
        raise ApiError(
            429,
            "Too many requests",
            f"this webhook takes {rate:g} deliveries per second (bursts of {burst:g}); retry in {seconds} s",
            None,
            {"Retry-After": str(seconds)},
        )


def _receive(services, hook: registry.Hook, delivery: inbound.Delivery) -> Response | HookReceipt:
    provider = hook.provider
    try:
        changed: set[str] = set()
        result = inbound.receive(
            services.store, hook, BY_NAME[provider], delivery, changed, services.settings.hook_windows
        )
    except inbound.Unauthorized as exc:
        services.metrics.hook_events.labels(provider, "unauthorized").inc()
        raise ApiError(401, "Unauthorized", str(exc), "signature") from None
    except inbound.Busy as exc:
        raise ApiError(503, "Busy", f"{exc}; nothing was stored", None, {"Retry-After": "1"}) from None
    except (inbound.BadPayload, httpx.HTTPError) as exc:
        raise ApiError(400, "Bad payload", f"{exc}; nothing was stored", "body") from None
    services.refresher.enqueue(hook.tenant, changed)
    for outcome, n in result.counts().items():
        if n and outcome != "received":
            services.metrics.hook_events.labels(provider, outcome).inc(n)
    if result.reply:
        return Response(result.reply[1], media_type=result.reply[0])
    return HookReceipt(**{k: v for k, v in vars(result).items() if k != "reply"})
