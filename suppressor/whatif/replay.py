"""Replay logged decisions, and the behavior between them, under candidate policies, through
the production decide script (see lua/replay.lua)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from suppressor.decisions.decide import channel_args, in_holdout, request_params, static_params
from suppressor.model.exported import ExportedModel
from suppressor.policy.document import VersionedPolicy
from suppressor.storage import keys
from suppressor.storage.store import Store, evalsha, run
from suppressor.whatif.history import ENGAGED, History, Logged

CUSTOMERS_PER_CALL = 50
# Decisions one script call may re-decide (~150 µs each): Redis runs a script alone, so a
# customer with a long log is replayed a few policies per call, keeping each call near 60 ms
# and live decisions within their deadline.
REPLAYS_PER_CALL = 400


def _revocations(evs: Iterable[dict]) -> tuple[set[str], set[str]]:
    """Channels and topics that stored events took away (mirrors lua/ingest.lua)."""
    channels: set[str] = set()
    topics: set[str] = set()
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


def _statics(
    pols: list[VersionedPolicy], campaigns: set[str], model: ExportedModel | None
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


def _customer_args(
    store: Store,
    history: History,
    cid: str,
    decisions: list[Logged],
    pols: list[VersionedPolicy],
    texts: list[str],
    model: ExportedModel | None,
) -> tuple[dict, list]:
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
        holds = "".join(
            "1" if in_holdout(tenant, cid, p.for_campaign(cmp or None).holdout_fraction) else "0" for p in pols
        )
        dyn = request_params(req, item.record["decision_id"], item.at_ms, settings.customer_ttl_days * 86_400_000)
        dyn.update(holds=holds, cmp=cmp, mid=req.message.message_id, dry=False)
        if any(r["code"] == "household" for r in item.record.get("reasons") or []):
            # household rules span customers and a replay runs one customer at a time: it keeps the
            # household's logged word (see the README, "What-ifs")
            dyn["household_said"] = {"code": "household", "rule": "logged"}
        if any(r["code"] == "outranked" for r in item.record.get("reasons") or []):
            # a choice spans candidates and a replay decides one message at a time: it keeps the choice
            dyn["hold"] = {"code": "outranked", "rule": "logged"}
        # every policy replays with the same candidates: the union of their declared channels
        pairs = channel_args(req, model, list(dict.fromkeys(ch for p in pols for ch in p.declared_channels)))
        args += [orjson.dumps(dyn), len(pairs) // 2, *pairs]
    header = {
        "ns": len(texts),
        "max": settings.max_events_per_customer,
        "ttl": settings.customer_ttl_days * 86400,
        "t0": t0,
        "pre": len(pre),
        "restore": sorted(restore),
        "unblock": sorted(unblock),
    }
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


def replay(
    store: Store, history: History, pols: list[VersionedPolicy], model: ExportedModel | None
) -> list[list[dict]]:
    """Each policy's verdicts for ``history.decisions``, in their order."""
    by_customer: dict[str, list[Logged]] = defaultdict(list)
    for d in history.decisions:
        by_customer[d.customer_id].append(d)
    campaigns = {d.request.message.campaign_id for d in history.decisions if d.request.message.campaign_id}
    texts, sidx = _statics(pols, campaigns, model)
    out: list[list[dict]] = [[] for _ in pols]
    cids = list(by_customer)  # the order history.decisions is in

    def build(first_cid: int) -> tuple[list, list]:
        calls, owners = [], []
        for cid in cids[first_cid : first_cid + CUSTOMERS_PER_CALL]:
            header, args = _customer_args(store, history, cid, by_customer[cid], pols, texts, model)
            step = max(1, REPLAYS_PER_CALL // len(by_customer[cid]))
            for first in range(0, len(pols), step):
                group = range(first, min(first + step, len(pols)))
                group_header = orjson.dumps({**header, "first": first, "sidx": sidx[first : group.stop]})
                calls.append((keys.replay_keys(history.tenant, cid), [group_header, *args]))
                owners.append(group)
        return calls, owners

    def collect(owners: list, answers: list) -> None:
        for group, per_policy in zip(owners, answers, strict=True):
            for k, verdicts in zip(group, per_policy, strict=True):
                out[k].extend(map(orjson.loads, verdicts))

    # Redis replays one set of customers while a thread prepares the next and reads the last
    # (the socket wait releases the interpreter): the two overlap instead of taking turns
    with ThreadPoolExecutor(1, thread_name_prefix="replay") as helper:
        starts = range(0, len(cids), CUSTOMERS_PER_CALL)
        pending = helper.submit(build, 0) if cids else None
        collected = []
        for i in starts:
            assert pending is not None  # there are starts only when there are customers
            calls, owners = pending.result()
            if i + CUSTOMERS_PER_CALL < len(cids):
                pending = helper.submit(build, i + CUSTOMERS_PER_CALL)
            collected.append(helper.submit(collect, owners, run(store, evalsha(store, "replay", calls))))
        for done in collected:
            done.result()
    return out
