"""Relevance, by the policy's ``objective``: the calibrated chance of engagement on the chosen channel
against the threshold (per lead stage if configured); or what sending adds to the chance of an outcome
(``uplift``) against ``uplift_threshold``; or what the send is worth (``value``: the uplift times the
revenue an outcome brings, less the chance of an unsubscribe times ``unsubscribe_cost``) against
``value_threshold``. The customer's vehicles make a message relevant whatever its numbers; notes when
there is no model, the message is unknown to it, the customer is new or there is no uplift to decide by."""

from suppressor.rules import Code, Rule, score


def _relevance(op: str):
    def sentence(r, _mv):
        stage = f" (lead stage {r['stage']})" if r.get("stage") else ""
        return f"score {score(r['score'])} {op} threshold {score(r['threshold'])}{stage} on {r['channel']}"

    return sentence


def points(x: float) -> str:
    """A difference of chances in percentage points, said as what sending does."""
    p = abs(x) * 100
    return f"adds {p:.1f} points" if x >= 0 else f"takes {p:.1f} points away"


def _lift(r) -> str:
    return (
        f"sending {points(r['uplift'])} of outcome chance on {r['channel']} "
        f"({r['with']:.1%} with, {r['without']:.1%} without)"
    )


def _uplift(op: str):
    def sentence(r, _mv):
        return f"{_lift(r)}: {op} the threshold of {r['threshold'] * 100:.1f} points"

    return sentence


def _value(op: str):
    def sentence(r, _mv):
        cur = r["currency"]
        return (
            f"expected value {r['value']:.2f} {cur}: {_lift(r)} x {r['rpo']:.2f} {cur} per outcome, less "
            f"{r['harm']:.2%} chance of an unsubscribe x {r['cost']:.2f} {cur}; {op} the threshold of "
            f"{r['threshold']:.2f} {cur}"
        )

    return sentence


def _overrode(r) -> str:
    """What a lifecycle reason made relevant anyway: the score, the uplift or the value below its threshold."""
    objective = r.get("objective", "engagement")
    if objective == "uplift":
        return f"whatever it adds ({_uplift('below')(r, None)})"
    if objective == "value":
        return f"whatever it is worth ({_value('below')(r, None)})"
    return f"whatever the score ({score(r['score'])} < threshold {score(r['threshold'])} on {r['channel']})"


def _service_due(r, _mv):
    when = f"overdue by {-r['days']:.0f} days" if r["days"] < 0 else f"due in {r['days']:.0f} days"
    return f"vehicle service {when}: relevant {_overrode(r)}"


def _trade_in_age(r, _mv):
    years = int(round(r["years"]))
    article = "an" if str(years).startswith("8") or years in (11, 18) else "a"
    return (
        f"owns {article} {years}-year-old vehicle and this is a trade-in offer ({r['topic']}): relevant {_overrode(r)}"
    )


RULE = Rule(
    name="relevance",
    order=70,
    section="relevance_threshold",
    params=lambda p: {
        "relevance_threshold": p.relevance_threshold,
        "thresholds_by_stage": p.lifecycle.thresholds_by_stage,
        "objective": p.objective.value,
        "uplift_threshold": p.uplift_threshold,
        "value_threshold": p.value_threshold,
        "unsubscribe_cost": -1 if p.unsubscribe_cost is None else p.unsubscribe_cost,  # -1: the model's measure
        "currency": p.currency,
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
            "no_uplift",
            "(note)",
            False,
            "objective uplift or value, but no uplift for this message (the reason given): decided on engagement",
            lambda r, _mv: f"no uplift on {r['channel']}: {r['why']}; decided on engagement",
        ),
        Code(
            "no_revenue",
            "(note)",
            False,
            "objective value, but the model measured no revenue per outcome (outcomes carried no amounts): "
            "decided on the uplift against `uplift_threshold`",
            lambda r, _mv: (
                f"no revenue per outcome measured yet (no amounts on the outcomes): decided on what sending adds on "
                f"{r['channel']}, against the uplift threshold of {r['threshold'] * 100:.1f} points"
            ),
        ),
        Code(
            "adds_little",
            "suppress",
            True,
            "objective uplift: what sending adds to the chance of an outcome is below `uplift_threshold`",
            _uplift("below"),
        ),
        Code(
            "adds", "(note)", False, "objective uplift: sending adds at least `uplift_threshold`", _uplift("at least")
        ),
        Code(
            "not_worth",
            "suppress",
            True,
            "objective value: the send's expected incremental revenue, less the unsubscribe it may cause, is "
            "below `value_threshold`",
            _value("below"),
        ),
        Code(
            "worth",
            "(note)",
            False,
            "objective value: the send is worth at least `value_threshold`",
            _value("at least"),
        ),
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
