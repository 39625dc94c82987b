"""Quiet hours: no sends between `start` and `end` in the customer's time zone (on the listed
channels, or all); `not_before` is when they end. Customers without a time zone are not held."""

from suppressor.rules import Code, Rule, hhmm, minutes

RULE = Rule(
    name="quiet_hours",
    order=130,
    section="quiet_hours",
    params=lambda p: {
        "quiet_hours": {
            "enabled": p.quiet_hours.enabled,
            "start_min": minutes(p.quiet_hours.start),
            "end_min": minutes(p.quiet_hours.end),
            **({"channels": p.quiet_hours.channels} if p.quiet_hours.channels is not None else {}),
        }
    },
    lazy=("quiet_hours",),
    codes=(
        Code(
            "quiet_hours",
            "defer",
            True,
            "quiet hours in the customer's time zone; `not_before` is when they end",
            lambda r, _mv: (
                f"{hhmm(r['local_min'])} local time is within quiet hours {hhmm(r['start'])}-{hhmm(r['end'])}"
            ),
        ),
    ),
)
