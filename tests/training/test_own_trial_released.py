"""A send the caller released (it did not go out after all) is no exposure: the uplift learns from messages sent
and withheld, and this one was neither."""

from suppressor.customers import profiles
from suppressor.domain import CustomerIn
from suppressor.training import dataset
from suppressor.training.uplift import own_trial
from tests.factories import auth, ingest, iso, message


def test_released_sends_are_not_treated_exposures(client, key, store):
    """20 customers in an imported campaign's control group (withheld), then 20 sends decided for them and all
    released by the caller: no delivered event, no send. The trial holds 20 control exposures and no treated one."""
    h = auth(key)
    client.put("/v1/policy", json={"relevance_threshold": 0.0, "incrementality": {"window": "3d"}}, headers=h)
    withheld = []
    for i in range(20):
        profiles.put(store, "acme", f"c{i}", CustomerIn(attributes={"s": "x"}, consent={"email": True}), None)
        base = {"customer_id": f"c{i}", **message("old-1", ["offer:lease"])}
        withheld.append({**base, "event_id": f"w{i}", "type": "withheld", "ts": iso(10)})
    ingest(store, "acme", withheld)
    for i in range(20):
        body = {"customer_id": f"c{i}", "message": message("m-new", ["offer:lease"])}
        d = client.post("/v1/decisions", json=body, headers=h).json()
        assert d["action"] == "send", d
        assert client.post(f"/v1/decisions/{d['decision_id']}/release", headers=h).status_code in (200, 204)
    client.get("/v1/decisions", headers=h)  # a reader flushes the decision log
    ids, attrs, events, _ = dataset.read(store, "acme")
    trial, _ = own_trial(store, "acme", ids, attrs, events, 3 * 86400)
    assert trial is not None
    assert (int((~trial.treated).sum()), int(trial.treated.sum())) == (20, 0)
