"""Customer profiles: attributes, consent, preferences; learned interests on read; erasure."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import redis

from suppressor.customers import contacts, timeline
from suppressor.customers.events import forget
from suppressor.domain import ActiveOffer, Affinity, CustomerIn, CustomerOut
from suppressor.model import features
from suppressor.model.exported import ExportedModel, identity_field, pack, unpack, uplift_field
from suppressor.storage import keys
from suppressor.storage.store import Store, evalsha, run

CONSENT_CHANGES_KEPT = 1000  # re-consent ids remembered per customer (a replay of one cannot apply twice)


def put(
    store: Store,
    tenant: str,
    customer_id: str,
    body: CustomerIn,
    model: ExportedModel | None,
    now: datetime | None = None,
) -> CustomerOut:
    """Create or replace a profile, written at ``now`` (default: the clock's); unsubscribes stand
    unless re-consented later; refresh its vector."""
    pkey, vkey = keys.profile(tenant, customer_id), keys.vectors(tenant, customer_id)
    written = now or datetime.now(UTC)
    stamp = written.isoformat()
    with store.bulk.pipeline(transaction=True) as pipe:
        while True:
            try:
                # watched: an unsubscribe landing between our read and write must not be lost
                pipe.watch(pkey)
                created, old_raw, revoked_raw, changed_raw, old_hh, old_emails, old_phones = pipe.hmget(
                    pkey, "created_at", "consent", "revoked", "changed", "hh", "emails", "phones"
                )
                identity = pipe.hget(vkey, identity_field(model.version)) if model else None
                n_events = pipe.zcard(keys.events_by_time(tenant, customer_id))
                consent, revoked = apply_revocations(body, json.loads(revoked_raw) if revoked_raw else {})
                consent, changed = in_order(
                    body, json.loads(old_raw or b"{}"), consent, json.loads(changed_raw or b"{}")
                )
                mapping: dict[str, Any] = {
                    "attributes": json.dumps(body.attributes),
                    "consent": json.dumps(consent),
                    "updated_at": stamp,
                    "created_at": created.decode() if created else stamp,
                    **({"revoked": json.dumps(revoked)} if revoked else {}),
                    **({"changed": json.dumps(changed)} if changed else {}),
                    **_optional(body, written),
                }
                vec = (
                    model.user_vector(
                        features.model_attributes(body.attributes, mapping.get("vehicles")),
                        unpack(identity) if identity else None,
                    )
                    if model
                    else None
                )
                pipe.multi()
                pipe.delete(pkey)
                pipe.hset(pkey, mapping=mapping)
                pipe.expire(pkey, store.settings.customer_ttl_days * 86400)
                if vec is not None and model is not None:  # a vector only comes of a model
                    pipe.hset(vkey, model.version, pack(vec))
                    if model.lifts is not None:  # the uplift sees attributes only: rescored as they are now
                        attrs = features.model_attributes(body.attributes, mapping.get("vehicles"))
                        pipe.hset(vkey, uplift_field(model.version), model.lifts.packed_users([attrs])[0].tobytes())
                    pipe.expire(vkey, store.settings.customer_ttl_days * 86400)
                pipe.execute()
                break
            except redis.WatchError:
                continue
    store.bulk.sadd(keys.customers_index(tenant), customer_id)  # a tenant key: another slot than the profile's
    _join(store, tenant, customer_id, old_hh.decode() if old_hh else None, body.household_id)
    before, after = _points(old_emails, old_phones), contacts.points(body.emails, body.phones)
    contacts.update(store, tenant, customer_id, before, after)
    _agree(store, tenant, customer_id, after)
    return _out(customer_id, mapping, n_events, model, vec)


def _agree(store: Store, tenant: str, customer_id: str, ours: set[tuple[str, str]]) -> None:
    """Make the contact index agree with the profile as it stands, until it stands still.

    The index lives on other slots than the profile, so it is updated after the profile's transaction,
    from the points that transaction read: a concurrent PUT of the same customer can update it after us
    from older points (seen: an address the final profile dropped still found the customer). Whatever
    each PUT does last is checked against a profile that did not change meanwhile, so the last one
    leaves the index as the last profile says."""
    pkey, touched = keys.profile(tenant, customer_id), set(ours)
    standing = _points(*store.bulk.hmget(pkey, "emails", "phones"))
    if standing == ours:
        return  # our own update, the last to touch the index, was made from what stands
    while True:
        # drop what we may have pointed here and it no longer lists; point what it lists that nobody holds
        contacts.update(store, tenant, customer_id, touched - standing, standing, take=False)
        touched |= standing
        again = _points(*store.bulk.hmget(pkey, "emails", "phones"))
        if again == standing:
            return
        standing = again


def reconsent(store: Store, tenant: str, customer_id: str, change_id: str, channel: str, at_ms: int) -> int:
    """The customer opted back in on ``channel`` at ``at_ms`` (an SMS START), by the change ``change_id``:
    applied once, and only if newer than the channel's last consent change (an unsubscribe from after it
    still stands). 1 if consent was restored, 0 if not, -1 if this change was applied before."""
    ks = [keys.profile(tenant, customer_id), keys.consent_changes(tenant, customer_id)]
    args = [change_id, channel, at_ms, store.settings.customer_ttl_days * 86400, CONSENT_CHANGES_KEPT]
    [answer] = run(store, evalsha(store, "consent", [(ks, args)]))
    return int(answer)


def _points(emails: bytes | None, phones: bytes | None) -> set[tuple[str, str]]:
    """The contact points a stored profile lists."""
    return contacts.points(json.loads(emails or b"[]"), json.loads(phones or b"[]"))


def _forget_in_household(store: Store, tenant: str, household: str, customer_id: str) -> None:
    """Drop the customer's sends and offers from the household's records (erasure)."""
    sends, sent, offers = (keys.household(tenant, household, p) for p in ("sends", "sent", "offers"))
    mine = [f for f, v in store.bulk.hgetall(sent).items() if json.loads(v).get("cid") == customer_id]
    held = [f for f, v in store.bulk.hgetall(offers).items() if json.loads(v).get("cid") == customer_id]
    pipe = store.bulk.pipeline(transaction=False)
    if mine:
        pipe.hdel(sent, *mine)
        pipe.zrem(sends, *mine)
    if held:
        pipe.hdel(offers, *held)
    pipe.execute()


def _join(store: Store, tenant: str, customer_id: str, old: str | None, new: str | None) -> None:
    """Keep the households' member sets in step with the profile (each household on its own slot)."""
    ttl = store.settings.customer_ttl_days * 86400
    pipe = store.bulk.pipeline(transaction=False)
    if old and old != new:
        pipe.srem(keys.household(tenant, old, "members"), customer_id)
        pipe.hdel(keys.household(tenant, old, "purchases"), customer_id)
    if new:
        pipe.sadd(keys.household(tenant, new, "members"), customer_id)
        pipe.expire(keys.household(tenant, new, "members"), ttl)
    pipe.execute()


def in_order(
    body: CustomerIn, old: dict[str, bool], consent: dict[str, bool], changed: dict[str, float]
) -> tuple[dict[str, bool], dict[str, float]]:
    """The consent to store and each channel's last consent change (channel -> ms; revocations apart).

    With ``consent_at``, a channel whose value changes takes it as its change time, and a change dated
    before the channel's last one (a CRM's stale copy) keeps the stored value. Without it, the profile
    dates nothing: an unsubscribe from any time still closes the channel."""
    if body.consent_at is None:
        return consent, changed
    given = body.consent_at.timestamp() * 1000
    consent, changed = dict(consent), dict(changed)
    for ch, value in consent.items():
        if ch in old and old[ch] == value:
            continue
        if given < changed.get(ch, 0) and ch in old:
            consent[ch] = old[ch]
        else:
            changed[ch] = given
    return consent, changed


def apply_revocations(body: CustomerIn, revoked: dict[str, float]) -> tuple[dict[str, bool], dict[str, float]]:
    """The consent to store and the revocations that still stand (channel -> ms).

    A CRM re-sending a profile it had before the customer unsubscribed must not opt them back
    in: consent=true reopens a revoked channel only with a ``consent_at`` after the revocation."""
    consent = dict(body.consent)
    given = body.consent_at.timestamp() * 1000 if body.consent_at else None
    standing = {}
    for ch, at in revoked.items():
        if consent.get(ch) is True and given is not None and given > at:
            continue  # re-consented after unsubscribing
        standing[ch] = at
        consent[ch] = False
    return consent, standing


def _optional(body: CustomerIn, written: datetime) -> dict[str, str]:
    """Profile fields the decide script reads directly (it cannot parse attributes or time zones)."""
    out = {}
    if body.preferred_channel:
        out["preferred_channel"] = body.preferred_channel
    if body.timezone:
        out["timezone"] = body.timezone
        out["tzt"] = _offsets_json(body.timezone, int(written.timestamp() // 86400))
    stage = body.attributes.get("lead_stage")
    if isinstance(stage, str) and stage:
        out["stage"] = stage.strip().lower()
    if body.attributes.get("service_order_open") is True:
        out["svc_open"] = "1"
    if body.household_id:
        out["hh"] = body.household_id
    if body.emails:
        out["emails"] = json.dumps(body.emails)
    if body.phones:
        out["phones"] = json.dumps(body.phones)
    if body.vehicles:
        vehicles = [v.model_dump(mode="json", exclude_none=True) for v in body.vehicles]
        out["vehicles"] = json.dumps(vehicles)
        # what the lifecycle rules read (the decide script cannot parse dates)
        due = features.service_due_at(vehicles)
        if due is not None:
            out["svc_due"] = str(int(due * 1000))
        born = [b for v in vehicles if (b := features.vehicle_born(v)) is not None]
        if born:  # the oldest vehicle's
            out["veh_born"] = str(int(min(born) * 1000))
    return out


TZ_PAST_DAYS, TZ_FUTURE_DAYS = 366, 730  # a decision replayed or backdated within a year reads its own day's clock


@lru_cache(maxsize=1024)
def _offsets_json(tz: str, day: int) -> str:
    """utc_offsets as stored, from a year before ``day`` to two years after, computed once per zone
    per day (a bulk import has few zones)."""
    return json.dumps(utc_offsets(tz, (day - TZ_PAST_DAYS) * 86400, days=TZ_PAST_DAYS + TZ_FUTURE_DAYS))


def utc_offsets(tz: str, start: float | None = None, days: int = 730) -> list[list[int]]:
    """[[utc_seconds, offset_seconds], ...]: the zone's offset now and at each change for ``days``."""
    zone = ZoneInfo(tz)
    t = int(start if start is not None else time.time()) - 86400

    def offset(ts: int) -> int:
        delta = datetime.fromtimestamp(ts, zone).utcoffset()
        assert delta is not None  # an aware datetime has an offset
        return int(delta.total_seconds())

    out = [[t, offset(t)]]
    for _ in range(days):
        nxt = t + 86400
        if offset(nxt) != out[-1][1]:
            lo, hi = t, nxt  # the change happens in (lo, hi]: find the second
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if offset(mid) == out[-1][1] else (lo, mid)
            out.append([hi, offset(hi)])
        t = nxt
    return out


def _decode(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw.items()}


def get(store: Store, tenant: str, customer_id: str, model: ExportedModel | None) -> CustomerOut | None:
    """The profile with learned interests and channel affinities; None if unknown."""
    pipe = store.bulk.pipeline(transaction=False)
    pipe.hgetall(keys.profile(tenant, customer_id))
    pipe.zcard(keys.events_by_time(tenant, customer_id))
    pipe.hget(keys.vectors(tenant, customer_id), model.version if model else "-")
    pipe.hvals(keys.events(tenant, customer_id))
    raw, n_events, vec, evs = pipe.execute()
    if not raw and not n_events:
        return None
    out = _out(customer_id, _decode(raw), n_events, model, unpack(vec) if vec else None, _evidence(evs))
    out.offers = [
        ActiveOffer.model_validate(o) for o in timeline.active_offers(store, tenant, customer_id, out.household_id)
    ]
    return out


def _evidence(evs: list[bytes]) -> dict[str, int]:
    """How many of the customer's events are about each topic and on each channel (feature names)."""
    counts: dict[str, int] = {}
    for e in json.loads(b"[" + b",".join(evs) + b"]") if evs else []:
        for name in [f"topic:{t}" for t in e.get("topics") or ()] + (
            [f"channel:{e['channel']}"] if e.get("channel") else []
        ):
            counts[name] = counts.get(name, 0) + 1
    return counts


def _out(
    customer_id: str,
    prof: dict[str, str],
    n_events: int,
    model: ExportedModel | None,
    user: np.ndarray | None,
    evidence: dict[str, int] | None = None,
) -> CustomerOut:
    """The API view of a stored profile, with what the model learned."""
    fields = dict(
        customer_id=customer_id,
        attributes=json.loads(prof.get("attributes", "{}")),
        consent=json.loads(prof.get("consent", "{}")),
        revoked={
            ch: datetime.fromtimestamp(ms / 1000, UTC) for ch, ms in json.loads(prof.get("revoked", "{}")).items()
        },
        preferred_channel=prof.get("preferred_channel"),
        timezone=prof.get("timezone"),
        household_id=prof.get("hh"),
        vehicles=json.loads(prof.get("vehicles", "[]")),
        emails=json.loads(prof.get("emails", "[]")),
        phones=json.loads(prof.get("phones", "[]")),
        created_at=prof.get("created_at"),
        updated_at=prof.get("updated_at"),
        event_count=n_events,
    )
    out = CustomerOut.model_validate(fields)  # the stored times are ISO text
    if model is not None:
        user = (
            user
            if user is not None
            else model.user_vector(features.model_attributes(out.attributes, prof.get("vehicles")))
        )
        out.model_version = model.version
        out.interests, out.channel_affinities = learned_affinities(model, user, evidence=evidence)
    return out


def learned_affinities(
    model: ExportedModel, user: np.ndarray, top: int = 10, evidence: dict[str, int] | None = None
) -> tuple[list[Affinity], list[Affinity]]:
    """The topics the tenant sends that the customer is likeliest to engage with, and every channel:
    each with its calibrated chance and (``evidence``: name -> count) the events behind it."""
    aff = model.item_emb @ user[: model.dim] + model.item_bias
    chances = model.calibrate(aff + user[model.dim])
    topics: list[Affinity] = []
    channels: list[Affinity] = []
    for name, a, p in zip(model.item_features, aff, chances, strict=True):
        kind, _, value = name.partition(":")
        if kind in ("topic", "channel"):
            seen = None if evidence is None else evidence.get(name, 0)
            row = Affinity(name=value, chance=round(float(p), 4), evidence=seen, affinity=round(float(a), 4))
            (topics if kind == "topic" else channels).append(row)
    topics.sort(key=lambda x: -x.affinity)
    channels.sort(key=lambda x: -x.affinity)
    return topics[:top], channels


def delete(store: Store, tenant: str, customer_id: str) -> bool:
    """Erase everything stored about a customer; True if anything existed."""
    hh, emails, phones = store.bulk.hmget(keys.profile(tenant, customer_id), "hh", "emails", "phones")
    contacts.update(store, tenant, customer_id, _points(emails, phones), set())
    if hh:
        _join(store, tenant, customer_id, hh.decode(), None)
        _forget_in_household(store, tenant, hh.decode(), customer_id)
    forget(store, tenant, store.bulk.zrange(keys.events_by_time(tenant, customer_id), 0, -1, withscores=True))
    pipe = store.bulk.pipeline(transaction=False)
    for k in keys.customer_keys(tenant, customer_id):
        pipe.delete(k)  # one key per DEL: a cluster pipeline takes no multi-key DEL
    pipe.srem(keys.customers_index(tenant), customer_id)
    return any(pipe.execute())
