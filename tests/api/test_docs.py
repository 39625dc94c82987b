"""/docs in a real headless Chromium: Swagger UI, served by the service itself, renders every operation
of the OpenAPI 3.1 document (4.x rendered none: "Unable to render this definition")."""

from __future__ import annotations

from urllib.parse import urlparse

import httpx

from tests.api.test_studio import browser  # noqa: F401 (the fixture)
from tests.faults import serve

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def test_docs_renders_every_operation_offline(settings, store, browser):  # noqa: F811
    with serve(settings) as url:
        doc = httpx.get(f"{url}/openapi.json").json()
        assert doc["openapi"].startswith("3.1")
        operations = sum(1 for item in doc["paths"].values() for m in item if m in METHODS)
        page = browser.new_page()
        outside = []

        def only_local(route):
            if urlparse(route.request.url).hostname != "127.0.0.1":
                outside.append(route.request.url)
                return route.abort()
            return route.continue_()

        page.route("**/*", only_local)
        page.goto(f"{url}/docs")
        page.wait_for_function(
            f"document.querySelectorAll('.opblock').length >= {operations} || "
            "/Unable to render|Could not render/.test(document.body.innerText)",
            timeout=30_000,
        )
        text = page.inner_text("body")
        assert "Unable to render" not in text and "Could not render" not in text
        assert page.locator(".opblock").count() == operations
        assert "suppressor" in page.title().lower() or "suppressor" in text.lower()
        assert outside == [], f"/docs fetched from outside the service: {outside}"
        page.close()
