"""Exported models: validated before they land, scored from features alone."""

import numpy as np
import pytest

from suppressor.domain import Signature
from suppressor.model import exported as models
from suppressor.model.exported import pack, unpack
from tests.factories import tiny_model


def test_model_with_nan_is_refused_and_never_becomes_active(store):
    good = tiny_model("v1")
    models.save(store, "acme", good)
    models.activate(store, "acme", "v1")
    bad = tiny_model("v2")
    bad.item_emb[0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        models.save(store, "acme", bad)
    assert models.active_version(store, "acme") == "v1"
    assert [m["version"] for m in models.list_models(store, "acme")] == ["v1"]


def test_wrong_shapes_are_refused():
    m = tiny_model("v1")
    m.user_emb = m.user_emb[:, :2]
    with pytest.raises(ValueError, match="user_emb shape"):
        m.validate()


def test_round_trip_through_redis_is_exact(store):
    m = tiny_model("v1")
    models.save(store, "acme", m)
    back = models.load(store, "acme", "v1")
    assert np.array_equal(back.item_emb, m.item_emb) and back.item_features == m.item_features


def test_new_message_of_known_topics_is_scored_without_retraining():
    m = tiny_model("v1")
    vec = m.item_vector(Signature.of("email", "sales", ("a", "never-seen")))
    expected = (m.item_emb[0] + m.item_emb[1]) / 2  # unknown topics are ignored
    assert np.allclose(vec[:4], expected)
    assert m.item_vector(Signature.of("fax", None, ("never-seen",))) is None


def test_user_vector_from_attributes_alone():
    m = tiny_model("v1")
    assert np.allclose(m.user_vector({"age": 30})[:4], m.user_emb[0])
    assert np.allclose(m.user_vector({"age": 99}), 0)  # nothing known: the population


def test_pack_is_little_endian_float32():
    v = np.array([1.5, -2.0], dtype=np.float32)
    assert pack(v) == b"\x00\x00\xc0\x3f\x00\x00\x00\xc0"
    assert np.array_equal(unpack(pack(v)), v)


def test_rollback_to_a_kept_version(store):
    for v in ("v1", "v2"):
        models.save(store, "acme", tiny_model(v))
        models.activate(store, "acme", v)
    models.activate(store, "acme", "v1")
    rows = {r["version"]: r for r in models.list_models(store, "acme")}
    assert rows["v1"]["active"] and rows["v1"]["status"] == "active"
    assert rows["v2"]["status"] == "inactive"
    with pytest.raises(KeyError):
        models.activate(store, "acme", "v9")
