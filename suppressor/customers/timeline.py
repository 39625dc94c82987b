"""What the person who answers the phone sees: the offers a customer and their household hold on
every channel, and the customer's recent verdicts (with reasons) and behavior, newest first."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from suppressor import rules
from suppressor.storage import keys
from suppressor.storage.store import Store

RECENT_DECISIONS = 200  # per customer, newest first (the tenant's full log is the decision stream)


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def active_offers(store: Store, tenant: str, customer_id: str, household: str | None) -> list[dict]:
    """Offers standing for the customer, and (``household``: their household id, as the caller read
    it from the profile) for the rest of their household, newest first."""
    now_ms = datetime.now(UTC).timestamp() * 1000
    pipe = store.bulk.pipeline(transaction=False)
    pipe.hgetall(keys.offers(tenant, customer_id))
    if household:
        pipe.hgetall(keys.household(tenant, household, "offers"))
    own, *theirs = pipe.execute()
    out = [_offer(k, v, customer_id, None) for k, v in own.items()]
    if household:
        for k, v in theirs[0].items():
            held = json.loads(v)
            if held.get("cid") != customer_id:
                out.append(_offer(k, v, held.get("cid"), household))
    return sorted((o for o in out if o["_until"] > now_ms), key=lambda o: -o["_at"])


def _offer(key: bytes, raw: bytes, holder: str | None, household: str | None) -> dict:
    o = json.loads(raw)
    return {
        "key": key.decode(),
        "terms": o.get("terms") or {},
        "channel": o.get("ch"),
        "sent_at": _iso(o["at"]),
        "expires": _iso(o["until"]),
        "decision_id": o.get("did"),
        "held_by": holder,
        "household_id": household,
        "_until": o["until"],
        "_at": o["at"],
    }


def remember(tenant: str, customer_id: str, record: str, ttl: int) -> list[tuple]:
    """The commands that put one decision record in the customer's own recent list (newest first, capped)."""
    key = keys.recent_decisions(tenant, customer_id)
    return [("LPUSH", key, record), ("LTRIM", key, 0, RECENT_DECISIONS - 1), ("EXPIRE", key, ttl)]


def recent_decisions(store: Store, tenant: str, customer_id: str, limit: int = 50) -> list[dict]:
    """The customer's latest decisions, newest first: the logged ones and every verdict standing (``merged``)."""
    pipe = store.bulk.pipeline(transaction=False)
    pipe.lrange(keys.recent_decisions(tenant, customer_id), 0, -1)
    pipe.hgetall(keys.verdicts(tenant, customer_id))
    logged, standing = pipe.execute()
    return merged(customer_id, logged, standing)[:limit]


def merged(customer_id: str, logged: list[bytes], standing: dict[bytes, bytes]) -> list[dict]:
    """The customer's decision records (their recent list, ``logged``), and a record made from each
    standing verdict (the verdicts hash, ``standing``) the list lacks, newest first.

    The list is written off the hot path (the decision log trails the verdict by a moment), the verdict
    within the decide script: a process killed in that moment takes the record with it, never the
    verdict, which stands and counts against caps. Its record is made from the verdict then, marked
    ``recovered`` (no request, no substitute: those lived in the process)."""
    records = [json.loads(r) for r in logged]
    seen = {d["decision_id"] for d in records}
    # the list is capped: a standing verdict older than its oldest record was trimmed away, not lost
    oldest = _at(records[-1]) if len(records) >= RECENT_DECISIONS else 0.0
    recovered = False
    for mid, raw in standing.items():
        v = json.loads(raw)
        if v["did"] not in seen and v["at"] > oldest:
            records.append(_record(customer_id, mid.decode(), v))
            recovered = True
    if recovered:
        records.sort(key=_at, reverse=True)
    return records


def _at(record: dict) -> float:
    """A record's time in ms."""
    return datetime.fromisoformat(record["decided_at"]).timestamp() * 1000


def campaign_of(record: dict) -> str | None:
    """The campaign a decision record names: its request's, or (a recovered record) its own."""
    return (record.get("request") or {}).get("message", {}).get("campaign_id", record.get("campaign_id"))


def _stamp(ms: float) -> str:
    """A record's time as the decision log writes it (pydantic's JSON: ISO 8601 with Z)."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def _record(customer_id: str, message_id: str, v: dict) -> dict:
    """A decision record (as the decision log writes it) made from a standing verdict."""
    scores = {ch: round(float(s), 6) for ch, s in (v.get("scores") or {}).items()}
    requested = v.get("rc") or v.get("considered")
    out = {
        "decision_id": v["did"],
        "customer_id": customer_id,
        "message_id": message_id,
        "action": v["action"],
        "channel": v.get("channel"),
        "requested_channel": requested,
        "not_before": _stamp(v["not_before"]) if v.get("not_before") else None,
        "score": scores.get(v.get("channel") or requested),
        "channel_scores": scores,
        **({"uplift": round(float(v["up"]), 6)} if v.get("up") is not None else {}),
        **({"value": round(float(v["val"]), 4)} if v.get("val") is not None else {}),
        "reasons": [{"code": r["code"], "message": rules.text(r, v.get("mv") or None)} for r in v.get("reasons") or []],
        "policy_version": int(v.get("pv") or 0),
        "model_version": v.get("mv") or None,
        "dry_run": False,
        "replayed": False,
        "decided_at": _stamp(v["at"]),
        "campaign_id": v.get("cp"),
        "recovered": True,
    }
    return {k: x for k, x in out.items() if x is not None}


def timeline(
    store: Store, tenant: str, customer_id: str, limit: int = 50, before: datetime | None = None
) -> dict | None:
    """Active offers, then verdicts and behavior merged newest first, ``limit`` at a time: pass the
    answer's ``next_before`` as ``before`` for the next page. None when nothing is stored about
    the customer (no profile, no events, no decisions)."""
    cut = before.timestamp() * 1000 if before else float("inf")
    pipe = store.bulk.pipeline(transaction=False)
    pipe.exists(
        keys.profile(tenant, customer_id),
        keys.events_by_time(tenant, customer_id),
        keys.recent_decisions(tenant, customer_id),
    )
    pipe.hget(keys.profile(tenant, customer_id), "hh")
    pipe.lrange(keys.recent_decisions(tenant, customer_id), 0, -1)
    pipe.hgetall(keys.verdicts(tenant, customer_id))
    pipe.zrevrangebyscore(
        keys.events_by_time(tenant, customer_id),
        f"({cut / 1000}" if before else "+inf",
        "-inf",
        start=0,
        num=limit,
        withscores=True,
    )
    known, hh, logged, standing, recent_events = pipe.execute()
    if not known and not standing:
        return None
    items = []
    for d in merged(customer_id, logged, standing):
        at = _at(d)
        if at < cut:
            items.append(
                (
                    at,
                    {
                        "type": "decision",
                        "at": d["decided_at"],
                        "decision_id": d["decision_id"],
                        "message_id": d["message_id"],
                        "action": d["action"],
                        "channel": d.get("channel"),
                        "requested_channel": d.get("requested_channel"),
                        "reasons": d.get("reasons", []),
                        "campaign_id": campaign_of(d),
                        "offer": (d.get("request") or {}).get("message", {}).get("offer"),
                    },
                )
            )
    if recent_events:
        bodies = store.bulk.hmget(keys.events(tenant, customer_id), [eid for eid, _ in recent_events])
        for (eid, ts), body in zip(recent_events, bodies, strict=True):
            if body:
                e = json.loads(body)
                items.append(
                    (
                        ts * 1000,
                        {
                            "type": "event",
                            "at": _iso(ts * 1000),
                            "event_id": eid.decode(),
                            "event": e.get("type"),
                            "channel": e.get("channel"),
                            "message_id": e.get("message_id"),
                            "topics": e.get("topics", []),
                        },
                    )
                )
    items.sort(key=lambda x: -x[0])
    page = items[:limit]
    offers = [
        {k: v for k, v in o.items() if not k.startswith("_")}
        for o in active_offers(store, tenant, customer_id, hh.decode() if hh else None)
    ]
    return {
        "customer_id": customer_id,
        "offers": offers,
        "items": [i for _, i in page],
        "next_before": page[-1][1]["at"] if len(page) == limit else None,
    }
