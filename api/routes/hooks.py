"""POST /v1/hooks/{provider}/{hook_id}: a provider's own webhook payload in, authenticated by the
hook id and the provider's signature (the gate lets these through without an API key)."""

from typing import Annotated

import httpx
from fastapi import APIRouter, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from suppressor.hooks import inbound, registry
from suppressor.hooks.providers import BY_NAME

from ..deps import ServicesDep, StoreUp
from ..errors import RESPONSES, ApiError, doc
from ..responses import HookReceipt

router = APIRouter(prefix="/v1/hooks", tags=["webhooks"], dependencies=[StoreUp],
                   responses={k: v for k, v in RESPONSES.items() if k != 429})


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


@router.post("/{provider}/{hook_id}", response_model=HookReceipt, openapi_extra={"security": []},
             responses={401: doc("the provider's signature or credentials do not verify; nothing was stored"),
                        404: doc("no such webhook for this provider")})
async def receive_webhook(provider: Annotated[str, Path(description="sendgrid, mailgun, postmark, ses, twilio, "
                                                                    "braze, iterable or mautic")],
                          hook_id: Annotated[str, Path(description="printed by `suppressor hooks create`")],
                          request: Request, services: ServicesDep) -> Response | HookReceipt:
    """A provider's webhook: verified on the raw body, mapped to events, idempotent by the provider's
    event id; addresses find customers through their profiles' emails and phones."""
    try:
        body = await request.body()
    except ClientDisconnect:  # the caller left, or the gate refused the body (and has answered)
        return Response(status_code=400)
    delivery = inbound.Delivery(body, {k.lower(): v for k, v in request.headers.items()},
                                called_url(request, services.settings.public_url), services.fetch)
    return await run_in_threadpool(_receive, services, provider, hook_id, delivery)


def _receive(services, provider: str, hook_id: str, delivery: inbound.Delivery) -> Response | HookReceipt:
    hook = registry.get(services.store, hook_id)
    if hook is None or hook.provider != provider or provider not in BY_NAME:
        raise ApiError(404, "Not found", f"no {provider} webhook {hook_id!r}: create one with "
                       "POST /v1/webhooks or 'suppressor hooks create'", "hook_id")
    try:
        changed: set[str] = set()
        result = inbound.receive(services.store, hook, BY_NAME[provider], delivery, changed)
    except inbound.Unauthorized as exc:
        services.metrics.hook_events.labels(provider, "unauthorized").inc()
        raise ApiError(401, "Unauthorized", str(exc), "signature") from None
    except (inbound.BadPayload, httpx.HTTPError) as exc:
        raise ApiError(400, "Bad payload", f"{exc}; nothing was stored", "body") from None
    services.refresher.enqueue(hook.tenant, changed)
    for outcome, n in result.counts().items():
        if n and outcome != "received":
            services.metrics.hook_events.labels(provider, outcome).inc(n)
    if result.reply:
        return Response(result.reply[1], media_type=result.reply[0])
    return HookReceipt(**{k: v for k, v in vars(result).items() if k != "reply"})
