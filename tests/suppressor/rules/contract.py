"""The contract every rule unit meets, as implicit's RecommenderBaseTestMixin is for its models.

A test module per rule subclasses ``RuleContract``, names its ``rule`` and hands over planted
``cases``; the shared tests run each case through the production decision path
(``Decider.adecide`` on the asyncio clients, the multiplexed connection included) at a fixed
clock on a real Redis, then check what the unit declares: each code it fires is its own and has a
sentence, every code it declares is planted, and its Lua reads its parameters under the policy's
own names."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from suppressor import rules
from suppressor.customers import events, profiles
from suppressor.decisions.decide import Decider
from suppressor.domain import CustomerIn, DecisionRequest, Event
from suppressor.model import exported as models
from suppressor.policy import document as policies
from suppressor.storage.store import aclose_clients, script_source
from suppressor.tenants.state import TenantStateCache
from tests.factories import NOW, quiet_policy, tiny_model, tiny_uplift_model

EMAIL_SMS_PUSH = {"email": True, "sms": True, "push": True}


@dataclass
class Case:
    """One planted situation and the verdict it must get.

    ``policy`` is laid over every rule off (``quiet_policy``); a callable gets the case's ``at``.
    ``events`` are behavior before the decision, each with ``hours_ago`` instead of ``ts``;
    ``sends`` messages of the same shape are decided (and sent) ``gap_minutes`` apart before it."""

    name: str
    action: str
    code: str | None  # a reason the verdict carries (None: it carries none of the rule's codes)
    policy: dict[str, Any] | Callable[[datetime], dict[str, Any]] = field(default_factory=dict)
    customer: dict[str, Any] = field(default_factory=lambda: {"consent": dict(EMAIL_SMS_PUSH)})
    message: dict[str, Any] = field(default_factory=dict)
    request: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    sends: int = 0
    gap_minutes: float = 60.0
    prior: dict[str, Any] | None = None  # the sends before, if their message differs (over ``message``)
    customer_id: str = "c-1"
    setup: Callable[..., None] | None = None  # (store, tenant, customer id): state to plant before deciding
    model: bool | str = False  # True: ``tiny_model``; "uplift": ``tiny_uplift_model``
    at: datetime = NOW
    channel: str | None = None  # the channel the verdict names, when it matters
    not_before: datetime | None = None
    says: str | None = None  # words the rule's sentence holds


def message(**kw: Any) -> dict[str, Any]:
    """A message shape (a fresh id is given per ask)."""
    return {"channel": "email", "kind": "sales", "topics": ["segment:suv"], **kw}


class RuleContract:
    """Subclass with ``rule`` (the unit's ``RULE``) and ``cases``; ``unplanted`` names codes no case
    can fire on its own, each with the test that covers it."""

    rule: ClassVar[rules.Rule]
    cases: ClassVar[list[Case]]
    unplanted: ClassVar[dict[str, str]] = {}

    def test_planted_cases_get_their_verdicts(self, store):
        async def run() -> list[tuple[Case, Any]]:
            hot, bulk = store.async_clients()
            try:
                out = []
                for i, case in enumerate(self.cases):
                    out.append((case, await decide_case(store, hot, bulk, f"rule-{self.rule.name}-{i}", case)))
                return out
            finally:
                await aclose_clients(hot, bulk)

        for case, d in asyncio.run(run()):
            mine = {r.code for r in d.reasons} & {c.code for c in self.rule.codes}
            where = f"{self.rule.name} / {case.name}: {d.action} {[(r.code, r.message) for r in d.reasons]}"
            assert d.action == case.action, where
            if case.code is None:
                assert not mine, where
            else:
                assert case.code in mine, where
                said = next(r.message for r in d.reasons if r.code == case.code)
                assert said and said != case.code, where  # a sentence, not the bare code
                if case.says:
                    assert case.says in said, where
            if case.channel is not None:
                assert d.channel == case.channel, where
            if case.not_before is not None:
                assert d.not_before == case.not_before, where

    def test_every_code_it_declares_is_planted(self):
        planted = {c.code for c in self.cases}
        declared = {c.code for c in self.rule.codes}
        assert declared - planted - set(self.unplanted) == set()
        assert planted - {None} <= declared  # a case names only this rule's codes

    def test_its_lua_fires_its_codes_and_reads_its_parameters_under_the_policy_names(self):
        lua = self.rule.lua()
        assert re.search(rf"^local function rule_{self.rule.name}\(\)$", lua, re.M)
        fired = set(re.findall(r"code = '([a-z_]+)'", lua))
        assert fired <= {c.code for c in self.rule.codes}
        head = script_source("decide")
        params = self.rule.params(policies.Policy())
        for name, value in params.items():
            assert f"P.{name}" in head, f"P.{name} is read nowhere in the decide script"
            for leaf in _leaves(value):
                assert leaf in head, f"{name}.{leaf} is read nowhere in the decide script"
        assert set(self.rule.lazy) <= set(params)
        section = self.rule.section
        assert section is None or section in policies.Policy.model_fields, section
        if section in params and isinstance(params[section], dict):  # a group: the section's own knobs
            knobs = set(type(getattr(policies.Policy(), section)).model_fields)
            for leaf in params[section]:
                assert re.sub(r"_(ms|min)$", "", leaf) in knobs, f"{section}.{leaf}"


def _leaves(value: Any) -> list[str]:
    """The knob names of a parameter group (or of each group in a list); deeper dicts are data."""
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, list):
        return [k for v in value if isinstance(v, dict) for k in v]
    return []


async def decide_case(store, hot, bulk, tenant: str, case: Case):
    """Set up ``case`` for ``tenant`` and decide its message on the production path."""
    at = case.at
    body = case.policy(at) if callable(case.policy) else case.policy
    policies.put(store, tenant, quiet_policy(**body), "test")
    cid = case.customer_id
    profiles.put(store, tenant, cid, CustomerIn(**case.customer), None)
    if case.model:
        models.save(store, tenant, tiny_uplift_model("v1") if case.model == "uplift" else tiny_model("v1"))
        models.activate(store, tenant, "v1")
    if case.setup is not None:
        case.setup(store, tenant, cid)
    evs = [
        Event.model_validate(
            {
                "customer_id": cid,
                "channel": "email",
                **{k: v for k, v in e.items() if k != "hours_ago"},
                "event_id": f"e-{n}",
                "ts": (at - timedelta(hours=e["hours_ago"])).isoformat(),
            }
        )
        for n, e in enumerate(case.events)
    ]
    if evs:
        events.ingest(store, tenant, evs)
    decider = Decider(store, TenantStateCache(store, 0.0), None)
    shape = message(**case.message)
    before = {**shape, **(case.prior or {})}
    for n in range(case.sends, 0, -1):
        prior = DecisionRequest(customer_id=cid, message={**before, "message_id": f"before-{n}"}, allow_reroute=False)
        [d] = await decider.adecide(tenant, [prior], hot, bulk, now=at - timedelta(minutes=case.gap_minutes * n))
        assert d.action in ("send", "reroute"), f"{case.name}: the send before was {d.action} {d.reasons}"
    ask = DecisionRequest(customer_id=cid, message={**shape, "message_id": "m-under-test"}, **case.request)
    [d] = await decider.adecide(tenant, [ask], hot, bulk, now=at)
    return d
