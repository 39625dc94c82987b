"""Many tenants in one process (and in two): no tenant's policy, model or version reaches another."""

import itertools

import httpx
import numpy as np
import pytest

from suppressor.model import exported as models
from suppressor.model.exported import ExportedModel
from suppressor.tenants import apikeys
from tests.factories import auth
from tests.faults import serve

# Both tenants are at policy version 1 and model version v1: only the tenant tells them apart.
POLICIES = {
    "alpha": {
        "caps": [],
        "relevance_threshold": 0.5,
        "quiet_hours": {"enabled": False},
        "balance": {"enabled": False},
        "require_opt_in": [],
    },
    "beta": {
        "caps": [{"channel": "email", "max": 1, "window": "7d"}],
        "relevance_threshold": 0.5,
        "quiet_hours": {"enabled": False},
        "balance": {"enabled": False},
        "require_opt_in": ["email", "sms", "phone"],
    },
}
# planted item biases: alpha's customers like topic:y, beta's do not
BIASES = {"alpha": {"topic:x": 3.0, "topic:y": 3.0}, "beta": {"topic:x": 3.0, "topic:y": -3.0}}
_mids = itertools.count()


def plant(store, tenant: str) -> None:
    """A model v1 whose scores are known: sigmoid(3 * mean item bias) for a customer without history."""
    names = ["topic:x", "topic:y", "channel:email", "kind:value"]
    bias = np.array([BIASES[tenant].get(n, 0.0) for n in names], dtype=np.float32)
    m = ExportedModel(
        version="v1",
        item_features=names,
        item_emb=np.zeros((4, 2), np.float32),
        item_bias=bias,
        user_features=["x=1"],
        user_emb=np.zeros((1, 2), np.float32),
        user_bias=np.zeros(1, np.float32),
        numeric_edges={},
        calibration={"a": 3.0, "b": 0.0},
    )
    models.save(store, tenant, m)
    models.activate(store, tenant, "v1")


@pytest.fixture
def keys_by_tenant(store):
    out = {}
    for t in POLICIES:
        out[t] = apikeys.create_key(store, t)
        plant(store, t)
    return out


def ask(c, key, topic, customer="c-1", consent=None):
    body = {
        "customer_id": customer,
        "message": {"message_id": f"m-{next(_mids)}", "channel": "email", "kind": "value", "topics": [topic]},
        "allow_reroute": False,
    }
    r = c.post("/v1/decisions", json=body, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


def scenario(clients, keys_by_tenant):
    """alpha decides first every round; beta must still get beta's policy and model."""
    alpha, beta = keys_by_tenant["alpha"], keys_by_tenant["beta"]
    for t, c in zip(POLICIES, itertools.cycle(clients)):
        assert c.put("/v1/policy", json=POLICIES[t], headers=auth(keys_by_tenant[t])).json()["version"] == 1
    for cid in ["c-1", *(f"y-{i}" for i in range(len(clients)))]:
        r = clients[0].put(f"/v1/customers/{cid}", json={"consent": {"email": True}}, headers=auth(beta))
        assert r.status_code == 200
    seen = {"alpha": [], "beta": []}
    for i in range(5):
        c = clients[i % len(clients)]
        seen["alpha"].append(ask(c, alpha, "x"))
        seen["beta"].append(ask(c, beta, "x"))
    for i, c in enumerate(clients):
        seen["alpha"].append(ask(c, alpha, "y", customer=f"y-{i}"))
        seen["beta"].append(ask(c, beta, "y", customer=f"y-{i}"))
        seen["beta"].append(ask(c, beta, "x", customer=f"no-consent-{i}"))
    a, b = seen["alpha"], seen["beta"]
    assert [d["action"] for d in a] == ["send"] * len(a)  # no caps, y relevant, e-mail needs no opt-in
    assert [d["action"] for d in b[:5]] == ["send"] + ["suppress"] * 4  # beta's cap of one e-mail a week
    assert all(d["reasons"][-1]["code"] == "frequency_cap" for d in b[1:5])
    ys, no_consent = b[5::2], b[6::2]
    assert all(d["reasons"][-1]["code"] == "irrelevant" and d["score"] < 0.1 for d in ys)  # beta's model
    assert all(d["reasons"][0]["code"] == "consent" for d in no_consent)  # beta's opt-in channels
    assert {d["policy_version"] for d in a + b} == {1} and {d["model_version"] for d in a + b} == {"v1"}


def test_tenants_at_the_same_versions_keep_their_own_policy_and_model_in_one_process(client, keys_by_tenant):
    scenario([client], keys_by_tenant)


def test_tenants_keep_their_own_policy_and_model_across_two_server_processes(settings, store, keys_by_tenant):
    with serve(settings) as u1, serve(settings) as u2:
        with httpx.Client(base_url=u1) as c1, httpx.Client(base_url=u2) as c2:
            scenario([c1, c2], keys_by_tenant)
