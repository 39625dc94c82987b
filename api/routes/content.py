"""PUT/GET/DELETE /v1/content/{content_id}: value content offered as substitutes."""

from typing import Annotated

from fastapi import APIRouter, Path, Response

from suppressor import content
from suppressor.content import Content, ContentIn

from ..deps import ServicesDep, StoreDep, TenantDep, StoreUp
from ..errors import ApiError

router = APIRouter(prefix="/v1/content", tags=["content"], dependencies=[StoreUp])
ContentId = Annotated[str, Path(pattern=r"^[^{}\s]{1,128}$")]


@router.get("")
def list_content(tenant: TenantDep, store: StoreDep) -> dict:
    """The whole catalog."""
    return {"content": [c.model_dump(mode="json") for c in content.load_all(store, tenant)]}


@router.put("/{content_id}", response_model=Content)
def put_content(content_id: ContentId, body: ContentIn, tenant: TenantDep, store: StoreDep, services: ServicesDep) -> Content:
    """Create or replace an item (topics, channels, validity window)."""
    item = content.put(store, tenant, content_id, body)
    services.states.invalidate(tenant)
    return item


@router.get("/{content_id}", response_model=Content)
def get_content(content_id: ContentId, tenant: TenantDep, store: StoreDep) -> Content:
    """One item."""
    item = content.get(store, tenant, content_id)
    if item is None:
        raise ApiError(404, "Not found", f"no content {content_id!r}", "content_id")
    return item


@router.delete("/{content_id}", status_code=204)
def delete_content(content_id: ContentId, tenant: TenantDep, store: StoreDep, services: ServicesDep) -> Response:
    """Remove an item."""
    if not content.delete(store, tenant, content_id):
        raise ApiError(404, "Not found", f"no content {content_id!r}", "content_id")
    services.states.invalidate(tenant)
    return Response(status_code=204)
