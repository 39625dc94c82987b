"""Relevance: the tiny model's score against the threshold, and what makes a message relevant anyway."""

from suppressor.model import exported as models
from suppressor.rules import relevance
from tests.factories import tiny_uplift_model
from tests.suppressor.rules.contract import EMAIL_SMS_PUSH, Case, RuleContract

KNOWN = {"topics": ["a"]}  # the tiny model knows channel:email and topic:a
OLD_CAR = {"vin": "1FMCU9J98MUA12345", "year": 2010, "make": "ford", "model": "escape"}


def no_revenue(store, tenant, _cid):
    """The tiny uplift model of a tenant whose outcomes carried no amounts (visits only)."""
    model = tiny_uplift_model("v1")
    model.uplift.metrics = {"revenue_per_outcome": 0.0, "revenue_per_customer": 0.0, "qini": 0.1}
    models.save(store, tenant, model)


class TestRelevance(RuleContract):
    rule = relevance.RULE
    cases = [
        Case("no model yet", "send", "no_model"),
        Case(
            "a message the model knows nothing of",
            "send",
            "unknown_message",
            model=True,
            message={"channel": "sms", "topics": ["zzz"]},
        ),
        Case(
            "a new customer above the threshold",
            "send",
            "new_customer",
            model=True,
            message=KNOWN,
            policy={"relevance_threshold": 0.0},
        ),
        Case(
            "above the threshold",
            "send",
            "relevant",
            model=True,
            message=KNOWN,
            policy={"relevance_threshold": 0.0},
            says=">= threshold 0",
        ),
        Case(
            "below the threshold",
            "suppress",
            "irrelevant",
            model=True,
            message=KNOWN,
            policy={"relevance_threshold": 0.999},
            says="< threshold 0.999",
        ),
        Case(
            "objective uplift without an uplift model: decided on engagement",
            "send",
            "no_uplift",
            model=True,
            message=KNOWN,
            policy={"objective": "uplift", "relevance_threshold": 0.0},
            says="model v1 has none; decided on engagement",
        ),
        Case(
            "objective uplift: sending adds 1.2 points, the threshold is 1",
            "send",
            "adds",
            model="uplift",
            message=KNOWN,
            policy={"objective": "uplift", "uplift_threshold": 0.01},
            says="sending adds 1.2 points of outcome chance on email (6.1% with, 4.9% without)",
        ),
        Case(
            "objective uplift: sending adds 1.2 points, the threshold is 2",
            "suppress",
            "adds_little",
            model="uplift",
            message=KNOWN,
            policy={"objective": "uplift", "uplift_threshold": 0.02, "relevance_threshold": 0.0},
            says="below the threshold of 2.0 points",
        ),
        Case(
            "objective value: 1.2 points x 50 is worth more than 0.8% x an unsubscribe's 10",
            "send",
            "worth",
            model="uplift",
            message=KNOWN,
            policy={"objective": "value", "unsubscribe_cost": 10},
            says="expected value 0.52 USD",
        ),
        Case(
            "objective value: 1.2 points x 50 is worth less than 0.8% x the measured customer's 120",
            "suppress",
            "not_worth",
            model="uplift",
            message=KNOWN,
            policy={"objective": "value", "relevance_threshold": 0.0},
            says="expected value -0.36 USD",
        ),
        Case(
            "objective value with no revenue measured: decided on what sending adds",
            "send",
            "no_revenue",
            model="uplift",
            setup=no_revenue,
            message=KNOWN,
            policy={"objective": "value", "uplift_threshold": 0.01},
            says="decided on what sending adds on email, against the uplift threshold of 1.0 points",
        ),
        Case(
            "a service reminder due in ten days, below the threshold",
            "send",
            "service_due",
            model=True,
            message={**KNOWN, "kind": "service"},
            policy={"relevance_threshold": 0.999},
            customer={"consent": EMAIL_SMS_PUSH, "vehicles": [{**OLD_CAR, "next_service_due": "2026-11-28T16:00:00Z"}]},
            says="due in 10 days",
        ),
        Case(
            "a trade-in offer to a car from 2010, below the threshold",
            "send",
            "trade_in_age",
            model=True,
            message={"topics": ["a", "offer:trade-in"]},
            policy={"relevance_threshold": 0.999},
            customer={"consent": EMAIL_SMS_PUSH, "vehicles": [OLD_CAR]},
            says="-year-old vehicle and this is a trade-in offer",
        ),
    ]
