"""GET /docs: the OpenAPI explorer (Swagger UI 5, which reads OpenAPI 3.1), its assets served from the
swagger-ui-bundle-v2 package (no CDN: the page works offline and behind a firewall). Public, like
/openapi.json: it holds no data."""

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

router = APIRouter(include_in_schema=False)
ASSETS = "/docs/assets"
assets = StaticFiles(directory=str(swagger_ui_path))


@router.get("/docs")
def docs() -> HTMLResponse:
    """Swagger UI over /openapi.json."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="suppressor API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
    )
