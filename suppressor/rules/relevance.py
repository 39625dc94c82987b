"""Relevance: the calibrated chance of engagement on the chosen channel against the threshold (per
lead stage if configured), unless the customer's vehicles make the message relevant whatever the
score; notes when there is no model, the message is unknown to it or the customer is new."""

from suppressor.rules import Code, Rule, score


def _relevance(op: str):
    def sentence(r, _mv):
        stage = f" (lead stage {r['stage']})" if r.get("stage") else ""
        return f"score {score(r['score'])} {op} threshold {score(r['threshold'])}{stage} on {r['channel']}"

    return sentence


def _service_due(r, _mv):
    when = f"overdue by {-r['days']:.0f} days" if r["days"] < 0 else f"due in {r['days']:.0f} days"
    return (
        f"vehicle service {when}: relevant whatever the score ({score(r['score'])} < threshold "
        f"{score(r['threshold'])} on {r['channel']})"
    )


def _trade_in_age(r, _mv):
    years = int(round(r["years"]))
    article = "an" if str(years).startswith("8") or years in (11, 18) else "a"
    return (
        f"owns {article} {years}-year-old vehicle and this is a trade-in offer ({r['topic']}): relevant "
        f"whatever the score ({score(r['score'])} < threshold {score(r['threshold'])} on {r['channel']})"
    )


RULE = Rule(
    name="relevance",
    order=70,
    section="relevance_threshold",
    params=lambda p: {
        "relevance_threshold": p.relevance_threshold,
        "thresholds_by_stage": p.lifecycle.thresholds_by_stage,
    },
    lazy=("thresholds_by_stage",),
    codes=(
        Code(
            "no_model",
            "(note)",
            False,
            "no model yet: rules only",
            lambda r, _mv: "no trained model yet: relevance not checked, rules only",
        ),
        Code(
            "unknown_message",
            "(note)",
            False,
            "the model knows none of the message's features: relevance not checked",
            lambda r, mv: f"model {mv} knows none of this message's topics, channel or kind: relevance not checked",
        ),
        Code(
            "new_customer",
            "(note)",
            False,
            "the customer has no behavior yet: scored from attributes",
            lambda r, mv: f"no behavior for this customer in model {mv}: scored from attributes and population",
        ),
        Code(
            "irrelevant",
            "suppress",
            True,
            "calibrated score below the relevance threshold (per lead stage if configured)",
            _relevance("<"),
        ),
        Code("relevant", "(note)", False, "the score cleared the threshold", _relevance(">=")),
        Code(
            "service_due",
            "send",
            False,
            "a service message to a customer whose vehicle is due for service within "
            "`lifecycle.service_due_within`: relevant whatever the score",
            _service_due,
        ),
        Code(
            "trade_in_age",
            "send",
            False,
            "a trade-in offer (`lifecycle.trade_in_topics`) to the owner of a vehicle "
            "at least `lifecycle.trade_in_age_years` old: relevant whatever the score",
            _trade_in_age,
        ),
    ),
)
