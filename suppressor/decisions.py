"""Pre-send verdicts: the item side scored with numpy, the customer side in one Lua call."""

from __future__ import annotations

import json
import logging
import asyncio
import itertools
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import redis
import redis.asyncio

from . import keys
from .decision_log import DecisionLog
from .domain import KNOWN_CHANNELS, Action, Decision, DecisionRequest, Kind, Reason
from .model import ExportedModel, pack
from .policy import VersionedPolicy
from .store import Store, arun_scripts, run_scripts
from .tenant_state import TenantStateCache

log = logging.getLogger(__name__)


_PROCESS = os.urandom(6).hex()
_COUNTER = itertools.count()


def new_decision_id() -> str:
    """Unique without a syscall: a random per-process prefix and a counter."""
    return f"d_{_PROCESS}{next(_COUNTER):010x}"


def _fmt(x: float) -> str:
    return f"{x:.3f}" if x >= 0.001 else f"{x:.2g}"


def reason_text(r: dict[str, Any], model_version: str | None) -> str:
    """The marketer-facing sentence for one reason the decide script returned."""
    code = r["code"]
    if code == "consent":
        why = ("the customer opted out of" if r["state"] == "opted_out"
               else "no explicit opt-in for")
        tail = (f"; rerouted to {r['to']}" if "to" in r else
                "; reroute not allowed by the caller" if r.get("reroute") == "not_allowed" else
                "; no other channel with consent to reroute to")
        return f"{why} {r['channel']}{tail}"
    if code == "irrelevant":
        return f"score {_fmt(r['score'])} < threshold {_fmt(r['threshold'])} on {r['channel']}"
    if code == "relevant":
        return f"score {_fmt(r['score'])} >= threshold {_fmt(r['threshold'])} on {r['channel']}"
    if code == "no_model":
        return "no trained model yet: relevance not checked, rules only"
    if code == "unknown_message":
        return f"model {model_version} knows none of this message's topics, channel or kind: relevance not checked"
    if code == "new_customer":
        return f"no behavior for this customer in model {model_version}: scored from attributes and population"
    if code == "transactional":
        return "transactional message: exempt from relevance"
    if code == "degraded":
        return r["detail"]
    return code


@dataclass
class _Batch:
    tenant: str
    requests: list[DecisionRequest]
    policy: VersionedPolicy
    model: ExportedModel | None
    now: datetime
    calls: list[tuple[list[str], list]]


class Decider:
    """Turns decision requests into verdicts for one process (shared by all tenants)."""

    def __init__(self, store: Store, states: TenantStateCache, decision_log: DecisionLog | None):
        self.store = store
        self.states = states
        self.log = decision_log

    def decide(self, tenant: str, requests: list[DecisionRequest]) -> list[Decision]:
        """Verdicts for ``requests`` in order: one EVALSHA each, all in one round trip."""
        batch = self._prepare(tenant, requests)
        try:
            # big batches use the bulk connection: the deadline is for single verdicts
            raw = run_scripts(self.store, "decide", batch.calls, hot=len(requests) <= 100)
        except redis.RedisError as exc:
            return self._degraded(batch, exc)
        return self._finish(batch, raw)

    async def adecide(self, tenant: str, requests: list[DecisionRequest], client: redis.asyncio.Redis) -> list[Decision]:
        """``decide`` on an asyncio client, bounded by the decision deadline."""
        batch = self._prepare(tenant, requests)
        deadline = self.store.settings.decision_deadline_ms / 1000
        try:
            raw = await asyncio.wait_for(arun_scripts(self.store, client, "decide", batch.calls),
                                         timeout=deadline if len(requests) <= 100 else None)
        except (redis.RedisError, asyncio.TimeoutError) as exc:
            return self._degraded(batch, exc)
        return self._finish(batch, raw)

    def _prepare(self, tenant: str, requests: list[DecisionRequest]) -> _Batch:
        state = self.states.get(tenant)
        calls = [self._call(tenant, req, state.policy, state.model) for req in requests]
        return _Batch(tenant, requests, state.policy, state.model, datetime.now(timezone.utc), calls)

    def _finish(self, batch: _Batch, raw: list) -> list[Decision]:
        out = []
        for req, res in zip(batch.requests, raw):
            d = self._decision(req, json.loads(res), batch.policy, batch.model, batch.now)
            out.append(d)
            if self.log is not None and not req.dry_run:
                self.log.append(batch.tenant, d.model_dump_json(exclude_none=True))
        return out

    def _degraded(self, batch: _Batch, exc: Exception) -> list[Decision]:
        log.warning("tenant %s: %d decisions degraded: %r", batch.tenant, len(batch.requests), exc)
        return [self._degraded_one(req, batch.policy, batch.model, batch.now, exc) for req in batch.requests]

    def _call(self, tenant: str, req: DecisionRequest, policy: VersionedPolicy, model: ExportedModel | None) -> tuple[list[str], list]:
        msg = req.message
        candidates = [msg.channel]
        for ch in req.channels if req.channels is not None else (*KNOWN_CHANNELS, *(model.channels if model else ())):
            if ch not in candidates:
                candidates.append(ch)
        args: list = [
            model.version if model else "",
            model.dim if model else 0,
            model.calibration["a"] if model else 1.0,
            model.calibration["b"] if model else 0.0,
            policy.relevance_threshold,
            msg.channel,
            1 if req.allow_reroute else 0,
            1 if msg.kind == Kind.transactional else 0,
            ",".join(policy.require_opt_in),
            "",
        ]
        for ch in candidates:
            vec = model.item_vector(ch, msg.kind, msg.topics) if model else None
            args += [ch, pack(vec) if vec is not None else ""]
        return [keys.profile(tenant, req.customer_id), keys.vectors(tenant, req.customer_id)], args

    def _decision(self, req: DecisionRequest, res: dict, policy: VersionedPolicy, model: ExportedModel | None, now: datetime) -> Decision:
        version = model.version if model else None
        reasons = res.get("reasons") or []
        scores = {ch: round(float(s), 6) for ch, s in (res.get("scores") or {}).items()}
        channel = res.get("channel")
        score_channel = channel or req.message.channel
        return Decision(
            decision_id=new_decision_id(),
            customer_id=req.customer_id,
            message_id=req.message.message_id,
            action=Action(res["action"]),
            channel=channel,
            requested_channel=req.message.channel,
            score=scores.get(score_channel),
            channel_scores=scores,
            reasons=[Reason(code=r["code"], message=reason_text(r, version)) for r in reasons],
            policy_version=policy.version,
            model_version=version,
            dry_run=req.dry_run,
            decided_at=now,
        )

    def _degraded_one(self, req: DecisionRequest, policy: VersionedPolicy, model: ExportedModel | None, now: datetime, exc: Exception) -> Decision:
        mode = policy.failure_mode
        detail = (f"store unavailable within {self.store.settings.decision_deadline_ms} ms "
                  f"({type(exc).__name__}); tenant failure mode is '{policy.failure_mode}'")
        return Decision(
            decision_id=new_decision_id(),
            customer_id=req.customer_id,
            message_id=req.message.message_id,
            action=Action(mode),
            channel=req.message.channel if mode != "suppress" else None,
            requested_channel=req.message.channel,
            not_before=now + timedelta(seconds=policy.failure_retry_seconds) if mode == "defer" else None,
            score=None,
            reasons=[Reason(code="degraded", message=reason_text({"code": "degraded", "detail": detail}, None))],
            policy_version=policy.version,
            model_version=model.version if model else None,
            dry_run=req.dry_run,
            decided_at=now,
        )
