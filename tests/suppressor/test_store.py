"""The embedded store persists: a restart keeps customers, events and the active model."""

import numpy as np

from suppressor import customers, events, model as models, tenants
from suppressor.domain import CustomerIn, Event
from suppressor.model import ExportedModel
from suppressor.settings import Settings
from suppressor.store import Store
from tests.conftest import iso


def tiny_model(version: str) -> ExportedModel:
    rng = np.random.default_rng(0)
    return ExportedModel(
        version=version, item_features=["channel:email", "topic:a"],
        item_emb=rng.normal(size=(2, 4)).astype(np.float32), item_bias=np.zeros(2, np.float32),
        user_features=["age=30"], user_emb=rng.normal(size=(1, 4)).astype(np.float32),
        user_bias=np.zeros(1, np.float32), numeric_edges={}, calibration={"a": 1.0, "b": 0.0},
    )


def test_embedded_restart_keeps_customers_events_and_active_model(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", redis_url=None)
    store = Store(settings)
    key = tenants.create_key(store, "acme")
    customers.put(store, "acme", "c-1", CustomerIn(attributes={"age": 30}, consent={"email": False}), None)
    events.ingest(store, "acme", [Event(event_id="e-1", customer_id="c-1", type="clicked", ts=iso(1))])
    models.save(store, "acme", tiny_model("v1"))
    models.activate(store, "acme", "v1")
    run_id = store.bulk.info("server")["run_id"]
    store.close()

    store = Store(settings)  # a fresh server process, reading the append-only file
    try:
        assert store.bulk.info("server")["run_id"] != run_id  # really a new server process
        assert tenants.KeyResolver(store).tenant_for(key) == "acme"
        got = customers.get(store, "acme", "c-1", None)
        assert got.consent == {"email": False} and got.event_count == 1
        assert models.active_version(store, "acme") == "v1"
        assert models.load(store, "acme", "v1").item_features == ["channel:email", "topic:a"]
    finally:
        store.close()


def test_ping(store):
    assert store.ping()
