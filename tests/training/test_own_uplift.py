"""Known answers for the uplift a tenant's own sends teach: plant persuadables and sure things among customers
some of whose messages were withheld at random, train through the product's path, decide through the API."""

import numpy as np
import pytest

from suppressor.customers import profiles
from suppressor.domain import CustomerIn, Signature
from suppressor.training import dataset
from suppressor.training.fit import TrainConfig, train_tenant
from suppressor.training.uplift import own_trial
from tests.factories import auth, ingest, iso, message

# chance of a visit within three days (withheld, delivered) and of opening a delivered message, per kind
TRUTH = {
    "persuadable": {"visit": (0.05, 0.5), "open": 0.3},
    "sure_thing": {"visit": (0.6, 0.6), "open": 0.8},
    "lost_cause": {"visit": (0.02, 0.02), "open": 0.05},
}
WEEKS = 8


def plant(store, tenant: str, n: int = 450, seed: int = 0) -> list[str]:
    """Customers of each kind (shown in an attribute), a weekly lease e-mail delivered or withheld at random,
    the opens and visits that followed; returns each customer's kind."""
    rng = np.random.default_rng(seed)
    kinds = [list(TRUTH)[i % 3] for i in range(n)]
    evs = []
    for i, kind in enumerate(kinds):
        cid = f"c{i}"
        profiles.put(store, tenant, cid, CustomerIn(attributes={"segment": kind}, consent={"email": True}), None)
        for w in range(WEEKS):
            day = 7 * (WEEKS - w) + 3
            base = {"customer_id": cid, **message(f"lease-w{w}", ["offer:lease"])}
            sent = rng.random() < 0.5
            evs.append({**base, "event_id": f"{cid}-{w}", "type": "delivered" if sent else "withheld", "ts": iso(day)})
            if sent:
                opened = rng.random() < TRUTH[kind]["open"]
                evs.append(
                    {
                        **base,
                        "event_id": f"{cid}-{w}-o",
                        "type": "opened" if opened else "ignored",
                        "ts": iso(day - 0.1),
                    }
                )
            if rng.random() < TRUTH[kind]["visit"][int(sent)]:  # an outcome that names no message
                evs.append({"customer_id": cid, "event_id": f"{cid}-{w}-v", "type": "visited", "ts": iso(day - 1)})
    ingest(store, tenant, evs)
    return kinds


@pytest.fixture
def planted(client, key, store):
    client.put("/v1/policy", json={"incrementality": {"window": "3d"}}, headers=auth(key))
    kinds = plant(store, "acme")
    model = train_tenant(store, "acme", TrainConfig(epochs=10))
    return kinds, model


def test_the_trial_is_the_tenant_own_exposures_with_unattributed_outcomes(store):
    kinds = plant(store, "acme", n=30)
    ids, attrs, events, _ = dataset.read(store, "acme")
    trial, worth = own_trial(store, "acme", ids, attrs, events, 3 * 86400)
    assert trial is not None and len(trial.attributes) == 30 * WEEKS
    assert set(trial.messages) == {Signature.of("email", "sales", ["offer:lease"])}
    # a visit counts for the exposure in the three days before it, whether or not it names a message
    by_kind = {k: trial.outcome[[a["segment"] == k for a in trial.attributes]].mean() for k in TRUTH}
    assert by_kind["sure_thing"] > by_kind["lost_cause"]
    assert worth == {"revenue_per_outcome": 0.0, "revenue_per_customer": 0.0}  # visits bring no money
    assert kinds[0] == "persuadable"


def test_uplift_objective_sends_to_persuadables_and_spares_sure_things(planted, client, key):
    kinds, model = planted
    lift = model.metrics["uplift"]
    assert lift["absent"] is None and lift["qini"] > 0.03
    assert lift["n_control"] > 500 and lift["n_treated"] > 500

    def decide(cid, objective, threshold=0.2):
        policy = {"objective": objective, "uplift_threshold": threshold, "relevance_threshold": 0.5}
        client.put("/v1/policy", json={**policy, "incrementality": {"window": "3d"}}, headers=auth(key))
        body = {"customer_id": cid, "message": message(f"lease-new-{objective}", ["offer:lease"]), "dry_run": True}
        return client.post("/v1/decisions", json=body, headers=auth(key)).json()

    sample = {k: [f"c{i}" for i, x in enumerate(kinds) if x == k][:20] for k in TRUTH}
    uplift = {k: np.mean([decide(c, "uplift")["uplift"] for c in cs]) for k, cs in sample.items()}
    assert uplift["persuadable"] == pytest.approx(0.45, abs=0.15)  # planted 0.5 - 0.05
    assert abs(uplift["sure_thing"]) < 0.15 and abs(uplift["lost_cause"]) < 0.15
    # by what the e-mail adds: the persuadables get it, the sure things do not
    by_uplift = {k: [decide(c, "uplift")["action"] for c in cs] for k, cs in sample.items()}
    assert by_uplift["persuadable"].count("send") >= 18 and by_uplift["sure_thing"].count("send") <= 2
    said = next(r["message"] for r in decide(sample["persuadable"][0], "uplift")["reasons"] if r["code"] == "adds")
    assert "sending adds" in said and "with," in said and "without)" in said
    # by the chance of engagement: the sure things (who open most) get it and the persuadables do not
    by_engagement = {k: [decide(c, "engagement")["action"] for c in cs] for k, cs in sample.items()}
    sure, moved = by_engagement["sure_thing"].count("send"), by_engagement["persuadable"].count("send")
    assert sure >= 15 and moved <= 5, by_engagement


def test_without_withheld_messages_the_uplift_is_absent_and_says_why(client, key, store):
    for i in range(40):
        segment = "fan" if i % 2 else "other"
        profiles.put(store, "acme", f"c{i}", CustomerIn(attributes={"segment": segment}, consent={"email": True}), None)
    evs = []
    for i in range(40):
        for w in range(4):
            base = {"customer_id": f"c{i}", **message(f"m{w}", ["offer:lease"])}
            evs.append({**base, "event_id": f"c{i}-{w}", "type": "delivered", "ts": iso(7 * w + 1)})
            evs.append({**base, "event_id": f"c{i}-{w}-o", "type": "opened" if i % 2 else "ignored", "ts": iso(7 * w)})
    ingest(store, "acme", evs)
    model = train_tenant(store, "acme", TrainConfig(epochs=5))
    assert "no message was withheld yet" in model.metrics["uplift"]["absent"]
    client.put("/v1/policy", json={"objective": "uplift", "relevance_threshold": 0.0}, headers=auth(key))
    d = client.post(
        "/v1/decisions", json={"customer_id": "c1", "message": message("m9", ["offer:lease"])}, headers=auth(key)
    ).json()
    assert d["uplift"] is None and d["action"] == "send", d
    said = next(r["message"] for r in d["reasons"] if r["code"] == "no_uplift")
    assert "no message was withheld yet" in said and "decided on engagement" in said


def test_what_ifs_replay_the_uplift_objective_and_sweep_its_threshold(planted, client, key):
    kinds, _ = planted
    h = auth(key)
    policy = {"objective": "uplift", "uplift_threshold": 0.2, "incrementality": {"window": "3d"}}
    client.put("/v1/policy", json=policy, headers=h)
    for i in range(60):  # real decisions, logged
        body = {"customer_id": f"c{i}", "message": message(f"lease-next-{i}", ["offer:lease"])}
        assert client.post("/v1/decisions", json=body, headers=h).status_code == 200
    same = client.post("/v1/policy:simulate", json={"changes": {}}, headers=h).json()
    assert same["decisions"] == 60 and same["agreement_with_log_pct"] == 100.0
    # deciding the same asks by engagement instead sends to other customers: the sure things
    engagement = {"objective": "engagement", "relevance_threshold": 0.5}
    other = client.post("/v1/policy:simulate", json={"changes": engagement, "examples": 60}, headers=h).json()
    changed = {(kinds[int(e["customer_id"][1:])], e["candidate"]["action"]) for e in other["examples"]}
    assert changed == {("sure_thing", "send"), ("persuadable", "suppress")}, changed
    # the trade-off curve sweeps the objective's threshold by default, at deciles of the logged uplift
    curve = client.post("/v1/policy:tradeoff", json={}, headers=h).json()
    assert curve["param"] == "uplift_threshold" and curve["current"]["value"] == 0.2
    assert len(curve["points"]) > 3 and any(p["value"] < 0.1 for p in curve["points"])
    refused = client.post("/v1/policy:tradeoff", json={"values": [0.1, 2]}, headers=h)
    assert refused.status_code == 422 and "uplift_threshold is between -1 and 1" in refused.text
