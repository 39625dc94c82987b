"""Known-answer test data in one place: request shapes, a tiny model, planted fans, and the
governed dealership (two weeks of logged decisions and what followed)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from suppressor.api import synthetic
from suppressor.customers import events
from suppressor.domain import DecisionRequest, EventBatch
from suppressor.model.exported import ExportedModel
from suppressor.model.uplift import Head, UpliftModel
from suppressor.policy import document as policies
from suppressor.policy.document import Policy
from suppressor.storage.store import Store
from suppressor.tenants import apikeys
from suppressor.training.fit import TrainConfig, train_tenant


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def iso(days_ago: float = 0.0, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return (now - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def message(mid: str, topics: list[str], channel: str = "email", kind: str = "sales") -> dict:
    return {"message_id": mid, "channel": channel, "kind": kind, "topics": topics}


GOVERNED_TENANT = "acme"
# the governed world's clock: today's 00:00 UTC, so its shape (what followed its last decisions, the
# days between its campaigns and the shouting before them) is the same at any hour of any day
GOVERNED_NOW = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class Governed:
    """A dealership governed by suppressor for two weeks: logged decisions and what followed."""

    key: str
    dealer: object = field(repr=False)
    campaigns: dict
    snapshot: list = field(repr=False)


def build_governed(store: Store, now: datetime) -> Governed:
    """300 customers, 8 weeks of shouting to learn from, then 14 days of governed daily campaigns,
    and what customers did up to ``now`` (the world's clock: nothing in it reads another)."""
    # one training thread: the same world on every run (LightFM's threads race)
    dealer = synthetic.generate(300, weeks=8, seed=3, end=now - timedelta(days=16))
    synthetic.load(store, GOVERNED_TENANT, dealer, now=now)
    train_tenant(store, GOVERNED_TENANT, TrainConfig(threads=1))
    policies.put(store, GOVERNED_TENANT, policies.Policy(relevance_threshold=0.05, holdout_fraction=0.1), "test")
    # unsubscribes planted far above the quickstart's rate: enough of them for a known answer at this size
    counts = synthetic.govern(
        store, GOVERNED_TENANT, dealer, now - timedelta(days=15), 14, unsubscribe_rate=0.03, until=now
    )
    key = apikeys.create_key(store, GOVERNED_TENANT)
    snapshot = [(k, store.bulk.pttl(k), store.bulk.dump(k)) for k in store.bulk.scan_iter(count=1000)]
    return Governed(key, dealer, counts, snapshot)


def tiny_model(version: str) -> ExportedModel:
    """A two-feature model small enough to check by hand."""
    rng = np.random.default_rng(0)
    return ExportedModel(
        version=version,
        item_features=["channel:email", "topic:a"],
        item_emb=rng.normal(size=(2, 4)).astype(np.float32),
        item_bias=np.zeros(2, np.float32),
        user_features=["age=30"],
        user_emb=rng.normal(size=(1, 4)).astype(np.float32),
        user_bias=np.zeros(1, np.float32),
        numeric_edges={},
        calibration={"a": 1.0, "b": 0.0},
    )


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def tiny_uplift_model(
    version: str, sent: float = 0.061, withheld: float = 0.049, harm: float = 0.008, topic_b: float = 0.0
) -> ExportedModel:
    """``tiny_model`` with an uplift checkable by hand: for a customer it has no vectors for and a message on
    email with topic a, the heads' chances are ``sent``, ``withheld`` and ``harm`` (the arm feature weighs half
    of the message's vector and carries the whole bias); an outcome is worth 50, a customer 120. A message
    with topic b adds ``topic_b`` / 4 to the sent head's raw score."""
    feats = ["channel:email", "topic:a", "topic:treatment:sent", "topic:treatment:none", "topic:b"]

    def head(bias_at: int, p: float) -> Head:
        bias = np.zeros(len(feats), np.float32)
        bias[bias_at] = 2 * _logit(p)
        if bias_at == 2 and p == sent:
            bias[4] = topic_b
        return Head(
            user_emb=np.full((1, 2), 0.1, np.float32),
            user_bias=np.zeros(1, np.float32),
            item_emb=np.full((len(feats), 2), 0.1, np.float32) * (bias_at != 0),
            item_bias=bias,
            calibration={"a": 1.0, "b": 0.0},
        )

    model = tiny_model(version)
    model.uplift = UpliftModel(
        version=version,
        treatment="(own sends)",
        method="two_model",
        user_features=["age=30"],
        item_features=feats,
        numeric_edges={},
        heads={"treated": head(2, sent), "control": head(3, withheld), "harm": head(2, harm)},
        metrics={"revenue_per_outcome": 50.0, "revenue_per_customer": 120.0, "qini": 0.1},
    )
    return model


def fan_events(n_fans: int = 30, weeks: int = 8) -> list[dict]:
    """Yankees fans click Yankees offers and ignore Red Sox ones; Red Sox fans the opposite."""
    out = []
    for team, other in (("yankees", "red-sox"), ("red-sox", "yankees")):
        for i in range(n_fans):
            cid = f"{team}-fan-{i}"
            for w in range(weeks):
                for t, typ in ((team, "clicked"), (other, "ignored")):
                    base = {
                        "customer_id": cid,
                        "channel": "email",
                        "kind": "sales",
                        "message_id": f"tickets-{t}-w{w}",
                        "topics": [f"team:{t}", "offer:tickets"],
                    }
                    out.append({**base, "event_id": f"{cid}-{t}-{w}-d", "type": "delivered", "ts": iso(60 - 7 * w)})
                    out.append({**base, "event_id": f"{cid}-{t}-{w}-x", "type": typ, "ts": iso(59.5 - 7 * w)})
    return out


def reaction(
    cid: str, key: str, at: datetime, answered: bool, later: timedelta = timedelta(hours=1), **message
) -> list[dict]:
    """A message delivered to ``cid`` at ``at`` and then clicked (``answered``) or ignored ``later``;
    ``message``: channel, message_id, kind, topics; ``key`` makes the event ids unique."""
    base = {"customer_id": cid, **message}
    return [
        {**base, "event_id": f"{cid}-{key}-d", "type": "delivered", "ts": at.isoformat()},
        {
            **base,
            "event_id": f"{cid}-{key}-x",
            "type": "clicked" if answered else "ignored",
            "ts": (at + later).isoformat(),
        },
    ]


def ingest(store, tenant, evs):
    """Store events as the API would, in batches of 10,000."""
    for i in range(0, len(evs), 10_000):
        events.ingest(store, tenant, EventBatch.model_validate({"events": evs[i : i + 10_000]}).events)


# decisions under a fixed clock, one rule at a time -----------------------------------------

NOW = datetime(2026, 11, 18, 16, 0, tzinfo=UTC)  # 10:00 in Chicago


def quiet_policy(**kw) -> Policy:
    """Every rule off, then ``kw`` on: each test looks at one rule."""
    base = {
        "caps": [],
        "fatigue": {"enabled": False},
        "balance": {"enabled": False},
        "offers": {"enabled": False},
        "channels": {"learned_reroute": False},
        "quiet_hours": {"enabled": False},
        "lifecycle": {"post_purchase_quiet": 0, "block_sales_while_service_open": False},
    }
    base.update(kw)
    return Policy.model_validate(base)


_mids = itertools.count()


def req(
    cid="c-1",
    channel="email",
    kind="sales",
    topics=("segment:suv",),
    offer=None,
    campaign=None,
    mid=None,
    priority=None,
    **kw,
):
    """A new message each call unless ``mid`` names one (asking again gets the standing verdict)."""
    msg = {"message_id": mid or f"m-{next(_mids)}", "channel": channel, "kind": kind, "topics": list(topics)}
    if priority is not None:
        msg["priority"] = priority
    if offer:
        msg["offer"] = offer
    if campaign:
        msg["campaign_id"] = campaign
    return DecisionRequest(customer_id=cid, message=msg, **kw)


def one(decider, r, at=NOW):
    """One request decided for the tenant acme, at ``at``."""
    [d] = decider.decide("acme", [r], now=at)
    return d


def codes(d):
    """The reason codes of a decision, in order."""
    return [r.code for r in d.reasons]
