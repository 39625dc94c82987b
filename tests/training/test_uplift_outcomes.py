"""Trials whose outcomes are few or none: the uplift is absent and says why, the engagement model still trains."""

import numpy as np

from suppressor.customers import profiles
from suppressor.domain import CustomerIn, Signature
from suppressor.training.fit import TrainConfig, train_tenant
from suppressor.training.uplift import Trial, UpliftConfig, fit_uplift
from tests.factories import auth, ingest, iso, message

LEASE = Signature.of("email", "sales", ["offer:lease"])


def test_withheld_messages_without_any_outcome_still_train_the_tenant(client, key, store):
    """A tenant that withholds half its lease e-mails at random but has recorded no visit or purchase yet:
    there is nothing to measure an uplift by, and the opens still teach engagement."""
    client.put("/v1/policy", json={"incrementality": {"window": "3d"}}, headers=auth(key))
    rng = np.random.default_rng(0)
    evs = []
    for i in range(300):
        cid = f"c{i}"
        fan = i % 2 == 0
        profiles.put(store, "acme", cid, CustomerIn(attributes={"fan": fan}, consent={"email": True}), None)
        for w in range(8):
            base = {"customer_id": cid, **message(f"lease-w{w}", ["offer:lease"])}
            sent = rng.random() < 0.5
            evs.append(
                {**base, "event_id": f"{cid}-{w}", "type": "delivered" if sent else "withheld", "ts": iso(7 * w + 3)}
            )
            if sent:
                typ = "opened" if rng.random() < (0.7 if fan else 0.1) else "ignored"
                evs.append({**base, "event_id": f"{cid}-{w}-o", "type": typ, "ts": iso(7 * w + 2.9)})
    ingest(store, "acme", evs)
    model = train_tenant(store, "acme", TrainConfig(epochs=5))
    assert model.metrics["uplift"]["n_control"] > 500 and model.metrics["uplift"]["n_treated"] > 500
    assert model.metrics["uplift"]["absent"] and "outcome" in model.metrics["uplift"]["absent"]
    assert client.get("/v1/models", headers=auth(key)).json()["active"] == model.version


def test_a_trial_whose_held_out_exposures_have_no_outcome_gets_an_uplift_or_says_why():
    """1,200 randomized exposures and a handful of outcomes, all of them in the share the heads are fitted on:
    the half held out to choose the method by (its Qini) has none."""
    n = 1200
    cfg = UpliftConfig()
    part = np.random.default_rng(cfg.train.seed).random(n)  # the fit's own split of the exposures
    rng = np.random.default_rng(1)
    treated = rng.random(n) < 0.5
    outcome = np.zeros(n, bool)
    outcome[np.flatnonzero(part >= cfg.validation)[:12]] = True
    trial = Trial(
        attributes=[{"segment": f"s{i % 4}"} for i in range(n)],
        treated=treated,
        outcome=outcome,
        message=LEASE,
        treatment="lease",
    )
    model = fit_uplift(trial, cfg)
    model.validate()
    assert model.absent or np.isfinite(model.metrics["qini"])
