"""The Hillstrom evaluation end to end on a small file of the same format with a planted answer."""

import csv

import numpy as np
import pytest

from suppressor.training.hillstrom import _estimates, evaluate, report


def write_csv(path, n=3000, seed=0):
    """Men's buyers visit after the men's e-mail, women's buyers after the women's; recent buyers more."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "recency",
                "history_segment",
                "history",
                "mens",
                "womens",
                "zip_code",
                "newbie",
                "channel",
                "segment",
                "visit",
                "conversion",
                "spend",
            ]
        )
        for _ in range(n):
            mens = int(rng.random() < 0.5)
            recency = int(rng.integers(1, 13))
            seg = ["Mens E-Mail", "Womens E-Mail", "No E-Mail"][int(rng.integers(3))]
            p = 0.03 + 0.02 * (12 - recency) / 11
            if seg != "No E-Mail" and (seg == "Mens E-Mail") == bool(mens):
                p += 0.4  # the planted answer: the e-mail for your side
            w.writerow(
                [
                    recency,
                    "x",
                    round(float(rng.uniform(30, 3000)), 2),
                    mens,
                    1 - mens,
                    "Urban",
                    0,
                    "Web",
                    seg,
                    int(rng.random() < p),
                    0,
                    0,
                ]
            )


def test_planted_answer_is_found_through_the_product_path(tmp_path):
    path = tmp_path / "hillstrom.csv"
    write_csv(path)
    result = evaluate(path, seed=1, bootstrap=20, progress=lambda m: None)
    f = result["figures"]
    assert f["auc_emailed"]["value"] > 0.7
    lo, hi = f["auc_emailed"]["ci95"]
    assert lo <= f["auc_emailed"]["value"] <= hi
    assert f["visits_kept_top50"]["value"] > 0.7
    # sending each customer the e-mail for their side beats the random assignment it is compared with
    assert f["total_visits_kept_send80"]["value"] > 1.0
    assert "AUC, visit | either e-mail" in report(result)


def test_ipw_estimate_matches_a_known_value():
    rng = np.random.default_rng(0)
    n = 60_000
    seg = rng.choice(np.array(["mens", "womens", "none"]), n)
    visit = (rng.random(n) < np.where(seg == "none", 0.1, 0.2)).astype(int)
    s_mens, s_womens = rng.random(n), rng.random(n)  # scores that know nothing
    est = _estimates(seg, visit, s_mens, s_womens)
    assert est["auc_emailed"] == pytest.approx(0.5, abs=0.02)
    # sending a random 50% an e-mail: 0.5 * 0.2 + 0.5 * 0.1 = 0.15 of the all-e-mailed 0.2
    assert est["total_visits_kept_send50"] == pytest.approx(0.75, abs=0.04)
