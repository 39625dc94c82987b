"""The uplift's fit holds a trial's customers as sparse rows, as the engagement fit does: its memory grows with
the exposures, not with exposures times the vocabulary of customers' attributes."""

import tracemalloc

import numpy as np

from suppressor.domain import Signature
from suppressor.training.fit import TrainConfig
from suppressor.training.uplift import Trial, UpliftConfig, fit_uplift


def test_a_trial_over_many_attribute_values_fits_in_memory_proportional_to_its_exposures():
    """50,000 exposures of customers in 2,000 zip codes: one attribute feature each. Dense rows would be
    50,000 x 2,000 float32 = 400 MB (and copies of its slices); the features themselves are 50,000 numbers."""
    n, zips = 50_000, 2_000
    rng = np.random.default_rng(0)
    trial = Trial(
        attributes=[{"zip": f"z{i % zips}"} for i in range(n)],
        treated=rng.random(n) < 0.5,
        outcome=rng.random(n) < 0.1,
        message=Signature.of("email", "sales", ["offer:lease"]),
        treatment="lease",
    )
    tracemalloc.start()
    try:
        model = fit_uplift(trial, UpliftConfig(train=TrainConfig(dim=8, epochs=2, threads=1)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(model.user_features) == zips
    assert peak < 150 * 2**20, f"peak {peak / 2**20:.0f} MB"
