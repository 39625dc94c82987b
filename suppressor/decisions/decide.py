"""Pre-send verdicts: the message side scored with numpy, the customer side and every rule
in one Lua call on the customer's slot (atomic with the ledger update)."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import redis
import redis.asyncio

from suppressor import rules
from suppressor.customers import deferred
from suppressor.decisions.log import DecisionLog
from suppressor.domain import EPOCH, Action, Decision, DecisionRequest, Kind, Offer, Signature
from suppressor.model.exported import ExportedModel, unpack, uplift_field
from suppressor.policy import content
from suppressor.policy.document import Policy, check_channels, check_terms
from suppressor.storage import keys
from suppressor.storage.store import Store, aclose_clients, arun, astream, evalsha, out_of_memory, run
from suppressor.tenants.state import TenantState, TenantStateCache

log = logging.getLogger(__name__)

# Up to this many requests a call is "small": it gets the decision deadline and stays on the
# event loop; bigger batches use the bulk client and run their Python work in a thread.
SMALL = 100
PART = 500  # a big batch goes to Redis in parts of this many, so Python and Redis work side by side

_PROCESS = os.urandom(6).hex()
_COUNTER = itertools.count()


def _reseed() -> None:
    global _PROCESS
    _PROCESS = os.urandom(6).hex()


os.register_at_fork(after_in_child=_reseed)  # forked workers must not share id prefixes


def new_decision_id(customer_id: str) -> str:
    """Unique without a syscall (per-process random prefix + counter); names its customer for release."""
    return f"d_{_PROCESS}{next(_COUNTER):08x}.{customer_id}"


def ledger_id(decision_id: str) -> str:
    """The part of a decision id the send ledger keeps: ours alone, never the caller's customer id."""
    return decision_id.partition(".")[0]


def customer_of(decision_id: str) -> str | None:
    """The customer a decision id names, or None if it is not one of ours."""
    head, sep, cid = decision_id.partition(".")
    return cid if sep and head.startswith("d_") and cid else None


def in_holdout(tenant: str, customer_id: str, fraction: float) -> bool:
    """Stable assignment: the same customer is always in (or out of) the holdout."""
    if fraction <= 0:
        return False
    h = hashlib.blake2b(f"{tenant}:{customer_id}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64 < fraction


# the policy's parameter groups the live script decodes only when a rule reads them (LAZY in the script)
LAZY = rules.lazy()


def uplift_params(model: ExportedModel | None) -> dict:
    """What the decide script reads of the model's uplift: the customers' vector field, the heads' dimension
    and calibrations (sent, withheld, harm), revenue per outcome and per customer; or why there is none."""
    lifts = model.lifts if model else None
    if model is None or lifts is None:
        why = model.uplift.absent if model and model.uplift else f"model {model.version if model else ''} has none"
        return {"field": "", "absent": why}
    return {
        "field": uplift_field(model.version),
        "absent": "",
        "dim": lifts.dim,
        "cal": [[lifts.heads[h].calibration["a"], lifts.heads[h].calibration["b"]] for h in lifts.head_names],
        "rpo": float(lifts.metrics.get("revenue_per_outcome") or 0.0),
        "rpc": float(lifts.metrics.get("revenue_per_customer") or 0.0),
    }


def _static_body(policy: Policy, model: ExportedModel | None) -> dict:
    return {
        "model": model.version if model else "",
        "dim": model.dim if model else 0,
        "cal_a": model.calibration["a"] if model else 1.0,
        "cal_b": model.calibration["b"] if model else 0.0,
        "send_hours": (model.send_hours if model else None) or [],
        "uplift": uplift_params(model),
        **policy.script_params(),
    }


def static_params(policy: Policy, model: ExportedModel | None) -> str:
    """The decide script's parameters fixed by a policy and a model, as a JSON body fragment:
    the model's ``model`` (version, '' for none), ``dim``, ``cal_a``/``cal_b`` (Platt calibration),
    ``send_hours`` (its send-time prior, [] for none), ``uplift`` (``uplift_params``),
    then the policy's own (``Policy.script_params``)."""
    return json.dumps(_static_body(policy, model))[1:-1]


def static_args(policy: Policy, model: ExportedModel | None) -> tuple[bytes, ...]:
    """``static_params`` as the live script takes them (once per call): the JSON object without the
    ``LAZY`` groups, then each group as its own JSON text, in ``LAZY`` order."""
    body = _static_body(policy, model)
    groups = [orjson.dumps(body.pop(name)) for name in LAZY]
    return (orjson.dumps(body), *groups)


# Decisions per decide call on one Redis (lua/decide_many.lua): the static parameters are sent and decoded
# once per call, and a call stays short enough (about 2 ms) not to hold up the single decisions beside it
GROUP = 16


@dataclass(frozen=True, slots=True)
class Call:
    """One decision's part of a decide call: its keys, its static arguments (``static_args``, shared by
    every decision under the same policy and model) and its own (request parameters, candidate pairs)."""

    keys: list[str]
    static: tuple[bytes, ...]
    args: list


def decide_commands(store: Store, calls: list[Call]) -> list[tuple]:
    """The EVALSHA commands that decide ``calls`` in order, up to ``GROUP`` decisions a command (one where a
    command's keys must share a slot: ``Store.slot_per_call``); each one answers a list, a decision's answer each."""
    sha = store.scripts["decide"].sha
    size = 1 if store.slot_per_call else GROUP
    out = []
    for start in range(0, len(calls), size):
        index: dict[int, int] = {}
        statics: list = []
        ks: list[str] = []
        body: list = []
        for c in calls[start : start + size]:
            s = index.get(id(c.static))
            if s is None:
                s = index[id(c.static)] = len(index) + 1
                statics += c.static
            ks += c.keys
            body += [s, len(c.keys), c.args[0], (len(c.args) - 1) // 2, *c.args[1:]]
        out.append(("EVALSHA", sha, len(ks), *ks, len(index), *statics, *body))
    return out


def answers(replies: list) -> list:
    """Each decision's answer from ``decide_commands``' replies, in order."""
    return [one for reply in replies for one in reply]


def request_params(req: DecisionRequest, did: str, now_ms: int, retention_ms: int) -> dict:
    """The script parameters that come from one request (all but ``holdout`` and ``policy_version``).

    ``now`` (ms), ``did`` (the decision id), ``seq`` (its ledger part), ``mid`` (message id),
    ``channel``, ``kind``, ``allow_reroute``, ``is_transactional``, ``dry``, ``topics``, ``control_draw``
    (the control's randomization), ``retention_ms`` (no key the script writes outlives it), ``campaign``
    (when the message names one), ``offer`` {key, terms, terms_json (canonical, to spot a
    duplicate), until?} when the message has one, and ``priority`` when it names one (so a replay reads
    it from the logged request). The service may add ``hold``: the ``outranked`` reason of a candidate
    that lost a choice (a send becomes a suppression)."""
    msg = req.message
    params = {
        "now": now_ms,
        "did": did,
        "seq": ledger_id(did),
        "mid": msg.message_id,
        "channel": msg.channel,
        "kind": msg.kind.value,
        "allow_reroute": req.allow_reroute,
        "is_transactional": msg.kind == Kind.transactional,
        "dry": req.dry_run,
        "topics": msg.topics or [],
        "control_draw": control_draw(req.customer_id, msg.message_id),
        "retention_ms": retention_ms,
    }
    if msg.campaign_id is not None:  # JSON null would reach Lua as a truthy cjson.null
        params["campaign"] = msg.campaign_id
    if msg.offer is not None:
        params["offer"] = offer_params(msg.offer, now_ms, retention_ms)
    if msg.priority is not None:  # else the policy's for its kind (``priorities``)
        params["priority"] = msg.priority
    return params


def control_draw(customer_id: str, message_id: str) -> float:
    """A uniform draw in [0, 1) fixed per customer and message: the control's randomization (a retry
    and a what-if replay draw the same; one message's draw says nothing of another's)."""
    h = hashlib.blake2b(f"control:{customer_id}\x00{message_id}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def offer_params(offer: Offer, now_ms: int, retention_ms: int) -> dict:
    """An offer as the scripts read it: key, terms, canonical terms_json (to spot a duplicate), until?
    (its expiry, held to the customer retention: a customer's data never outlives it)."""
    out: dict[str, Any] = {"key": offer.key, "terms": offer.terms}
    out["terms_json"] = json.dumps(offer.terms, sort_keys=True)
    if offer.expires is not None:
        out["until"] = min(int(offer.expires.timestamp() * 1000), now_ms + retention_ms)
    return out


def channel_args(
    req: DecisionRequest, model: ExportedModel | None, declared: list[str], memo: dict | None = None
) -> list:
    """The script's trailing arguments: each candidate channel (the requested one, then the caller's
    or the tenant's declared ones) with its packed item vector. ``memo`` (one batch, one model and
    policy) keeps them per message shape: a campaign's batch asks about a few messages many times."""
    msg = req.message
    if memo is not None:
        shape = (msg.channel, msg.kind, tuple(msg.topics), None if req.channels is None else tuple(req.channels))
        hit = memo.get(shape)
        if hit is None:
            hit = memo[shape] = channel_args(req, model, declared)
        return hit
    candidates = [msg.channel]
    for ch in req.channels if req.channels is not None else declared:
        if ch not in candidates:
            candidates.append(ch)
    args: list = []
    topics = tuple(sorted(msg.topics))  # Signature.of's order, sorted once for every candidate
    for ch in candidates:
        args += [ch, model.packed_item(Signature(ch, msg.kind, topics)) if model else b""]
    return args


def _ms(at: datetime) -> int:
    """Unix milliseconds, exactly (``timestamp() * 1000`` can land a float just below the integer)."""
    return (at - EPOCH) // timedelta(milliseconds=1)


class StoreDown(Exception):
    """The store is known not to answer (its monitor missed it): verdicts are degraded at once."""


@dataclass
class _Batch:
    tenant: str
    requests: list[DecisionRequest]
    state: TenantState
    policies: list[Policy]
    now: datetime
    ids: list[str]
    calls: list[Call]
    # by request index, when a substitute is needed: the customer it is chosen for
    customers: dict[int, content.Customer] = field(default_factory=dict)
    remember: list[tuple[list[str], list]] = field(default_factory=list)  # substitutes offered (rotation)
    holds: list[dict | None] | None = None  # by request, the outranked reason of a lost choice (``hold``)

    def part(self, start: int, stop: int) -> _Batch:
        """Requests ``start`` to ``stop`` as a batch of their own (their calls not made yet)."""
        return _Batch(
            self.tenant,
            self.requests[start:stop],
            self.state,
            self.policies[start:stop],
            self.now,
            self.ids[start:stop],
            [],
            holds=self.holds and self.holds[start:stop],
        )


class Decider:
    """Turns decision requests into verdicts for one process (shared by all tenants)."""

    def __init__(self, store: Store, states: TenantStateCache, decision_log: DecisionLog | None):
        self.store = store
        self.states = states
        self.log = decision_log
        self._static: dict[tuple, Any] = {}
        self._warned_at: dict[str, float] = {}
        # told how many deferred verdicts lapsed unclaimed (the app counts them: suppressor_deferred_lapsed_total)
        self.on_lapsed: Callable[[int], object] = lambda n: None

    def decide(self, tenant: str, requests: list[DecisionRequest], now: datetime | None = None) -> list[Decision]:
        """``adecide`` for a caller without an event loop (the command line, the quickstart, what-if
        tools): the same flow on a loop and asyncio clients of its own, closed after."""

        async def run() -> list[Decision]:
            hot, bulk = self.store.async_clients()
            try:
                return await self.adecide(tenant, requests, hot, bulk, now=now)
            finally:
                await aclose_clients(hot, bulk)

        return asyncio.run(run())

    async def adecide(
        self,
        tenant: str,
        requests: list[DecisionRequest],
        hot: redis.asyncio.Redis,
        bulk: redis.asyncio.Redis,
        started: float | None = None,
        now: datetime | None = None,
        holds: list[dict | None] | None = None,
    ) -> list[Decision]:
        """``decide`` on asyncio clients: small calls answered within the decision deadline (counted
        from ``started``, a ``time.monotonic()``), big batches within the store timeout; decided at
        ``now`` (default: the clock's). ``holds``: per request, the ``outranked`` reason that turns
        its send into a suppression (decisions:choose's losers)."""
        small = len(requests) <= SMALL
        t0 = started if started is not None else time.monotonic()
        # the store's share of the deadline; the rest is for turning its answer into verdicts
        budget = self.store.settings.decision_deadline_ms / 1000 * 0.8 if small else self.store.bulk_timeout

        def left() -> float:
            return max(0.0, budget - (time.monotonic() - t0))

        state = await self.states.aget(tenant, left())  # the gate has usually refreshed it already
        # known down, or the tenant's policy never read: answer now, and never with a made-up policy
        if not self.store.up or not state.loaded:
            return self._degraded(self._prepare(state, tenant, requests, now, calls=False), StoreDown())
        if small:
            return await self._arun(self._prepare(state, tenant, requests, now, holds=holds), hot, left, small)
        # a big batch's Python work goes to a thread so single decisions keep flowing beside it; every
        # item is checked (and an undeclared channel refused) before anything runs
        batch = await asyncio.to_thread(self._prepare, state, tenant, requests, now, False, holds)
        # Redis answers a pipeline only after running all of it: a 10,000-item batch takes longer
        # than one decision's deadline, so it goes on the bulk client
        if isinstance(bulk, redis.asyncio.RedisCluster):  # one pipeline, split by node
            return await self._arun(await asyncio.to_thread(self._fill_calls, batch), bulk, left, small)
        return await self._astream(batch, bulk, left)

    async def acheck(self, tenant: str, requests: list[DecisionRequest], timeout: float) -> None:
        """Refuse (``Refused``, fields named ``items[i]...``) what ``adecide`` would refuse, deciding nothing."""
        state = await self.states.aget(tenant, timeout)
        if state.loaded:
            self._prepare(state, tenant, requests, calls=False)

    async def _arun(
        self,
        batch: _Batch,
        client: redis.asyncio.Redis,
        left: Callable[[], float],
        small: bool,
        raw: list | None = None,
    ) -> list[Decision]:
        """The batch's verdicts from its decide calls (``raw``: their answers, when already run), the
        household's word, then the decisions (degraded when the store fails on the way)."""
        st = self.store
        try:
            if raw is None:
                raw = answers(await arun(st, client, decide_commands(st, batch.calls), left()))
            verdicts = self._parse(batch, raw)
            asks = self._household_asks(batch, verdicts)
            if asks:  # members of a household: the household's word, on its own slot
                said = await arun(st, client, evalsha(st, "household", [call for _, call in asks]), left())
                undo = self._household_says(batch, verdicts, asks, said)
                if undo:
                    await arun(st, client, evalsha(st, "release", undo), left())
        except (TimeoutError, redis.RedisError) as exc:
            return self._degraded(batch, exc)
        index = (
            self._deferred_call(batch, verdicts)
            if small
            else await asyncio.to_thread(self._deferred_call, batch, verdicts)
        )
        if index:  # on the tenant's slot, after the decision (see customers/deferred.py)
            try:
                [lapsed] = await arun(st, client, evalsha(st, "deferred", [index]), left())
                if lapsed:
                    self.on_lapsed(lapsed)
            except (TimeoutError, redis.RedisError) as exc:  # the verdicts stand; the index misses them
                log.warning("tenant %s: deferred verdicts not indexed: %r", batch.tenant, exc)
        out = self._finish(batch, verdicts) if small else await asyncio.to_thread(self._finish, batch, verdicts)
        if batch.remember:
            try:
                await arun(st, client, evalsha(st, "substitute", batch.remember), left())
            except (TimeoutError, redis.RedisError) as exc:  # the verdicts stand; the rotation may repeat
                log.warning("tenant %s: substitutes offered not remembered: %r", batch.tenant, exc)
        return out

    async def _astream(self, batch: _Batch, client: redis.asyncio.Redis, left: Callable[[], float]) -> list[Decision]:
        """A big batch in parts of ``PART`` on one connection, in request order: Redis decides one part
        while Python prepares the next and turns the one before into decisions. A store that fails
        midway degrades the parts not yet decided; the parts before stand (they are recorded)."""
        parts = [batch.part(a, a + PART) for a in range(0, len(batch.requests), PART)]
        out: list[Decision] = []
        done = 0
        stream = astream(
            self.store,
            client,
            parts,
            lambda p: asyncio.to_thread(lambda: decide_commands(self.store, self._fill_calls(p).calls)),
            left,
        )
        try:
            async for raw in stream:
                out += await self._arun(parts[done], client, left, False, answers(raw))
                done += 1
        except (TimeoutError, redis.RedisError) as exc:
            for p in parts[done:]:
                out += self._degraded(p, exc)
        finally:
            await stream.aclose()
        return out

    def _prepare(
        self,
        state: TenantState,
        tenant: str,
        requests: list[DecisionRequest],
        now: datetime | None = None,
        calls: bool = True,
        holds: list[dict | None] | None = None,
    ) -> _Batch:
        """Each request's policy and decision id, and (``calls``) its script arguments; an undeclared
        channel or an uncomparable offer term is refused before anything runs."""
        now = now or datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the store keeps ms: a replay says the same
        batch = _Batch(tenant, requests, state, [], now, [], [], holds=holds)
        for i, req in enumerate(requests):
            policy = state.policy.for_campaign(req.message.campaign_id)
            if state.loaded:  # refused, never guessed at (a default policy knows nothing to refuse)
                check_channels(
                    policy,
                    [
                        (f"items[{i}].message.channel", req.message.channel),
                        *((f"items[{i}].channels[{j}]", ch) for j, ch in enumerate(req.channels or ())),
                    ],
                )
                if req.message.offer is not None:
                    check_terms(policy, f"items[{i}].message.offer.terms", req.message.offer.terms)
            did = new_decision_id(req.customer_id)
            batch.policies.append(policy)
            batch.ids.append(did)
        return self._fill_calls(batch) if calls else batch

    def _fill_calls(self, batch: _Batch) -> _Batch:
        """The batch's decide calls (keys, arguments), one per request."""
        now_ms = _ms(batch.now)
        memo: dict = {}  # this batch's channel arguments by policy, model and message shape
        holds = batch.holds or [None] * len(batch.requests)
        batch.calls = [
            self._call(batch.tenant, req, policy, batch.state, did, now_ms, memo, hold)
            for req, policy, did, hold in zip(batch.requests, batch.policies, batch.ids, holds, strict=True)
        ]
        return batch

    def _call(
        self,
        tenant: str,
        req: DecisionRequest,
        policy: Policy,
        state: TenantState,
        did: str,
        now_ms: int,
        memo: dict,
        hold: dict | None = None,
    ) -> Call:
        model, msg = state.model, req.message
        # keyed by tenant: every tenant's policy starts at version 1 (one tenant's caps must never reach another)
        skey = (
            tenant,
            state.policy.version,
            msg.campaign_id if msg.campaign_id in state.policy.campaigns else None,
            model.version if model else None,
        )
        static = self._static.get(skey)
        if static is None:
            if len(self._static) > 1000:
                self._static.clear()
            static = self._static[skey] = static_args(policy, model)
        dynamic = request_params(req, did, now_ms, self.store.settings.customer_ttl_days * 86_400_000)
        dynamic["holdout"] = in_holdout(tenant, req.customer_id, policy.holdout_fraction)
        dynamic["policy_version"] = state.policy.version
        if hold is not None:
            dynamic["hold"] = hold
        args: list = [
            orjson.dumps(dynamic),
            *channel_args(req, model, policy.declared_channels, memo.setdefault(skey, {})),
        ]
        return Call(keys.decision_keys(tenant, req.customer_id), static, args)

    @staticmethod
    def _parse(batch: _Batch, raw: list) -> list[tuple[dict, bytes, bool]]:
        out = []
        for i, (res, user, replayed, *customer) in enumerate(raw):
            if customer:  # a substitute is needed: what it is chosen by
                batch.customers[i] = content.Customer.stored(*customer)
            out.append((orjson.loads(res), user, bool(replayed)))
        return out

    def _household_asks(self, batch: _Batch, verdicts: list[tuple[dict, bytes, bool]]) -> list[tuple[int, tuple]]:
        """The household script's calls for the sends to household members: (index, call).

        A standing send asked again is asked of the household again, as the decision it was (its
        id and time): the household says yes at once to a decision it allowed, and a store that
        failed between the two steps must not let a retry skip the household. Past the household's
        ledger window its word can no longer be read back, so an old standing send stands."""
        asks = []
        now_ms = _ms(batch.now)
        for i, (res, _, replayed) in enumerate(verdicts):
            if not res.get("hh") or res["action"] not in ("send", "reroute"):
                continue
            req, policy = batch.requests[i], batch.policies[i]
            msg = req.message
            household = self._household_params(batch.tenant, batch.state, msg.campaign_id, policy)
            if replayed and now_ms - res["at"] >= household["ledger_ms"]:
                continue
            did = res["did"] if replayed else batch.ids[i]
            retention_ms = self.store.settings.customer_ttl_days * 86_400_000
            params = {
                "op": "check",
                "now": res["at"],
                "did": did,
                "seq": ledger_id(did),
                "cid": req.customer_id,
                "channel": res["channel"],
                "kind": msg.kind.value,
                "dry": req.dry_run,
                "household": household,
                "ttl_ms": retention_ms,
                "priority": policy.priority_of(msg.priority, msg.kind),
            }
            if msg.offer is not None:
                params["offer"] = offer_params(msg.offer, res["at"], retention_ms)
            asks.append((i, (keys.household_keys(batch.tenant, res["hh"]), [json.dumps(params)])))
        return asks

    def _household_params(self, tenant: str, state: TenantState, campaign: str | None, policy: Policy) -> dict:
        key = ("hh", tenant, state.policy.version, campaign if campaign in state.policy.campaigns else None)
        hit = self._static.get(key)
        if hit is None:
            hit = self._static[key] = policy.household_params()
        return hit

    def _household_says(
        self, batch: _Batch, verdicts: list[tuple[dict, bytes, bool]], asks: list[tuple[int, tuple]], said: list
    ) -> list[tuple[list[str], list]]:
        """Turn the sends a household refused into suppressions; the release calls that take their
        ledger entries back and leave the suppression standing for the message."""
        undo = []
        for (i, _), word in zip(asks, said, strict=True):
            if not word:
                continue
            res, user, replayed = verdicts[i]
            if replayed:
                batch.ids[i] = res["did"]  # the standing decision, refused now: it keeps its id
            res.update(
                action="suppress",
                channel=None,
                considered=res.get("channel"),
                not_before=None,
                reasons=[*(res.get("reasons") or []), json.loads(word)],
            )
            verdicts[i] = (res, user, False)
            req, did = batch.requests[i], batch.ids[i]
            if not req.dry_run:
                cid = req.customer_id
                undo.append(
                    (
                        [
                            keys.sends(batch.tenant, cid),
                            keys.offers(batch.tenant, cid),
                            keys.verdicts(batch.tenant, cid),
                            keys.verdicts_expiry(batch.tenant, cid),
                        ],
                        [did, ledger_id(did), req.message.message_id, json.dumps(res), res["until"]],
                    )
                )
        return undo

    def _deferred_call(self, batch: _Batch, verdicts: list[tuple[dict, bytes, bool]]) -> tuple | None:
        """The tenant index's changes for the batch's fresh, recorded verdicts (deferred.changes)."""
        fresh = [
            (req, res)
            for req, (res, _, replayed) in zip(batch.requests, verdicts, strict=False)
            if not replayed and not req.dry_run and (res["action"] == "defer" or res.get("dfr"))
        ]
        if not fresh:
            return None
        return deferred.changes(batch.tenant, fresh, self.store.settings, int(batch.now.timestamp() * 1000))

    def _finish(self, batch: _Batch, verdicts: list[tuple[dict, bytes, bool]]) -> list[Decision]:
        out = []
        for i, (req, did, (res, user, replayed)) in enumerate(zip(batch.requests, batch.ids, verdicts, strict=True)):
            d = self._decision(batch, req, did, res, user, replayed, batch.customers.get(i))
            out.append(d)
            if self.log is not None and not req.dry_run and not d.replayed:
                # the request rides along so a later replay can re-decide it under another policy
                record = (
                    d.model_dump_json(exclude_none=True)[:-1]
                    + ',"request":'
                    + req.model_dump_json(exclude_none=True)
                    + "}"
                )
                self.log.append(batch.tenant, record, req.customer_id)
        return out

    def _decision(
        self,
        batch: _Batch,
        req: DecisionRequest,
        did: str,
        res: dict,
        user: bytes,
        replayed: bool = False,
        customer: content.Customer | None = None,
    ) -> Decision:
        model = batch.state.model
        # a standing verdict answers as it was given: its id, time, policy and model
        version = res.get("mv") or None if replayed else (model.version if model else None)
        codes = res.get("reasons") or []
        scores = {ch: round(float(s), 6) for ch, s in (res.get("scores") or {}).items()}
        channel = res.get("channel")
        substitute = None
        if any(r["code"] == "sales_balance" for r in codes):
            substitute = content.best_substitute(
                batch.state.catalog,
                model,
                unpack(user) if user else None,
                res.get("considered") or req.message.channel,
                batch.now,
                customer,
                req.message.message_id,
            )
            mine = substitute and {"mid": req.message.message_id, "content": substitute["content_id"]}
            if mine and not req.dry_run and customer is not None and customer.last != mine:
                batch.remember.append(
                    (
                        [keys.state(batch.tenant, req.customer_id)],
                        [json.dumps(mine), self.store.settings.customer_ttl_days * 86_400_000],
                    )
                )
        nb = res.get("not_before")
        fields = dict(
            decision_id=res["did"] if replayed else did,
            customer_id=req.customer_id,
            message_id=req.message.message_id,
            action=Action(res["action"]),
            channel=channel,
            requested_channel=req.message.channel,
            not_before=datetime.fromtimestamp(nb / 1000, UTC) if nb else None,
            score=scores.get(channel or req.message.channel),
            channel_scores=scores,
            uplift=None if res.get("up") is None else round(float(res["up"]), 6),
            value=None if res.get("val") is None else round(float(res["val"]), 4),
            # plain dicts: pydantic builds the Reason objects in Rust (model_construct per reason cost more)
            reasons=[{"code": r["code"], "message": rules.text(r, version)} for r in codes],
            substitute=substitute,
            policy_version=int(res.get("pv") or 0) if replayed else batch.state.policy.version,
            model_version=version,
            dry_run=req.dry_run,
            replayed=replayed,
            decided_at=EPOCH + timedelta(milliseconds=res["at"]) if replayed else batch.now,
        )
        return Decision.model_validate(fields)  # plain dicts for the reasons

    def _degraded(self, batch: _Batch, exc: Exception) -> list[Decision]:
        last = self._warned_at.get(batch.tenant, 0.0)
        if time.monotonic() - last > 10:  # one line per tenant per 10 s, not one per decision
            self._warned_at[batch.tenant] = time.monotonic()
            level = logging.ERROR if isinstance(exc, redis.ResponseError) else logging.WARNING
            log.log(
                level,
                "tenant %s: decisions degraded: %s",
                batch.tenant,
                "the store is full (maxmemory)" if out_of_memory(exc) else repr(exc),
            )
        return [
            self._degraded_one(batch, req, policy, did, exc)
            for req, policy, did in zip(batch.requests, batch.policies, batch.ids, strict=True)
        ]

    def _degraded_one(self, batch: _Batch, req: DecisionRequest, policy: Policy, did: str, exc: Exception) -> Decision:
        mode = policy.failure_mode
        why = "store down" if isinstance(exc, StoreDown) else "store full" if out_of_memory(exc) else type(exc).__name__
        detail = (
            f"store unavailable within {self.store.settings.decision_deadline_ms} ms "
            f"({why}); tenant failure mode is '{mode}'"
        )
        model = batch.state.model
        fields = dict(
            decision_id=did,
            customer_id=req.customer_id,
            message_id=req.message.message_id,
            action=Action(mode),
            channel=req.message.channel if mode != "suppress" else None,
            requested_channel=req.message.channel,
            not_before=batch.now + timedelta(seconds=policy.failure_retry_seconds) if mode == "defer" else None,
            score=None,
            reasons=[{"code": "degraded", "message": rules.text({"code": "degraded", "detail": detail}, None)}],
            policy_version=batch.state.policy.version,
            model_version=model.version if model else None,
            dry_run=req.dry_run,
            decided_at=batch.now,
        )
        return Decision.model_validate(fields)  # plain dicts for the reasons


RELEASED = b"rel|"  # state-hash field prefix: a decision the caller released (lua/release.lua marks it)


def released(store: Store, tenant: str, customer_ids: list[str]) -> set[str]:
    """The decisions these customers' callers released (``release``): they did not go out after all."""
    out: set[str] = set()
    for start in range(0, len(customer_ids), 1000):  # a thousand customers a round trip
        part = customer_ids[start : start + 1000]
        for mine in run(store, [("HKEYS", keys.state(tenant, cid)) for cid in part]):
            out.update(f[len(RELEASED) :].decode() for f in mine if f.startswith(RELEASED))
    return out


def release(store: Store, tenant: str, decision_id: str) -> bool:
    """Give back the capacity of a decision the caller did not send after all (the household's too)."""
    cid = customer_of(decision_id)
    if cid is None:
        return False
    ks = [
        keys.sends(tenant, cid),
        keys.offers(tenant, cid),
        keys.verdicts(tenant, cid),
        keys.verdicts_expiry(tenant, cid),
        keys.state(tenant, cid),  # the script marks the decision released there (see ``released``)
    ]
    [given_back] = run(store, evalsha(store, "release", [(ks, [decision_id, ledger_id(decision_id)])]))
    hh = store.bulk.hget(keys.profile(tenant, cid), "hh") if given_back else None
    if hh:
        body = json.dumps({"op": "release", "did": decision_id, "seq": ledger_id(decision_id)})
        run(store, evalsha(store, "household", [(keys.household_keys(tenant, hh.decode()), [body])]))
    return bool(given_back)
