"""Send windows: a channel with windows sends only inside one of them, on their weekdays, in the
customer's local time (SMS 08:00-21:00 local, say), and no channel sends on a blackout date; a
send outside is deferred to the next opening (`not_before`), or suppressed when none opens within
31 days. Customers without a time zone are not held."""

from datetime import date

from suppressor.domain import WEEKDAYS as DAYS
from suppressor.rules import Code, Rule, hhmm, minutes

EPOCH = date(1970, 1, 1)


def _windows(ws: list[dict]) -> str:
    def days(w: dict) -> str:
        d = sorted(w["days"])
        if d == list(range(1, 8)):
            return "every day"
        if d == list(range(d[0], d[-1] + 1)) and len(d) > 2:
            return f"{DAYS[d[0] - 1].title()}-{DAYS[d[-1] - 1].title()}"
        return ", ".join(DAYS[x - 1].title() for x in d)

    return "; ".join(f"{days(w)} {hhmm(w['start_min'])}-{hhmm(w['end_min'])}" for w in ws)


def _sentence(r, _mv):
    when = f"{DAYS[r['weekday'] - 1].title()} {hhmm(r['local_min'])} local time"
    if r.get("blackout") is not None:
        why = f"{date.fromordinal(EPOCH.toordinal() + r['blackout']).isoformat()} is a blackout date"
    else:
        why = f"{when} is outside the {r['channel']} send windows ({_windows(r['windows'])})"
    return why + ("; no window opens within 31 days" if r.get("closed_days") else "")


RULE = Rule(
    name="send_windows",
    order=140,
    section="send_windows",
    params=lambda p: {
        "send_windows": {
            "windows": [
                {
                    "channel": w.channel,
                    "days": [DAYS.index(d) + 1 for d in w.days],
                    "start_min": minutes(w.start),
                    "end_min": minutes(w.end),
                }
                for w in p.send_windows.windows
            ],
            "blackout_dates": [(d - EPOCH).days for d in p.send_windows.blackout_dates],
        }
    },
    lazy=("send_windows",),
    codes=(
        Code(
            "send_window",
            "defer / suppress",
            True,
            "outside the channel's send windows (weekdays and hours in "
            "the customer's local time) or on a blackout date; `not_before` is the next opening",
            _sentence,
        ),
    ),
)
