"""A message the tenant never withheld has no control arm: its uplift is unknown, not borrowed from the control
of another message."""

import numpy as np

from suppressor.training.fit import TrainConfig, train_tenant
from tests.factories import auth, ingest, iso, message
from tests.training.test_own_uplift import WEEKS, plant


def test_a_message_never_withheld_gets_no_uplift_from_another_message_control(client, key, store):
    """``plant``'s world (a weekly lease e-mail withheld at random; only it moves visits, and persuadables by 45
    points), plus a weekly push tip delivered to everyone and never withheld: visits do not depend on it at all.
    Nothing measured what the tip adds, so under ``uplift`` it is decided on engagement with ``no_uplift``
    (or, at the very least, not credited with the lease e-mail's effect)."""
    client.put("/v1/policy", json={"incrementality": {"window": "3d"}}, headers=auth(key))
    kinds = plant(store, "acme")
    rng = np.random.default_rng(5)
    evs = []
    for i in range(len(kinds)):
        for w in range(WEEKS):
            day = 7 * (WEEKS - w) + 2.5
            base = {"customer_id": f"c{i}", **message(f"tip-w{w}", ["content:tips"], channel="push", kind="value")}
            evs.append({**base, "event_id": f"c{i}-t{w}", "type": "delivered", "ts": iso(day)})
            typ = "opened" if rng.random() < 0.3 else "ignored"
            evs.append({**base, "event_id": f"c{i}-t{w}-o", "type": typ, "ts": iso(day - 0.1)})
    ingest(store, "acme", evs)
    model = train_tenant(store, "acme", TrainConfig(epochs=10))
    assert model.metrics["uplift"]["absent"] is None  # the lease e-mail's uplift is measured
    policy = {"objective": "uplift", "relevance_threshold": 0.0, "incrementality": {"window": "3d"}}
    client.put("/v1/policy", json=policy, headers=auth(key))
    tip = message("tip-new", ["content:tips"], channel="push", kind="value")
    persuadables = [f"c{i}" for i, k in enumerate(kinds) if k == "persuadable"][:10]
    for cid in persuadables:
        d = client.post("/v1/decisions", json={"customer_id": cid, "message": tip, "dry_run": True}, headers=auth(key))
        got = d.json()
        codes = [r["code"] for r in got["reasons"]]
        assert (got["uplift"] is None and "no_uplift" in codes) or abs(got["uplift"]) < 0.1, got
