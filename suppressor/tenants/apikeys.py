"""Tenants and their API keys (only a SHA-256 of each key is stored)."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass

import redis
import redis.asyncio

from suppressor.storage import keys
from suppressor.storage.background import Periodic
from suppressor.storage.store import Store


def _digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def _id_of(digest: str) -> str:
    return f"k_{digest[:12]}"


@dataclass(frozen=True)
class KeyRecord:
    """What is stored of an API key (never the key): its tenant, a public id, and its dates."""

    tenant: str
    key_id: str
    created: float
    expires: float | None = None
    scope: str = "all"  # or "decide": only GET /v1/decide, and may travel in its URL (template engines)

    @classmethod
    def parse(cls, raw: bytes | str, digest: str) -> KeyRecord:
        text = raw.decode() if isinstance(raw, bytes) else raw
        if not text.startswith("{"):  # a key made before keys had ids: the tenant alone
            return cls(text, _id_of(digest), 0.0)
        d = json.loads(text)
        return cls(d["tenant"], d["id"], d["created"], d.get("expires"), d.get("scope", "all"))

    def dump(self) -> str:
        return json.dumps(
            {
                "tenant": self.tenant,
                "id": self.key_id,
                "created": self.created,
                "expires": self.expires,
                **({"scope": self.scope} if self.scope != "all" else {}),
            }
        )

    def valid(self, now: float | None = None) -> bool:
        """False once the key has expired."""
        return self.expires is None or (now or time.time()) < self.expires


SCOPES = ("all", "decide")


def create_key(store: Store, tenant: str, expires_in: float | None = None, scope: str = "all") -> str:
    """Make a new API key for ``tenant`` (creating the tenant) and return it once; ``expires_in`` seconds.

    A ``decide`` key (``dk_...``) answers only ``GET /v1/decide`` and may travel in its URL, for
    template engines that cannot send a header; every other key only in the Authorization header."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; one of {', '.join(SCOPES)}")
    api_key = f"{'dk' if scope == 'decide' else 'sk'}_{tenant}_{secrets.token_urlsafe(24)}"
    digest, now = _digest(api_key), time.time()
    record = KeyRecord(tenant, _id_of(digest), now, now + expires_in if expires_in else None, scope)
    store.bulk.hset(keys.API_KEYS, digest, record.dump())
    return api_key


def key_id(api_key: str) -> str:
    """The public id of a key (what `keys list` shows and `keys revoke` takes)."""
    return _id_of(_digest(api_key))


def list_keys(store: Store, tenant: str | None = None) -> list[dict]:
    """Keys (of one tenant, or all): id, tenant, created, expires, last used; never the secret."""
    used = {k.decode(): float(v) for k, v in store.bulk.hgetall(keys.API_KEYS_USED).items()}
    out = []
    for digest, raw in store.bulk.hgetall(keys.API_KEYS).items():
        rec = KeyRecord.parse(raw, digest.decode())
        if tenant is None or rec.tenant == tenant:
            out.append(
                {
                    "id": rec.key_id,
                    "tenant": rec.tenant,
                    "scope": rec.scope,
                    "created": rec.created or None,
                    "expires": rec.expires,
                    "last_used": used.get(rec.key_id),
                    "expired": not rec.valid(),
                }
            )
    return sorted(out, key=lambda r: (r["tenant"], r["created"] or 0))


def revoke(store: Store, key_or_id: str) -> bool:
    """Revoke a key by its id (``k_...``) or by the key itself; True if it existed. Servers refuse it within a second."""
    for digest, raw in store.bulk.hgetall(keys.API_KEYS).items():
        d = digest.decode()
        if KeyRecord.parse(raw, d).key_id == key_or_id or d == _digest(key_or_id):
            pipe = store.bulk.pipeline(transaction=False)  # two slots: no transaction, one round trip
            pipe.hdel(keys.API_KEYS, digest)  # refused from here on
            pipe.hdel(keys.API_KEYS_USED, KeyRecord.parse(raw, d).key_id)
            pipe.execute()
            return True
    return False


class KeyResolver(Periodic):
    """API key -> tenant, cached for ``ttl_seconds`` so auth costs at most one round trip per key per TTL.

    A key known before the store went away keeps working while it is away; a revoked or expired
    key stops working within the TTL on every server. When each key was last used is written
    from a background thread every few seconds."""

    def __init__(self, store: Store, ttl_seconds: float = 1.0, interval: float = 5.0):
        self.store = store
        self.ttl = ttl_seconds
        self._cache: dict[str, tuple[tuple[str, str] | None, float]] = {}  # digest -> ((tenant, scope), when)
        self._used: dict[str, float] = {}  # key id -> when a request last used it
        super().__init__(interval, "key-usage")

    def _fresh(self, digest: str) -> tuple[tuple[tuple[str, str] | None, float] | None, bool]:
        hit = self._cache.get(digest)
        return hit, bool(hit and time.monotonic() - hit[1] < self.ttl)

    def _remember(self, digest: str, raw: bytes | None) -> tuple[str, str] | None:
        record = KeyRecord.parse(raw, digest) if raw else None
        grant = (record.tenant, record.scope) if record and record.valid() else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (grant, time.monotonic())
        if record is not None:
            self._used[record.key_id] = time.time()
        return grant

    def _flush(self) -> int:
        """Write when each key was last seen (noted at most once a TTL per key and process)."""
        used, self._used = self._used, {}
        if not used or not self.store.up:
            self._used.update(used)
            return 0
        try:
            self.store.bulk.hset(keys.API_KEYS_USED, mapping={k: f"{t:.0f}" for k, t in used.items()})
        except redis.RedisError:
            self._used.update(used)
            return 0
        return len(used)

    def tenant_for(self, api_key: str) -> str | None:
        """The tenant a key belongs to, or None for an unknown key (blocking; for tools and tests)."""
        digest = _digest(api_key)
        hit, fresh = self._fresh(digest)
        if not fresh:
            try:
                hit = (self._remember(digest, self.store.hot.hget(keys.API_KEYS, digest)), 0.0)
            except redis.RedisError:
                if not hit:
                    raise
        return hit[0][0] if hit[0] else None

    async def agrant_for(self, api_key: str, client: redis.asyncio.Redis, timeout: float) -> tuple[str, str] | None:
        """(tenant, scope) of a key, or None; on the asyncio client within ``timeout`` seconds (raises
        redis.TimeoutError past it)."""
        digest = _digest(api_key)
        hit, fresh = self._fresh(digest)
        if fresh or (hit and not self.store.up):
            return hit[0]
        if not self.store.up:
            raise redis.ConnectionError("store down")
        try:
            raw = await self.store.bounded(client.hget(keys.API_KEYS, digest), timeout)
        except (TimeoutError, redis.RedisError) as exc:
            if hit:
                return hit[0]
            raise redis.TimeoutError(str(exc) or "timeout") from exc
        return self._remember(digest, raw)


def purge(store: Store, tenant: str) -> int:
    """Delete every key of a tenant (demo resets, offboarding); SCAN, so never on a hot path."""
    n = 0
    for pattern in (keys.tenant(tenant, "*"), f"{keys.PREFIX}:{{{tenant}:*", f"{keys.PREFIX}:{{{tenant}~*"):
        batch = []
        for k in store.bulk.scan_iter(match=pattern, count=1000):
            batch.append(k)
            if len(batch) >= 1000:
                n += store.bulk.delete(*batch)
                batch = []
        if batch:
            n += store.bulk.delete(*batch)
    for digest, raw in store.bulk.hgetall(keys.API_KEYS).items():
        if KeyRecord.parse(raw, digest.decode()).tenant == tenant:
            store.bulk.hdel(keys.API_KEYS, digest)
    return n
