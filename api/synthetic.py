"""A synthetic dealership with planted, hidden truth, for the quickstart, tests and benchmarks.

Each customer has real interests (a segment, a make, offers that fit their stage on the
90/60/30-day shopping cycle, kinds of value content) and a channel they answer. The
dealership "shouts": random messages on random consented channels for weeks; customers
engage with the probability their hidden truth gives, and some of those who engage buy (a
click on a sales offer, likelier the closer they are to buying) or bring the car in for service (an
engaged service reminder), with the amount on the event. The truth is kept so we can check how
much of it the model recovers and what suppression does to sales.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

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
# The sales the messages cause: a click on a sales offer ends in a purchase this often, by stage, and
# an engaged service reminder brings the car in this often (the amounts are in dollars).
STAGE_BUYS = {"researching": 0.03, "shopping": 0.08, "ready": 0.2, "owner": 0.02}
SERVICE_VISIT = 0.35
PRICE = (22_000, 58_000)
SERVICE_BILL = (90, 900)
BASE_LOGIT = -2.4


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
class Dealership:
    """The synthetic world: customers, catalog, behavior and the truth behind it."""

    customers: list[Customer]
    messages: list[Message]
    events: list[dict]
    start: datetime
    end: datetime
    rng: np.random.Generator

    def logit(self, c: Customer, m: Message, channel: str) -> float:
        """The hidden truth: log-odds that ``c`` engages with ``m`` on ``channel``."""
        z = BASE_LOGIT + sum(c.topic_weights.get(t, 0.0) for t in m.topics)
        z += 1.6 if channel == c.true_channel else -1.0
        if m.kind == "sales":
            z += STAGE_SALES[c.attributes["lead_stage"]]
        if m.kind == "service" and c.service_due_days <= 30:  # due soon: a reminder is welcome
            z += 1.0
        return z

    def p_engage(self, c: Customer, m: Message, channel: str) -> float:
        """The hidden truth as a probability."""
        return float(1 / (1 + np.exp(-self.logit(c, m, channel))))


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
    return Customer(
        customer_id=f"c-{i:06d}",
        attributes={
            "vehicle": f"{year} {current_make.title()} {MODELS[(current_make, current_segment)]}",
            "make": current_make,
            "segment": current_segment,
            "vehicle_year": year,
            "household_size": household,
            "age_band": age,
            "lead_stage": stage,
            "zip": f"{int(rng.integers(600, 700)):03d}{int(rng.integers(0, 100)):02d}",
        },
        consent=consent,
        preferred_channel=true_channel if rng.random() < 0.3 else None,
        timezone=ZONES[rng.integers(len(ZONES))],
        true_segment=true_segment,
        true_make=true_make,
        true_channel=true_channel,
        topic_weights=weights,
        # two in five customers live in pairs (a couple, a parent and a grown child): no random draw,
        # so the rest of the world is the same with or without households
        household_id=f"hh-{i // 2:06d}" if i % 10 < 4 else None,
        service_due_days=(i * 37) % 210 - 30,
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
    n_customers: int = 2000, weeks: int = 16, sends_per_week: float = 2.5, seed: int = 42, end: datetime | None = None
) -> Dealership:
    """Customers, a message catalog and ``weeks`` of simulated behavior ending at ``end``."""
    rng = np.random.default_rng(seed)
    end = end or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    start = end - timedelta(weeks=weeks)
    customers = [make_customer(i, rng) for i in range(n_customers)]
    messages = catalog(rng)
    dealer = Dealership(customers, messages, [], start, end, rng)
    events = dealer.events
    span = (end - start).total_seconds()
    for c in customers:
        channels = [ch for ch in CHANNELS if c.consent[ch]]
        n = rng.poisson(sends_per_week * weeks)
        for k in range(n):
            m = messages[rng.integers(len(messages))]
            ch = channels[rng.integers(len(channels))]
            # leave room for the outcome (ignored = 3 days later, conversions 2 days after a click)
            ts = start + timedelta(seconds=float(rng.random() * (span - 4 * 86400)))
            events.extend(_outcome(dealer, c, m, ch, ts, f"{c.customer_id}-{k}"))
        for k in range(int(rng.poisson(1.5))):  # organic site visits about what they want
            ts = start + timedelta(seconds=float(rng.random() * span))
            events.append(
                _event(
                    f"{c.customer_id}-w{k}",
                    c.customer_id,
                    "visited",
                    ts,
                    None,
                    None,
                    "value",
                    [f"segment:{c.true_segment}", f"make:{c.true_make}"],
                )
            )
    events.sort(key=lambda e: e["ts"])
    return dealer


def _event(
    eid: str,
    cid: str,
    typ: str,
    ts: datetime,
    channel: str | None,
    message_id: str | None,
    kind: str | None,
    topics: list[str],
) -> dict:
    ev = {"event_id": eid, "customer_id": cid, "type": typ, "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "topics": topics}
    if channel:
        ev["channel"] = channel
    if message_id:
        ev["message_id"] = message_id
    if kind:
        ev["kind"] = kind
    return ev


def _outcome(
    d: Dealership,
    c: Customer,
    m: Message,
    ch: str,
    ts: datetime,
    eid: str,
    mid: str | None = None,
    complaints: bool = False,
    unsubscribe_rate: float = 0.004,
) -> list[dict]:
    mid = mid or f"{m.message_id}-{ch}-w{int((ts - d.start).days // 7)}"  # one campaign send per week
    base = dict(cid=c.customer_id, channel=ch, message_id=mid, kind=m.kind, topics=m.topics)
    out = [_event(f"{eid}-d", typ="delivered", ts=ts, **base)]
    p = d.p_engage(c, m, ch)
    later = ts + timedelta(hours=float(d.rng.uniform(0.5, 30)))
    if d.rng.random() < p:
        out.append(_event(f"{eid}-o", typ="opened", ts=later, **base))
        if d.rng.random() < 0.5:
            out.append(_event(f"{eid}-c", typ="clicked", ts=later + timedelta(minutes=3), **base))
            if m.kind == "sales" and d.rng.random() < 0.08:
                out.append(_event(f"{eid}-v", typ="converted", ts=later + timedelta(days=1), **base))
            if m.kind == "sales" and d.rng.random() < STAGE_BUYS[c.attributes["lead_stage"]]:
                buy = _event(f"{eid}-p", typ="purchased", ts=later + timedelta(days=2), **base)
                buy["properties"] = {"amount": round(float(d.rng.uniform(*PRICE)), 2)}
                out.append(buy)
        if m.kind == "service" and d.rng.random() < SERVICE_VISIT:
            visit = _event(f"{eid}-s", typ="service_visit", ts=later + timedelta(days=2), **base)
            visit["properties"] = {"amount": round(float(d.rng.uniform(*SERVICE_BILL)), 2)}
            out.append(visit)
    elif d.rng.random() < unsubscribe_rate * max(0.0, -d.logit(c, m, ch)):
        if complaints and d.rng.random() < 0.15:  # some mark it as spam instead
            out.append(_event(f"{eid}-x", typ="complained", ts=later, **base))
        else:
            unsub = _event(f"{eid}-u", typ="unsubscribed", ts=later, **base)
            unsub["properties"] = {"scope": "channel"}  # the footer link: no more of this channel
            out.append(unsub)
    else:
        out.append(_event(f"{eid}-i", typ="ignored", ts=ts + timedelta(days=3), **base))
    return out


CAMPAIGN_CHANNELS = (("email", 0.6), ("sms", 0.15), ("push", 0.15), ("direct_mail", 0.1))


def run_campaigns(
    d: Dealership,
    decide: Callable[[list[dict], datetime], list[dict]],
    ingest: Callable[[list[dict]], None],
    start: datetime,
    days: int,
    reach: float = 0.5,
    hour: int = 17,
    unsubscribe_rate: float = 0.004,
) -> dict[str, int]:
    """Daily campaigns (one a week a service reminder) governed by suppressor: ``decide`` (request dicts, time) -> verdict dicts
    before every send, and ``ingest`` of what customers then did (by their hidden truth, with
    unsubscribes and complaints more likely the less a message fits: ``unsubscribe_rate`` per unit
    of negative log-odds of engaging), in time order."""
    pending: list[tuple[str, int, dict]] = []
    seq = decisions = sends = ingested = 0
    service = [m for m in d.messages if m.kind == "service"]
    names, weights = zip(*CAMPAIGN_CHANNELS, strict=True)

    def flush(until: datetime) -> int:
        due, before = [], until.strftime("%Y-%m-%dT%H:%M:%SZ")  # event times are this text
        while pending and pending[0][0] < before:
            due.append(heapq.heappop(pending)[2])
        if due:
            ingest(due)
        return len(due)

    for day in range(days):
        now = (start + timedelta(days=day)).replace(hour=hour, minute=0, second=0, microsecond=0)
        ingested += flush(now)
        m = d.messages[d.rng.integers(len(d.messages))]
        if day % 7 == 2:  # the weekly service reminder, on top of the campaign of the day's draw
            m = service[day // 7 % len(service)]
        channel = names[d.rng.choice(len(names), p=weights)]
        audience = [c for c in d.customers if d.rng.random() < reach]
        mid = f"{m.message_id}-{channel}-{now:%Y%m%d}"
        reqs = [
            {
                "customer_id": c.customer_id,
                "allow_reroute": True,
                "message": {
                    "message_id": mid,
                    "campaign_id": m.campaign_id,
                    "channel": channel,
                    "kind": m.kind,
                    "topics": m.topics,
                },
            }
            for c in audience
        ]
        decisions += len(reqs)
        for c, verdict in zip(audience, decide(reqs, now) if reqs else [], strict=True):
            if verdict["action"] not in ("send", "reroute"):
                continue
            sends += 1
            at = now + timedelta(minutes=1)
            for e in _outcome(
                d,
                c,
                m,
                verdict["channel"],
                at,
                f"{c.customer_id}-{mid}",
                mid,
                complaints=True,
                unsubscribe_rate=unsubscribe_rate,
            ):
                seq += 1
                heapq.heappush(pending, (e["ts"], seq, e))
    ingested += flush(datetime.now(UTC))
    return {"decisions": decisions, "sends": sends, "events": ingested}


def load(store, tenant: str, d: Dealership) -> None:
    """Profiles and behavior of the dealership, through the ingest path."""
    from suppressor.customers import events, profiles
    from suppressor.domain import CustomerIn, EventBatch

    for c in d.customers:
        profiles.put(store, tenant, c.customer_id, CustomerIn.model_validate(c.profile()), None)
    for i in range(0, len(d.events), 10_000):
        events.ingest(store, tenant, EventBatch.model_validate({"events": d.events[i : i + 10_000]}).events)


def govern(
    store, tenant: str, d: Dealership, start: datetime, days: int, reach: float = 0.5, unsubscribe_rate: float = 0.004
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
            out += [{"action": x.action.value, "channel": x.channel} for x in decider.decide(tenant, batch, now=at)]
        return out

    def ingest(evs: list[dict]) -> None:
        for i in range(0, len(evs), 10_000):
            events.ingest(store, tenant, EventBatch.model_validate({"events": evs[i : i + 10_000]}).events)

    try:
        return run_campaigns(d, decide, ingest, start, days, reach, unsubscribe_rate=unsubscribe_rate)
    finally:
        log.close()
