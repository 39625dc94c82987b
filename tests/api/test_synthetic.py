"""The demo world's planted truth, known answers: what a message does to each kind of customer, the
unsubscribed lost for good, opens in the active hours, fatigue; and the world's own counterfactual
(``planted_effects``) against what a randomized trial in it measures."""

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from suppressor.api import synthetic

NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
WINDOW = 3 * 86400
DOINGS = frozenset({"visited", "purchased", "service_visit", "converted"})  # what they do, clicks aside


@pytest.fixture(scope="module")
def trial():
    """1,500 customers, 8 weeks of shouting, then 14 days of daily campaigns where every message to a
    consenting customer is sent or, at random half the time, withheld (no suppressor: the world alone)."""
    d = synthetic.generate(1500, weeks=8, seed=11, end=NOW - timedelta(days=15))
    rng = np.random.default_rng(0)
    ingested: list[dict] = []

    consent = {c.customer_id: c.consent for c in d.customers}

    def decide(reqs, at):
        out = []
        for r in reqs:
            cid, channel = r["customer_id"], r["message"]["channel"]
            if d.lost_by(cid, at.timestamp()) or not consent[cid][channel]:
                out.append({"action": "suppress", "channel": None, "codes": ["consent"]})
            elif rng.random() < 0.5:
                out.append({"action": "suppress", "channel": channel, "codes": ["control"]})
            else:
                out.append({"action": "send", "channel": channel, "codes": []})
        return out

    counts = synthetic.run_campaigns(
        d, decide, ingested.extend, NOW - timedelta(days=15), 14, reach=0.6, until=NOW, campaign=lambda c, m: m.kind
    )
    return d, ingested, counts


def after(d, x, types):
    """Whether the customer did any of ``types`` within the window after exposure ``x``."""
    return any(o.realized and o.type in types for o in synthetic._after(d, x, x.at + WINDOW))


def rates(d, types):
    """Per planted response: (delivered, withheld) share of exposures followed by any of ``types``."""
    by_id = {c.customer_id: c for c in d.customers}
    seen = defaultdict(lambda: [[0, 0], [0, 0]])
    for x in d.exposures:
        if x.at + WINDOW <= NOW.timestamp():
            row = seen[by_id[x.customer_id].response][x.withheld]
            row[0] += 1
            row[1] += after(d, x, types)
    return {r: (s[0][1] / s[0][0], s[1][1] / s[1][0]) for r, s in seen.items()}


def test_persuadables_act_when_messaged_sure_things_either_way_lost_causes_never(trial):
    d, _, counts = trial
    assert counts["sends"] > 4000 and counts["withheld"] > 4000
    r = rates(d, DOINGS)
    sent, held = r["persuadable"]
    # withheld, a persuadable still acts on the other messages of those days: the difference is this one's
    assert sent > 0.1 and sent > 2 * held
    sure_sent, sure_held = r["sure_thing"]
    assert sure_held > 0.1 and abs(sure_sent - sure_held) < 0.03  # they come whether messaged or not
    assert r["lost_cause"][0] < 0.01 and r["lost_cause"][1] < 0.01


def test_messages_put_the_pushed_away_off_what_they_would_have_done():
    """Their own visits and purchases happen with chance ANNOYANCE ** (messages in the 14 days before);
    everyone else's happen whatever they were sent."""
    d = synthetic.generate(40, weeks=1, seed=2)
    pushed = next(c for c in d.customers if c.response == "pushed_away")
    sure = next(c for c in d.customers if c.response == "sure_thing")
    t = NOW.timestamp()
    rng = np.random.default_rng(1)
    own = [synthetic.Outcome(t, "purchased", 30_000.0, None, float(u)) for u in rng.random(4000)]
    for c in (pushed, sure):
        d.delivered[c.customer_id] = [t - 20 * 86400, t - 5 * 86400, t - 3600]  # the first too long ago
    assert np.mean([d.happens(pushed, o) for o in own]) == pytest.approx(synthetic.ANNOYANCE**2, abs=0.03)
    assert np.mean([d.happens(pushed, o, drop=t - 3600) for o in own]) == pytest.approx(synthetic.ANNOYANCE, abs=0.03)
    assert np.mean([d.happens(pushed, o, add=t - 60) for o in own]) == pytest.approx(synthetic.ANNOYANCE**3, abs=0.03)
    assert all(d.happens(sure, o) for o in own)


def test_the_planted_effect_is_what_the_randomized_trial_measures(trial):
    """Per response, the world's own counterfactual (with the message against without it, for every
    exposure) within three standard errors of the trial's delivered-minus-withheld difference."""
    d, _, _ = trial
    by_id = {c.customer_id: c for c in d.customers}
    until = NOW - timedelta(seconds=WINDOW)  # whole windows only
    planted = synthetic.planted_effects(d, WINDOW, NOW, lambda x: by_id[x.customer_id].response)
    outcome = synthetic.OUTCOME_TYPES | {"clicked"}
    seen = defaultdict(lambda: {True: [], False: []})
    for x in d.exposures:
        if x.at <= until.timestamp():
            seen[by_id[x.customer_id].response][x.withheld].append(after(d, x, outcome))
    for response, arms in seen.items():
        a, b = np.array(arms[False]), np.array(arms[True])
        se = math.sqrt(a.var() / len(a) + b.var() / len(b))
        assert abs(a.mean() - b.mean() - planted[response]["outcome"]) < 3 * se + 0.01, response
    assert planted["persuadable"]["revenue"] > 100 > abs(planted["sure_thing"]["revenue"])
    assert planted["lost_cause"]["revenue"] == 0 and planted["pushed_away"]["revenue"] < 0


def test_an_unsubscribed_customer_is_lost_for_good(trial):
    d, ingested, _ = trial
    everything = defaultdict(list)
    for e in d.events + ingested:
        everything[e["customer_id"]].append(e)
    governed_losses = [cid for cid, (_, cause) in d.lost.items() if cause is not None]
    assert len(d.lost) > 50 and len(governed_losses) > 10
    by_id = {c.customer_id: c for c in d.customers}
    for cid, (at, _) in d.lost.items():
        left = [e for e in everything[cid] if e["type"] in synthetic.UNSUBSCRIBES and synthetic._epoch(e["ts"]) == at]
        # from every list they were on, at once (or a complaint about one, and the rest)
        assert {e["channel"] for e in left} == {ch for ch, ok in by_id[cid].consent.items() if ok}
        later = [e for e in everything[cid] if synthetic._epoch(e["ts"]) > at]
        assert later == [], (cid, later[:3])  # no more sends, no more purchases
    # the world stops writing to them: every later ask about them was refused (consent), none delivered
    lost_after = {x.customer_id for x in d.exposures if d.lost_by(x.customer_id, x.at) and not x.withheld}
    assert lost_after == set()


def test_opens_come_in_the_active_hours_and_a_send_in_them_is_opened_more(trial):
    d, _, _ = trial
    by_id = {c.customer_id: c for c in d.customers}
    delivered = {}
    opened_at = {}
    for e in d.events:
        if e.get("channel") in (None, "direct_mail"):
            continue
        key = (e["customer_id"], e["message_id"]) if e.get("message_id") else None
        if e["type"] == "delivered":
            delivered[key] = synthetic._epoch(e["ts"])
        elif e["type"] == "opened":
            opened_at[key] = synthetic._epoch(e["ts"])
    near = [
        synthetic.hour_distance(by_id[c].local_hour(t), by_id[c].active_hour) <= 1 for (c, _), t in opened_at.items()
    ]
    assert np.mean(near) > 0.75  # a fifth of opens come at any hour; the rest in the hour either side
    landed = defaultdict(lambda: [0, 0])
    for key, t in delivered.items():
        row = landed[by_id[key[0]].in_active_hours(t)]
        row[0] += 1
        row[1] += key in opened_at
    in_hours, off_hours = (landed[k][1] / landed[k][0] for k in (True, False))
    assert in_hours > 1.5 * off_hours


def test_fatigue_and_active_hours_in_the_chance_to_engage():
    d = synthetic.generate(20, weeks=1, seed=1)
    c, m = d.customers[0], d.messages[0]
    assert d.logit(c, m, "email", recent=6) == pytest.approx(d.logit(c, m, "email") - 4 * synthetic.FATIGUE)
    assert d.logit(c, m, "email", recent=2) == d.logit(c, m, "email")  # the first two are free
    zone = synthetic._zone(c.timezone)
    active = datetime(2026, 11, 18, c.active_hour, 30, tzinfo=zone).timestamp()
    asleep = datetime(2026, 11, 18, (c.active_hour + 12) % 24, 30, tzinfo=zone).timestamp()
    assert d.logit(c, m, "email", at=active) - d.logit(c, m, "email", at=asleep) == pytest.approx(
        synthetic.ACTIVE_BONUS
    )
