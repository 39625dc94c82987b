"""Why there is no uplift, in the unit the threshold counts: exposures (one message to one customer), as the
policy reference says ("fewer than 500 exposures in an arm")."""

from suppressor.training.fit import TrainConfig, train_tenant
from tests.factories import auth
from tests.training.test_own_uplift import WEEKS, plant


def test_too_small_a_trial_says_how_many_exposures_not_customers(client, key, store):
    """30 customers, 8 weekly e-mails each delivered or withheld at random: 240 exposures, of 30 customers."""
    client.put("/v1/policy", json={"incrementality": {"window": "3d"}}, headers=auth(key))
    plant(store, "acme", n=30)
    lift = train_tenant(store, "acme", TrainConfig(epochs=3)).metrics["uplift"]
    assert lift["n_treated"] + lift["n_control"] == 30 * WEEKS
    why = lift["absent"]
    assert "exposures" in why and "customers" not in why, why
