"""GET /studio: the marketer's policy page (a static page that calls the v1 API with the user's key)."""

from functools import lru_cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["studio"])


@lru_cache
def _page() -> str:
    return resources.files("api.static").joinpath("studio.html").read_text()


@router.get("/studio", response_class=HTMLResponse, include_in_schema=False)
def studio() -> HTMLResponse:
    """The policy studio; it asks for an API key and calls /v1 with it (nothing tenant-specific is served here)."""
    return HTMLResponse(_page(), headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                                          "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                                                     "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"})
