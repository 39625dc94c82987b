"""Caps: at most `max` sends on a channel (or any) in a window, per kind if given; every full cap
is listed and any one blocks. Counted in the sends ledger, atomically with the decision."""

from suppressor.rules import Code, Rule, cap

RULE = Rule(
    name="caps",
    order=90,
    section="caps",
    params=lambda p: {
        "caps": [
            {
                "channel": c.channel,
                "max": c.max,
                "window_ms": c.window * 1000,
                **({"kind": c.kind.value} if c.kind else {}),
            }
            for c in p.caps
        ]
    },
    lazy=("caps",),
    windows=lambda p: [c.window for c in p.caps],
    codes=(
        Code(
            "frequency_cap",
            "suppress",
            True,
            "a cap is full (every full cap is listed; the most restrictive wins)",
            lambda r, _mv: cap(r),
        ),
    ),
)
