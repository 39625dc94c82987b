"""The Hillstrom evaluation end to end on a small file of the same format with a planted answer."""

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from suppressor.training.hillstrom import UPLIFT_COLUMNS, _estimates, evaluate, report
from suppressor.training.uplift import METHODS

# the real file (never committed): CI sets this where the data is, e.g. /work/shared/data/hillstrom
REAL = os.environ.get("SUPPRESSOR_HILLSTROM_DATA")


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


def test_uplift_tables_on_the_planted_file(tmp_path):
    path = tmp_path / "hillstrom.csv"
    write_csv(path, n=4000)
    result = evaluate(path, seed=1, bootstrap=5, progress=lambda m: None)
    for kind in ("mens", "womens"):
        arm = result["uplift"][kind]
        assert arm["chosen"] in METHODS and arm["absent"] is None
        rows = arm["figures"]
        assert {
            "suppressor response score",
            "logistic response",
            "logistic two-model uplift",
            "class-transformation GBM",
        } <= set(rows)
        uplift = rows[f"suppressor uplift (chosen: {arm['chosen']})"]
        assert set(uplift) == {*UPLIFT_COLUMNS, *(f"vs_reference:{c}" for c in UPLIFT_COLUMNS)}
        assert rows["logistic two-model uplift"]["vs_reference:qini"]["value"] == 0
        # the planted e-mail works only on its own side: the uplift finds who it works on
        assert uplift["qini"]["value"] > 0.2 and uplift["visits_kept_send50"]["value"] > 0.9
    text = report(result)
    assert "uplift@30%" in text and "minus logistic two-model uplift" in text


@pytest.mark.skipif(
    not REAL or not (Path(REAL) / "hillstrom.csv").exists(),
    reason="the real Hillstrom file is not here: set SUPPRESSOR_HILLSTROM_DATA to the folder holding "
    "hillstrom.csv to run the evaluation on a sample of it",
)
def test_evaluation_runs_on_a_sample_of_the_real_data(tmp_path):
    with open(Path(REAL) / "hillstrom.csv", newline="") as fh:
        lines = list(csv.reader(fh))
    keep = np.random.default_rng(0).choice(np.arange(1, len(lines)), 9000, replace=False)
    path = tmp_path / "hillstrom.csv"
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([lines[0]] + [lines[i] for i in sorted(keep)])
    result = evaluate(path, seed=3, bootstrap=5, progress=lambda m: None)
    womens = result["uplift"]["womens"]
    assert womens["absent"] is None and womens["n_test_trial"] > 2500
    for name, figures in womens["figures"].items():
        assert np.isfinite(figures["qini"]["value"]) and 0 < figures["visits_kept_send80"]["value"] < 1.5, name
    assert 0.55 < result["figures"]["auc_emailed"]["value"] < 0.7
