"""PUT/GET/DELETE /v1/content/{content_id}: value content offered as substitutes."""

from fastapi import APIRouter, Response

from suppressor.errors import NotFound
from suppressor.policy import content
from suppressor.policy.content import Content, ContentIn

from ..deps import PathId, ServicesDep, StoreDep, StoreUp, TenantDep
from ..errors import NOT_FOUND, RESPONSES
from ..responses import ContentList

router = APIRouter(prefix="/v1/content", tags=["content"], dependencies=[StoreUp], responses=RESPONSES)


@router.get("")
def list_content(tenant: TenantDep, store: StoreDep) -> ContentList:
    """The whole catalog."""
    return ContentList(content=content.load_all(store, tenant))


@router.put("/{content_id:path}", response_model=Content)
def put_content(content_id: PathId, body: ContentIn, tenant: TenantDep, services: ServicesDep) -> Content:
    """Create or replace an item (topics, channels, validity window)."""
    return services.admin.put_content(tenant, content_id, body)


@router.get("/{content_id:path}", response_model=Content, responses=NOT_FOUND)
def get_content(content_id: PathId, tenant: TenantDep, store: StoreDep) -> Content:
    """One item."""
    item = content.get(store, tenant, content_id)
    if item is None:
        raise NotFound(f"no content {content_id!r}", "content_id")
    return item


@router.delete("/{content_id:path}", status_code=204, responses=NOT_FOUND)
def delete_content(content_id: PathId, tenant: TenantDep, services: ServicesDep) -> Response:
    """Remove an item."""
    services.admin.delete_content(tenant, content_id)
    return Response(status_code=204)
