"""The tenant's deferred verdicts that come due (GET /v1/deferred), so a caller without a retry of
its own can ask again.

The decide script marks a deferred message in the customer's state and says when a message that
stood deferred is decided again (``dfr``); the service then records the change in a tenant-wide index
(lua/deferred.lua). On Redis Cluster that index lives on the tenant's slot, not the customer's, so it
is written from Python after the decision, within the same deadline: a store that fails between the
two leaves the verdict standing and the index without it (the caller has its not_before either way).
An entry leaves the index when its message is decided again, when the customer is erased, or when it
lapses: due longer ago than ``Settings.deferred_lapse_seconds`` and never asked again (counted on
/metrics as ``suppressor_deferred_lapsed_total``).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

import orjson

from suppressor.domain import DecisionRequest
from suppressor.errors import Refused
from suppressor.settings import Settings
from suppressor.storage import keys
from suppressor.storage.store import Store, evalsha, run

MONTH_MS = 31 * 86_400_000


def _at(ms: int) -> str:
    """A time (ms) as the index orders it: 15 digits, so text order is time order."""
    return f"{max(0, ms):015d}"


def identity(customer_id: str, message_id: str) -> str:
    """A deferred message's identity in the index (JSON: ids are opaque and hold any character)."""
    return orjson.dumps([customer_id, message_id]).decode()


def _header(settings: Settings, now_ms: int) -> dict[str, Any]:
    lapse_ms = settings.deferred_lapse_seconds * 1000
    return {"lapse_before": _at(now_ms - lapse_ms), "ttl_ms": lapse_ms + MONTH_MS}


def changes(
    tenant: str, decided: list[tuple[DecisionRequest, dict]], settings: Settings, now_ms: int
) -> tuple[list[str], list] | None:
    """The deferred script's call for these fresh, recorded verdicts (request, script verdict): each
    defer put in the index, each message that stood deferred and is now decided otherwise dropped."""
    put, drop = [], []
    for req, res in decided:
        ident = identity(req.customer_id, req.message.message_id)
        if res["action"] == "defer" and res.get("not_before"):
            entry = {
                "i": ident,
                "d": res["did"],
                "r": req.model_dump(mode="json", exclude_none=True, exclude={"dry_run"}),
            }
            put.append([ident, _at(res["not_before"]) + "|" + orjson.dumps(entry).decode()])
        elif res.get("dfr"):
            drop.append(ident)
    if not put and not drop:
        return None
    body = {"op": "change", "put": put, "drop": drop, **_header(settings, now_ms)}
    return [keys.deferred(tenant), keys.deferred_entries(tenant)], [orjson.dumps(body)]


def forget(store: Store, tenant: str, customer_id: str) -> None:
    """Drop an erased customer's entries (their state marks name the messages)."""
    marks = [f.decode()[4:] for f in store.bulk.hkeys(keys.state(tenant, customer_id)) if f.startswith(b"dfr|")]
    if marks:
        body = {
            "op": "change",
            "put": [],
            "drop": [identity(customer_id, m) for m in marks],
            "lapse_before": _at(0),
            "ttl_ms": 0,
        }  # sweeps nothing: lapses are counted where they are seen
        run(
            store,
            evalsha(
                store, "deferred", [([keys.deferred(tenant), keys.deferred_entries(tenant)], [orjson.dumps(body)])]
            ),
        )


def _cursor(member: bytes) -> str:
    return base64.urlsafe_b64encode(member).decode().rstrip("=")


def _member(cursor: str) -> str:
    try:
        member = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        member = ""
    if len(member) < 17 or not member[:15].isdigit() or member[15] != "|":
        raise Refused([("cursor", "is not a cursor this listing gave (pass next_cursor as it came)")])
    return member


def page(
    store: Store, tenant: str, due_before: datetime, limit: int, cursor: str | None = None, now: datetime | None = None
) -> tuple[list[dict[str, Any]], str | None, int]:
    """The deferred verdicts due by ``due_before`` (not_before at or before it), soonest first:
    (entries, the next page's cursor or None, how many lapsed entries this call removed)."""
    now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
    body = {
        "op": "page",
        "after": _member(cursor) if cursor else "",
        "limit": limit,
        "before": _at(int(due_before.timestamp() * 1000) + 1),
        **_header(store.settings, now_ms),
    }
    [(lapsed, *members)] = run(
        store,
        evalsha(store, "deferred", [([keys.deferred(tenant), keys.deferred_entries(tenant)], [orjson.dumps(body)])]),
    )
    more = len(members) > limit
    members = members[:limit]
    out = []
    for m in members:
        entry = orjson.loads(m[16:])
        req = entry["r"]
        out.append(
            {
                "customer_id": req["customer_id"],
                "message_id": req["message"]["message_id"],
                "decision_id": entry["d"],
                "not_before": datetime.fromtimestamp(int(m[:15]) / 1000, UTC),
                "request": req,
            }
        )
    return out, (_cursor(members[-1]) if more else None), int(lapsed)
