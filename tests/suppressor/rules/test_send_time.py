"""Send time: a customer in Chicago who answers at 19:00 (planted curves), asked at 10:00 on the fixed
clock (a Wednesday): deferred to 19:00, or to the best hour quiet hours allow, or not at all."""

from datetime import UTC, datetime

import numpy as np

from suppressor.model import exported as models
from suppressor.model.exported import SEND_HOURS_FIELD, pack
from suppressor.rules import send_time
from suppressor.storage import keys
from tests.factories import tiny_model
from tests.suppressor.rules.contract import EMAIL_SMS_PUSH, Case, RuleContract

CHICAGO = {"consent": EMAIL_SMS_PUSH, "timezone": "America/Chicago"}
ON = {"send_time": {"optimize": True, "within": "24h"}}
WED = 2  # Monday is 0


def curve(**peaks: float) -> np.ndarray:
    """168 chances, flat but for ``h<hour>`` peaks on Wednesday (local time), summing to 1."""
    c = np.full(168, 0.002)
    for name, v in peaks.items():
        c[WED * 24 + int(name[1:])] = v
    return c / c.sum()


def own(c: np.ndarray):
    def setup(store, tenant, cid):
        store.bulk.hset(keys.vectors(tenant, cid), SEND_HOURS_FIELD, pack(c))

    return setup


def tenant_prior(c: np.ndarray):
    def setup(store, tenant, cid):
        m = tiny_model("v1")
        m.send_hours = [float(x) for x in c]
        models.save(store, tenant, m)
        models.activate(store, tenant, "v1")

    return setup


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


class TestSendTime(RuleContract):
    rule = send_time.RULE
    cases = [
        Case(
            "answers at 19:00, asked at 10:00",
            "defer",
            "send_time",
            policy=ON,
            customer=CHICAGO,
            setup=own(curve(h19=0.5)),
            not_before=utc(2026, 11, 19, 1),
            says="the customer answers",
        ),
        Case(
            "19:00 is in quiet hours: the next best hour",
            "defer",
            "send_time",
            customer=CHICAGO,
            policy={**ON, "quiet_hours": {"enabled": True, "start": "18:00", "end": "23:00"}},
            setup=own(curve(h19=0.5, h15=0.1)),
            not_before=utc(2026, 11, 18, 21),
            says="at 15:00 than at 10:00",
        ),
        Case("no hour much better", "send", None, policy=ON, customer=CHICAGO, setup=own(curve())),
        Case(
            "a new customer gets the tenant's curve",
            "defer",
            "send_time",
            policy=ON,
            customer=CHICAGO,
            setup=tenant_prior(curve(h19=0.5)),
            not_before=utc(2026, 11, 19, 1),
            says="customers like this one answer",
        ),
        Case("nothing learned: no made-up hour", "send", None, policy=ON, customer=CHICAGO),
        Case(
            "only on sms",
            "send",
            None,
            customer=CHICAGO,
            setup=own(curve(h19=0.5)),
            policy={"send_time": {**ON["send_time"], "channels": ["sms"]}},
        ),
        Case("off by default", "send", None, customer=CHICAGO, setup=own(curve(h19=0.5))),
        Case("a customer without a time zone is not held", "send", None, policy=ON, setup=own(curve(h19=0.5))),
    ]
