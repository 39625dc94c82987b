"""A synthetic dealership with planted, hidden truth, for the quickstart, tests and benchmarks.

Each customer has real interests (a segment, a make, offers that fit their stage on the
90/60/30-day shopping cycle, kinds of value content), a channel they answer, an hour of the day
they are active in their time zone, and a way a message changes what they do (their response):

- sure things visit, buy and come in for service whether messaged or not (and open much of what
  they are sent);
- persuadables do so mostly when a message they open asks them (a click on a sales offer ends in a
  purchase, likelier the closer they are to buying; an opened service reminder brings the car in);
- lost causes do neither;
- the pushed away visit and buy on their own, but a message raises their chance to unsubscribe and
  makes them buy less for the two weeks after it.

Visits, purchases and service visits happen on the customer's own schedule (naming no message) or
because of a message (naming it); the amounts are on the events. Opens come in the customer's
active hours, and a send that lands in them is opened more; many sends in a week lower engagement
(fatigue). An unsubscribed customer is lost for good: they unsubscribe from every channel and
buy nothing more. The dealership first "shouts" (random messages on random consented channels for
weeks), then may be governed by suppressor (``run_campaigns``), with a randomized control whose
planted effect the world computes from its own counterfactuals (``planted_effects``).
"""

from __future__ import annotations

import bisect
import heapq
import math
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

SEGMENTS = ("suv", "sedan", "truck", "ev", "minivan")
MAKES = ("toyota", "ford", "honda", "chevrolet", "hyundai")
MODELS = {
    ("toyota", "suv"): "RAV4",
    ("toyota", "sedan"): "Camry",
    ("toyota", "truck"): "Tacoma",
    ("toyota", "ev"): "bZ4X",
    ("toyota", "minivan"): "Sienna",
    ("ford", "suv"): "Explorer",
    ("ford", "sedan"): "Fusion",
    ("ford", "truck"): "F-150",
    ("ford", "ev"): "Mustang Mach-E",
    ("ford", "minivan"): "Transit Connect",
    ("honda", "suv"): "CR-V",
    ("honda", "sedan"): "Civic",
    ("honda", "truck"): "Ridgeline",
    ("honda", "ev"): "Prologue",
    ("honda", "minivan"): "Odyssey",
    ("chevrolet", "suv"): "Equinox",
    ("chevrolet", "sedan"): "Malibu",
    ("chevrolet", "truck"): "Silverado",
    ("chevrolet", "ev"): "Bolt",
    ("chevrolet", "minivan"): "Express",
    ("hyundai", "suv"): "Tucson",
    ("hyundai", "sedan"): "Elantra",
    ("hyundai", "truck"): "Santa Cruz",
    ("hyundai", "ev"): "Ioniq 5",
    ("hyundai", "minivan"): "Staria",
}
OFFERS = ("auto-loan", "lease", "trade-in", "cash-back")
CONTENT = ("service-reminder", "safety-clinic", "feature-tutorial", "event")
CHANNELS = ("email", "sms", "push", "direct_mail")
STAGES = ("researching", "shopping", "ready", "owner")
AGE_BANDS = ("18-34", "35-54", "55+")
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
# Which offers fit which stage of the shopping cycle (90/60/30 days out, or owning).
STAGE_OFFERS = {"researching": (), "shopping": ("lease", "trade-in"), "ready": ("auto-loan", "cash-back"), "owner": ()}
STAGE_SALES = {"researching": -0.8, "shopping": 0.0, "ready": 0.6, "owner": -1.2}
# What a message a persuadable opens makes them do: a click on a sales offer ends in a purchase this
# often, by stage; an opened service reminder brings the car in this often; any open, a visit.
STAGE_BUYS = {"researching": 0.06, "shopping": 0.15, "ready": 0.35, "owner": 0.04}
SERVICE_VISIT = 0.35
CAUSED_VISIT = 0.4
PRICE = (22_000, 58_000)
SERVICE_BILL = (90, 900)
BASE_LOGIT = -2.4

RESPONSES = ("sure_thing", "persuadable", "lost_cause", "pushed_away")
# The response mix by lead stage (sure, persuadable, lost, pushed away): the ready buy anyway more
# often, the researching can be persuaded, owners are lost causes or pushed away.
RESPONSE_MIX = {
    "researching": (0.10, 0.50, 0.30, 0.10),
    "shopping": (0.25, 0.45, 0.15, 0.15),
    "ready": (0.45, 0.30, 0.10, 0.15),
    "owner": (0.20, 0.15, 0.30, 0.35),
}
ENGAGE_SHIFT = {"sure_thing": 0.8, "persuadable": 0.3, "lost_cause": -0.8, "pushed_away": 0.0}
# Outcomes on the customer's own schedule, per week: visits, purchases, service visits.
ORGANIC = {
    "sure_thing": (0.30, 0.03, 0.05),
    "persuadable": (0.03, 0.002, 0.005),
    "lost_cause": (0.01, 0.0, 0.0),
    "pushed_away": (0.20, 0.025, 0.05),
}
ANNOYANCE = 0.6  # the chance a pushed-away customer's own outcome still happens, per message in the 14 days before
ANNOYANCE_DAYS = 14
PUSHED_AWAY_UNSUBSCRIBE = 0.01  # their extra chance, per message they do not open, to unsubscribe
UNSUBSCRIBE_RATE = 0.0008  # everyone's chance to unsubscribe, per unit of negative log-odds of engaging
# Active hours: the local hour each customer is active around, drawn by age band.
ACTIVE_HOURS = {"18-34": (18, 19, 20), "35-54": (8, 12, 13, 19), "55+": (9, 10, 11, 14)}
STRAY_OPENS = 0.2  # the share of opens at any hour, 0.5-30 h after the send
ACTIVE_BONUS = 1.0  # log-odds added to engaging with a message delivered within an hour of it
FATIGUE_FREE = 2  # deliveries in the 7 days before a send that cost nothing
FATIGUE = 0.3  # log-odds off engaging per delivery beyond those
OUTCOME_TYPES = frozenset({"visited", "converted", "purchased", "service_visit", "attended", "replied"})
MONEY = frozenset({"purchased", "converted", "service_visit"})
UNSUBSCRIBES = frozenset({"unsubscribed", "complained"})
DAY = 86400.0


@dataclass
class Customer:
    """One synthetic customer: what the dealership knows and the hidden truth."""

    customer_id: str
    attributes: dict
    consent: dict[str, bool]
    preferred_channel: str | None
    timezone: str
    true_segment: str
    true_make: str
    true_channel: str
    topic_weights: dict[str, float] = field(default_factory=dict)
    household_id: str | None = None
    service_due_days: int = 90  # the vehicle's next service, from the day the profile is loaded
    response: str = "persuadable"  # how a message changes what they do (RESPONSES)
    active_hour: int = 12  # the local hour they are active around (opens come then)

    def profile(self, now: datetime | None = None) -> dict:
        """The PUT /v1/customers body (what the dealership knows): attributes, consent, the
        household and the vehicle with its next service."""
        now = now or datetime.now(UTC)
        a = self.attributes
        vehicle = {
            "year": a["vehicle_year"],
            "make": a["make"],
            "segment": a["segment"],
            "model": a["vehicle"].split(" ", 2)[2],
            "next_service_due": (now + timedelta(days=self.service_due_days)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        body = {"attributes": a, "consent": self.consent, "timezone": self.timezone, "vehicles": [vehicle]}
        if self.preferred_channel:
            body["preferred_channel"] = self.preferred_channel
        if self.household_id:
            body["household_id"] = self.household_id
        return body

    def local_hour(self, ts: float) -> int:
        """The hour of the day on the customer's clock at unix time ``ts``."""
        return datetime.fromtimestamp(ts, _zone(self.timezone)).hour

    def in_active_hours(self, ts: float) -> bool:
        """True when ``ts`` is within an hour of the customer's active hour, on their clock."""
        return hour_distance(self.local_hour(ts), self.active_hour) <= 1


def hour_distance(a: int, b: int) -> int:
    """Hours between two hours of the day, around the clock."""
    d = abs(a - b) % 24
    return min(d, 24 - d)


@cache
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


@dataclass
class Message:
    """One campaign message of the synthetic catalog."""

    message_id: str
    kind: str
    topics: list[str]
    campaign_id: str

    def on(self, channel: str) -> dict:
        """The message as a decision request's ``message`` on one channel."""
        return {
            "message_id": f"{self.message_id}-{channel}",
            "campaign_id": self.campaign_id,
            "channel": channel,
            "kind": self.kind,
            "topics": self.topics,
        }


@dataclass
class Outcome:
    """An outcome the world drew for a customer (or a click, the outcome of its own message): its
    time, type, amount, the message that caused it (None: their own schedule), and for those on their
    own schedule the draw that decides whether it happens (``u < ANNOYANCE ** recent messages``)."""

    ts: float
    type: str
    amount: float
    cause: str | None
    u: float | None = None
    realized: bool = True


@dataclass
class Exposure:
    """One governed message to one customer: delivered, or withheld by the control (then ``potential``
    holds the events it would have caused)."""

    customer_id: str
    at: float
    message_id: str
    campaign_id: str
    kind: str
    withheld: bool
    potential: list[dict] = field(default_factory=list)
    opened: bool = False


@dataclass
class Dealership:
    """The synthetic world: customers, catalog, behavior, and the truth and state behind it."""

    customers: list[Customer]
    messages: list[Message]
    events: list[dict]
    start: datetime
    end: datetime
    rng: np.random.Generator
    delivered: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # delivery times, sorted
    lost: dict[str, tuple[float, str | None]] = field(default_factory=dict)  # unsubscribed: (when, message)
    outcomes: dict[str, list[Outcome]] = field(default_factory=lambda: defaultdict(list))  # governed period
    exposures: list[Exposure] = field(default_factory=list)

    def logit(self, c: Customer, m: Message, channel: str, at: float | None = None, recent: int = 0) -> float:
        """The hidden truth: log-odds that ``c`` engages with ``m`` on ``channel`` (delivered at unix
        time ``at``, in their active hours or not; ``recent`` deliveries in the 7 days before)."""
        z = BASE_LOGIT + sum(c.topic_weights.get(t, 0.0) for t in m.topics)
        z += 1.6 if channel == c.true_channel else -1.0
        if m.kind == "sales":
            z += STAGE_SALES[c.attributes["lead_stage"]]
        if m.kind == "service" and c.service_due_days <= 30:  # due soon: a reminder is welcome
            z += 1.0
        z += ENGAGE_SHIFT[c.response]
        if at is not None and channel != "direct_mail" and c.in_active_hours(at):
            z += ACTIVE_BONUS
        return z - FATIGUE * max(0, recent - FATIGUE_FREE)

    def p_engage(self, c: Customer, m: Message, channel: str, at: float | None = None, recent: int = 0) -> float:
        """The hidden truth as a probability."""
        return float(1 / (1 + np.exp(-self.logit(c, m, channel, at, recent))))

    def recent(self, cid: str, ts: float, days: float = 7) -> int:
        """Deliveries to ``cid`` in the ``days`` before unix time ``ts``."""
        times = self.delivered.get(cid, [])
        return bisect.bisect_left(times, ts) - bisect.bisect_left(times, ts - days * DAY)

    def lost_by(self, cid: str, ts: float) -> bool:
        """True when ``cid`` unsubscribed before unix time ``ts``."""
        lost = self.lost.get(cid)
        return lost is not None and lost[0] < ts

    def happens(self, c: Customer, o: Outcome, add: float | None = None, drop: float | None = None) -> bool:
        """Whether an outcome on the customer's own schedule happens past the messages of the 14 days
        before it (they put the pushed away off); ``add`` or ``drop``: with one more delivery at that
        time, or without the one there (the world's counterfactuals)."""
        if c.response != "pushed_away" or o.u is None:
            return True
        k = self.recent(c.customer_id, o.ts, ANNOYANCE_DAYS)
        for at, step in ((add, 1), (drop, -1)):
            if at is not None and o.ts - ANNOYANCE_DAYS * DAY <= at < o.ts:
                k += step
        return o.u < ANNOYANCE**k


def make_customer(i: int, rng: np.random.Generator) -> Customer:
    """One customer with planted truth (also used by the benchmarks to add profile-only customers)."""
    household = int(rng.integers(1, 7))
    age = AGE_BANDS[rng.choice(3, p=[0.3, 0.4, 0.3])]
    stage = STAGES[rng.choice(4, p=[0.25, 0.25, 0.2, 0.3])]
    # family size steers the segment they really want
    seg_p = np.array([1.5, 3, 1.5, 2.5, 0.2]) if household <= 2 else np.array([3, 0.7, 1.5, 0.7, 3])
    true_segment = SEGMENTS[rng.choice(5, p=seg_p / seg_p.sum())]
    current_make = MAKES[rng.integers(5)]
    true_make = current_make if rng.random() < 0.6 else MAKES[rng.integers(5)]
    current_segment = true_segment if rng.random() < 0.4 else SEGMENTS[rng.integers(5)]
    ch_p = {"18-34": [0.2, 0.5, 0.25, 0.05], "35-54": [0.55, 0.2, 0.1, 0.15], "55+": [0.35, 0.05, 0.05, 0.55]}[age]
    true_channel = CHANNELS[rng.choice(4, p=ch_p)]
    weights = {f"segment:{s}": (1.6 if s == true_segment else -0.6) for s in SEGMENTS}
    weights.update({f"make:{m}": (1.0 if m == true_make else -0.3) for m in MAKES})
    weights.update({f"offer:{o}": (0.8 if o in STAGE_OFFERS[stage] else -0.4) for o in OFFERS})
    content = {
        "service-reminder": 1.2 if stage == "owner" else -0.5,
        "safety-clinic": 0.9 if household >= 3 else -0.5,
        "feature-tutorial": 0.9 if age == "18-34" else -0.3,
        "event": float(rng.normal(0, 0.6)),
    }
    weights.update({f"content:{k}": v for k, v in content.items()})
    consent = {ch: bool(ch == true_channel or rng.random() < 0.6) for ch in CHANNELS}
    consent["email"] = consent["email"] or rng.random() < 0.8
    year = int(rng.integers(2012, 2025))
    attributes = {
        "vehicle": f"{year} {current_make.title()} {MODELS[(current_make, current_segment)]}",
        "make": current_make,
        "segment": current_segment,
        "vehicle_year": year,
        "household_size": household,
        "age_band": age,
        "lead_stage": stage,
        "zip": f"{int(rng.integers(600, 700)):03d}{int(rng.integers(0, 100)):02d}",
    }
    preferred = true_channel if rng.random() < 0.3 else None
    timezone = ZONES[rng.integers(len(ZONES))]
    hours = ACTIVE_HOURS[age]
    # one in six is active at any hour of the day the dealership may write (08:00-20:00)
    active = int(rng.integers(8, 21)) if rng.random() < 1 / 6 else hours[rng.integers(len(hours))]
    return Customer(
        customer_id=f"c-{i:06d}",
        attributes=attributes,
        consent=consent,
        preferred_channel=preferred,
        timezone=timezone,
        true_segment=true_segment,
        true_make=true_make,
        true_channel=true_channel,
        topic_weights=weights,
        # two in five customers live in pairs (a couple, a parent and a grown child): no random draw,
        # so the rest of the world is the same with or without households
        household_id=f"hh-{i // 2:06d}" if i % 10 < 4 else None,
        service_due_days=(i * 37) % 210 - 30,
        response=RESPONSES[rng.choice(4, p=RESPONSE_MIX[stage])],
        active_hour=active,
    )


def catalog(rng: np.random.Generator, n_sales: int = 40) -> list[Message]:
    """Sales offers (segment x make x offer) and value content (service, clinics, tutorials, events)."""
    msgs = []
    for i in range(n_sales):
        seg, make, offer = SEGMENTS[rng.integers(5)], MAKES[rng.integers(5)], OFFERS[rng.integers(4)]
        msgs.append(
            Message(f"m-s{i:03d}", "sales", [f"segment:{seg}", f"make:{make}", f"offer:{offer}"], f"sales-{offer}")
        )
    for i, content in enumerate(CONTENT * 4):
        topics = [f"content:{content}"]
        if content in ("service-reminder", "feature-tutorial"):
            topics.append(f"make:{MAKES[i % 5]}")
        if content == "safety-clinic":
            topics.append(f"segment:{SEGMENTS[i % 5]}")
        kind = "service" if content == "service-reminder" else "value"
        msgs.append(Message(f"m-v{i:03d}", kind, topics, f"value-{content}"))
    return msgs


def generate(
    n_customers: int = 2000,
    weeks: int = 16,
    sends_per_week: float = 2.5,
    seed: int = 42,
    end: datetime | None = None,
    control: float = 0.0,
) -> Dealership:
    """Customers, a message catalog and ``weeks`` of simulated behavior ending at ``end``: the
    dealership sends at random, and stops writing to whoever unsubscribed; ``control``: the share of
    its sends it withheld at random (a ``withheld`` event each: a past campaign's control group)."""
    rng = np.random.default_rng(seed)
    end = end or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    start = end - timedelta(weeks=weeks)
    customers = [make_customer(i, rng) for i in range(n_customers)]
    messages = catalog(rng)
    d = Dealership(customers, messages, [], start, end, rng)
    t0, t1 = start.timestamp(), end.timestamp()
    for c in customers:
        channels = [ch for ch in CHANNELS if c.consent[ch]]
        n = int(rng.poisson(sends_per_week * weeks))
        # leave room for the outcome (a purchase comes up to 3 days after the send)
        times = np.sort(t0 + rng.random(n) * (t1 - t0 - 4 * DAY))
        picks, chans = rng.integers(len(messages), size=n), rng.integers(len(channels), size=n)
        mine: list[dict] = []
        lost_at = math.inf
        for k in range(n):
            ts = float(times[k])
            if ts >= lost_at:
                break  # lost for good: no more sends
            m, ch = messages[picks[k]], channels[chans[k]]
            at = datetime.fromtimestamp(ts, UTC)
            mid = f"{m.message_id}-{ch}-w{int((ts - t0) // (7 * DAY))}"  # one campaign send per week
            if control and rng.random() < control:  # withheld: no message, only their own schedule
                mine.append(_event(f"{c.customer_id}-{k}-h", c.customer_id, "withheld", at, ch, mid, m.kind, m.topics))
                continue
            evs = _outcome(d, c, m, ch, at, f"{c.customer_id}-{k}", mid, recent=d.recent(c.customer_id, ts))
            d.delivered[c.customer_id].append(ts)
            lost_at = min(lost_at, _unsubscribed_at(evs))
            mine += evs
        if lost_at < math.inf:
            d.lost[c.customer_id] = (lost_at, None)
            mine = [e for e in mine if _epoch(e["ts"]) <= lost_at]  # nothing after they left but the leaving
        for o, ev in _own_schedule(d, c, start, end, "h"):
            if not d.lost_by(c.customer_id, o.ts) and d.happens(c, o):
                mine.append(ev)
        d.events.extend(mine)
    d.events.sort(key=lambda e: e["ts"])
    return d


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts).timestamp()  # the events' own "...Z" text


def _unsubscribed_at(evs: list[dict]) -> float:
    return min((_epoch(e["ts"]) for e in evs if e["type"] in UNSUBSCRIBES), default=math.inf)


def _own_schedule(d: Dealership, c: Customer, start: datetime, end: datetime, tag: str) -> list[tuple[Outcome, dict]]:
    """The outcomes on the customer's own schedule from ``start`` to ``end`` (naming no message), each
    with its event; whether each happens is decided when it is due (``Dealership.happens``)."""
    visits, buys, services = ORGANIC[c.response]
    weeks = (end - start).total_seconds() / (7 * DAY)
    t0 = start.timestamp()
    out: list[tuple[Outcome, dict]] = []
    for typ, rate in (("visited", visits), ("purchased", buys), ("service_visit", services)):
        for _ in range(int(d.rng.poisson(rate * weeks))):
            ts = t0 + float(d.rng.random()) * weeks * 7 * DAY
            at = datetime.fromtimestamp(ts, UTC)
            topics = (
                ["content:service-reminder"]
                if typ == "service_visit"
                else [f"segment:{c.true_segment}", f"make:{c.true_make}"]
            )
            kind = "service" if typ == "service_visit" else "value" if typ == "visited" else None
            ev = _event(f"{c.customer_id}-{tag}{len(out)}", c.customer_id, typ, at, None, None, kind, topics)
            amount = 0.0
            if typ in MONEY:
                amount = round(float(d.rng.uniform(*(PRICE if typ == "purchased" else SERVICE_BILL))), 2)
                ev["properties"] = {"amount": amount}
            out.append((Outcome(ts, typ, amount, None, float(d.rng.random())), ev))
    return out


def _event(
    eid: str,
    cid: str,
    typ: str,
    ts: datetime,
    channel: str | None,
    message_id: str | None,
    kind: str | None,
    topics: list[str],
    campaign_id: str | None = None,
) -> dict:
    ev = {"event_id": eid, "customer_id": cid, "type": typ, "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "topics": topics}
    if channel:
        ev["channel"] = channel
    if message_id:
        ev["message_id"] = message_id
    if campaign_id:
        ev["campaign_id"] = campaign_id
    if kind:
        ev["kind"] = kind
    return ev


def _open_at(c: Customer, ts: datetime, rng: np.random.Generator) -> datetime:
    """When a message delivered at ``ts`` is opened: soon, in the customer's active hours, or at the
    next time those come round on their clock (a few at any hour)."""
    if rng.random() < STRAY_OPENS:
        return ts + timedelta(hours=float(rng.uniform(0.5, 30)))
    if c.in_active_hours(ts.timestamp()):
        return ts + timedelta(minutes=float(rng.uniform(2, 50)))
    local = ts.astimezone(_zone(c.timezone))
    target = local.replace(hour=c.active_hour, minute=0, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    return target.astimezone(UTC) + timedelta(minutes=float(rng.uniform(0, 50)))


def _outcome(
    d: Dealership,
    c: Customer,
    m: Message,
    ch: str,
    ts: datetime,
    eid: str,
    mid: str | None = None,
    complaints: bool = False,
    unsubscribe_rate: float = UNSUBSCRIBE_RATE,
    recent: int = 0,
    campaign_id: str | None = None,
) -> list[dict]:
    """What ``c`` does about ``m`` delivered on ``ch`` at ``ts``, by their hidden truth: the delivery,
    an open and a click (in their active hours), what a persuadable then does; or, unopened, maybe an
    unsubscribe from every channel (likelier the less the message fits, and for the pushed away)."""
    mid = mid or f"{m.message_id}-{ch}-w{int((ts - d.start).days // 7)}"  # one campaign send per week
    base: dict[str, Any] = dict(cid=c.customer_id, channel=ch, message_id=mid, kind=m.kind, topics=m.topics)
    base["campaign_id"] = campaign_id
    out = [_event(f"{eid}-d", typ="delivered", ts=ts, **base)]
    z = d.logit(c, m, ch, ts.timestamp(), recent)
    rng = d.rng
    if rng.random() < 1 / (1 + math.exp(-z)):
        opened = _open_at(c, ts, rng) if ch != "direct_mail" else ts + timedelta(hours=float(rng.uniform(4, 30)))
        out.append(_event(f"{eid}-o", typ="opened", ts=opened, **base))
        clicked = rng.random() < 0.5
        if clicked:
            out.append(_event(f"{eid}-c", typ="clicked", ts=opened + timedelta(minutes=3), **base))
        if c.response != "persuadable":
            return out  # the sure things buy anyway, the others never or less
        if rng.random() < CAUSED_VISIT:
            out.append(
                _event(f"{eid}-w", typ="visited", ts=opened + timedelta(hours=float(rng.uniform(1, 30))), **base)
            )
        if clicked and m.kind == "sales":
            if rng.random() < 0.08:
                out.append(_event(f"{eid}-v", typ="converted", ts=opened + timedelta(days=1), **base))
            if rng.random() < STAGE_BUYS[c.attributes["lead_stage"]]:
                buy = _event(f"{eid}-p", typ="purchased", ts=opened + timedelta(days=2), **base)
                buy["properties"] = {"amount": round(float(rng.uniform(*PRICE)), 2)}
                out.append(buy)
        if m.kind == "service" and rng.random() < SERVICE_VISIT:
            visit = _event(f"{eid}-s", typ="service_visit", ts=opened + timedelta(days=2), **base)
            visit["properties"] = {"amount": round(float(rng.uniform(*SERVICE_BILL)), 2)}
            out.append(visit)
        return out
    chance = unsubscribe_rate * max(0.0, -z) + (PUSHED_AWAY_UNSUBSCRIBE if c.response == "pushed_away" else 0.0)
    if rng.random() < chance:
        later = ts + timedelta(hours=float(rng.uniform(0.5, 30)))
        if complaints and rng.random() < 0.15:  # some mark it as spam instead
            out.append(_event(f"{eid}-x", typ="complained", ts=later, **base))
        else:  # the footer link
            out.append(_event(f"{eid}-u", typ="unsubscribed", ts=later, **base))
            out[-1]["properties"] = {"scope": "channel"}
        for k, other in enumerate(x for x in CHANNELS if x != ch and c.consent[x]):  # and every other list they are on
            unsub = _event(f"{eid}-u{k}", c.customer_id, "unsubscribed", later, other, None, None, [])
            unsub["properties"] = {"scope": "channel"}
            out.append(unsub)
    return out


CAMPAIGN_CHANNELS = (("email", 0.6), ("sms", 0.15), ("push", 0.15), ("direct_mail", 0.1))


@dataclass
class _Ask:
    at: datetime
    seq: int
    customer: Customer = field(compare=False)
    message: Message = field(compare=False)
    request: dict = field(compare=False)
    first: datetime = field(compare=False)

    def __lt__(self, other: _Ask) -> bool:
        return (self.at, self.seq) < (other.at, other.seq)


def run_campaigns(
    d: Dealership,
    decide: Callable[[list[dict], datetime], list[dict]],
    ingest: Callable[[list[dict]], None],
    start: datetime,
    days: int,
    reach: float = 0.5,
    hour: int = 17,
    unsubscribe_rate: float = UNSUBSCRIBE_RATE,
    until: datetime | None = None,
    campaign: Callable[[Customer, Message], str] | None = None,
    honor_defer: timedelta = timedelta(days=1),
) -> dict[str, int]:
    """Daily campaigns (one a week a service reminder) to a ``reach`` share of the customers who have
    not unsubscribed, governed by suppressor: ``decide`` (request dicts, time) -> verdict dicts
    (action, channel, not_before, codes) before every send, and
    ``ingest`` of what customers then did (by their hidden truth, with complaints), in time order,
    up to ``until`` (default: the clock's now). A message deferred to less than ``honor_defer`` after
    its first ask is asked about again then; one withheld by the control (reason ``control``) is recorded
    with what it would have caused. ``campaign`` names each request's campaign (default: the
    message's)."""
    until = until or datetime.now(UTC)
    end_text = until.strftime("%Y-%m-%dT%H:%M:%SZ")
    pending: list[tuple[str, int, dict, Outcome | None]] = []
    asks: list[_Ask] = []
    counts = dict(decisions=0, sends=0, withheld=0, deferred=0, events=0)
    seq = 0
    by_id = {c.customer_id: c for c in d.customers}
    for c in d.customers:
        for o, ev in _own_schedule(d, c, start, until, f"o{start:%Y%m%d%H}-"):
            seq += 1
            heapq.heappush(pending, (ev["ts"], seq, ev, o))
    service = [m for m in d.messages if m.kind == "service"]
    names = [name for name, _ in CAMPAIGN_CHANNELS]
    weights = [weight for _, weight in CAMPAIGN_CHANNELS]

    def flush(t: datetime) -> None:
        due, before = [], min(t.strftime("%Y-%m-%dT%H:%M:%SZ"), end_text)  # event times are this text
        while pending and pending[0][0] < before:
            _, _, ev, own = heapq.heappop(pending)
            cid = ev["customer_id"]
            ts = _epoch(ev["ts"])
            lost = d.lost.get(cid)
            if own is not None:  # on their own schedule: it happens unless they left or messages put them off
                own.realized = not d.lost_by(cid, ts) and d.happens(by_id[cid], own)
                d.outcomes[cid].append(own)
                if not own.realized:
                    continue
            elif lost and ts > lost[0]:
                continue  # nothing after they left
            elif ev["type"] in OUTCOME_TYPES or ev["type"] == "clicked":
                amount = float(ev.get("properties", {}).get("amount", 0.0))
                d.outcomes[cid].append(Outcome(ts, ev["type"], amount, ev["message_id"]))
            due.append(ev)
        if due:
            ingest(due)
            counts["events"] += len(due)

    def reaction(ask: _Ask, channel: str, at: datetime) -> list[dict]:
        """What the customer does about the message delivered on ``channel`` at ``at`` (or would have)."""
        c, msg = ask.customer, ask.request["message"]
        return _outcome(
            d,
            c,
            ask.message,
            channel,
            at,
            f"{c.customer_id}-{msg['message_id']}",
            msg["message_id"],
            complaints=True,
            unsubscribe_rate=unsubscribe_rate,
            recent=d.recent(c.customer_id, at.timestamp()),
            campaign_id=msg["campaign_id"],
        )

    def handle(batch: list[_Ask], now: datetime) -> None:
        nonlocal seq
        counts["decisions"] += len(batch)
        for ask, verdict in zip(batch, decide([a.request for a in batch], now), strict=True):
            c, m, msg = ask.customer, ask.message, ask.request["message"]
            cid, action = c.customer_id, verdict["action"]
            at = now + timedelta(minutes=1)
            if action in ("send", "reroute"):
                counts["sends"] += 1
                if d.lost_by(cid, at.timestamp()):
                    continue
                evs = reaction(ask, verdict["channel"], at)
                bisect.insort(d.delivered[cid], at.timestamp())
                left = _unsubscribed_at(evs)
                if left < math.inf and not d.lost_by(cid, left + 1):
                    d.lost[cid] = (left, msg["message_id"])
                opened = any(e["type"] == "opened" for e in evs)
                d.exposures.append(
                    Exposure(cid, at.timestamp(), msg["message_id"], msg["campaign_id"], m.kind, False, opened=opened)
                )
                for e in evs:
                    seq += 1
                    heapq.heappush(pending, (e["ts"], seq, e, None))
            elif "control" in verdict.get("codes", ()):
                counts["withheld"] += 1
                potential = reaction(ask, verdict["channel"] or msg["channel"], at)
                d.exposures.append(
                    Exposure(cid, at.timestamp(), msg["message_id"], msg["campaign_id"], m.kind, True, potential)
                )
            elif action == "defer" and verdict.get("not_before") is not None:
                nb = verdict["not_before"]
                if nb - ask.first < honor_defer and nb < until:
                    counts["deferred"] += 1
                    seq += 1
                    heapq.heappush(asks, _Ask(nb, seq, c, m, ask.request, ask.first))

    def asks_until(t: datetime) -> None:
        nonlocal seq
        while asks and asks[0].at < t:
            at = asks[0].at
            batch = []
            while asks and asks[0].at == at:
                batch.append(heapq.heappop(asks))
            flush(at)
            handle(batch, at)

    for day in range(days):
        now = (start + timedelta(days=day)).replace(hour=hour, minute=0, second=0, microsecond=0)
        asks_until(now)
        flush(now)
        m = d.messages[d.rng.integers(len(d.messages))]
        if day % 7 == 2:  # the weekly service reminder, on top of the campaign of the day's draw
            m = service[day // 7 % len(service)]
        channel = names[d.rng.choice(len(names), p=weights)]
        # the dealership's list: whoever has not unsubscribed, a share of them a day
        audience = [c for c in d.customers if d.rng.random() < reach and not d.lost_by(c.customer_id, now.timestamp())]
        mid = f"{m.message_id}-{channel}-{now:%Y%m%d}"
        batch = []
        for c in audience:
            seq += 1
            req = {
                "customer_id": c.customer_id,
                "allow_reroute": True,
                "message": {
                    "message_id": mid,
                    "campaign_id": campaign(c, m) if campaign else m.campaign_id,
                    "channel": channel,
                    "kind": m.kind,
                    "topics": m.topics,
                },
            }
            batch.append(_Ask(now, seq, c, m, req, now))
        if batch:
            handle(batch, now)
    asks_until(until)
    flush(until)
    return counts


def planted_effects(
    d: Dealership, window: float, until: datetime, key: Callable[[Exposure], str] = lambda x: x.campaign_id
) -> dict[str, dict[str, float]]:
    """The planted truth of what each governed message did, grouped by ``key`` (default: campaign):
    per exposure, an outcome (or a click on it) within ``window`` seconds after it, with the message
    against without it, everything else as it happened (the world's own counterfactual); the mean of
    those differences, of the revenue's, and the exposures counted."""
    by_id = {c.customer_id: c for c in d.customers}
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for x in d.exposures:
        with_it, without = counterfactual(d, by_id[x.customer_id], x, min(x.at + window, until.timestamp()))
        s = sums[key(x)]
        s[0] += bool(with_it) - bool(without)
        s[1] += sum(o.amount for o in with_it) - sum(o.amount for o in without)
        s[2] += 1
    return {k: {"outcome": s[0] / s[2], "revenue": s[1] / s[2], "exposures": s[2]} for k, s in sums.items()}


def counterfactual(d: Dealership, c: Customer, x: Exposure, hi: float) -> tuple[list[Outcome], list[Outcome]]:
    """The outcomes after exposure ``x`` up to ``hi`` with the message and without it: one side is what
    happened, the other what the world says would have (its caused outcomes taken away or added,
    the own outcomes its annoyance or unsubscribe stopped given back or taken)."""
    seen = _after(d, x, hi)
    happened = [o for o in seen if o.realized]
    lost = d.lost.get(x.customer_id)
    if x.withheld:
        left = _unsubscribed_at(x.potential)
        if lost is not None and lost[0] <= x.at:
            left = math.inf  # already gone: the message would not have reached them
        kept = [o for o in happened if o.ts <= left and (o.cause is not None or d.happens(c, o, add=x.at))]
        caused = [
            Outcome(_epoch(e["ts"]), e["type"], float(e.get("properties", {}).get("amount", 0.0)), x.message_id)
            for e in x.potential
            if (e["type"] in OUTCOME_TYPES or e["type"] == "clicked") and x.at < _epoch(e["ts"]) <= hi
        ]
        return kept + caused, happened
    left_by_it = lost is not None and lost[1] == x.message_id
    without = [o for o in happened if o.cause != x.message_id]
    without += [
        o
        for o in seen
        if not o.realized
        and o.cause is None
        and (left_by_it or not d.lost_by(x.customer_id, o.ts))
        and d.happens(c, o, drop=x.at)
    ]
    return happened, without


def _after(d: Dealership, x: Exposure, hi: float) -> list[Outcome]:
    """The customer's outcomes drawn after exposure ``x`` up to ``hi`` (a click only on its own message)."""
    return [
        o
        for o in d.outcomes.get(x.customer_id, [])
        if x.at < o.ts <= hi and (o.type != "clicked" or o.cause == x.message_id)
    ]


def load(store, tenant: str, d: Dealership, now: datetime | None = None) -> None:
    """Profiles (written at ``now``, default: the clock's) and behavior of the dealership, through the
    ingest path, the events in batches of whole customers (each customer's in one script call: a
    third faster than batches in time order, where a customer has a few events in each)."""
    from suppressor.customers import events, profiles
    from suppressor.domain import CustomerIn, EventBatch

    for c in d.customers:
        profiles.put(store, tenant, c.customer_id, CustomerIn.model_validate(c.profile(now)), None, now=now)
    by_customer: dict[str, list[dict]] = defaultdict(list)
    for e in d.events:
        by_customer[e["customer_id"]].append(e)
    batch: list[dict] = []
    for evs in by_customer.values():
        batch += evs
        if len(batch) >= 20_000:
            events.ingest(store, tenant, EventBatch.model_validate({"events": batch}).events)
            batch = []
    if batch:
        events.ingest(store, tenant, EventBatch.model_validate({"events": batch}).events)


def _verdict(x) -> dict:
    """A decision as ``run_campaigns`` reads it; a message withheld by the control keeps the channel it
    would have gone out on (a suppressed verdict has none: the control's reason names it)."""
    channel = x.channel
    for r in x.reasons:
        if r.code == "control" and (on := re.search(r" on (\S+)\)", r.message)):
            channel = on.group(1)
    return {
        "action": x.action.value,
        "channel": channel,
        "not_before": x.not_before,
        "codes": [r.code for r in x.reasons],
    }


def govern(
    store,
    tenant: str,
    d: Dealership,
    start: datetime,
    days: int,
    reach: float = 0.5,
    unsubscribe_rate: float = UNSUBSCRIBE_RATE,
    until: datetime | None = None,
    campaign: Callable[[Customer, Message], str] | None = None,
) -> dict[str, int]:
    """``run_campaigns`` decided by suppressor in this process, every decision logged."""
    from suppressor.customers import events
    from suppressor.decisions.decide import Decider
    from suppressor.decisions.log import DecisionLog
    from suppressor.domain import DecisionRequest, EventBatch
    from suppressor.tenants.state import TenantStateCache

    log = DecisionLog(store)
    decider = Decider(store, TenantStateCache(store, 0.0), log)

    def decide(reqs: list[dict], at: datetime) -> list[dict]:
        out = []
        for i in range(0, len(reqs), 5_000):
            batch = [DecisionRequest.model_validate(r) for r in reqs[i : i + 5_000]]
            out += [_verdict(x) for x in decider.decide(tenant, batch, now=at)]
        return out

    def ingest(evs: list[dict]) -> None:
        for i in range(0, len(evs), 10_000):
            events.ingest(store, tenant, EventBatch.model_validate({"events": evs[i : i + 10_000]}).events)

    try:
        return run_campaigns(
            d, decide, ingest, start, days, reach, unsubscribe_rate=unsubscribe_rate, until=until, campaign=campaign
        )
    finally:
        log.close()
