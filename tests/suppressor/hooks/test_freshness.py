"""A proof is taken once: new, resent (same bytes, answered), refused, or taken over when abandoned."""

import pytest

from suppressor.hooks import freshness
from suppressor.hooks.freshness import Proof, Stale
from suppressor.storage import keys


def test_a_proof_is_new_then_resent_and_refused_with_another_body(store):
    proof = Proof("sig-1", at=None)
    assert freshness.admit(store, "acme", "h1", "twilio", proof, b"body", 60) == "new"
    with pytest.raises(Stale, match="already used"):  # in flight
        freshness.admit(store, "acme", "h1", "twilio", proof, b"body", 60)
    freshness.settle(store, "acme", "h1", proof, b"body")
    assert freshness.admit(store, "acme", "h1", "twilio", proof, b"body", 60) == "resent"
    with pytest.raises(Stale, match="already used"):
        freshness.admit(store, "acme", "h1", "twilio", proof, b"other body", 60)
    assert freshness.admit(store, "acme", "h2", "twilio", proof, b"body", 60) == "new"  # per hook
    assert 0 < store.bulk.ttl(freshness._key("acme", "h1", proof)) <= 60 + freshness.SKEW


def test_a_delivery_abandoned_in_flight_is_taken_over_by_its_retry(store):
    proof = Proof("sig-2", at=None)
    assert freshness.admit(store, "acme", "h1", "mailgun", proof, b"body", 600) == "new"
    key = freshness._key("acme", "h1", proof)
    digest = store.bulk.get(key).decode()[1:].split(":")[0]
    store.bulk.set(key, f"p{digest}:1", keepttl=True)  # claimed long ago, never settled: its process died
    with pytest.raises(Stale):
        freshness.admit(store, "acme", "h1", "mailgun", proof, b"another body", 600)
    assert freshness.admit(store, "acme", "h1", "mailgun", proof, b"body", 600) == "new"
    assert keys.hook_seen("acme", "h1", "x").startswith("sup:{acme}:")


def test_a_dated_proof_must_be_inside_its_window(store):
    with pytest.raises(Stale, match="old"):
        freshness.admit(store, "acme", "h1", "sendgrid", Proof("s", at=1000.0), b"", 60, now=2000.0)
    with pytest.raises(Stale, match="ahead"):
        freshness.admit(store, "acme", "h1", "sendgrid", Proof("s", at=2400.0), b"", 60, now=2000.0)
    assert freshness.admit(store, "acme", "h1", "sendgrid", Proof("s", at=1990.0), b"", 60, now=2000.0) == "new"
