"""Send time: a send asked for at an hour the customer rarely answers is deferred to their best
hour within `send_time.within` that quiet hours and send windows allow, when that hour's chance of
an answer is at least `min_ratio` times the asked hour's. The chances per hour of the week, in the
customer's time zone, are learned at training from their opens, clicks and replies and pooled
toward the tenant's curve (training/send_hours.py); a customer with no history of their own gets
the tenant's curve, and a tenant with none gets no deferral (no made-up hour)."""

from suppressor.domain import WEEKDAYS
from suppressor.rules import Code, Rule, hhmm


def _sentence(r, _mv):
    who = "the customer answers" if r.get("own") else "customers like this one answer"
    same = r["at_day"] == r["now_day"]
    at = hhmm(r["at_min"]) if same else f"{WEEKDAYS[r['at_day'] - 1].title()} {hhmm(r['at_min'])}"
    asked = hhmm(r["now_min"]) if same else f"{WEEKDAYS[r['now_day'] - 1].title()} {hhmm(r['now_min'])}"
    return (
        f"{who} {r['ratio']:.1f}x more often at {at} than at {asked} in their time zone: "
        f"deferred to {at} on {r['channel']}"
    )


RULE = Rule(
    name="send_time",
    order=145,
    section="send_time",
    params=lambda p: {
        "send_time": {
            "optimize": p.send_time.optimize,
            "within_ms": p.send_time.within * 1000,
            "min_ratio": p.send_time.min_ratio,
            **({"channels": p.send_time.channels} if p.send_time.channels is not None else {}),
        }
    },
    lazy=("send_time",),
    codes=(
        Code(
            "send_time",
            "defer",
            True,
            "the customer answers far more often at another hour within "
            "`send_time.within` (their time zone, learned from their behavior and pooled toward the tenant's): "
            "`not_before` is that hour",
            _sentence,
        ),
    ),
)
