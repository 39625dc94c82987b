"""Balance: sales asks balanced by value content; a suppressed ask gets the best-scoring value
content from the catalog as its `substitute`."""

from suppressor.rules import Code, Rule, duration


def _sentence(r, _mv):
    if "share" in r:
        return (
            f"sales share {r['share']:.2f} > {r['max']:.2f} over {duration(r['window_ms'])} "
            f"({r['sales']} of {r['total']} sends would be sales)"
        )
    return f"{r['between']} value messages since the last sales ask; the policy asks for {r['need']}"


RULE = Rule(
    name="balance",
    order=100,
    section="balance",
    params=lambda p: {
        "balance": {
            "enabled": p.balance.enabled,
            "max_sales_share": p.balance.max_sales_share,
            "min_value_between_sales": p.balance.min_value_between_sales,
            "window_ms": p.balance.window * 1000,
        }
    },
    lazy=("balance",),
    windows=lambda p: [p.balance.window],
    codes=(
        Code(
            "sales_balance",
            "suppress + `substitute`",
            True,
            "too many sales asks relative to value content; the "
            "best-scoring value content from the catalog is offered instead",
            _sentence,
        ),
    ),
)
