"""What a policy would have done: replay logged decisions, and the behavior that followed them,
under candidate policies, through the production decide script (see lua/replay.lua).

Engagement of a replayed send is what was observed when the same message really went out on
the same channel, and the model's calibrated score otherwise; unsubscribes and complaints of
sends that never happened are estimated from the observed rate at that score.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

import numpy as np
from pydantic import ValidationError

from . import features, keys, reasons
from . import model as models
from . import policy as policies
from .decisions import channel_args, in_holdout, request_params, static_params
from .domain import DecisionRequest
from .labels import epoch
from .model import ExportedModel
from .policy import VersionedPolicy
from .store import Store, run_scripts

ATTRIBUTION_DAYS = 7  # behavior this long after a send is credited to it
SENT = ("send", "reroute")
# reasons that stop or delay a send (the others explain a send): from the reasons registry
BLOCKING = reasons.blocking()
ENGAGED = frozenset(t for t, w in features.EVENT_WEIGHTS.items() if w > 0)
CUSTOMERS_PER_CALL = 50
# Decisions one script call may re-decide (~150 µs each): Redis runs a script alone, so a
# customer with a long log is replayed a few policies per call, keeping each call near 60 ms
# and live decisions within their deadline.
REPLAYS_PER_CALL = 400
SWEEPABLE = ("relevance_threshold", "cap_scale")


@dataclass
class Logged:
    """One logged decision: what was asked, what was answered, when."""

    record: dict
    request: DecisionRequest
    at_ms: int

    @property
    def customer_id(self) -> str:
        return self.request.customer_id

    @property
    def sent(self) -> bool:
        """True when the verdict let the message go out (as far as we know, it did)."""
        return self.record["action"] in SENT


@dataclass
class Outcome:
    """What a customer did about one message that really went out."""

    engaged: bool = False
    unsubscribed: bool = False
    complained: bool = False


@dataclass
class History:
    """The logged decisions to replay (by customer, in time order) and each customer's behavior."""

    tenant: str
    decisions: list[Logged]
    events: dict[str, list[dict]]
    customers_total: int
    decisions_total: int

    @property
    def customers(self) -> int:
        return len(self.events)


def _ms(ts: str) -> int:
    return int(epoch(ts) * 1000)


def _sample_order(tenant: str, customer_id: str) -> bytes:
    # salted: unsalted, this is the holdout hash, and a sample would take the holdout first
    return hashlib.blake2b(f"sample:{tenant}:{customer_id}".encode(), digest_size=8).digest()


def read_log(store: Store, tenant: str, since: datetime | None = None, until: datetime | None = None,
             chunk: int = 5_000) -> list[Logged]:
    """Every logged decision in the window that can be replayed (it carries its request)."""
    lo = since.timestamp() * 1000 if since else -np.inf
    hi = until.timestamp() * 1000 if until else np.inf
    out, start, key = [], "-", keys.decision_log(tenant)
    while True:
        rows = store.bulk.xrange(key, min=start, max="+", count=chunk)
        for _, fields in rows:
            rec = json.loads(fields[b"d"])
            if "request" not in rec or rec.get("dry_run"):
                continue
            at = _ms(rec["decided_at"])
            if lo <= at <= hi:
                try:
                    out.append(Logged(rec, DecisionRequest.model_validate(rec["request"]), at))
                except ValidationError:  # logged by a version that accepted what this one does not
                    continue
        if len(rows) < chunk:
            return out
        start = "(" + rows[-1][0].decode()


def load_history(store: Store, tenant: str, since: datetime | None = None, until: datetime | None = None,
                 max_decisions: int = 50_000) -> History:
    """The logged decisions of a sample of customers (all of each one's) and their stored events."""
    by_customer: dict[str, list[Logged]] = defaultdict(list)
    logged = read_log(store, tenant, since, until)
    for d in logged:
        by_customer[d.customer_id].append(d)
    decisions: list[Logged] = []
    chosen: list[str] = []
    # a stable pseudo-random sample of whole customers: caps need each customer's full sequence
    for cid in sorted(by_customer, key=lambda c: _sample_order(tenant, c)):
        if decisions and len(decisions) + len(by_customer[cid]) > max_decisions:
            break
        chosen.append(cid)
        decisions.extend(sorted(by_customer[cid], key=lambda d: d.at_ms))
    events: dict[str, list[dict]] = {}
    for i in range(0, len(chosen), 500):
        pipe = store.bulk.pipeline(transaction=False)
        for cid in chosen[i:i + 500]:
            pipe.hgetall(keys.events(tenant, cid))
        for cid, raw in zip(chosen[i:i + 500], pipe.execute()):
            bodies = list(raw.values())
            evs = json.loads(b"[" + b",".join(bodies) + b"]")  # one parse per customer, not per event
            for e, eid, body in zip(evs, raw, bodies):
                e["event_id"], e["_raw"], e["_ms"] = eid.decode(), body, _ms(e["ts"])
            events[cid] = sorted(evs, key=lambda e: e["_ms"])
    return History(tenant, decisions, events, len(by_customer), len(logged))


def _revocations(evs: Iterable[dict]) -> tuple[set[str], set[str]]:
    """Channels and topics that stored events took away (mirrors lua/ingest.lua)."""
    channels, topics = set(), set()
    for e in evs:
        if e["type"] not in ("unsubscribed", "complained"):
            continue
        tops = e.get("topics") or []
        scope = (e.get("properties") or {}).get("scope") or ("topics" if tops else "channel")
        if e["type"] == "complained":
            scope = "all"
        if scope in ("channel", "all") and e.get("channel"):
            channels.add(e["channel"])
        if scope in ("topics", "all"):
            topics.update(tops)
    return channels, topics


def _statics(pols: list[VersionedPolicy], campaigns: set[str], model: ExportedModel | None
             ) -> tuple[list[str], list[dict[str, int]]]:
    texts: list[str] = []
    index: dict[str, int] = {}
    sidx = []
    for pol in pols:
        per = {}
        for cmp in ("", *sorted(c for c in campaigns if c in pol.campaigns)):
            text = "{" + static_params(pol.for_campaign(cmp or None), model) + "}"
            if text not in index:
                texts.append(text)
                index[text] = len(texts)  # Lua counts from 1
            per[cmp] = index[text]
        sidx.append(per)
    return texts, sidx


def _customer_args(store: Store, history: History, cid: str, decisions: list[Logged], pols: list[VersionedPolicy],
                   texts: list[str], model: ExportedModel | None) -> tuple[dict, list]:
    """The replay script's header (less the policies a call runs) and its other arguments."""
    tenant, settings = history.tenant, store.settings
    evs = history.events.get(cid, [])
    t0, t_end = decisions[0].at_ms, decisions[-1].at_ms
    restore, unblock = _revocations(evs)
    timeline: list[tuple[int, int, Any]] = [(d.at_ms, 0, d) for d in decisions]
    pre = []
    for e in evs:
        if e["_ms"] < t0:
            pre.append(e)
        elif e["_ms"] <= t_end:
            timeline.append((e["_ms"], 1, e))
    timeline.sort(key=lambda x: (x[0], x[1]))
    pre = _still_relevant(pre)
    lines, bodies, args = [], [], []
    for e in pre:
        lines.append(_event_line(e))
        bodies.append(e["_raw"])
    for _, is_event, item in timeline:
        if is_event:
            lines.append(_event_line(item))
            bodies.append(item["_raw"])
            continue
        lines.append("d")
        req = item.request
        cmp = req.message.campaign_id or ""
        holds = "".join("1" if in_holdout(tenant, cid, p.for_campaign(cmp or None).holdout_fraction) else "0"
                        for p in pols)
        dyn = request_params(req, item.record["decision_id"], item.at_ms)
        dyn.update(holds=holds, cmp=cmp, mid=req.message.message_id, dry=False)
        # every policy replays with the same candidates: the union of their declared channels
        pairs = channel_args(req, model, list(dict.fromkeys(ch for p in pols for ch in p.declared_channels)))
        args += [json.dumps(dyn), len(pairs) // 2, *pairs]
    header = {"ns": len(texts), "max": settings.max_events_per_customer, "ttl": settings.customer_ttl_days * 86400,
              "t0": t0, "pre": len(pre), "restore": sorted(restore), "unblock": sorted(unblock)}
    return header, [*texts, "\n".join(lines), b"\n".join(bodies), *args]


def _still_relevant(evs: list[dict]) -> list[dict]:
    """The older events that still shape what the decide script reads (lua/ingest.lua's effects).

    An engagement on a channel resets its ignore streak and clears its pending deliveries, so
    the channel's earlier deliveries, ignores and engagements no longer matter; purchases,
    unsubscribes and complaints always do. Dropping the rest makes the replay's starting state
    several times cheaper to build and leaves it the same."""
    last: dict[str, int] = {}
    for e in evs:
        if e["type"] in ENGAGED and e.get("channel"):
            last[e["channel"]] = e["_ms"]
    keep = ("purchased", "unsubscribed", "complained")
    return [e for e in evs if e["type"] in keep or not e.get("channel") or e["_ms"] >= last.get(e["channel"], 0)]


def _event_line(e: dict) -> str:
    # ids and channels cannot hold whitespace (domain.Identifier, Channel), so tabs separate safely
    return f"e\t{e['event_id']}\t{e['_ms'] / 1000}\t{e.get('message_id') or ''}\t{e.get('channel') or ''}"


def replay(store: Store, history: History, pols: list[VersionedPolicy], model: ExportedModel | None
           ) -> list[list[dict]]:
    """Each policy's verdicts for ``history.decisions``, in their order."""
    by_customer: dict[str, list[Logged]] = defaultdict(list)
    for d in history.decisions:
        by_customer[d.customer_id].append(d)
    campaigns = {d.request.message.campaign_id for d in history.decisions if d.request.message.campaign_id}
    texts, sidx = _statics(pols, campaigns, model)
    out: list[list[dict]] = [[] for _ in pols]
    cids = list(by_customer)  # the order history.decisions is in
    for i in range(0, len(cids), CUSTOMERS_PER_CALL):
        calls, owners = [], []
        for cid in cids[i:i + CUSTOMERS_PER_CALL]:
            header, args = _customer_args(store, history, cid, by_customer[cid], pols, texts, model)
            step = max(1, REPLAYS_PER_CALL // len(by_customer[cid]))
            for first in range(0, len(pols), step):
                group = range(first, min(first + step, len(pols)))
                group_header = json.dumps({**header, "first": first, "sidx": sidx[first:group.stop]})
                calls.append((keys.replay_keys(history.tenant, cid), [group_header, *args]))
                owners.append(group)
        for group, per_policy in zip(owners, run_scripts(store, "replay", calls, hot=False)):
            for k, verdicts in zip(group, per_policy):
                out[k].extend(json.loads(v) for v in verdicts)
    return out


def observed(history: History, window_days: float = ATTRIBUTION_DAYS) -> list[Outcome | None]:
    """What followed each really sent decision (None for the ones that did not go out)."""
    window = window_days * 86_400_000
    out: list[Outcome | None] = [Outcome() if d.sent else None for d in history.decisions]
    sends_of: dict[str, list[int]] = defaultdict(list)
    for i, d in enumerate(history.decisions):
        if d.sent:
            sends_of[d.customer_id].append(i)
    for cid, idx in sends_of.items():
        for e in history.events.get(cid, []):
            typ = e["type"]
            if typ not in ENGAGED and typ not in ("unsubscribed", "complained"):
                continue
            mid, ch = e.get("message_id"), e.get("channel")
            if not mid and typ in ENGAGED:
                continue  # organic behavior is not a reaction to a send
            best = None
            for i in idx:  # the latest send of that message (or on that channel) before the event
                d = history.decisions[i]
                if d.at_ms > e["_ms"] or e["_ms"] - d.at_ms > window:
                    continue
                hit = d.request.message.message_id == mid if mid else (ch and d.record.get("channel") == ch)
                if hit and (best is None or d.at_ms >= history.decisions[best].at_ms):
                    best = i
            if best is not None:
                o = out[best]
                if typ in ENGAGED:
                    o.engaged = True
                elif typ == "unsubscribed":
                    o.unsubscribed = True
                else:
                    o.complained = True
    return out


@dataclass
class RateByScore:
    """An observed rate (unsubscribes, complaints) as a step function of the calibrated score."""

    edges: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=lambda: [0.0])

    @classmethod
    def fit(cls, scores: list[float], flags: list[bool], bins: int = 10, min_per_bin: int = 50,
            prior_weight: float = 20.0) -> "RateByScore":
        """Quantile bins of at least ``min_per_bin`` sends, each shrunk toward the overall rate."""
        if not flags:
            return cls()
        s, f = np.asarray(scores, float), np.asarray(flags, float)
        overall = float(f.mean())
        n_bins = max(1, min(bins, len(s) // min_per_bin))
        edges = sorted(set(np.quantile(s, np.linspace(0, 1, n_bins + 1)[1:-1]).tolist()))
        which = np.searchsorted(edges, s, side="right")
        rates = [float((f[which == b].sum() + overall * prior_weight) / ((which == b).sum() + prior_weight))
                 for b in range(len(edges) + 1)]
        return cls(edges, rates)

    def __call__(self, score: float | None) -> float:
        if score is None:
            return float(np.mean(self.rates))
        return self.rates[bisect_right(self.edges, score)]


@dataclass
class Estimator:
    """Turns a replayed verdict into expected engagement, unsubscribes and complaints."""

    outcomes: list[Outcome | None]
    unsubscribes: RateByScore
    complaints: RateByScore
    engagement_rate: float  # observed, for sends the model cannot score

    @classmethod
    def fit(cls, history: History, baseline: list[dict]) -> "Estimator":
        """Rates by score from the sends that really went out, scored as the baseline replay scores them."""
        outcomes = observed(history)
        scores, unsub, compl, engaged = [], [], [], []
        for d, o, v in zip(history.decisions, outcomes, baseline):
            if o is None:
                continue
            engaged.append(o.engaged)
            s = (v.get("scores") or {}).get(d.record.get("channel"))
            if s is not None:
                scores.append(s)
                unsub.append(o.unsubscribed)
                compl.append(o.complained)
        return cls(outcomes, RateByScore.fit(scores, unsub), RateByScore.fit(scores, compl),
                   float(np.mean(engaged)) if engaged else 0.0)

    def expect(self, d: Logged, o: Outcome | None, v: dict) -> tuple[float, float, float, bool]:
        """(engagement, unsubscribe, complaint) expected of one replayed send, and whether observed."""
        ch = v.get("channel")
        if o is not None and ch == d.record.get("channel"):
            return float(o.engaged), float(o.unsubscribed), float(o.complained), True
        s = (v.get("scores") or {}).get(ch)
        return (s if s is not None else self.engagement_rate), self.unsubscribes(s), self.complaints(s), False


def summarize(history: History, verdicts: list[dict], est: Estimator) -> tuple[dict, np.ndarray]:
    """Counts by action, reason and kind, and the engagement, unsubscribes and complaints expected;
    with the same per customer (rows: sends, engagement, unsubscribes, complaints) for intervals."""
    row = {cid: i for i, cid in enumerate(history.events)}  # every sampled customer, in a fixed order
    per = np.zeros((len(row), 4))
    actions: Counter = Counter()
    suppressed: Counter = Counter()
    deferred: Counter = Counter()
    rerouted: Counter = Counter()
    mix: Counter = Counter()
    eng = unsub = compl = eng_observed = 0.0
    observed_sends = 0
    for d, o, v in zip(history.decisions, est.outcomes, verdicts):
        act = v["action"]
        actions[act] += 1
        codes = [r["code"] for r in v.get("reasons") or []]
        if act in SENT:
            mix[d.request.message.kind.value] += 1
            e, u, c, seen = est.expect(d, o, v)
            eng, unsub, compl = eng + e, unsub + u, compl + c
            per[row[d.customer_id]] += (1, e, u, c)
            if seen:
                eng_observed += e
                observed_sends += 1
            if act == "reroute":
                rerouted.update(c for c in codes if c in ("channel_preference", "consent"))
        else:
            (suppressed if act == "suppress" else deferred).update({c for c in codes if c in BLOCKING})
    sends = actions["send"] + actions["reroute"]
    return {
        "decisions": len(verdicts),
        "sends": sends,
        "actions": {a: actions[a] for a in ("send", "reroute", "defer", "suppress")},
        "suppressed_by": dict(suppressed.most_common()),
        "deferred_by": dict(deferred.most_common()),
        "rerouted_by": dict(rerouted.most_common()),
        "mix": {**{k: mix[k] for k in ("sales", "value", "service", "transactional")},
                "sales_share": round(mix["sales"] / sends, 4) if sends else 0.0},
        "engagement": round(eng, 2),
        "engagement_observed": round(eng_observed, 2),
        "engagement_modeled": round(eng - eng_observed, 2),
        "sends_with_observed_outcome": observed_sends,
        "unsubscribes": round(unsub, 2),
        "complaints": round(compl, 2),
    }, per


def intervals(cur: np.ndarray, cand: np.ndarray, draws: int = 200, seed: int = 0) -> dict:
    """95% bootstrap intervals of the change, resampling customers (the same ones under both policies).

    Rows are customers, columns sends, engagement, unsubscribes, complaints. They cover the
    noise in who happened to engage or unsubscribe, not the model's own error."""
    n = len(cur)
    if n < 2:
        return {}
    rng = np.random.default_rng(seed)
    c, k = np.empty((draws, 4)), np.empty((draws, 4))
    for b in range(draws):
        w = np.bincount(rng.integers(0, n, n), minlength=n)
        c[b], k[b] = w @ cur, w @ cand
    with np.errstate(divide="ignore", invalid="ignore"):
        stats = {"sends_pct": 100 * k[:, 0] / c[:, 0], "engagement_pct": 100 * k[:, 1] / c[:, 1],
                 "unsubscribes_pct": 100 * k[:, 2] / c[:, 2],
                 "unsubscribes_avoided": c[:, 2] - k[:, 2], "complaints_avoided": c[:, 3] - k[:, 3]}
    out = {}
    for name, x in stats.items():
        x = x[np.isfinite(x)]
        out[name] = [round(float(v), 2) for v in np.percentile(x, [2.5, 97.5])] if len(x) else None
    return out


def _pct(a: float, b: float) -> float | None:
    return round(100 * a / b, 1) if b else None


def _compare(cur: dict, cand: dict) -> dict:
    return {
        "sends_pct": _pct(cand["sends"], cur["sends"]),
        "engagement_kept_pct": _pct(cand["engagement"], cur["engagement"]),
        "unsubscribes_avoided": round(cur["unsubscribes"] - cand["unsubscribes"], 2),
        "complaints_avoided": round(cur["complaints"] - cand["complaints"], 2),
        "sales_share": [cur["mix"]["sales_share"], cand["mix"]["sales_share"]],
    }


def _view(v: dict, model_version: str | None) -> dict:
    return {"action": v["action"], "channel": v.get("channel"),
            "reasons": [{"code": r["code"], "message": reasons.text(r, model_version)} for r in v.get("reasons") or []]}


@dataclass
class Prepared:
    """A loaded history, the model that scores it and the policy to compare with (reused by sweeps)."""

    history: History
    model: ExportedModel | None
    current: VersionedPolicy


def prepare(store: Store, tenant: str, since: datetime | None = None, until: datetime | None = None,
            max_decisions: int = 50_000, current: VersionedPolicy | None = None) -> Prepared:
    """Load what every simulation of this tenant needs; ``current`` defaults to the saved policy."""
    active = models.active_version(store, tenant)
    model = models.load(store, tenant, active) if active else None
    return Prepared(load_history(store, tenant, since, until, max_decisions), model,
                    current or policies.get(store, tenant))


def iso(ms: int) -> str:
    """Milliseconds since the epoch as ISO-8601 UTC text."""
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat()


def _frame(p: Prepared) -> dict:
    h = p.history
    times = [d.at_ms for d in h.decisions]
    return {
        "window": {"from": iso(min(times)) if times else None, "to": iso(max(times)) if times else None},
        "decisions": len(h.decisions), "customers": h.customers,
        "sampled": {"decisions": len(h.decisions), "of_decisions": h.decisions_total,
                    "customers": h.customers, "of_customers": h.customers_total},
        "model_version": p.model.version if p.model else None,
        "attribution_days": ATTRIBUTION_DAYS,
    }


def simulate(store: Store, tenant: str, candidate: VersionedPolicy, prepared: Prepared | None = None,
             examples: int = 20, **load: Any) -> dict:
    """Candidate vs current policy over the logged decisions: what each keeps, stops and costs."""
    p = prepared or prepare(store, tenant, **load)
    h = p.history
    cur_v, cand_v = replay(store, h, [p.current, candidate], p.model) if h.decisions else ([], [])
    est = Estimator.fit(h, cur_v)
    (cur, cur_rows), (cand, cand_rows) = summarize(h, cur_v, est), summarize(h, cand_v, est)
    changed = [i for i, (a, b) in enumerate(zip(cur_v, cand_v))
               if (a["action"], a.get("channel")) != (b["action"], b.get("channel"))]
    version = p.model.version if p.model else None
    agree = sum(d.record["action"] == v["action"] for d, v in zip(h.decisions, cur_v))
    return {
        **_frame(p),
        "current": {"policy_version": p.current.version, **cur},
        "candidate": cand,
        "change": {**_compare(cur, cand), "decisions_changed": len(changed),
                   "intervals": intervals(cur_rows, cand_rows)},
        # how faithfully the replay reproduces what was decided at the time (model or policy since changed?)
        "agreement_with_log_pct": _pct(agree, len(h.decisions)),
        "examples": [{"decision_id": h.decisions[i].record["decision_id"], "customer_id": h.decisions[i].customer_id,
                      "message_id": h.decisions[i].request.message.message_id,
                      "decided_at": h.decisions[i].record["decided_at"],
                      "current": _view(cur_v[i], version), "candidate": _view(cand_v[i], version)}
                     for i in changed[:examples]],
    }


def vary(base: VersionedPolicy, param: str, value: float) -> VersionedPolicy:
    """``base`` with one swept parameter set (campaign overrides kept)."""
    doc = base.model_dump(mode="json")
    if param == "relevance_threshold":
        doc["relevance_threshold"] = value
    elif param == "cap_scale":
        doc["caps"] = [{**c, "max": c["max"] and max(1, round(c["max"] * value))} for c in doc["caps"]]
    else:
        raise ValueError(f"cannot sweep {param!r}; choose one of {', '.join(SWEEPABLE)}")
    return VersionedPolicy.model_validate(doc)


def default_values(p: Prepared, param: str) -> list[float]:
    """Sweep points: thresholds at score deciles of the logged decisions, or cap multipliers."""
    if param == "cap_scale":
        return [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0]
    scores = [d.record["score"] for d in p.history.decisions if d.record.get("score") is not None]
    qs = np.quantile(scores, np.linspace(0, 0.9, 10)).tolist() if scores else []
    return sorted({0.0, round(p.current.relevance_threshold, 4), *(round(q, 4) for q in qs)})


def tradeoff(store: Store, tenant: str, param: str = "relevance_threshold", values: list[float] | None = None,
             prepared: Prepared | None = None, **load: Any) -> dict:
    """Sends vs expected engagement vs expected unsubscribes as one parameter sweeps, vs the current policy."""
    if param not in SWEEPABLE:
        raise ValueError(f"cannot sweep {param!r}; choose one of {', '.join(SWEEPABLE)}")
    p = prepared or prepare(store, tenant, **load)
    values = sorted(set(values)) if values else default_values(p, param)
    h = p.history
    pols = [p.current, *(vary(p.current, param, v) for v in values)]
    verdicts = replay(store, h, pols, p.model) if h.decisions else [[] for _ in pols]
    est = Estimator.fit(h, verdicts[0])
    cur, cur_rows = summarize(h, verdicts[0], est)
    current_value = p.current.relevance_threshold if param == "relevance_threshold" else 1.0
    points = []
    for value, vs in zip(values, verdicts[1:]):
        s, rows = summarize(h, vs, est)
        ci = intervals(cur_rows, rows)
        points.append({
            "value": value, "current": value == current_value,
            "sends": s["sends"], "sends_pct": _pct(s["sends"], cur["sends"]),
            "engagement": s["engagement"], "engagement_pct": _pct(s["engagement"], cur["engagement"]),
            "unsubscribes": s["unsubscribes"], "unsubscribes_pct": _pct(s["unsubscribes"], cur["unsubscribes"]),
            "complaints": s["complaints"], "sales_share": s["mix"]["sales_share"],
            "intervals": {k: ci.get(k) for k in ("sends_pct", "engagement_pct", "unsubscribes_pct")},
        })
    picks = {}
    for target in (95, 98, 99):
        ok = [pt for pt in points if (pt["engagement_pct"] or 0) >= target]
        if ok:
            best = min(ok, key=lambda pt: pt["sends"])
            picks[f"{target}%"] = {"value": best["value"], "sends_pct": best["sends_pct"],
                                   "engagement_pct": best["engagement_pct"], "unsubscribes_pct": best["unsubscribes_pct"]}
    return {**_frame(p), "param": param, "policy_version": p.current.version,
            "current": {"value": current_value, "sends": cur["sends"], "engagement": cur["engagement"],
                        "unsubscribes": cur["unsubscribes"], "complaints": cur["complaints"]},
            "points": points, "picks": picks}
