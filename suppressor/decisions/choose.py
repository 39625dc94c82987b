"""Choosing among a customer's competing messages (POST /v1/decisions:choose).

Every candidate goes through the rules as a dry run (one pipeline); the survivors are ranked by the
tenant policy's objective (the engagement ``score``, 0.5 where there is none; the ``uplift``; or the
``value``: by engagement when a survivor has no uplift) times priority; the best are then
decided for real one at a time, in rank order, each atomically with the caps, offers and household
like any decision, and a winner refused by then (a concurrent call took the slot) makes way for the
next survivor. The rest are decided for real with an ``outranked`` hold naming the winners (the
survivors that lost are suppressed by it; the others keep their rules' verdict, and a send they would
get by now is suppressed by it too): no candidate but a winner can ever take a slot, so
concurrent choices and single calls for one customer cannot exceed a cap or a reserve. A candidate
whose verdict stands (asked before) keeps it, so asking again returns the same verdicts.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime

import redis.asyncio

from suppressor import rules
from suppressor.decisions.decide import Decider
from suppressor.domain import Action, Choice, ChooseRequest, Decision, DecisionRequest, Kind, Message, Reason
from suppressor.errors import Refused
from suppressor.policy.document import Objective

SENDS = (Action.send, Action.reroute)
NO_SCORE = 0.5  # a candidate the model cannot score ranks as a coin toss
BATCH_CONCURRENCY = 32  # choices of a choose-batch in flight at once (each its own customer and deadline)


def rank_value(priority: int, measure: float | None, by: str = "score") -> float:
    """What a candidate is ranked by: its objective's measure (a score of 0.5 when unknown) times its
    priority (divided by it when negative, so a higher priority always ranks higher)."""
    if measure is None:
        measure = NO_SCORE if by == "score" else 0.0
    return measure * priority if measure >= 0 else measure / max(priority, 1)


# the relevance rule's reasons say which objective decided a verdict (a lead stage's or a campaign's own)
DECIDED_BY = {"adds": "uplift", "adds_little": "uplift", "worth": "value", "not_worth": "value"}
MEASURE = {Objective.uplift: "uplift", Objective.value: "value"}


def ranking(looked: list[Decision], objectives: list[Objective]) -> tuple[str, list[float | None]]:
    """What a choice ranks by (``score``, ``uplift`` or ``value``) and each candidate's measure: the objective
    that decided the candidates that could be sent (their relevance reasons say; else their policy's
    ``objectives``), when they agree and each has its measure; else the engagement score. Transactional
    candidates are not weighed (they go first, see ``_order``)."""
    weighed = [
        (d, next((DECIDED_BY[r.code] for r in d.reasons if r.code in DECIDED_BY), MEASURE.get(o, "score")))
        for d, o in zip(looked, objectives, strict=True)
        if d.action in SENDS and not _transactional(d)
    ]
    kinds = {by for _, by in weighed}
    by = kinds.pop() if len(kinds) == 1 else "score"
    if by != "score" and any(getattr(d, by) is None for d, _ in weighed):
        by = "score"
    return by, [getattr(d, by) for d in looked]


def _order(rank: dict, cands: list[Message]):
    """The sort key of candidate ``i``, best first: transactional ones, then by rank value, then by message id
    (so the order candidates arrive in never decides)."""
    return lambda i: (not rank[i][4], -rank[i][2], cands[i].message_id)


def _transactional(d: Decision) -> bool:
    return any(r.code == "transactional" for r in d.reasons)


def _ask(req: ChooseRequest, msg: Message, dry: bool) -> DecisionRequest:
    return DecisionRequest(
        customer_id=req.customer_id, message=msg, allow_reroute=req.allow_reroute, channels=req.channels, dry_run=dry
    )


def _standing(d: Decision, dry_run: bool) -> Decision:
    """A verdict given earlier, answered as this choice's (a dry run's ask reports dry_run)."""
    return d if d.dry_run == dry_run else d.model_copy(update={"dry_run": dry_run})


async def achoose(
    decider: Decider,
    tenant: str,
    req: ChooseRequest,
    hot: redis.asyncio.Redis,
    bulk: redis.asyncio.Redis,
    started: float | None = None,
    now: datetime | None = None,
) -> Choice:
    """The verdicts of one choice among ``req.candidates``, every store call within one decision deadline;
    ``Refused`` (fields named ``candidates[i]...``) before anything is decided."""
    t0 = started if started is not None else time.monotonic()
    cands = req.candidates
    try:
        looked = await decider.adecide(tenant, [_ask(req, m, True) for m in cands], hot, bulk, started=t0, now=now)
    except Refused as exc:
        exc.errors = [(_candidate_field(where), why) for where, why in exc.errors]
        raise
    state = decider.states.cached(tenant)
    by, measures = ranking(looked, [state.policy.for_campaign(m.campaign_id).objective for m in cands])
    rank = {}
    for i, (m, measure) in enumerate(zip(cands, measures, strict=False)):
        priority = state.policy.for_campaign(m.campaign_id).priority_of(m.priority, m.kind)
        # a transactional message is not weighed against marketing: it goes first (``_order``)
        rank[i] = (priority, measure, rank_value(priority, measure, by), by, m.kind == Kind.transactional)
    if any(r.code == "degraded" for d in looked for r in d.reasons):
        return _degraded(req, looked, rank)
    results: list[Decision | None] = [None] * len(cands)
    winners: list[int] = []
    for i, d in enumerate(looked):
        if d.replayed:  # decided before (this choice asked again): its verdict stands
            results[i] = _standing(d, req.dry_run)
            if d.action in SENDS:
                winners.append(i)
    # best first; equal values by message id, so the order candidates arrive in never decides
    survivors = sorted(
        (i for i, d in enumerate(looked) if not d.replayed and d.action in SENDS), key=_order(rank, cands)
    )
    for i in survivors:
        if len(winners) >= req.pick:
            break
        if req.dry_run:
            results[i] = looked[i]
        else:  # for real, atomically with the caps: a slot taken meanwhile refuses it, and the next one is asked
            [results[i]] = await decider.adecide(tenant, [_ask(req, cands[i], False)], hot, bulk, started=t0, now=now)
        if (got := results[i]) is not None and got.action in SENDS:
            winners.append(i)
    winners.sort(key=_order(rank, cands))
    rest = [i for i, d in enumerate(results) if d is None]
    # the survivors that lost are held; the others keep their rules' word, and a send they get by now
    # (a slot freed meanwhile) is held too once the pick is full, counting each other's sends
    late = [i for i in rest if i not in survivors]
    room = (
        {"room": req.pick - len(winners), "rivals": [cands[k].message_id for k in late]}
        if len(winners) < req.pick
        else {}
    )
    holds: list[dict] = [
        _outranked(cands, rank, winners, i, req.pick)
        if i in survivors
        else {**_outranked(cands, rank, winners, i, req.pick), "after": True, **room}
        for i in rest
    ]
    if req.dry_run:  # the dry runs' verdicts stand as they were: only the survivors that lost are held
        for i, hold in zip(rest, holds, strict=False):
            results[i] = _held(looked[i], hold)
    elif rest:
        decided = await decider.adecide(
            tenant, [_ask(req, cands[i], False) for i in rest], hot, bulk, started=t0, now=now, holds=list(holds)
        )
        for i, d in zip(rest, decided, strict=False):
            results[i] = d
    final = [d for d in results if d is not None]
    assert len(final) == len(results)  # every candidate is decided by now: a winner, a held survivor or the rest
    chosen = [cands[i].message_id for i in winners if final[i].action in SENDS]
    return Choice(customer_id=req.customer_id, chosen=chosen, results=final)


def _outranked(cands: list[Message], rank: dict, winners: list[int], i: int, pick: int) -> dict:
    """The ``outranked`` reason of candidate ``i``: the winners (none yet: the pick), the lowest winner's
    rank and its own."""

    def part(k: int) -> dict:
        priority, measure, value, by, _ = rank[k]
        if measure is None:
            measure = NO_SCORE if by == "score" else 0.0
        return {"priority": priority, "score": measure, "value": value, "ranked_by": by}

    if not winners:
        return {"code": "outranked", "rule": "pick", "pick": pick, **part(i)}
    low = max(winners, key=_order(rank, cands))
    return {"code": "outranked", "by": [cands[w].message_id for w in winners], "best": part(low), **part(i)}


def _held(d: Decision, hold: dict, keep: bool = False) -> Decision:
    """A verdict with the hold applied as the script applies it: a send that lost is suppressed by it
    alone (``keep``: beside the reasons it had)."""
    if d.action not in SENDS:
        return d
    reason = Reason(code="outranked", message=rules.text(hold, d.model_version))
    return d.model_copy(
        update={
            "action": Action.suppress,
            "channel": None,
            "not_before": None,
            "reasons": [*(d.reasons if keep else []), reason],
        }
    )


def _degraded(req: ChooseRequest, looked: list[Decision], rank: dict) -> Choice:
    """The store is away: every candidate gets the failure mode; when that is a send, only the best
    ``pick`` by priority (no score is known) go out, the others are suppressed as outranked."""
    results = [_standing(d, req.dry_run) for d in looked]
    if not any(d.action in SENDS for d in results):
        return Choice(customer_id=req.customer_id, chosen=[], results=results)
    cands = req.candidates
    order = sorted(range(len(cands)), key=_order(rank, cands))
    winners = order[: req.pick]
    for i in order[req.pick :]:
        results[i] = _held(results[i], _outranked(cands, rank, winners, i, req.pick), keep=True)
    return Choice(customer_id=req.customer_id, chosen=[cands[i].message_id for i in winners], results=results)


def _candidate_field(where: str, item: int | None = None) -> str:
    """A decision request's field (``items[j].message.channel``) as a choice names it (``candidates[j].channel``)."""
    named = re.sub(
        r"^items\[(\d+)\]\.(message\.)?", lambda m: f"candidates[{m.group(1)}]." if m.group(2) else "", where
    )
    return named if item is None else f"items[{item}].{named}"


async def achoose_many(
    decider: Decider,
    tenant: str,
    items: list[ChooseRequest],
    hot: redis.asyncio.Redis,
    bulk: redis.asyncio.Redis,
    timeout: float,
) -> list[Choice]:
    """Many choices (one per customer), each within its own decision deadline, in request order; every
    item is checked first (``Refused`` names ``items[k].candidates[i]...``), so a bad one decides nothing."""
    asks = [(k, _ask(item, m, True)) for k, item in enumerate(items) for m in item.candidates]
    try:
        await decider.acheck(tenant, [a for _, a in asks], timeout)
    except Refused as exc:
        errors = []
        for where, why in exc.errors:
            found = re.match(r"^items\[(\d+)\]", where)
            assert found is not None  # acheck names every fault by its request: items[j]...
            j = int(found.group(1))
            k = asks[j][0]
            first = next(n for n, (kk, _) in enumerate(asks) if kk == k)
            errors.append((_candidate_field(where.replace(f"items[{j}]", f"items[{j - first}]", 1), k), why))
        raise Refused(errors) from None
    gate = asyncio.Semaphore(BATCH_CONCURRENCY)

    async def one(item: ChooseRequest) -> Choice:
        async with gate:
            return await achoose(decider, tenant, item, hot, bulk, started=time.monotonic())

    return await asyncio.gather(*(one(item) for item in items))
