"""Lifecycle: no sales asks within the post-purchase quiet period or while a service order is open.
Its section also says what a customer's vehicles make relevant whatever the score (read by the
relevance rule): service due soon, an old car and a trade-in offer."""

from suppressor.rules import Code, Rule, ago


def _sentence(r, _mv):
    if r["gate"] == "post_purchase":
        return f"purchased {ago(r['days'])}: no sales asks within {r['quiet_days']:.0f} days of a purchase"
    return "a service order is open: no sales asks until it closes"


RULE = Rule(
    name="lifecycle",
    order=50,
    section="lifecycle",
    params=lambda p: {
        "lifecycle": {
            "post_purchase_quiet_ms": p.lifecycle.post_purchase_quiet * 1000,
            "block_sales_while_service_open": p.lifecycle.block_sales_while_service_open,
            "service_due_within_ms": p.lifecycle.service_due_within * 1000,
            "trade_in_age_years": p.lifecycle.trade_in_age_years,
            "trade_in_topics": p.lifecycle.trade_in_topics,
        }
    },
    lazy=("lifecycle",),
    codes=(
        Code(
            "lifecycle",
            "suppress",
            True,
            "a sales ask within the post-purchase quiet period, or while a service order is open",
            _sentence,
        ),
    ),
)
