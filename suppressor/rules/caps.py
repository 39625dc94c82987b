"""Caps: at most `max` sends on a channel (or any) in a window, per kind if given; every full cap
is listed and any one blocks. A cap may reserve its last slots for high priorities. Counted in the
sends ledger, atomically with the decision."""

from suppressor.rules import Code, Rule, cap, duration


def kept(r, whom: str = "") -> str:
    """A reserved slot refused: 'the last 1 of 3 sends on any channel in 7d is kept for priority 50+; ...'."""
    kind = f"{r['kind']} " if r.get("kind") else ""
    where = "on any channel" if r["channel"] == "any" else f"on {r['channel']}"
    n = r["slots"]
    return (
        f"the last {n} of {r['max']} {kind}sends {where}{whom} in {duration(r['window_ms'])} "
        f"{'is' if n == 1 else 'are'} kept for priority {r['min_priority']}+; this message is priority "
        f"{r['priority']} ({r['count']} sent)"
    )


RULE = Rule(
    name="caps",
    order=90,
    section="caps",
    params=lambda p: {
        "caps": [c.params() for c in p.caps],
        "priorities": {k.value: v for k, v in p.priorities.items()},
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
        Code(
            "reserved",
            "suppress",
            True,
            "the cap's last slots are reserved for higher priorities "
            "(`caps[].reserve`) and this message's priority is below them",
            lambda r, _mv: kept(r),
        ),
    ),
)
