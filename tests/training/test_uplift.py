"""Known answers for the uplift: planted persuadables, sure things and lost causes in a randomized send."""

import numpy as np
import pytest

from suppressor.api import synthetic
from suppressor.domain import Signature
from suppressor.model.uplift import Head, UpliftModel
from suppressor.training.baselines import BASELINES
from suppressor.training.fit import TrainConfig
from suppressor.training.metrics import auc, kept_by_ipw, qini
from suppressor.training.uplift import METHODS, Trial, UpliftConfig, fit_all, fit_uplift

# engagement chance (not sent, sent) per planted kind
TRUTH = {"persuadable": (0.05, 0.45), "sure_thing": (0.7, 0.7), "lost_cause": (0.02, 0.02), "annoyed": (0.3, 0.3)}
FAST = UpliftConfig(train=TrainConfig(epochs=8, dim=8, seed=3, threads=1), min_treated=200, min_control=200)


def planted(n=4000, seed=0, harm=False) -> tuple[Trial, list[str]]:
    """A randomized send over customers whose kind shows in their attributes (plus a noise attribute)."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(list(TRUTH), n)
    treated = rng.random(n) < 0.5
    p = np.array([TRUTH[k][int(t)] for k, t in zip(kinds, treated, strict=True)])
    attrs = [
        {"segment": k, "region": str(rng.choice(["n", "s", "e", "w"])), "tenure": int(rng.integers(0, 40))}
        for k in kinds
    ]
    # only the "annoyed" unsubscribe, and only when sent
    hurt = treated & (kinds == "annoyed") & (rng.random(n) < 0.3) if harm else None
    return Trial(
        attributes=attrs,
        treated=treated,
        outcome=rng.random(n) < p,
        message=Signature.of("email", "sales", ["offer:lease"]),
        treatment="lease-email",
        harm=hurt,
    ), list(kinds)


def by_kind(scores, kinds):
    return {k: float(np.mean([s for s, x in zip(scores, kinds, strict=True) if x == k])) for k in TRUTH}


@pytest.mark.parametrize("method", METHODS)
def test_uplift_ranks_persuadables_first_and_the_response_score_does_not(method):
    trial, _ = planted()
    model = fit_all(trial, UpliftConfig(**{**FAST.__dict__, "methods": (method,)}))[1][method]
    test, kinds = planted(n=2000, seed=1)
    uplift = by_kind(model.score(test.attributes, test.message), kinds)
    assert max(uplift, key=uplift.get) == "persuadable"
    assert uplift["persuadable"] == pytest.approx(0.40, abs=0.1)  # calibrated heads: the planted 0.45 - 0.05
    for k in ("sure_thing", "lost_cause", "annoyed"):  # planted 0; Platt on few epochs leaves some bias
        assert abs(uplift[k]) < 0.15 and uplift[k] < uplift["persuadable"] - 0.2
    # the chance to engage when sent, what a response model ranks by, puts the sure things first
    response = by_kind(model.sent(test.attributes, test.message), kinds)
    assert max(response, key=response.get) == "sure_thing"
    top = np.argsort(-model.score(test.attributes, test.message))[:400]
    assert np.mean([kinds[i] == "persuadable" for i in top]) > 0.9
    assert model.metrics["qini"] > 0.05  # a random ranking's is 0
    assert model.metrics["harm"].startswith("absent")


def test_the_method_is_chosen_by_qini_on_held_out_customers_then_trained_on_everything():
    trial, kinds = planted()
    chosen, each = fit_all(trial, FAST)
    assert set(each) == set(METHODS) == set(chosen.metrics["methods"])
    best = max(each.values(), key=lambda m: m.metrics["qini"])
    assert chosen.method == best.method and chosen.metrics["qini"] == best.metrics["qini"]
    # the final fit moved the arrays but kept the calibration it was measured with
    assert chosen.heads["treated"].calibration == best.heads["treated"].calibration
    assert not np.array_equal(chosen.heads["treated"].user_emb, best.heads["treated"].user_emb)
    uplift = by_kind(chosen.score(trial.attributes, trial.message), kinds)
    assert max(uplift, key=uplift.get) == "persuadable"
    unrefined = fit_uplift(trial, UpliftConfig(**{**FAST.__dict__, "final_fit": False}))
    np.testing.assert_array_equal(unrefined.heads["treated"].user_emb, best.heads["treated"].user_emb)


def test_harm_head_finds_who_unsubscribes_when_sent():
    trial, _ = planted(harm=True)
    model = fit_uplift(trial, FAST)
    test, kinds = planted(n=2000, seed=1)
    harm = by_kind(model.harm(test.attributes, test.message), kinds)
    assert max(harm, key=harm.get) == "annoyed" and harm["annoyed"] == pytest.approx(0.3, abs=0.1)
    assert model.metrics["harm"] == "fitted"
    assert UpliftModel.from_mapping(model.to_mapping()).harm(test.attributes[:5], test.message) == pytest.approx(
        model.harm(test.attributes[:5], test.message), abs=1e-6
    )


def test_harm_head_on_the_synthetic_world_ranks_who_it_would_anger():
    """A randomized e-mail of one sales message in api/synthetic.py's world: its own outcome function decides
    engagement, unsubscribes and complaints (likelier the worse the message fits); the control arm gets nothing
    (its outcomes come on their own)."""
    world = synthetic.generate(n_customers=3000, weeks=1, sends_per_week=0.1, seed=5)
    m = next(x for x in world.messages if x.kind == "sales")
    treated = world.rng.random(len(world.customers)) < 0.5
    engaged, harm, truth = [], [], []
    for c, t in zip(world.customers, treated, strict=True):
        evs = (
            synthetic._outcome(world, c, m, "email", world.start, c.customer_id, complaints=True, unsubscribe_rate=0.1)
            if t
            else []
        )
        kinds = {e["type"] for e in evs}
        # an outcome comes of the e-mail, or on its own (a visit) for 5% of either arm
        engaged.append(bool(kinds & {"opened", "clicked"}) or world.rng.random() < 0.05)
        harm.append(bool(kinds & {"unsubscribed", "complained"}))
        truth.append(max(0.0, -world.logit(c, m, "email")))
    trial = Trial(
        attributes=[c.attributes for c in world.customers],
        treated=treated,
        outcome=np.array(engaged),
        message=Signature.of("email", m.kind, m.topics),
        treatment=m.message_id,
        harm=np.array(harm),
    )
    assert 30 < sum(harm) < 1000
    model = fit_uplift(trial, FAST)
    assert model.metrics["harm"] == "fitted"
    risk = model.harm([c.attributes for c in world.customers], trial.message)
    truth = np.array(truth)
    # the customers the world would anger most are ranked above those it would anger least
    assert auc(risk, truth > np.quantile(truth, 0.5)) > 0.6


def test_too_few_controls_means_no_uplift_and_the_export_says_why():
    trial, _ = planted(n=1000)
    model = fit_uplift(trial, UpliftConfig(min_control=800))
    assert model.absent and "control exposures (min_control is 800)" in model.absent
    assert model.heads == {} and model.metrics["n_control"] == int((~trial.treated).sum())
    again = UpliftModel.from_mapping(model.to_mapping())
    assert again.absent == model.absent
    with pytest.raises(ValueError, match="has no uplift"):
        again.score(trial.attributes[:3], trial.message)


def test_export_round_trips_and_scores_with_numpy():
    trial, _ = planted(n=2000)
    model = fit_uplift(trial, FAST)
    again = UpliftModel.from_mapping({k.encode(): v for k, v in model.to_mapping().items()})
    assert again.method == model.method and again.user_features == model.user_features
    np.testing.assert_allclose(
        again.score(trial.attributes[:50], trial.message), model.score(trial.attributes[:50], trial.message), atol=1e-6
    )
    # unknown attributes and customers with none score as the arms' averages, not an error
    assert np.isfinite(again.score([{}, {"segment": "never-seen"}], trial.message)).all()


def test_bad_input_is_refused_in_words():
    trial, _ = planted(n=600)
    with pytest.raises(ValueError, match="599 outcome values for 600 customers"):
        Trial(trial.attributes, trial.treated, trial.outcome[:-1], trial.message, trial.treatment)
    with pytest.raises(ValueError, match="unknown uplift method 'magic'"):
        fit_uplift(trial, UpliftConfig(**{**FAST.__dict__, "methods": ("magic",)}))
    fields = fit_uplift(trial, FAST).to_mapping()
    del fields["control.item_emb"]
    with pytest.raises(ValueError, match="missing arrays control.item_emb"):
        UpliftModel.from_mapping(fields)


def _broken(model: UpliftModel, **head_changes) -> UpliftModel:
    heads = {k: Head(**{**h.__dict__, **(head_changes if k == "treated" else {})}) for k, h in model.heads.items()}
    return UpliftModel(
        **{
            **{
                k: v for k, v in model.__dict__.items() if k not in ("user_index", "item_index", "_packed", "_measured")
            },
            "heads": heads,
        }
    )


def test_validation_rejects_non_finite_values_wrong_shapes_and_missing_heads():
    model = fit_uplift(planted(n=2000)[0], FAST)
    bad_emb = model.heads["treated"].user_emb.copy()
    bad_emb[0, 0] = np.nan
    with pytest.raises(ValueError, match="treated.user_emb has non-finite values"):
        _broken(model, user_emb=bad_emb).validate()
    with pytest.raises(ValueError, match="treated.item_emb shape"):
        _broken(model, item_emb=model.heads["treated"].item_emb[:-1]).validate()
    with pytest.raises(ValueError, match="user_bias shape"):
        _broken(model, user_bias=model.heads["treated"].user_bias[:-1]).validate()
    with pytest.raises(ValueError, match="calibration"):
        _broken(model, calibration={"a": float("inf"), "b": 0.0}).validate()
    partial = UpliftModel(
        **{
            **{
                k: v for k, v in model.__dict__.items() if k not in ("user_index", "item_index", "_packed", "_measured")
            },
            "heads": {"treated": model.heads["treated"]},
        }
    )
    with pytest.raises(ValueError, match="heads"):
        partial.validate()
    with pytest.raises(ValueError, match="non-finite"):
        _broken(model, user_emb=bad_emb).to_mapping()  # nothing broken is ever written


def test_baselines_find_the_planted_uplift():
    trial, _ = planted()
    test, kinds = planted(n=2000, seed=1)
    for name, fit in BASELINES.items():
        s = fit(trial.attributes, trial.treated, trial.outcome.astype(int))(test.attributes)
        ranked = by_kind(s, kinds)
        expected = "sure_thing" if name == "logistic response" else "persuadable"
        assert max(ranked, key=ranked.get) == expected, name
        if expected == "persuadable":
            assert qini(test.outcome, s, test.treated) > 0.05, name


def test_ipw_kept_matches_known_values():
    rng = np.random.default_rng(0)
    n = 100_000
    treated = rng.random(n) < 0.5
    lift = rng.random(n) < 0.5  # half the customers respond to the send only
    y = (treated & lift).astype(float)
    perfect = lift.astype(float) + rng.random(n) * 0.1
    kept = kept_by_ipw(perfect, treated, {"y": y}, (0.5, 0.8))
    assert kept[("y", 0.5)] == pytest.approx(1.0, abs=0.02)  # sending only the responders keeps everything
    blind = kept_by_ipw(rng.random(n), treated, {"y": y}, (0.5,))
    assert blind[("y", 0.5)] == pytest.approx(0.5, abs=0.03)
