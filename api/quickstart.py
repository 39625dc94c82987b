"""`suppressor quickstart`: a synthetic dealership end to end, with proof the model found the truth."""

from __future__ import annotations

import time
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
from suppressor.whatif import lift, reports

from . import synthetic

TENANT = "demo"
GOVERNED_DAYS = 14  # the last two weeks: daily campaigns decided by suppressor, for the studio


def say(msg: str = "") -> None:
    """Print and flush."""
    print(msg, flush=True)


def run(customers: int = 3000, weeks: int = 16, serve: bool = True, port: int = 8080, seed: int = 42) -> int:
    """Generate, ingest, train, decide, report; then serve the API unless ``serve`` is False."""
    t0 = time.time()
    settings = Settings()
    store = Store(settings, bulk_timeout=BATCH_TIMEOUT)
    try:
        say(f"suppressor quickstart — store: {store.location}")
        apikeys.purge(store, TENANT)
        api_key = apikeys.create_key(store, TENANT)
        say(f"tenant '{TENANT}', API key: {api_key}\n")

        now = datetime.now(UTC)
        dealer = synthetic.generate(customers, weeks=weeks, seed=seed, end=now - timedelta(days=GOVERNED_DAYS + 1))
        say(
            f"[1/5] synthetic dealership: {len(dealer.customers)} customers, {len(dealer.messages)} campaign "
            f"messages, {len(dealer.events)} events over {weeks} weeks (hidden truth planted)"
        )
        synthetic.load(store, TENANT, dealer)
        say(f"      ingested through the API's code path in {time.time() - t0:.0f} s")

        say("[2/5] training the LightFM hybrid")
        from suppressor.training.fit import TrainConfig, train_tenant

        model = train_tenant(store, TENANT, TrainConfig(), progress=lambda m: say(f"      {m}"))
        m = model.metrics
        say(
            f"      {model.version}: holdout AUC {m.get('auc', float('nan')):.3f}, calibration error "
            f"{m.get('calibration_error', float('nan')):.3f}, {m['train_seconds']} s"
        )

        policies.put(
            store,
            TENANT,
            policies.Policy(
                relevance_threshold=0.08,
                holdout_fraction=0.1,
                household={"caps": [{"channel": "direct_mail", "max": 1, "window": "30d", "per_offer": True}]},
            ),
            "quickstart",
        )
        _catalog(store)
        states = TenantStateCache(store, settings.model_refresh_seconds)
        log = DecisionLog(store)
        decider = Decider(store, states, log)
        say("\n[3/5] does it recover the planted truth?")
        _recovery(store, dealer, decider, model, seed)
        log.close()
        say(f"\n[4/5] {GOVERNED_DAYS} days of daily campaigns decided by suppressor (10% holdout gets everything)")
        _governed(store, dealer, now)
        say("\n[5/5] real decisions (relevance threshold 0.08)")
        log = DecisionLog(store)
        decider = Decider(store, states, log)
        _examples(dealer, decider)
        _household(dealer, decider)
        log.close()
        say(f"\ndone in {time.time() - t0:.0f} s")
        if serve:
            _serve(settings, store, api_key, port)
    finally:
        store.close()
    return 0


def _governed(store: Store, dealer: synthetic.Dealership, now: datetime) -> None:
    t = time.time()
    counts = synthetic.govern(store, TENANT, dealer, now - timedelta(days=GOVERNED_DAYS + 1), GOVERNED_DAYS)
    say(
        f"      {counts['decisions']} decisions, {counts['sends']} sent, {counts['events']} events followed "
        f"({time.time() - t:.0f} s)"
    )
    t = time.time()
    stricter = reports.vary(policies.get(store, TENANT), "relevance_threshold", 0.12)
    r = reports.simulate(store, TENANT, stricter, max_decisions=5_000)
    ch = r["change"]
    say(
        f"      what if the threshold had been 0.12? {r['decisions']} logged decisions of {r['customers']} customers "
        f"replayed in {time.time() - t:.0f} s ({r['agreement_with_log_pct']}% of them reproduced by the current policy):"
    )
    say(
        f"      {ch['sends_pct']}% of the sends, {ch['engagement_kept_pct']}% of the engagement, "
        f"{ch['unsubscribes_avoided']:.0f} of {r['current']['unsubscribes']:.0f} unsubscribes avoided"
    )
    say(
        f"      and in sales: {ch['conversions_kept_pct']}% of the purchases credited to a message, "
        f"{ch['revenue_kept_pct']}% of their revenue ({ch['revenue_per_customer_change']:+.2f} {r['currency']} "
        "per customer)"
    )
    report = lift.lift(store, TENANT)
    o, cur = report["overall"], report["currency"]
    g, h, diff = o["governed"], o["holdout"], o["difference"]["revenue_per_customer"]
    say(
        f"      holdout lift: governed customers got {g['sends_per_customer']:.1f} messages each, holdout "
        f"{h['sends_per_customer']:.1f}; unsubscribed {g['unsubscribed']['rate']:.1%} vs {h['unsubscribed']['rate']:.1%}, "
        f"engaged {g['engaged']['rate']:.1%} vs {h['engaged']['rate']:.1%}"
    )
    say(
        f"      bought {g['converted']['rate']:.1%} vs {h['converted']['rate']:.1%}, came in for service "
        f"{g['service_visit']['rate']:.1%} vs {h['service_visit']['rate']:.1%}; revenue per customer "
        f"{g['revenue_per_customer']['mean']:,.0f} vs {h['revenue_per_customer']['mean']:,.0f} {cur} "
        f"(difference {diff['diff']:+,.0f}, 95% interval {diff['low']:+,.0f} to {diff['high']:+,.0f})"
    )


def _recovery(store, dealer, decider, model, seed: int) -> None:
    from suppressor.training.metrics import auc

    rng = np.random.default_rng(seed + 1)
    reqs, truth = [], []
    for c in dealer.customers:
        for _ in range(4):
            msg = dealer.messages[rng.integers(len(dealer.messages))]
            ch = synthetic.CHANNELS[rng.integers(len(synthetic.CHANNELS))]
            reqs.append(
                DecisionRequest(
                    customer_id=c.customer_id, message=msg.on(ch), allow_reroute=False, channels=[ch], dry_run=True
                )
            )
            truth.append(dealer.p_engage(c, msg, ch))
    scores = np.array([d.channel_scores[r.message.channel] for d, r in zip(_decide(decider, reqs), reqs, strict=True)])
    truth = np.array(truth)
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
    from suppressor.model.exported import unpack
    from suppressor.storage import keys

    pipe = store.bulk.pipeline(transaction=False)
    for c in dealer.customers:
        pipe.hget(keys.vectors(TENANT, c.customer_id), model.version)
    ch_hit = seg_hit = 0
    for c, raw in zip(dealer.customers, pipe.execute(), strict=True):
        interests, channels = learned_affinities(model, unpack(raw), top=100)
        ch_hit += channels[0].name == c.true_channel
        segs = [a.name for a in interests if a.name.startswith("segment:")]
        seg_hit += bool(segs) and segs[0] == f"segment:{c.true_segment}"
    n = len(dealer.customers)
    say(f"      channel each customer really answers, top learned channel: {ch_hit / n:.0%} right (chance 25%)")
    say(f"      segment each customer really wants, top learned segment:   {seg_hit / n:.0%} right (chance 20%)")


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
        if not opted_out or in_holdout(TENANT, c.customer_id, 0.1):  # the holdout skips most rules
            continue
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
        say(f"      hidden truth: wants a {c.true_segment}, {c.true_make}; answers {c.true_channel}")
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
        req = DecisionRequest(customer_id=c.customer_id, message=msg, allow_reroute=False, dry_run=dry_run)
        return decider.decide(TENANT, [req], now=now)[0]

    pairs: dict[str, list] = {}
    for c in reversed(dealer.customers):  # the examples above used the first customers
        if c.household_id and c.consent["direct_mail"] and not in_holdout(TENANT, c.customer_id, 0.1):
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
        content.put(store, TENANT, cid, ContentIn(title=title, kind=kind, topics=topics, audience=audience))


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
