"""The studio page in a real headless Chromium: the chart renders, and saving a threshold changes
the next decision."""

from __future__ import annotations

import io
import os
import socket
import threading
import time

import httpx
import numpy as np
import pytest
import uvicorn

from suppressor.api.app import create_app
from tests.factories import auth

CHROMIUM = os.environ.get("SUPPRESSOR_CHROMIUM", "/usr/bin/chromium")
# as the machine's notes advise: no background connections out of a closed network
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SENDS_BLUE = (0x2F, 0x6F, 0xDE)


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("SUPPRESSOR_REQUIRE_BROWSER"):
            pytest.fail(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM}; .ci/run installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def server(settings, store, governed):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(settings, store), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def a_send_we_can_tip_over(base: str, key: str, dealer) -> tuple[dict, float]:
    """A request the current policy sends (as a dry run), and its score."""
    # value content: a service reminder stays relevant for a customer due for service whatever the threshold
    values = [m for m in dealer.messages if m.kind == "value"]
    reqs = [
        {
            "customer_id": c.customer_id,
            "allow_reroute": False,
            "dry_run": True,
            "message": {**values[i % len(values)].on("email"), "message_id": "studio-check"},
        }
        for i, c in enumerate(dealer.customers)
        if c.consent["email"]
    ]
    results = httpx.post(f"{base}/v1/decisions:batch", headers=auth(key), json={"items": reqs}).json()["results"]
    for req, d in zip(reqs, results, strict=True):
        if d["action"] == "send" and d["reasons"][-1]["code"] == "relevant" and d["score"] < 0.8:
            return req, d["score"]
    raise AssertionError("no sendable message found")


def blue_pixels(png: bytes) -> int:
    import matplotlib.image

    img = (matplotlib.image.imread(io.BytesIO(png), format="png")[:, :, :3] * 255).astype(int)
    return int((np.abs(img - np.array(SENDS_BLUE)).sum(axis=2) < 40).sum())


def test_chart_renders_and_saving_a_threshold_changes_the_next_decision(browser, server, governed, tmp_path):
    # decisions below are taken now: keep the customers' night out of it
    httpx.patch(f"{server}/v1/policy", headers=auth(governed.key), json={"quiet_hours": {"enabled": False}})
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server}/studio")
    page.fill("#api-key", governed.key)
    page.click("#connect")
    page.wait_for_selector("#curve polyline[data-series=sends_pct]", timeout=90_000)
    page.wait_for_selector("#status:has-text('loaded')", timeout=90_000)

    # the chart: three series over the sweep points, the current policy marked
    points = int(page.get_attribute("#curve polyline[data-series=sends_pct]", "data-points"))
    assert points >= 8
    assert page.locator("#curve polyline").count() == 3 and page.locator("#current-marker").count() == 1
    chart = page.locator("#curve").screenshot()
    assert blue_pixels(chart) > 300  # the sends line is really drawn
    page.screenshot(path=str(tmp_path / "studio.png"), full_page=True)

    assert "version 2" in page.inner_text("#policy-version")
    lift = page.inner_text("#lift")
    assert "governed − holdout" in lift and "revenue / customer (USD)" in lift and "came in for service" in lift
    assert page.locator("#decisions tr").count() == 21  # header + the latest 20
    assert page.locator("#save").is_disabled()  # nothing to save until the threshold moves

    req, score = a_send_we_can_tip_over(server, governed.key, governed.dealer)
    new = round(score + 0.01, 3)
    page.fill("#threshold-value", str(new))
    assert "%" in page.inner_text("#effect")  # the effect of the move, read off the curve

    page.click("#simulate")
    page.wait_for_selector("#sim-section:not([hidden])", timeout=90_000)
    table = page.inner_text("#sim-table")
    assert "expected engagement" in table and "95%:" in table
    assert "expected revenue (USD)" in table and "expected service visits" in table

    # the agent's question: why did this customer get this? (the latest decision's customer)
    cid = page.inner_text("#decisions tr:nth-child(2) td:nth-child(2)")
    mid = page.inner_text("#decisions tr:nth-child(2) td:nth-child(3)")
    page.fill("#customer-id", cid)
    page.click("#lookup")
    page.wait_for_selector("#customer:not([hidden])", timeout=30_000)
    assert cid in page.inner_text("#customer-facts")
    timeline = page.inner_text("#customer-timeline")
    assert mid in timeline  # the verdict they asked about, with its reasons in words
    # the verdict's own row (behavior about the same message, e.g. its `delivered` event, may sit above it)
    first = page.locator("#customer-timeline tr[data-type=decision]", has_text=mid).first.inner_text()
    assert any(code in first for code in ("relevant", "irrelevant", "holdout", "frequency_cap", "fatigue", "consent"))

    page.click("#save")
    page.wait_for_selector("#status:has-text('Saved: policy version 3')", timeout=30_000)
    d = httpx.post(f"{server}/v1/decisions", headers=auth(governed.key), json=req).json()
    assert d["action"] == "suppress" and d["policy_version"] == 3
    assert d["reasons"][-1]["code"] == "irrelevant" and f"threshold {new:.3f}" in d["reasons"][-1]["message"]
    assert errors == []


def test_the_studio_tunes_the_threshold_of_the_policy_objective(browser, server, governed):
    """Under objective uplift the studio's knob is the uplift threshold: the curve sweeps it, saving sets it."""
    h = auth(governed.key)
    before = httpx.patch(f"{server}/v1/policy", headers=h, json={"objective": "uplift"}).json()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server}/studio")
    page.fill("#api-key", governed.key)
    page.click("#connect")
    page.wait_for_selector("#status:has-text('loaded')", timeout=90_000)
    assert page.inner_text("#knob-name") == "uplift threshold"
    summary = page.inner_text("#policy-summary")
    assert "objective\tuplift" in summary and "uplift threshold\t0.000" in summary
    page.fill("#threshold-value", "0.02")
    page.click("#save")
    page.wait_for_selector("#status:has-text('uplift threshold 0.020')", timeout=30_000)
    after = httpx.get(f"{server}/v1/policy", headers=h).json()
    assert after["uplift_threshold"] == 0.02 and after["relevance_threshold"] == before["relevance_threshold"]
    assert errors == []
