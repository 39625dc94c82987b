"""Fatigue: a streak of unanswered messages on a channel rests it: one send per cool-down until the
customer engages."""

from suppressor.rules import Code, Rule, duration

RULE = Rule(
    name="fatigue",
    order=110,
    section="fatigue",
    params=lambda p: {
        "fatigue": {
            "enabled": p.fatigue.enabled,
            "ignore_streak": p.fatigue.ignore_streak,
            "unanswered_after_ms": p.fatigue.unanswered_after * 1000,
            "cooldown_ms": p.fatigue.cooldown * 1000,
        }
    },
    lazy=("fatigue",),
    windows=lambda p: [p.fatigue.cooldown],
    codes=(
        Code(
            "fatigue",
            "defer",
            True,
            "a streak of unanswered messages on the channel: one send per cool-down until the customer engages",
            lambda r, _mv: (
                f"{r['streak']} unanswered {r['channel']} messages in a row (threshold {r['need']}): "
                f"one send per {duration(r['cool_ms'])} until the customer engages"
            ),
        ),
    ),
)
