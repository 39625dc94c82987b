"""The Redis key layout, in one place.

Tenant keys share the hash tag ``{tenant}``; every key of one customer shares the hash
tag ``{tenant:customer}`` so a decision touches a single slot (Redis Cluster ready).
Tenant names cannot contain ``:``, ``{`` or ``}``; customer ids cannot contain braces.
"""

PREFIX = "sup"

API_KEYS = f"{PREFIX}:apikeys"  # hash: sha256(key) -> JSON {tenant, id, created, expires}
HOOKS = f"{PREFIX}:hooks"  # hash: hook id -> tenant (the URL names the hook, not the tenant)
API_KEYS_USED = f"{PREFIX}:apikeys:used"  # hash: key id -> when it was last used (unix seconds)


def tenant(t: str, *parts: str) -> str:
    """A tenant-level key, e.g. ``sup:{acme}:policy``."""
    return ":".join((f"{PREFIX}:{{{t}}}", *parts))


def customer(t: str, c: str, *parts: str) -> str:
    """A customer-level key, e.g. ``sup:{acme:c-42}:profile``."""
    return ":".join((f"{PREFIX}:{{{t}:{c}}}", *parts))


# tenant level
def customers_index(t: str) -> str:
    """Set of the tenant's customer ids (training iterates it; never on the hot path)."""
    return tenant(t, "customers")


def policy(t: str) -> str:
    """Hash: version, doc (the current policy JSON)."""
    return tenant(t, "policy")


def policy_history(t: str) -> str:
    """List of past policy documents, newest first, trimmed."""
    return tenant(t, "policy", "history")


def decision_log(t: str) -> str:
    """Stream of recent decisions, capped (MAXLEN)."""
    return tenant(t, "decisions")


def deferred(t: str) -> str:
    """Sorted set: the tenant's deferred verdicts by when they are due (see decisions/deferred.py)."""
    return tenant(t, "deferred")


def deferred_entries(t: str) -> str:
    """Hash: a deferred message's identity (JSON [customer id, message id]) -> its member of ``deferred``."""
    return tenant(t, "deferred", "entries")


def model_active(t: str) -> str:
    """String: the active model version."""
    return tenant(t, "model", "active")


def model_seq(t: str) -> str:
    """Counter for model version numbers."""
    return tenant(t, "model", "seq")


def models(t: str) -> str:
    """Hash: version -> JSON summary (created, metrics, status)."""
    return tenant(t, "models")


def model_arrays(t: str, version: str) -> str:
    """Hash: the exported arrays (npy bytes) and meta of one model version."""
    return tenant(t, "model", version)


def content(t: str) -> str:
    """Hash: content_id -> JSON of a value-content item (substitutes)."""
    return tenant(t, "content")


def content_version(t: str) -> str:
    """Counter bumped on every catalog change (servers reload on change)."""
    return tenant(t, "content", "version")


def event_claims(t: str, shard: int, month: str) -> str:
    """Hash: digest of an event id -> claim (see events.py); one per shard and event month, each on
    a slot of its own, expiring with the customer retention after the month ends."""
    return f"{PREFIX}:{{{t}~eid~{shard}}}:claims:{month}"


def household(t: str, h: str, part: str) -> str:
    """A household-level key: every key of one household shares the tag ``{tenant~hh~household}``,
    so the household script touches a single slot (tenant names hold no '~')."""
    return f"{PREFIX}:{{{t}~hh~{h}}}:{part}"


def household_keys(t: str, h: str) -> list[str]:
    """The household script's KEYS: the members' sends (zset of decision ledger ids by time), each
    send's details (hash: ledger id -> JSON channel, kind, offer, customer), the active offers
    (hash: offer key -> JSON terms, channel, until, customer, decision), the members' purchases
    (hash: customer id -> ms) and the members (set)."""
    return [household(t, h, part) for part in ("sends", "sent", "offers", "purchases", "members")]


def limits(t: str) -> str:
    """Hash: the tenant's per-key rate limit (rate per second, burst)."""
    return tenant(t, "limits")


def rate_bucket(t: str, key_id: str) -> str:
    """Hash: one API key's token bucket (expires when full again)."""
    return tenant(t, "bucket", key_id)


def train_job(t: str, job_id: str) -> str:
    """Hash: status and progress of one training job (expires)."""
    return tenant(t, "job", job_id)


# customer level
def profile(t: str, c: str) -> str:
    """Hash: attributes, consent, preferred_channel, timezone, timestamps."""
    return customer(t, c, "profile")


def events(t: str, c: str) -> str:
    """Hash: event_id -> event JSON (the ingest script stores an id once: ingestion is idempotent)."""
    return customer(t, c, "ev")


def events_by_time(t: str, c: str) -> str:
    """Sorted set: event_id by timestamp, used to trim the oldest."""
    return customer(t, c, "evt")


def vectors(t: str, c: str) -> str:
    """Hash: model version -> packed float32 user vector (embedding + bias)."""
    return customer(t, c, "vec")


def sends(t: str, c: str) -> str:
    """Sorted set: the send ledger, "decision|channel|kind" by time (caps, balance, cool-downs).

    The decision part is the decision id without its customer (``decisions.ledger_id``): no
    caller-supplied id ever enters this delimited member."""
    return customer(t, c, "sends")


def offers(t: str, c: str) -> str:
    """Hash: offer key -> JSON of the active offer (terms, channel, until, decision)."""
    return customer(t, c, "offers")


def state(t: str, c: str) -> str:
    """Hash: behavior-derived state (ignore streak per channel, last purchase)."""
    return customer(t, c, "state")


def pending(t: str, c: str) -> str:
    """Sorted set: deliveries not yet answered, "channel|message_id" by time (fatigue)."""
    return customer(t, c, "pending")


def blocked_topics(t: str, c: str) -> str:
    """Set: topics the customer unsubscribed from or complained about."""
    return customer(t, c, "blocked")


def verdicts(t: str, c: str) -> str:
    """Hash: message_id -> the verdict standing for it (asked again, the same answer; expires)."""
    return customer(t, c, "verdicts")


def verdicts_expiry(t: str, c: str) -> str:
    """Sorted set: message_id by when its standing verdict lapses (sweeps ``verdicts``)."""
    return customer(t, c, "vexp")


def recent_decisions(t: str, c: str) -> str:
    """List: the customer's latest decision records (JSON), newest first, capped (the agent's view)."""
    return customer(t, c, "recent")


# = profile, vectors, sends, offers, state, pending, blocked_topics, verdicts, verdicts_expiry (a test keeps them equal)
_DECIDE = ("profile", "vec", "sends", "offers", "state", "pending", "blocked", "verdicts", "vexp")


def decision_keys(t: str, c: str) -> list[str]:
    """The keys the decide script reads and writes, in its KEYS order (built from one prefix: it runs
    for every decision)."""
    base = customer(t, c) + ":"
    return [base + part for part in _DECIDE]


# = events, events_by_time, profile, state, pending, blocked_topics (a test keeps them equal)
_INGEST = ("ev", "evt", "profile", "state", "pending", "blocked")


def ingest_keys(t: str, c: str) -> list[str]:
    """The six keys the ingest script takes for one customer, in its KEYS order (built from one prefix:
    ingest names them for every customer of a batch)."""
    base = customer(t, c) + ":"
    return [base + part for part in _INGEST]


def customer_keys(t: str, c: str) -> list[str]:
    """Every key that holds data about one customer (for erasure)."""
    return [
        profile(t, c),
        events(t, c),
        events_by_time(t, c),
        vectors(t, c),
        sends(t, c),
        offers(t, c),
        state(t, c),
        pending(t, c),
        blocked_topics(t, c),
        verdicts(t, c),
        verdicts_expiry(t, c),
        recent_decisions(t, c),
        consent_changes(t, c),
    ]


SCRATCH = (
    "profile",
    "state",
    "pending",
    "blocked",
    "ev",
    "evt",
    "sends",
    "offers",
    "verdicts",
    "vexp",
)  # = NAMES in replay.lua


def replay_keys(t: str, c: str) -> list[str]:
    """The replay script's KEYS: production keys it reads, then its scratch copies (same slot)."""
    real = [profile(t, c), vectors(t, c), sends(t, c), offers(t, c), blocked_topics(t, c)]
    scratch = [customer(t, c, "sim", copy, name) for copy in ("base", "work") for name in SCRATCH]
    return real + scratch


def contacts(t: str, shard: int) -> str:
    """Hash: digest of a contact point (an e-mail address or a phone number) -> the customer who holds
    it; one per shard, each on a slot of its own (see customers/contacts.py)."""
    return f"{PREFIX}:{{{t}~cp~{shard}}}:contacts"


def hooks(t: str) -> str:
    """Hash: hook id -> JSON {provider, secret, created} of the tenant's webhook endpoints."""
    return tenant(t, "hooks")


def hook_stats(t: str, hook_id: str) -> str:
    """Hash: what one webhook endpoint received (counters by outcome, the last unknown address)."""
    return tenant(t, "hooks", "stats", hook_id)


def hook_seen(t: str, hook_id: str, digest: str) -> str:
    """String: one signature a webhook accepted ('p' in flight or 'd' done, + the body's digest);
    expires with the provider's freshness window (see hooks/freshness.py)."""
    return tenant(t, "hooks", "seen", hook_id, digest)


def consent_changes(t: str, c: str) -> str:
    """Sorted set: ids of the consent changes (re-consents) applied to a customer, by time (ms); trimmed."""
    return customer(t, c, "consent")


def smtp_relayed(t: str, message: str) -> str:
    """Hash: digest of a recipient address -> when the SMTP gateway relayed this message to it (ms);
    ``message`` is a digest of the Message-ID, each message on a slot of its own; expires (smtp_remember_days)."""
    return f"{PREFIX}:{{{t}~smtp~{message}}}:relayed"
