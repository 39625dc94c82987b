"""`suppressor quickstart`: a synthetic dealership end to end, with proof the model found the truth
and what governing it did, policy against policy, measured against the planted truth."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from suppressor.decisions.decide import Decider, in_holdout
from suppressor.decisions.log import DecisionLog
from suppressor.domain import DecisionRequest
from suppressor.policy import document as policies
from suppressor.settings import Settings
from suppressor.storage.store import BATCH_TIMEOUT, Store
from suppressor.tenants import apikeys
from suppressor.tenants.state import TenantStateCache
from suppressor.whatif import incrementality, lift, reports

from . import synthetic

TENANT = "demo"
GOVERNED_DAYS = 14  # the last two weeks: daily campaigns decided by suppressor, for the studio
HOLDOUT = 0.1  # customers who get every message
CONTROL = 0.1  # would-be sends withheld at random, to measure what each message adds
WINDOW = "3d"  # an outcome counts for the messages delivered or withheld this long before it
EPOCHS = 15  # on this world as good as 30 (AUC, channel, segment and hour recovered) in half the time
REACH = 0.4  # the share of the list each daily campaign asks about
KINDS = ("sales", "value", "service")


@dataclass(frozen=True)
class Arm:
    """One governed arm: a random share of the governed customers, decided by the tenant policy with
    ``override`` merged in (a campaign override on each of the arm's campaigns, ``<kind>.<name>``)."""

    name: str
    says: str
    override: dict = field(default_factory=dict)


# Every arm runs the same daily campaigns on its share of the same customers; one more policy to
# compare is one more entry.
ARMS = (
    Arm("engagement", "objective engagement, sent when asked (17:00 UTC)"),
    Arm(
        "send-time",
        "the same, deferred to each customer's learned hour (send_time within 1d)",
        {"send_time": {"optimize": True, "within": "1d", "channels": ["email", "sms", "push"]}},
    ),
    Arm(
        "uplift",
        "objective uplift: sent where the message adds at least 2 points of outcome chance",
        {"objective": "uplift", "uplift_threshold": 0.02},
    ),
    Arm(
        "value",
        "objective value: sent where it adds more revenue than the unsubscribe it may cause costs",
        {"objective": "value"},
    ),
)
HISTORY_CONTROL = 0.1  # the dealership's past campaigns withheld this share at random: the uplift learns from it
RESPONSE_NAMES = {
    "sure_thing": "sure things",
    "persuadable": "persuadables",
    "lost_cause": "lost causes",
    "pushed_away": "pushed away",
}
RESPONSE_SAYS = {
    "sure_thing": "a sure thing (buys whether messaged or not)",
    "persuadable": "persuadable (buys mostly when messaged)",
    "lost_cause": "a lost cause (buys nothing, messaged or not)",
    "pushed_away": "pushed away by messages",
}


def say(msg: str = "") -> None:
    """Print and flush."""
    print(msg, flush=True)


class Clock:
    """Seconds spent per phase, for the last line."""

    def __init__(self) -> None:
        self.t0 = self.mark = time.time()
        self.phases: dict[str, float] = {}

    def lap(self, phase: str) -> float:
        """Close ``phase`` now; its seconds."""
        now = time.time()
        spent = self.phases[phase] = self.phases.get(phase, 0.0) + now - self.mark
        self.mark = now
        return spent


def arm_of(customer_id: str) -> str:
    """The customer's arm: ``holdout`` (the policy's stable hash), else one of ``ARMS`` at random (stably)."""
    if in_holdout(TENANT, customer_id, HOLDOUT):
        return "holdout"
    h = hashlib.blake2b(f"arm:{TENANT}:{customer_id}".encode(), digest_size=8).digest()
    return ARMS[int.from_bytes(h, "big") % len(ARMS)].name


def run(customers: int = 3000, weeks: int = 16, serve: bool = True, port: int = 8080, seed: int = 42) -> int:
    """Generate, ingest, train, decide, report; then serve the API unless ``serve`` is False."""
    clock = Clock()
    settings = Settings()
    store = Store(settings, bulk_timeout=BATCH_TIMEOUT)
    try:
        say(f"suppressor quickstart — store: {store.location}")
        apikeys.purge(store, TENANT)
        api_key = apikeys.create_key(store, TENANT)
        say(f"tenant '{TENANT}', API key: {api_key}\n")

        now = datetime.now(UTC).replace(microsecond=0)
        dealer = synthetic.generate(
            customers, weeks=weeks, seed=seed, end=now - timedelta(days=GOVERNED_DAYS + 1), control=HISTORY_CONTROL
        )
        mix = Counter(c.response for c in dealer.customers)
        say(
            f"[1/5] synthetic dealership: {len(dealer.customers)} customers, {len(dealer.messages)} campaign "
            f"messages, {len(dealer.events)} events over {weeks} weeks (hidden truth planted)"
        )
        say(
            "      how a message changes what they do: "
            + ", ".join(f"{mix[r] / len(dealer.customers):.0%} {RESPONSE_NAMES[r]}" for r in synthetic.RESPONSES)
            + f"; {len(dealer.lost)} unsubscribed for good while the dealership shouted"
        )
        clock.lap("generate")
        synthetic.load(store, TENANT, dealer)
        say(f"      ingested through the API's code path in {clock.lap('ingest'):.0f} s")

        _policy(store)  # first: training reads its incrementality window (what an outcome counts for)
        say("[2/5] training the LightFM hybrid")
        from suppressor.training.fit import TrainConfig, train_tenant

        model = train_tenant(store, TENANT, TrainConfig(epochs=EPOCHS), progress=lambda m: say(f"      {m}"))
        m = model.metrics
        say(
            f"      {model.version}: holdout AUC {m.get('auc', float('nan')):.3f}, calibration error "
            f"{m.get('calibration_error', float('nan')):.3f}, {m['train_seconds']} s"
        )
        clock.lap("training")

        states = TenantStateCache(store, settings.model_refresh_seconds)
        log = DecisionLog(store)
        decider = Decider(store, states, log)
        say("\n[3/5] does it recover the planted truth?")
        _recovery(store, dealer, decider, model, seed)
        log.close()
        clock.lap("recovery")
        say(
            f"\n[4/5] {GOVERNED_DAYS} days of daily campaigns decided by suppressor: {HOLDOUT:.0%} of customers held "
            f"out (they get everything),\n      the others split at random between {len(ARMS)} policies; {CONTROL:.0%} "
            "of would-be sends withheld at random (the control)"
        )
        _governed(store, dealer, now, clock)
        say("\n[5/5] real decisions (relevance threshold 0.08)")
        log = DecisionLog(store)
        decider = Decider(store, states, log)
        _examples(dealer, decider)
        _household(dealer, decider)
        log.close()
        clock.lap("decisions")
        total = time.time() - clock.t0
        say(f"\ndone in {total:.0f} s (" + ", ".join(f"{k} {v:.0f} s" for k, v in clock.phases.items()) + ")")
        if serve:
            _serve(settings, store, api_key, port)
    finally:
        store.close()
    return 0


def _policy(store: Store) -> None:
    """The tenant policy (the engagement arm's), each other arm's campaign overrides, the content catalog."""
    policies.put(
        store,
        TENANT,
        policies.Policy.model_validate(
            dict(
                relevance_threshold=0.08,
                holdout_fraction=HOLDOUT,
                incrementality={"control_share": CONTROL, "window": WINDOW},
                household={"caps": [{"channel": "direct_mail", "max": 1, "window": "30d", "per_offer": True}]},
            )
        ),
        "quickstart",
    )
    for arm in ARMS:
        if arm.override:
            for kind in KINDS:
                policies.put_campaign(store, TENANT, f"{kind}.{arm.name}", arm.override, "quickstart")
    _catalog(store)


def _pts(d: dict) -> str:
    return f"{d['diff'] * 100:+.1f} [{d['low'] * 100:+.1f}, {d['high'] * 100:+.1f}]"


def _money(d: dict) -> str:
    return f"{d['diff']:+,.0f} [{d['low']:+,.0f}, {d['high']:+,.0f}]"


def _governed(store: Store, dealer: synthetic.Dealership, now: datetime, clock: Clock) -> None:
    start = now - timedelta(days=GOVERNED_DAYS + 1)
    arms = {c.customer_id: arm_of(c.customer_id) for c in dealer.customers}
    for arm in ARMS:
        say(f"      {arm.name:>11}: {arm.says}")
    counts = synthetic.govern(
        store,
        TENANT,
        dealer,
        start,
        GOVERNED_DAYS,
        reach=REACH,
        until=now,
        campaign=lambda c, m: f"{m.kind}.{arms[c.customer_id]}",
    )
    say(
        f"      {counts['decisions']} decisions, {counts['sends']} sent, {counts['withheld']} withheld for the "
        f"control, {counts['deferred']} deferred and asked again, {counts['events']} events followed "
        f"({clock.lap('governed'):.0f} s)"
    )

    report = lift.lift(store, TENANT, segments={c: a for c, a in arms.items() if a != "holdout"})
    cur = report["currency"]
    hold = report["overall"]["holdout"]
    say(
        f"      per customer over the {GOVERNED_DAYS} days, and (in brackets) the difference from the holdout, 95% interval:"
    )
    say(
        f"      {'arm':<11} {'customers':>9} {'sends':>6}  {'bought':<24} {'revenue per customer (' + cur + ')':<30} unsubscribed"
    )
    say(
        f"      {'holdout':<11} {hold['customers']:>9} {hold['sends_per_customer']:>6.1f}  "
        f"{hold['converted']['rate']:<24.1%} {hold['revenue_per_customer']['mean']:<30,.0f} "
        f"{hold['unsubscribed']['rate']:.1%}"
    )
    for arm in ARMS:
        seg = report["segments"].get(arm.name)
        if seg is None:
            continue
        g, diff = seg["governed"], seg["difference"]
        bought = f"{g['converted']['rate']:.1%} ({_pts(diff['converted'])})"
        revenue = f"{g['revenue_per_customer']['mean']:,.0f} ({_money(diff['revenue_per_customer'])})"
        say(
            f"      {arm.name:<11} {g['customers']:>9} {g['sends_per_customer']:>6.1f}  {bought:<24} {revenue:<30} "
            f"{g['unsubscribed']['rate']:.1%} ({_pts(diff['unsubscribed'])})"
        )

    # whom each arm's messages went to, by planted response: what the objectives change
    truth = {c.customer_id: c.response for c in dealer.customers}
    went: dict[str, Counter] = {a.name: Counter() for a in ARMS}
    for x in dealer.exposures:
        if not x.withheld and arms.get(x.customer_id) in went:
            went[arms[x.customer_id]][truth[x.customer_id]] += 1
    say("      whom each arm's messages went to (planted response):")
    for arm in ARMS:
        n = sum(went[arm.name].values()) or 1
        say(
            f"      {arm.name:<11} "
            + ", ".join(f"{went[arm.name][r] / n:.0%} {RESPONSE_NAMES[r]}" for r in synthetic.RESPONSES)
        )

    # what each message adds, per campaign (an arm's kind of message) and per planted response, in one read
    response = {c.customer_id: c.response for c in dealer.customers}
    rows = incrementality.grouped(
        store,
        TENANT,
        lambda cid, x: (x.campaign, response[cid]) if arms.get(cid, "holdout") != "holdout" else (x.campaign,),
        since=start,
    )
    window = policies.get(store, TENANT).incrementality.window
    planted = synthetic.planted_effects(dealer, window, now)
    planted.update(synthetic.planted_effects(dealer, window, now, lambda x: response[x.customer_id]))
    say(
        "      what each message adds, measured by the control (GET /v1/incrementality: an outcome or a click within "
        f"{WINDOW}\n      of a message delivered vs withheld, 95% intervals), against the planted truth:"
    )
    say(
        f"      {'campaign':<23} {'delivered':>9} {'withheld':>8}  {'outcome rate, pts':<25}{'planted':>7}  "
        f"{'revenue per message':<24}{'planted':>7}"
    )
    for name, row in rows.items():
        if row["measured"] and name not in synthetic.RESPONSES:
            _effect_line(name, row, planted[name])
    say("      the same by planted response (the governed customers, and the messages each got):")
    governed = Counter(response[c] for c, a in arms.items() if a != "holdout")
    for kind in synthetic.RESPONSES:
        if kind in rows and rows[kind]["measured"]:
            each = rows[kind]["delivered"]["exposures"] / max(governed[kind], 1)
            _effect_line(f"{RESPONSE_NAMES[kind]} ({each:.1f} each)", rows[kind], planted[kind])
    _send_time(dealer)
    clock.lap("measuring")

    stricter = reports.vary(policies.get(store, TENANT), "relevance_threshold", 0.12)
    r = reports.simulate(store, TENANT, stricter, max_decisions=3_000)
    ch = r["change"]
    say(
        f"      what if the threshold had been 0.12? {r['decisions']} logged decisions of {r['customers']} customers "
        f"replayed in {clock.lap('what-if'):.0f} s ({r['agreement_with_log_pct']}% of them reproduced by the current policy):"
    )
    say(
        f"      {ch['sends_pct']}% of the sends, {ch['engagement_kept_pct']}% of the engagement, "
        f"{round(ch['unsubscribes_avoided'])} of {r['current']['unsubscribes']:.0f} unsubscribes avoided; "
        f"{ch['conversions_kept_pct']}% of the purchases credited to a message, {ch['revenue_kept_pct']}% of their revenue"
    )


def _send_time(dealer: synthetic.Dealership) -> None:
    """How often each arm's messages landed in the customer's active hours, and were opened."""
    by_id = {c.customer_id: c for c in dealer.customers}
    sent = {a.name: [0, 0, 0] for a in ARMS}  # delivered, in their active hours, opened
    for x in dealer.exposures:
        arm = x.campaign_id.rsplit(".", 1)[1]
        if not x.withheld and arm in sent:
            row = sent[arm]
            row[0] += 1
            row[1] += by_id[x.customer_id].in_active_hours(x.at)
            row[2] += x.opened
    (n1, h1, k1), (n0, h0, k0) = sent["send-time"], sent["engagement"]
    d, lo, hi = lift.newcombe(k1, n1, k0, n0)
    say(
        f"      send time: {h1 / max(n1, 1):.0%} of the send-time arm's messages landed within an hour of the customer's "
        f"active hour ({h0 / max(n0, 1):.0%} of the engagement arm's); opened {k1 / max(n1, 1):.1%} vs "
        f"{k0 / max(n0, 1):.1%}: {d * 100:+.1f} pts [{lo * 100:+.1f}, {hi * 100:+.1f}]"
    )


def _effect_line(name: str, row: dict, truth: dict) -> None:
    say(
        f"      {name:<23} {row['delivered']['exposures']:>9} {row['withheld']['exposures']:>8}  "
        f"{_pts(row['difference']):<25}{truth['outcome'] * 100:>+7.1f}  "
        f"{_money(row['revenue_per_exposure']):<24}{truth['revenue']:>+7,.0f}"
    )


def _recovery(store, dealer, decider, model, seed: int) -> None:
    from suppressor.training.metrics import auc

    rng = np.random.default_rng(seed + 1)
    reqs: list[DecisionRequest] = []
    chances: list[float] = []  # the hidden truth: each send's chance of engaging
    for c in dealer.customers:
        for _ in range(2):
            msg = dealer.messages[rng.integers(len(dealer.messages))]
            ch = synthetic.CHANNELS[rng.integers(len(synthetic.CHANNELS))]
            reqs.append(
                DecisionRequest(
                    customer_id=c.customer_id, message=msg.on(ch), allow_reroute=False, channels=[ch], dry_run=True
                )
            )
            chances.append(dealer.p_engage(c, msg, ch))
    scores = np.array([d.channel_scores[r.message.channel] for d, r in zip(_decide(decider, reqs), reqs, strict=True)])
    truth = np.array(chances)
    outcome = rng.random(len(truth)) < truth
    say(f"      next week's {len(reqs)} sends, engagement simulated from the hidden truth:")
    say(
        f"      AUC of the learned score {auc(scores, outcome):.3f}  (the truth itself: {auc(truth, outcome):.3f}, chance: 0.500)"
    )
    say(f"      mean score {scores.mean():.3f} vs actual engagement rate {outcome.mean():.3f} (calibration)")
    say("      threshold   sends kept   engagements kept")
    for th in (0.04, 0.08, 0.12, 0.16):
        keep = scores >= th
        say(f"      {th:9.2f}   {keep.mean():10.0%}   {outcome[keep].sum() / max(outcome.sum(), 1):16.0%}")

    from suppressor.customers.profiles import learned_affinities
    from suppressor.model.exported import SEND_HOURS_FIELD, unpack
    from suppressor.storage import keys

    pipe = store.bulk.pipeline(transaction=False)
    for c in dealer.customers:
        pipe.hmget(keys.vectors(TENANT, c.customer_id), model.version, SEND_HOURS_FIELD)
    ch_hit = seg_hit = hour_hit = tenant_hit = 0
    tenant_hour = _best_hour(np.asarray(model.send_hours)) if model.send_hours else None
    for c, (raw, hours) in zip(dealer.customers, pipe.execute(), strict=True):
        interests, channels = learned_affinities(model, unpack(raw), top=100)
        ch_hit += channels[0].name == c.true_channel
        segs = [a.name for a in interests if a.name.startswith("segment:")]
        seg_hit += bool(segs) and segs[0] == f"segment:{c.true_segment}"
        best = _best_hour(unpack(hours)) if hours else tenant_hour
        hour_hit += best is not None and synthetic.hour_distance(best, c.active_hour) <= 1
        tenant_hit += tenant_hour is not None and synthetic.hour_distance(tenant_hour, c.active_hour) <= 1
    n = len(dealer.customers)
    say(f"      channel each customer really answers, top learned channel: {ch_hit / n:.0%} right (chance 25%)")
    say(f"      segment each customer really wants, top learned segment:   {seg_hit / n:.0%} right (chance 20%)")
    say(
        f"      hour each customer is active, learned best hour within ±1 h: {hour_hit / n:.0%} right "
        f"(one hour for all, the tenant's best: {tenant_hit / n:.0%}; chance 12%)"
    )


def _best_hour(curve: np.ndarray) -> int:
    """The local hour of the day with the most answers in a 168-hour week curve (Monday 00:00 first)."""
    return int(np.asarray(curve, dtype=np.float64).reshape(7, 24).sum(axis=0).argmax())


def _decide(decider: Decider, reqs: list[DecisionRequest]):
    out = []
    for i in range(0, len(reqs), 5000):
        out += decider.decide(TENANT, reqs[i : i + 5000])
    return out


def _midday() -> datetime:
    """The latest 17:00 UTC: midday in the customers' (US) time zones, so quiet hours do not hide the other rules."""
    now = datetime.now(UTC).replace(hour=17, minute=0, second=0, microsecond=0)
    return now - timedelta(days=1) if now > datetime.now(UTC) else now


def _examples(dealer, decider) -> None:
    now = _midday()
    say(f"      (as of {now:%Y-%m-%d %H:%M} UTC, midday for the customers)")
    by_id = {m.message_id: m for m in dealer.messages}
    shown = 0
    for c in dealer.customers[:60]:
        if shown >= 3:
            break
        opted_out = [ch for ch, ok in c.consent.items() if not ok]
        if not opted_out or in_holdout(TENANT, c.customer_id, HOLDOUT) or c.customer_id in dealer.lost:
            continue  # the holdout skips most rules; the unsubscribed get nothing
        fit = next(m for m in dealer.messages if f"segment:{c.true_segment}" in m.topics and m.kind == "sales")
        misfit = next(
            m
            for m in dealer.messages
            if m.kind == "sales"
            and f"segment:{c.true_segment}" not in m.topics
            and f"make:{c.true_make}" not in m.topics
        )
        value = next(m for m in dealer.messages if m.kind != "sales")
        a = c.attributes
        say(
            f"\n  {c.customer_id}: {a['vehicle']}, household {a['household_size']}, {a['lead_stage']}, "
            f"age {a['age_band']}; consent {', '.join(k for k, v in c.consent.items() if v)}"
        )
        say(
            f"      hidden truth: wants a {c.true_segment}, {c.true_make}; answers {c.true_channel}, around "
            f"{c.active_hour:02d}:00 local; {RESPONSE_SAYS[c.response]}"
        )
        for msg, ch in ((fit, "email"), (misfit, "email"), (value, opted_out[0]), (fit, "email")):
            [d] = decider.decide(TENANT, [DecisionRequest(customer_id=c.customer_id, message=msg.on(ch))], now=now)
            m = by_id[msg.message_id]
            say(
                f"      {ch:>11} {m.kind:<7} [{', '.join(m.topics)}] -> {d.action.value.upper()}"
                f"{' via ' + d.channel if d.action.value == 'reroute' else ''}"
            )
            for r in d.reasons:
                say(f"{'':>20}{r.code}: {r.message}")
            if d.substitute:
                say(f"{'':>20}substitute: {d.substitute['title']} on {d.substitute['channel']}")
        shown += 1


def _household(dealer, decider) -> None:
    """Two members of one household who would each get the trade-in mailer: the household gets one."""
    now = _midday()
    month = f"{now:%Y%m}"

    def mailer(c, dry_run: bool):
        msg = {
            "message_id": f"trade-in-mailer-{month}",
            "campaign_id": "trade-in-mailer",
            "channel": "direct_mail",
            "kind": "sales",
            "topics": ["offer:trade-in"],
            "offer": {"key": "trade-in", "terms": {"trade_in_bonus": 1500}},
        }
        req = DecisionRequest.model_validate(
            dict(customer_id=c.customer_id, message=msg, allow_reroute=False, dry_run=dry_run)
        )
        return decider.decide(TENANT, [req], now=now)[0]

    pairs: dict[str, list] = {}
    for c in reversed(dealer.customers):  # the examples above used the first customers
        if c.household_id and c.consent["direct_mail"] and not in_holdout(TENANT, c.customer_id, HOLDOUT):
            pairs.setdefault(c.household_id, []).append(c)
    couple = next(
        (p for p in pairs.values() if len(p) == 2 and all(mailer(c, True).action.value == "send" for c in p)), None
    )
    if couple is None:
        return
    say(
        f"\n  household {couple[0].household_id}: {couple[0].customer_id} and {couple[1].customer_id} would each get "
        "the trade-in mailer (policy: one direct-mail piece per offer per household per 30 days)"
    )
    for c in couple:
        d = mailer(c, False)
        say(f"      {c.customer_id}: {d.action.value.upper()}")
        for r in d.reasons:
            say(f"{'':>20}{r.code}: {r.message}")


CATALOG = {  # title, kind, topics, audience
    "winter-service": ("Winter service special: battery and tire check", "service", ["content:service-reminder"], None),
    "safety-clinic": ("Family car-seat safety clinic, Saturday 10am", "value", ["content:safety-clinic"], None),
    "tech-tutorial": ("5-minute video: your car's driver-assist features", "value", ["content:feature-tutorial"], None),
    "ev-night": ("EV owners' night at the dealership", "value", ["content:event", "segment:ev"], {"segments": ["ev"]}),
    "high-mileage": (
        "Keeping a high-mileage vehicle on the road",
        "service",
        ["content:service-reminder"],
        {"min_vehicle_age": 8},
    ),
}


def _catalog(store: Store) -> None:
    from suppressor.policy import content
    from suppressor.policy.content import ContentIn

    for cid, (title, kind, topics, audience) in CATALOG.items():
        item = ContentIn.model_validate(dict(title=title, kind=kind, topics=topics, audience=audience))
        content.put(store, TENANT, cid, item)


def _serve(settings: Settings, store: Store, api_key: str, port: int) -> None:
    import uvicorn

    from .app import create_app

    base = f"http://127.0.0.1:{port}"
    say(f"\nserving the API at {base} (Ctrl-C to stop).")
    say(f"  the policy studio: {base}/studio  (paste the API key {api_key})")
    say("  Try:")
    say(f"  curl -s {base}/v1/customers/c-000001 -H 'Authorization: Bearer {api_key}'")
    say(
        f"  curl -s {base}/v1/decisions -H 'Authorization: Bearer {api_key}' -H 'content-type: application/json' \\\n"
        '    -d \'{"customer_id": "c-000001", "message": {"message_id": "m-1", "channel": "email", '
        '"kind": "sales", "topics": ["segment:suv", "offer:lease"]}}\''
    )
    uvicorn.run(create_app(settings, store), host="127.0.0.1", port=port, log_level="warning")
