"""GET /studio: the marketer's policy page (static; it calls the v1 API with the user's key)."""

from functools import lru_cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

router = APIRouter(tags=["studio"], include_in_schema=False)

# no inline or third-party script may run on a page that holds an API key
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "frame-ancestors 'none'",
}


@lru_cache
def _asset(name: str) -> str:
    return resources.files("suppressor.api.static").joinpath(name).read_text()


@router.get("/studio", response_class=HTMLResponse)
def studio() -> HTMLResponse:
    """The policy studio; it asks for an API key and calls /v1 with it (nothing tenant-specific is served here)."""
    return HTMLResponse(_asset("studio.html"), headers=HEADERS)


@router.get("/studio/studio.js")
def studio_script() -> Response:
    """The studio's script."""
    return Response(_asset("studio.js"), media_type="text/javascript", headers=HEADERS)
