"""Cool-down: at least `min_gap` between any two sends to a customer."""

from suppressor.rules import Code, Rule, duration

RULE = Rule(
    name="cooldown",
    order=120,
    section="min_gap",
    params=lambda p: {"min_gap_ms": p.min_gap * 1000},
    windows=lambda p: [p.min_gap],
    codes=(
        Code(
            "cooldown",
            "defer",
            True,
            "too soon after the previous send (`min_gap`)",
            lambda r, _mv: (
                f"last send {duration(r['ago_ms'])} ago; the policy wants {duration(r['gap_ms'])} between sends"
            ),
        ),
    ),
)
